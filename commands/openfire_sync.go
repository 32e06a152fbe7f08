package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// syncAttempts bounds how often RunNow retries a call refused because a
// change was pending on its user (each retry first applies that change).
const syncAttempts = 3

// RunNow runs a call for a synchronous dialect (Openfire). A read runs as
// Run does. A mutation is queued exactly as in DreamHost, then its batch is
// applied at once (Worker.Flush) and RunNow returns once it is final: with
// the receipt if the call's own change was applied, or with the error that
// failed it. Other changes of the same batch (the account's other pending
// work) do not decide the answer.
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
	// The flush is not abandoned when the client goes away: the answer must
	// not depend on when a queued change gets applied.
	fctx := context.WithoutCancel(ctx)
	for attempt := 1; ; attempt++ {
		res, err := c.Run(ctx)
		if e := AsError(err); err != nil && e.Reason == ReasonPending && attempt < syncAttempts {
			if err := c.flushOpen(fctx); err != nil {
				return nil, err
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		q, ok := res.(queue.Queued)
		if !ok {
			return res, nil
		}
		if _, err := c.Env.Worker.Flush(fctx, q.BatchID); err != nil {
			return nil, err
		}
		ch, err := c.Env.Store.ChangeByID(fctx, q.ChangeID)
		if err != nil {
			return nil, fmt.Errorf("commands: change %d of batch %d: %w", q.ChangeID, q.BatchID, err)
		}
		if ch.Status == store.ChangeFailed {
			return nil, c.changeFailed(fctx, ch)
		}
		return res, nil
	}
}

func (c *Call) flushOpen(ctx context.Context) error {
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
