package commands

import (
	"context"
	"errors"
	"io"
	"time"

	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/sealbox"
)

// Env is what handlers run against.
type Env struct {
	Store  *store.Store
	Box    *sealbox.Box
	Worker *queue.Worker
	// Live is the running XMPP server (nil if none).
	Live Live
	// Control is the server process (nil when no server runs).
	Control Control
	Log     *zap.Logger
	// TokenMaxAge: tokens of batches finished longer ago answer too_old.
	TokenMaxAge time.Duration
	// DataDir is the data directory: backups and XEP-0227 files are read
	// and written under it ("" refuses those commands).
	DataDir string
	// Rand is where OAuth tokens come from; nil is crypto/rand (tests set
	// a seeded source so golden files can show the tokens).
	Rand io.Reader
}

// Caller is who is calling, as the dialect resolved it.
type Caller struct {
	Dialect Dialect
	// Account is the account the call acts as; Accounts is it and its
	// sub-accounts, the only accounts whose data the call may see.
	Account  int64
	Accounts []int64
	KeyID    int64 // DreamHost key, 0 otherwise
	// Operator: the caller runs the server, not just an account (the ctl
	// CLI, or an operator account's admin); only it may call Def.Operator
	// commands.
	Operator bool
	Grants   Grants
	Actor    string // for the audit log: "key:12", "admin@example.com", ...
}

// Owns reports whether account is visible to the caller.
func (c Caller) Owns(account int64) bool {
	for _, a := range c.Accounts {
		if a == account {
			return true
		}
	}
	return false
}

// Call is one bound invocation of a command.
type Call struct {
	Def    *Def
	Caller Caller
	Env    *Env
	Reg    *Registry
	Args   Values
	// OnCommit runs inside the transaction that commits a mutation (or after
	// a read succeeds, in its own transaction): a dialect's bookkeeping that
	// must happen exactly when the call succeeds, like using up a unique_id.
	OnCommit func(ctx context.Context, tx *store.Tx) error
}

// Values are bound arguments by registry name.
type Values map[string]any

// String returns a string-typed argument ("" if absent).
func (v Values) String(name string) string {
	s, _ := v[name].(string)
	return s
}

// Int returns an integer argument (0 if absent).
func (v Values) Int(name string) int64 {
	n, _ := v[name].(int64)
	return n
}

// List returns a List argument (nil if absent).
func (v Values) List(name string) []string {
	l, _ := v[name].([]string)
	return l
}

// Domain returns a bound Domain argument.
func (v Values) Domain(name string) store.Domain {
	d, _ := v[name].(store.Domain)
	return d
}

// Has reports whether an optional argument was given.
func (v Values) Has(name string) bool {
	_, ok := v[name]
	return ok
}

// Mutate enqueues one change in a single transaction: fn validates against
// the store and returns the change (or an *Error), the change joins the
// caller's open batch, and OnCommit runs. The receipt is returned only after
// the commit, so a token the caller sees is durable.
func (c *Call) Mutate(ctx context.Context, fn func(tx *store.Tx) (store.Change, error)) (queue.Queued, error) {
	var q queue.Queued
	err := c.Env.Store.Write(ctx, func(tx *store.Tx) error {
		ch, err := fn(tx)
		if err != nil {
			return err
		}
		ch.Command = c.Def.Name
		ch.Actor = c.Caller.Actor
		if q, err = queue.EnqueueTx(ctx, tx, c.Caller.Account, ch); err != nil {
			return err
		}
		if c.OnCommit != nil {
			return c.OnCommit(ctx, tx)
		}
		return nil
	})
	return q, err
}

// Run binds nothing: it calls the handler of an already bound call and, for a
// read, runs OnCommit after success.
func (c *Call) Run(ctx context.Context) (any, error) {
	res, err := c.Def.Handle(ctx, c)
	if err != nil {
		return nil, err
	}
	if !c.Def.Mutates && c.OnCommit != nil {
		if err := c.Env.Store.Write(ctx, func(tx *store.Tx) error { return c.OnCommit(ctx, tx) }); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// userIn loads user@domain inside tx, mapping absence to ReasonNoUser.
func userIn(ctx context.Context, r store.Reader, d store.Domain, username, arg string) (store.User, error) {
	u, err := r.UserByJID(ctx, d.FQDN, username)
	if errors.Is(err, store.ErrNotFound) {
		return u, Errorf(NotFound, ReasonNoUser, arg, "user %s@%s does not exist", username, d.FQDN)
	}
	return u, err
}
