package ejabberd

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// AdminUser is the localpart of the bootstrap admin JID.
const AdminUser = "admin"

// BootstrapAdmin returns the admin JID and password of account on domain,
// creating them if needed: the user admin@domain is registered through the
// queue (applied at once, by env.Worker or, before main starts it, a
// worker of its own) and granted every command ("*"). main writes the
// result to bootstrap.json as admin_jid and admin_password. An existing
// admin keeps its password (opened from its sealed copy) and gets the
// grant if it lacked one.
func BootstrapAdmin(ctx context.Context, env *commands.Env, accountID int64, domain string) (jid, password string, err error) {
	fqdn, err := commands.NormalizeDomain(domain)
	if err != nil {
		return "", "", err
	}
	d, err := env.Store.Reader.DomainByFQDN(ctx, fqdn)
	if err != nil || d.AccountID != accountID {
		return "", "", fmt.Errorf("ejabberd: %s is not a domain of account %d", fqdn, accountID)
	}
	jid = AdminUser + "@" + d.FQDN
	u, err := env.Store.UserByJID(ctx, d.FQDN, AdminUser)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if password, err = register(ctx, env, accountID, d); err != nil {
			return "", "", err
		}
		if u, err = env.Store.UserByJID(ctx, d.FQDN, AdminUser); err != nil {
			return "", "", err
		}
	case err != nil:
		return "", "", err
	default:
		if u.PasswordSealed == nil {
			return "", "", fmt.Errorf("ejabberd: %s exists without a recoverable password", jid)
		}
		plain, err := env.Box.Open(u.PasswordSealed, commands.PurposePassword)
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

// register creates admin@d with a random password, as the register command does.
func register(ctx context.Context, env *commands.Env, accountID int64, d store.Domain) (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	password := base64.RawURLEncoding.EncodeToString(b)
	e := *env
	if e.Worker == nil {
		reg, err := commands.New(commands.All()...)
		if err != nil {
			return "", err
		}
		e.Worker = queue.NewWorker(e.Store, reg.Appliers(&e), nil, queue.Options{})
	}
	call := &commands.Call{Def: commands.AddUser, Env: &e,
		Caller: commands.Caller{Dialect: commands.Ejabberd, Account: accountID, Accounts: []int64{accountID}, Actor: "bootstrap"},
		Args:   commands.Values{"username": AdminUser, "domain": d, "password": password}}
	_, err := call.RunNow(ctx)
	return password, err
}
