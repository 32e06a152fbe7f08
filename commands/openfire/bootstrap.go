package openfire

import (
	"context"
	"errors"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/store"
)

// BootstrapSecret returns the Openfire secret of account, creating one
// (random, enabled, bound to the account's oldest domain, no address
// list) if the account has none. main calls it once the bootstrap domain
// exists and writes the result to bootstrap.json as openfire_secret.
func BootstrapSecret(ctx context.Context, env *commands.Env, account int64) (string, error) {
	c, err := env.Store.OpenfireCredential(ctx, account)
	if err == nil {
		return commands.OpenfireSecret(env, c)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	secret, _, err := commands.SetOpenfire(ctx, env, commands.OpenfireSpec{Account: account})
	return secret, err
}
