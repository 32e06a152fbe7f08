package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// Call is one bound invocation of a command.
type Call struct {
	Def    *Def
	Caller Caller
	Env    *Env
	Reg    *Registry
	Args   Values
	// Reference is the calling front end's description of its own API
	// (OAuth scopes, the documentation commands); nil if it has none.
	Reference Reference
	// UniqueID is a DreamHost unique_id of the caller's key: it is used up
	// in the transaction that commits the call (a mutation's, or its own
	// after a read succeeds), so a retried request cannot act twice; a
	// unique_id used already fails the call with ReasonUniqueIDUsed.
	UniqueID []byte
	// Progress, if set, is told how far a long command got (an import's
	// users done of total, a backup's KiB: unit names what is counted),
	// always from the goroutine that runs the handler; see
	// importprogress.go.
	Progress func(done, total int, unit string)
	// now: RunNow applies the call's changes as soon as they are queued,
	// so the worker's deriver is not woken to derive their keys as well.
	now bool
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

// Bool returns a boolean argument (false if absent).
func (v Values) Bool(name string) bool {
	b, _ := v[name].(bool)
	return b
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

// optString is an optional string argument, nil if it was not given.
func optString(v Values, name string) *string {
	if !v.Has(name) {
		return nil
	}
	s := v.String(name)
	return &s
}

// Has reports whether an optional argument was given.
func (v Values) Has(name string) bool {
	_, ok := v[name]
	return ok
}

// Run calls the handler of a bound call and, for a read, uses up its
// UniqueID after success.
func (c *Call) Run(ctx context.Context) (any, error) {
	res, err := c.Def.Handle(ctx, c)
	if err != nil {
		return nil, err
	}
	if !c.Def.Mutates && c.UniqueID != nil {
		if err := c.Env.Store.Write(ctx, c.useUniqueID(ctx)); err != nil {
			return nil, err
		}
	}
	return res, nil
}

// useUniqueID uses up the call's UniqueID in tx.
func (c *Call) useUniqueID(ctx context.Context) func(tx *store.Tx) error {
	return func(tx *store.Tx) error {
		if c.UniqueID == nil {
			return nil
		}
		err := tx.UseUniqueID(ctx, c.Caller.KeyID, c.UniqueID)
		if errors.Is(err, store.ErrDuplicate) {
			// Lost a race with the same unique_id: the other request succeeded.
			return Errorf(Conflict, ReasonUniqueIDUsed, "unique_id", "unique_id already used")
		}
		return err
	}
}

// UniqueIDUsed reports whether a unique_id of the caller's key is used up.
func UniqueIDUsed(ctx context.Context, env *Env, caller Caller, uid []byte) (bool, error) {
	return env.Store.UniqueIDUsed(ctx, caller.KeyID, uid)
}

// Mutate enqueues one change in a single transaction: fn validates against
// the store and returns the change (or an *Error), the change joins the
// caller's open batch, and the call's UniqueID is used up. The receipt is
// returned only after the commit, so a token the caller sees is durable.
func (c *Call) Mutate(ctx context.Context, fn func(tx *store.Tx) (store.Change, error)) (Receipt, error) {
	rs, err := c.MutateEach(ctx, func(tx *store.Tx, add func(store.Change) error) error {
		ch, err := fn(tx)
		if err != nil {
			return err
		}
		return add(ch)
	})
	if err != nil {
		return Receipt{}, err
	}
	return rs[0], nil
}

// MutateEach is Mutate for several changes in one transaction: fill calls
// add once per change (a change whose Command is empty is the call's own
// command); all join the caller's open batch, or none does.
func (c *Call) MutateEach(ctx context.Context, fill func(tx *store.Tx, add func(store.Change) error) error) ([]Receipt, error) {
	var rs []Receipt
	err := c.Env.Store.Write(ctx, func(tx *store.Tx) error {
		rs = rs[:0]
		err := fill(tx, func(ch store.Change) error {
			if ch.Command == "" {
				ch.Command = c.Def.Name
			}
			ch.Actor = c.Caller.Actor
			q, err := queue.EnqueueTx(ctx, tx, c.Caller.Account, ch)
			rs = append(rs, Receipt{Token: q.Token, batchID: q.BatchID, changeID: q.ChangeID})
			return err
		})
		if err != nil {
			return err
		}
		return c.useUniqueID(ctx)(tx)
	})
	if err == nil && c.Env.Worker != nil && !c.now {
		// Committed: the deriver may derive the changes' keys ahead.
		c.Env.Worker.Queued()
	}
	return rs, err
}

// changeOf is a change of userID (0: of no user) whose arguments are rec,
// the command's own change record.
func changeOf(userID int64, rec any) (store.Change, error) {
	args, err := json.Marshal(rec)
	return store.Change{UserID: userID, Args: args}, err
}

// syncAttempts bounds how often RunNow retries a call refused because a
// change was pending on its user (each retry first applies that change).
const syncAttempts = 3

// RunNow runs a call for a synchronous dialect (ejabberd, Openfire, REST).
// A read runs as Run does. A mutation is queued exactly as in DreamHost,
// then its batch is applied at once and RunNow returns once it is final:
// with the receipt if the call's own change was applied, or with the error
// that failed it. Other changes of the same batch (the account's other
// pending work) do not decide the answer.
//
// A call refused because a change is pending on its user (queued by an
// asynchronous dialect and not applied yet) is retried after applying the
// account's open batches, so a synchronous client never sees that state.
func (c *Call) RunNow(ctx context.Context) (any, error) {
	if !c.Def.Mutates {
		return c.Run(ctx)
	}
	if c.Env.Worker == nil {
		return nil, errors.New("commands: RunNow needs Env.Worker")
	}
	c.now = true
	for attempt := 1; ; attempt++ {
		res, err := c.Run(ctx)
		if e := AsError(err); err != nil && e.Reason == ReasonPending && attempt < syncAttempts {
			if err := c.flushOpen(context.WithoutCancel(ctx)); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		if r, ok := res.(Receipt); ok {
			if err := c.applyNow(ctx, r); err != nil {
				return nil, err
			}
		}
		return res, nil
	}
}

// applyNow applies the batches of rs at once and fails with the first of
// their changes that failed, as RunNow does for one.
func (c *Call) applyNow(ctx context.Context, rs ...Receipt) error {
	chs, err := c.flush(ctx, rs)
	if err != nil {
		return err
	}
	for _, ch := range chs {
		if ch.Status == store.ChangeFailed {
			return c.changeFailed(context.WithoutCancel(ctx), ch)
		}
	}
	return nil
}

// flush applies the batches of rs (each once) and returns each receipt's
// change as it ended; a zero receipt (nothing queued) has a zero change.
// The flush is not abandoned when the client goes away: the answer must
// not depend on when a queued change gets applied.
func (c *Call) flush(ctx context.Context, rs []Receipt) ([]store.Change, error) {
	if len(rs) == 0 {
		return nil, nil
	}
	if c.Env.Worker == nil {
		return nil, fmt.Errorf("commands: %s needs Env.Worker", c.Def.Name)
	}
	ctx = context.WithoutCancel(ctx)
	flushed := map[int64]bool{}
	chs := make([]store.Change, len(rs))
	for i, r := range rs {
		if r.changeID == 0 {
			continue
		}
		if !flushed[r.batchID] {
			flushed[r.batchID] = true
			if _, err := c.Env.Worker.Flush(ctx, r.batchID); err != nil {
				return nil, err
			}
		}
		ch, err := c.Env.Store.ChangeByID(ctx, r.changeID)
		if err != nil {
			return nil, fmt.Errorf("commands: change %d of batch %d: %w", r.changeID, r.batchID, err)
		}
		chs[i] = ch
	}
	return chs, nil
}

// flushOpen applies the caller's account's open batches.
func (c *Call) flushOpen(ctx context.Context) error {
	if c.Env.Worker == nil {
		return fmt.Errorf("commands: %s needs Env.Worker", c.Def.Name)
	}
	ids, err := c.Env.Store.OpenBatchIDs(ctx, c.Caller.Account)
	if err != nil {
		return err
	}
	for _, id := range ids {
		if _, err := c.Env.Worker.Flush(ctx, id); err != nil {
			return err
		}
	}
	return nil
}

// changeFailed turns the error of the call's failed change back into an
// *Error: appliers of this package fail with one, kept structured with the
// change. The appliers of users.go fail when the user vanished or changed
// state under them, which is a missing user if it is gone now. Anything
// else is internal.
func (c *Call) changeFailed(ctx context.Context, ch store.Change) error {
	if e := errorFromCode(ch.ErrorCode); e != nil {
		return e
	}
	if c.Args.Has("username") && c.Args.Has("domain") {
		if _, err := userIn(ctx, c.Env.Store.Reader, c.Args.Domain("domain"), c.Args.String("username"), "username"); err != nil {
			return err
		}
	}
	return &Error{Kind: Internal, Err: fmt.Errorf("change %d (%s) failed: %s", ch.ID, ch.Command, ch.Error)}
}

// userIn loads user@domain inside tx, mapping absence to ReasonNoUser.
func userIn(ctx context.Context, r store.Reader, d store.Domain, username, arg string) (store.User, error) {
	u, err := r.UserByJID(ctx, d.FQDN, username)
	if errors.Is(err, store.ErrNotFound) {
		return u, noUser(arg, username, d.FQDN)
	}
	return u, err
}

// noUser is the error of a user that does not exist, or no longer does
// when its queued change is applied.
func noUser(arg, username, domain string) *Error {
	return Errorf(NotFound, ReasonNoUser, arg, "user %s@%s does not exist", username, domain)
}

// orNoUser turns the store's ErrNotFound about a change's user into noUser.
func orNoUser(err error, username, domain string) error {
	if errors.Is(err, store.ErrNotFound) {
		return noUser("username", username, domain)
	}
	return err
}

// requireUser fails a change whose user is gone by the time it is applied.
func requireUser(ctx context.Context, tx *store.Tx, userID int64, username, domain string) error {
	_, err := tx.UserByID(ctx, userID)
	return orNoUser(err, username, domain)
}
