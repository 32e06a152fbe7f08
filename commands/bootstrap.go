package commands

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// The bootstrap credentials: on a data directory's first start, main gives
// the bootstrap account a credential for every dialect and writes them to
// bootstrap.json.

// BootstrapOpenfireSecret returns the Openfire secret of account, creating one
// (random, enabled, bound to the account's oldest domain, no address
// list) if the account has none. main calls it once the bootstrap domain
// exists and writes the result to bootstrap.json as openfire_secret.
func BootstrapOpenfireSecret(ctx context.Context, env *Env, account int64) (string, error) {
	c, err := env.Store.OpenfireCredential(ctx, account)
	if err == nil {
		return OpenfireSecret(env, c)
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", err
	}
	secret, _, err := SetOpenfire(ctx, env, OpenfireSpec{Account: account})
	return secret, err
}

// BootstrapREST returns the REST credentials of account (its name and API
// password), creating a random password if the account has none. main
// writes them to bootstrap.json as rest_user and rest_password.
func BootstrapREST(ctx context.Context, env *Env, account int64) (user, password string, err error) {
	a, err := env.Store.Account(ctx, account)
	if err != nil {
		return "", "", err
	}
	password, err = RESTPassword(ctx, env, account)
	if errors.Is(err, store.ErrNotFound) {
		password, err = SetRESTPassword(ctx, env, account, "")
	}
	return a.Name, password, err
}

// AdminUser is the localpart of the bootstrap admin JID.
const AdminUser = "admin"

// BootstrapAdmin returns the admin JID and password of account on domain,
// creating them if needed: the user admin@domain is registered through the
// queue (applied at once, by env.Worker or, before main starts it, a
// worker of reg's appliers) and granted every command ("*"). main writes the
// result to bootstrap.json as admin_jid and admin_password. An existing
// admin keeps its password (opened from its sealed copy) and gets the
// grant if it lacked one.
func BootstrapAdmin(ctx context.Context, env *Env, reg *Registry, accountID int64, domain string) (jid, password string, err error) {
	fqdn, err := NormalizeDomain(domain)
	if err != nil {
		return "", "", err
	}
	d, err := env.Store.Reader.DomainByFQDN(ctx, fqdn)
	if err != nil || d.AccountID != accountID {
		return "", "", fmt.Errorf("commands: %s is not a domain of account %d", fqdn, accountID)
	}
	jid = AdminUser + "@" + d.FQDN
	u, err := env.Store.UserByJID(ctx, d.FQDN, AdminUser)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if password, err = registerAdmin(ctx, env, reg, accountID, d); err != nil {
			return "", "", err
		}
		if u, err = env.Store.UserByJID(ctx, d.FQDN, AdminUser); err != nil {
			return "", "", err
		}
	case err != nil:
		return "", "", err
	default:
		if u.PasswordSealed == nil {
			return "", "", fmt.Errorf("commands: %s exists without a recoverable password", jid)
		}
		plain, err := env.Box.Open(u.PasswordSealed, PurposePassword)
		if err != nil {
			return "", "", err
		}
		password = string(plain)
	}
	if _, err := env.Store.EjabberdPermission(ctx, u.ID); err == nil {
		return jid, password, nil
	}
	err = env.Store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.PutEjabberdPermission(ctx, store.EjabberdPermission{UserID: u.ID, AccountID: accountID, What: []string{"*"}}); err != nil {
			return err
		}
		return tx.Audit(ctx, accountID, "bootstrap", "ejabberd admin", "grant * to "+jid)
	})
	return jid, password, err
}

// registerAdmin creates admin@d with a random password, as the register command does.
func registerAdmin(ctx context.Context, env *Env, reg *Registry, accountID int64, d store.Domain) (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	password := base64.RawURLEncoding.EncodeToString(b)
	e := *env
	if e.Worker == nil {
		e.Worker = queue.NewWorker(e.Store, reg.Appliers(&e), nil, queue.Options{})
	}
	call := &Call{Def: AddUser, Env: &e,
		Caller: Caller{Dialect: Ejabberd, Account: accountID, Accounts: []int64{accountID}, Actor: "bootstrap"},
		Args:   Values{"username": AdminUser, "domain": d, "password": password}}
	_, err := call.RunNow(ctx)
	return password, err
}
