package commands

import (
	"context"
	"errors"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// progressDefs are the queue commands (DreamHost's services module).
var progressDefs = []*Def{Progress}

var progressColumns = []string{"status", "scheduled", "executed", "finished"}

// Progress reports the state of a batch by token.
var Progress = &Def{
	Name:   "progress",
	Doc:    "Reports the state of the queued changes behind a token: waiting, running, success or failure, with the scheduled, executed and finished times (UTC, empty until reached).",
	Args:   []Arg{{Name: "token", Type: Token, MissingAs: ReasonInvalidToken, Doc: "A token returned by a mutating command."}},
	Result: Result{Kind: ResultTable, Columns: progressColumns},
	Names:  map[Dialect]string{DreamHost: "services-progress"},
	Handle: progress,
}

func progress(ctx context.Context, c *Call) (any, error) {
	var batches queue.BatchReader = c.Env.Store.Reader
	if c.Env.Worker != nil {
		batches = c.Env.Worker // knows the batches it applies without a read
	}
	b, err := queue.Progress(ctx, batches, c.Args.String("token"), c.Caller.Accounts, c.Env.TokenMaxAge, c.Env.Store.Now())
	switch {
	case errors.Is(err, queue.ErrInvalidToken):
		return nil, Errorf(NotFound, ReasonInvalidToken, "token", "no such token")
	case errors.Is(err, queue.ErrTooOld):
		return nil, Errorf(NotFound, ReasonTokenTooOld, "token", "the service completed too long ago")
	case err != nil:
		return nil, err
	}
	return Table{Columns: progressColumns, Rows: [][]any{{string(b.Status), stamp(b.Scheduled), stamp(b.Executed), stamp(b.Finished)}}}, nil
}

func stamp(t interface {
	IsZero() bool
	Format(string) string
}) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(store.TimeLayout)
}
