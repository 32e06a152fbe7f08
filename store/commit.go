package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"time"
)

// The write path of the package doc: Write, the group committer, the WAL
// syncer, and Savepoint for a nested rollback inside one write function.

// syncReq is a committed group waiting for the WAL fsync.
type syncReq struct {
	group []*writeReq
	errs  []error
}

type writeReq struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
}

// Write runs fn inside a write transaction and returns once that transaction
// is committed (nil) or fn's savepoint was rolled back (fn's error). A nil
// return therefore means fn's writes are durable.
func (s *Store) Write(ctx context.Context, fn func(*Tx) error) error {
	return s.WriteAsync(ctx, fn)()
}

// WriteAsync queues fn as Write does and returns once it is queued; wait
// returns Write's outcome. Functions queued one after the other from one
// goroutine commit in that order, and a caller can queue the next while
// the store syncs the last (the archive writer does).
func (s *Store) WriteAsync(ctx context.Context, fn func(*Tx) error) (wait func() error) {
	start := time.Now()
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.writes <- req:
	case <-ctx.Done():
		return func() error { return ctx.Err() }
	case <-s.quit:
		return func() error { return ErrClosed }
	}
	// Once queued the outcome is waited for even if ctx ends, so the caller
	// never reports failure for a change that was committed.
	return func() error {
		err := <-req.done
		s.obs.observe(OpWrite, start)
		return err
	}
}

func (s *Store) commitLoop() {
	group := make([]*writeReq, 0, s.max)
	for {
		var first *writeReq
		select {
		case first = <-s.writes:
		case <-s.quit:
			// Drain what is already queued so no caller waits forever.
			for {
				select {
				case r := <-s.writes:
					s.commit([]*writeReq{r})
				default:
					close(s.synced)
					<-s.syncerDone
					close(s.done)
					return
				}
			}
		}
		group = append(group[:0], first)
	fill:
		for len(group) < s.max {
			select {
			case r := <-s.writes:
				group = append(group, r)
			default:
				break fill
			}
		}
		s.commit(group)
	}
}

// errGoexit answers a write function that ended the committer's goroutine
// instead of returning: t.FailNow (a failing require in a test) does that.
var errGoexit = errors.New("store: write function called runtime.Goexit (t.FailNow or a failed require inside Store.Write?); its writes are rolled back")

// commitRun is a group's transaction on its way to commit; next is the
// group's next function to run, so that a run a Goexit cut short can be
// taken up on another goroutine.
type commitRun struct {
	start time.Time
	tx    *sql.Tx
	t     *Tx
	group []*writeReq
	errs  []error
	next  int
	// alone: a function alone in its group needs no savepoint: if it
	// fails, the transaction, which holds nothing else, is rolled back. A
	// savepoint keeps a copy of every page the function changes (the
	// sub-journal), which for a large write (an archive batch) is most of
	// its cost.
	alone bool
}

func (s *Store) commit(group []*writeReq) {
	start := time.Now()
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range group {
			r.done <- fmt.Errorf("store: begin: %w", err)
		}
		s.obs.observe(OpCommit, start)
		return
	}
	t := &Tx{Reader: Reader{q: cached{cache: s.wc, tx: tx, inTx: txStmts()}, now: s.now}}
	if s.pg {
		t.Reader = Reader{q: pgQuerier{tx: tx}, now: s.now, pg: true}
	}
	s.run(&commitRun{start: start, tx: tx, t: t, group: group, errs: make([]error, len(group)), alone: len(group) == 1})
}

// run runs the group's functions from c.next on, commits and hands the
// group to the syncer. A function that calls runtime.Goexit ends this
// goroutine whatever anyone does; its savepoint is rolled back, it is
// answered with errGoexit, and a new goroutine takes up the rest of the
// group and then the commit loop, so neither the group's other callers
// nor any later writer waits forever.
func (s *Store) run(c *commitRun) {
	ctx := context.Background()
	var goexit bool
	defer func() {
		if !goexit {
			return
		}
		i := c.next - 1
		c.errs[i] = errGoexit
		if !c.alone {
			c.errs[i] = errors.Join(c.errs[i], s.endSavepoint(ctx, c.t, true))
		}
		go func() {
			s.run(c)
			s.commitLoop()
		}()
	}()
	for c.next < len(c.group) {
		i, r := c.next, c.group[c.next]
		c.next++
		if err := r.ctx.Err(); err != nil {
			c.errs[i] = err
			continue
		}
		if c.alone {
			c.errs[i] = call(r.fn, c.t, &goexit)
			continue
		}
		if _, err := c.t.q.ExecContext(ctx, `SAVEPOINT w`); err != nil {
			c.errs[i] = err
			continue
		}
		c.errs[i] = call(r.fn, c.t, &goexit)
		if err := s.endSavepoint(ctx, c.t, c.errs[i] != nil); err != nil {
			c.errs[i] = errors.Join(c.errs[i], err)
		}
	}
	s.finish(ctx, c)
}

