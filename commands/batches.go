package commands

import (
	"context"
	"strconv"

	"github.com/xmppgate/xmppgate/store"
)

// The queue as its readers see it: depth, recent batches with their
// tokens and results, failed changes with their errors. Each read covers
// the caller's accounts only (the operator's console acts over every
// account, as `xmppgate ctl` does).

// batchDefs are the queue's read commands.
var batchDefs = []*Def{QueueStatus, ListBatches, ListFailedChanges}

// Bounds of a listing's limit argument.
const (
	DefaultListLimit = 20
	MaxListLimit     = 500
)

var argLimit = Arg{Name: "limit", Type: Int, Optional: true,
	Doc: "How many, newest first: 1 to " + strconv.Itoa(MaxListLimit) + " (larger is cut), default " + strconv.Itoa(DefaultListLimit) + "."}

// listLimit is the call's limit argument (argLimit), defaulted and bounded.
func listLimit(c *Call) (int, error) { return limitArg(c, DefaultListLimit, MaxListLimit) }

// limitArg is the call's limit argument: def if absent, cut to max,
// refused below 1.
func limitArg(c *Call, def, max int) (int, error) {
	if !c.Args.Has("limit") {
		return def, nil
	}
	n := c.Args.Int("limit")
	if n < 1 {
		return 0, Errorf(Invalid, ReasonMalformed, "limit", "limit must be a positive integer")
	}
	return int(min(n, int64(max))), nil
}

var queueColumns = []string{"waiting", "running", "pending"}

// QueueStatus counts the queue's work.
var QueueStatus = &Def{
	Name:   "queue_status",
	Doc:    "Counts the caller's batches waiting for the worker and being applied, and their changes not applied yet.",
	Result: Result{Kind: ResultRow, Columns: queueColumns},
	Names:  map[Dialect]string{Console: "queue_status"},
	Handle: queueStatus,
}

func queueStatus(ctx context.Context, c *Call) (any, error) {
	d, err := c.Env.Store.Depth(ctx, c.Caller.Accounts)
	if err != nil {
		return nil, err
	}
	return Table{Columns: queueColumns, Rows: [][]any{{int64(d.Waiting), int64(d.Running), int64(d.Pending)}}}, nil
}

var batchColumns = []string{"token", "account", "status", "scheduled", "executed", "finished", "changes", "failed"}

// ListBatches lists recent batches.
var ListBatches = &Def{
	Name: "list_batches",
	Doc: "Lists the caller's newest batches with their token, account, status (waiting, running, success, failure), times " +
		"(empty until reached) and how many changes they hold and how many of those failed.",
	Args: []Arg{
		{Name: "status", Type: String, Optional: true, Doc: "Only batches in this status: waiting, running, success or failure."},
		argLimit,
	},
	Result: Result{Kind: ResultTable, Columns: batchColumns},
	Names:  map[Dialect]string{Console: "list_batches"},
	Handle: listBatches,
}

func listBatches(ctx context.Context, c *Call) (any, error) {
	limit, err := listLimit(c)
	if err != nil {
		return nil, err
	}
	status := store.BatchStatus(c.Args.String("status"))
	switch status {
	case "", store.BatchWaiting, store.BatchRunning, store.BatchSuccess, store.BatchFailure:
	default:
		return nil, Errorf(Invalid, ReasonBadValue, "status", "status %q is not waiting, running, success or failure", status)
	}
	bs, err := c.Env.Store.RecentBatches(ctx, c.Caller.Accounts, status, limit)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: batchColumns, Rows: make([][]any, 0, len(bs))}
	for _, b := range bs {
		t.Rows = append(t.Rows, []any{b.Token, b.AccountID, string(b.Status), stamp(b.Scheduled), stamp(b.Executed),
			stamp(b.Finished), int64(b.Changes), int64(b.Failed)})
	}
	return t, nil
}

var failedChangeColumns = []string{"token", "account", "command", "actor", "finished", "error"}

// ListFailedChanges lists recent failed changes.
var ListFailedChanges = &Def{
	Name:   "list_failed_changes",
	Doc:    "Lists the caller's newest failed changes: their batch's token and account, the command, who queued it, when the batch finished, and the error.",
	Args:   []Arg{argLimit},
	Result: Result{Kind: ResultTable, Columns: failedChangeColumns},
	Names:  map[Dialect]string{Console: "list_failed_changes"},
	Handle: listFailedChanges,
}

func listFailedChanges(ctx context.Context, c *Call) (any, error) {
	limit, err := listLimit(c)
	if err != nil {
		return nil, err
	}
	fs, err := c.Env.Store.FailedChanges(ctx, c.Caller.Accounts, limit)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: failedChangeColumns, Rows: make([][]any, 0, len(fs))}
	for _, f := range fs {
		t.Rows = append(t.Rows, []any{f.Token, f.AccountID, f.Command, f.Actor, stamp(f.Finished), f.Error})
	}
	return t, nil
}
