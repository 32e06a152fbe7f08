package commands

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xmppgate/xmppgate/store"
)

// Progress of a long command (an import's users, a backup's KiB, a dump's
// rows) for a caller that asked for it (Call.Progress: `xmppgate ctl`). The import is not split or
// written differently: it stays one queued batch applied by the worker.
// The slow part is the worker's Prepare, which derives the SCRAM keys of
// every plaintext password; prepareImport counts each user it finishes on
// a counter found by the batch id, and the handler, waiting for the batch,
// reads the counter every progressEvery and tells the caller. The writes
// at the end are one transaction and count as the last step.

// progressEvery is how often a waiting import reports.
const progressEvery = 250 * time.Millisecond

type batchKey struct {
	st    *store.Store
	batch int64
}

// importCounters are the counters of the imports being watched, by batch.
var importCounters sync.Map // batchKey → *atomic.Int64

// countImported counts one prepared user of batch, if someone watches it.
func countImported(env *Env, batch int64) {
	if n, ok := importCounters.Load(batchKey{env.Store, batch}); ok {
		n.(*atomic.Int64).Add(1)
	}
}

// applyWatched applies rs as applyNow does; with c.Progress set it reports
// the users prepared so far while it waits, and total once applied.
func (c *Call) applyWatched(ctx context.Context, total int, rs []Receipt) error {
	if c.Progress == nil || total == 0 {
		return c.applyNow(ctx, rs...)
	}
	var done atomic.Int64
	var keys []batchKey
	for _, r := range rs {
		k := batchKey{c.Env.Store, r.batchID}
		if _, dup := importCounters.LoadOrStore(k, &done); !dup {
			keys = append(keys, k)
		}
	}
	defer func() {
		for _, k := range keys {
			importCounters.Delete(k)
		}
	}()
	// The last user is reported once written, not once prepared.
	return c.watch("users", int64(total), func() int64 { return min(done.Load(), int64(total-1)) },
		func() error { return c.applyNow(ctx, rs...) })
}

// watch runs work on a goroutine and, with c.Progress set, reports done()
// of total (in unit) every progressEvery from this goroutine (a front end
// may write to its response there): 0 first, each new value while work
// runs (held below total), and total once it succeeded.
func (c *Call) watch(unit string, total int64, done func() int64, work func() error) error {
	if c.Progress == nil || total <= 0 {
		return work()
	}
	finished := make(chan error, 1)
	go func() { finished <- work() }()
	c.Progress(0, int(total), unit)
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	shown := int64(0)
	for {
		select {
		case err := <-finished:
			if err == nil {
				c.Progress(int(total), int(total), unit)
			}
			return err
		case <-tick.C:
			if n := min(max(done(), 0), total-1); n != shown {
				shown = n
				c.Progress(int(n), int(total), unit)
			}
		}
	}
}