// endSavepoint releases the group's savepoint w, rolled back first if
// rollback is set. The error of a release that follows a success is the
// function's own (its writes are not kept).
func (s *Store) endSavepoint(ctx context.Context, t *Tx, rollback bool) error {
	var errs []error
	if rollback {
		if _, err := t.q.ExecContext(ctx, `ROLLBACK TO w`); err != nil {
			errs = append(errs, err)
		}
	}
	if _, err := t.q.ExecContext(ctx, `RELEASE w`); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// finish commits the run's transaction (or rolls back a lone failed
// function's) and hands the group to the syncer.
func (s *Store) finish(ctx context.Context, c *commitRun) {
	defer s.obs.observe(OpCommit, c.start)
	errs := c.errs
	apart := c.t.apart && s.ck != nil
	if apart {
		// The commit of a big write would checkpoint the WAL it just
		// grew by tens of MB (copy and fsync) before returning, which
		// the batch's caller and every writer behind it waited for;
		// the checkpointer does it on its own connection instead.
		// On the transaction itself, not through the statement cache:
		// SQLite applies this pragma when it compiles it, and the cache
		// compiles the statements a transaction used again once it ends.
		if _, err := c.tx.ExecContext(ctx, `PRAGMA wal_autocheckpoint = 0`); err != nil {
			apart = false
		}
	}
	if c.alone && errs[0] != nil {
		if err := c.tx.Rollback(); err != nil {
			errs[0] = errors.Join(errs[0], err)
		}
	} else if err := c.tx.Commit(); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("store: commit: %w", err)
			}
		}
	}
	if c.t.dirDirty {
		s.dir.clear()
	}
	if apart {
		// Should this fail, the writer goes on without automatic
		// checkpoints until the next big write sets them again; the
		// checkpointer still runs after every big write.
		_, _ = s.w.ExecContext(ctx, `PRAGMA wal_autocheckpoint = `+walAutocheckpoint)
		s.ck.kick()
	}
	if s.wc != nil {
		s.wc.prepareWanted(ctx)
	}
	// The group slice is reused by commitLoop; the syncer gets a copy.
	s.synced <- syncReq{group: append([]*writeReq(nil), c.group...), errs: errs}
}

// syncLoop answers committed groups, after an fsync of the WAL when durable.
// One fsync covers every group committed before it started, so while it runs
// the committer goes on with the next group and a burst of groups shares the
// next fsync.
func (s *Store) syncLoop() {
	defer close(s.syncerDone)
	var wal *os.File
	defer func() {
		if wal != nil {
			wal.Close()
		}
	}()
	for first := range s.synced {
		reqs := []syncReq{first}
	more:
		for {
			select {
			case r, ok := <-s.synced:
				if !ok {
					break more
				}
				reqs = append(reqs, r)
			default:
				break more
			}
		}
		var serr error
		if s.durable {
			if wal == nil {
				wal, serr = os.OpenFile(s.walPath, os.O_RDWR, 0)
			}
			if serr == nil {
				serr = wal.Sync()
			}
			if serr != nil {
				serr = fmt.Errorf("store: sync WAL: %w", serr)
				if wal != nil {
					wal.Close()
					wal = nil
				}
			}
		}
		for _, r := range reqs {
			for i, w := range r.group {
				err := r.errs[i]
				if err == nil {
					err = serr
				}
				w.done <- err
			}
		}
	}
}

// call runs fn, turning a panic into an error so one bad write cannot take
// down the committer and every caller waiting on it. A runtime.Goexit
// cannot be stopped: call sets *goexit and lets it go on (see Store.run).
func call(fn func(*Tx) error, t *Tx, goexit *bool) (err error) {
	returned := false
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: write function panicked: %v", p)
		} else if !returned {
			*goexit = true
		}
	}()
	err = fn(t)
	returned = true
	return err
}

// Savepoint runs fn inside a nested savepoint: fn's writes are rolled back if
// it returns an error, and kept (pending the outer commit) otherwise.
func (t *Tx) Savepoint(ctx context.Context, fn func() error) error {
	if _, err := t.q.ExecContext(ctx, `SAVEPOINT c`); err != nil {
		return err
	}
	ferr := fn()
	if ferr != nil {
		if _, err := t.q.ExecContext(ctx, `ROLLBACK TO c`); err != nil {
			return errors.Join(ferr, err)
		}
	}
	if _, err := t.q.ExecContext(ctx, `RELEASE c`); err != nil {
		return errors.Join(ferr, err)
	}
	return ferr
}

// WriteApart is Write for a long write function, such as the queue
// worker's batch of 100,000 changes: on PostgreSQL it runs in a
// transaction of its own beside the committer's, so the node's other
// writes (acknowledgements, messages) go on meanwhile instead of waiting
// behind it for seconds, and meet it only on rows both touch. On SQLite,
// whose single writer they would wait for anyway, it is Write, except
// that its commit leaves the checkpoint of the WAL it grew to the
// checkpointer (checkpoint.go).
func (s *Store) WriteApart(ctx context.Context, fn func(*Tx) error) (err error) {
	if !s.pg {
		return s.Write(ctx, func(t *Tx) error {
			t.apart = true
			return fn(t)
		})
	}
	defer s.obs.observe(OpWrite, time.Now())
	ctx = context.WithoutCancel(ctx)
	tx, err := s.r.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", err)
	}
	committed := false
	defer func() {
		if !committed {
			err = errors.Join(err, ignoreDone(tx.Rollback()))
		}
	}()
	t := &Tx{Reader: Reader{q: pgQuerier{tx: tx}, now: s.now, pg: true}}
	var goexit bool
	if err := call(fn, t, &goexit); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", err)
	}
	committed = true
	if t.dirDirty {
		s.dir.clear()
	}
	return nil
}

// ignoreDone drops the error of rolling back a transaction that is over.
func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrTxDone) {
		return nil
	}
	return err
}
