package commands

import (
	"context"
	"errors"

	"github.com/xmppgate/xmppgate/store"
)

// CreateDomain adds a domain to an account.
func CreateDomain(ctx context.Context, env *Env, fqdn string, account int64) (store.Domain, error) {
	name, err := NormalizeDomain(fqdn)
	if err != nil {
		return store.Domain{}, Errorf(Invalid, ReasonMalformed, "fqdn", "%q: %v", fqdn, err)
	}
	var d store.Domain
	err = env.Store.Write(ctx, func(tx *store.Tx) (err error) {
		d, err = tx.InsertDomain(ctx, account, name)
		switch {
		case errors.Is(err, store.ErrDuplicate):
			return Errorf(Conflict, "", "fqdn", "domain %s exists", name)
		case errors.Is(err, store.ErrNotFound):
			return Errorf(NotFound, "", "account", "no account %d", account)
		case err != nil:
			return err
		}
		return tx.Audit(ctx, account, "cli", "domain add", name)
	})
	return d, err
}
