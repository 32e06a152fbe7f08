package queue

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/robfig/cron/v3"
	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/store"
)

// Effects is what the worker tells the live XMPP server after a batch is
// committed. main wires xmppcore into it; a crash between commit and effect
// is harmless because a restarted server has no sessions to correct.
type Effects interface {
	// UserGone: the user left active or was removed; close their sessions.
	UserGone(domain, username string)
	// PasswordChanged: close the user's sessions.
	PasswordChanged(domain, username string)
	// RosterChanged: push the user's roster item for contact.
	RosterChanged(domain, username, contact string)
}

// Work is one change as the worker applies it.
type Work struct {
	store.Change
	// Prepared carries what Prepare computed outside the transaction.
	Prepared any
	// Derived is what Applier.Derive stored for this change ahead of the
	// apply, nil if nothing was (yet); Prepare uses it when it is sound.
	Derived []byte
	effects []func(Effects)
}

// After queues an effect to run once the batch is committed.
func (w *Work) After(f func(Effects)) { w.effects = append(w.effects, f) }

// Applier applies the changes of one command.
type Applier struct {
	// Prepare, if set, runs before the transaction and in parallel with other
	// changes: the place for slow pure work such as SCRAM key derivation.
	Prepare func(ctx context.Context, w *Work) error
	// Derive, if set, computes ahead, once the change is queued, what
	// Prepare would otherwise compute slowly at apply; the worker's
	// deriver stores its result with the change (Work.Derived) until the
	// batch is final. A cache: Prepare must still work without it, and
	// the result must be safe to keep in the store (sealed). nil: nothing
	// to store for this change.
	Derive func(ctx context.Context, w *Work) ([]byte, error)
	// Apply writes the change inside the batch's transaction. An error fails
	// this change alone: its writes are rolled back, the others stay.
	Apply func(ctx context.Context, tx *store.Tx, w *Work) error
	// Atomic says Apply makes at most one write statement, which SQLite
	// rolls back by itself on error, so it needs no savepoint of its own.
	Atomic bool
	// ApplyRun, if set, applies a run of this command's pending changes
	// that follow each other in the batch in one go (a statement over
	// arrays on PostgreSQL, where a statement per change is a round trip
	// each): one error per change, nil where it was applied, as Apply
	// would have said. An error of its own rolls the run back and its
	// changes are applied one by one with Apply.
	ApplyRun func(ctx context.Context, tx *store.Tx, run []*Work) ([]error, error)
}

// CodedError is an error that carries a structured form for whoever waits
// on the change (the registry's *commands.Error), kept with the failed
// change beside its text.
type CodedError interface {
	error
	ChangeCode() string
}

func errorCode(err error) string {
	var ce CodedError
	if errors.As(err, &ce) {
		return ce.ChangeCode()
	}
	return ""
}

// Options of a Worker; zero values are defaults.
type Options struct {
	// Parallel bounds concurrent Prepare calls, and Derive calls of the
	// deriver (default GOMAXPROCS-1, at least 1): key derivation leaves
	// one P to the requests and sessions the server goes on serving
	// meanwhile. The deriver takes waiting batches only, so the two pools
	// overlap little. With every P deriving,
	// a services-progress poll waited on the scheduler, whose network poll
	// then runs every 10 ms (p50 37 ms, p99 119 ms on 2 cores, bench/batch);
	// with one P left free p50 stayed the idle server's 0.2 ms. With the
	// default, a small batch a synchronous caller flushes uses every P
	// (flushEveryCPU); a Parallel set here holds for every batch.
	Parallel int
	Logger   *zap.Logger
	// Applied, if set, is told of every batch made final, with how long
	// its transaction took (for monitoring; it must not block).
	Applied func(status store.BatchStatus, changes int, took time.Duration)
	// Node is this process among the nodes sharing the store (nil: a
	// worker of no name, which always claims and recovers any orphan).
	Node *Node
}

// Worker applies batches. One Worker per node (the process lock in main
// keeps it single per data directory); the nodes sharing a PostgreSQL
// store claim from one queue, each batch once (docs/scale-out.md). Batches are claimed in order and applied in
// that order, one transaction at a time; the slow Prepare step of a batch
// runs outside that order, so a synchronous caller's key derivation
// overlaps the commit of the batch before it instead of waiting for it.
type Worker struct {
	st       *store.Store
	appliers map[string]Applier
	effects  Effects
	log      *zap.Logger
	parallel int
	flushPar int // Prepare's goroutines for a small flushed batch (flushEveryCPU)

	mu       sync.Mutex              // guards claiming, inflight and next
	inflight map[int64]chan struct{} // batches this process is applying; closed when final
	next     uint64                  // sequence number of the next claimed batch

	// running holds the batches of inflight by token, as claimed, for
	// BatchByToken. A lock of its own: mu is held across the claim's
	// write, which waits behind a batch's transaction for seconds.
	runMu   sync.Mutex
	running map[string]store.Batch

	turnMu sync.Mutex
	turn   uint64 // sequence number of the batch whose transaction may run now
	turnCh chan struct{}

	der deriver

	cron *cron.Cron
	// period is the schedule's interval; lastTick is when a scheduled
	// run last started or ended (Unix ns), 0 when stopped (Ticking).
	// Both atomics: reload_config restarts the schedule while /readyz
	// reads them.
	period   atomic.Int64 // time.Duration
	lastTick atomic.Int64
	applied  func(store.BatchStatus, int, time.Duration)
	node     *Node
}

// NewWorker returns a worker applying changes with appliers keyed by command.
func NewWorker(st *store.Store, appliers map[string]Applier, effects Effects, o Options) *Worker {
	flushPar := o.Parallel
	if o.Parallel <= 0 {
		o.Parallel = max(1, runtime.GOMAXPROCS(0)-1)
		flushPar = runtime.GOMAXPROCS(0)
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	return &Worker{st: st, appliers: appliers, effects: effects, log: o.Logger, parallel: o.Parallel, flushPar: flushPar,
		inflight: map[int64]chan struct{}{}, running: map[string]store.Batch{}, turnCh: make(chan struct{}), applied: o.Applied, node: o.Node}
}

// Start runs RunOnce on the cron schedule (e.g. "@every 5s").
func (w *Worker) Start(schedule string) error {
	c := cron.New(cron.WithChain(cron.SkipIfStillRunning(cron.DiscardLogger)))
	id, err := c.AddFunc(schedule, func() {
		w.lastTick.Store(time.Now().UnixNano())
		if _, err := w.RunOnce(context.Background()); err != nil {
			w.log.Error("worker tick failed", zap.Error(err))
		}
		w.lastTick.Store(time.Now().UnixNano())
	})
	if err != nil {
		return fmt.Errorf("queue: worker schedule %q: %w", schedule, err)
	}
	// The interval between two runs after the next one: "@every 5s" is
	// 5 s, a cron line the gap it has at the moment.
	next := c.Entry(id).Schedule.Next(time.Now())
	w.period.Store(int64(c.Entry(id).Schedule.Next(next).Sub(next)))
	w.cron = c
	w.lastTick.Store(time.Now().UnixNano())
	c.Start()
	return nil
}

// minTickGrace is the least time Ticking allows between runs: a short
// schedule's run that a loaded machine starts late is not a failure.
const minTickGrace = 10 * time.Second

// Ticking reports whether the schedule runs: started, not stopped, and a
// run began or ended within the last periods schedule intervals (at least
// minTickGrace). A run still busy after that long counts as stuck.
func (w *Worker) Ticking(now time.Time, periods int) error {
	last := w.lastTick.Load()
	if last == 0 {
		return errors.New("worker not running")
	}
	period := time.Duration(w.period.Load())
	if age := now.Sub(time.Unix(0, last)); age > max(time.Duration(periods)*period, minTickGrace) {
		return fmt.Errorf("worker last ticked %s ago (schedule every %s)", age.Round(time.Millisecond), period)
	}
	return nil
}

// Stop stops the schedule and waits until no batch is being applied.
func (w *Worker) Stop() {
	if w.cron != nil {
		<-w.cron.Stop().Done()
	}
	// After the last run ended: it stores its end time.
	w.lastTick.Store(0)
	for {
		w.mu.Lock()
		var ch chan struct{}
		for _, c := range w.inflight {
			ch = c
			break
		}
		w.mu.Unlock()
		if ch == nil {
			return
		}
		<-ch
	}
}

// job is a claimed batch on its way to being final.
type job struct {
	b    store.Batch
	seq  uint64
	done chan struct{}
	// waited: claimed by Flush, for a synchronous caller waiting on it.
	waited bool
}

// claimLocked registers b as in flight and gives it the next turn; w.mu held.
func (w *Worker) claimLocked(b store.Batch) *job {
	j := &job{b: b, seq: w.next, done: make(chan struct{})}
	w.next++
	w.inflight[b.ID] = j.done
	w.runMu.Lock()
	w.running[b.Token] = b
	w.runMu.Unlock()
	return j
}

// BatchByToken is the store's BatchByToken, answered from memory for a
// batch this worker is applying: a services-progress poll then does not
// touch the database while the batch's transaction runs (bench/batch).
// The batch is running as claimed until its transaction commits; in the
// short while from that commit until process forgets it, this still says
// running, as a read begun a moment earlier would have.
func (w *Worker) BatchByToken(ctx context.Context, token string) (store.Batch, error) {
	w.runMu.Lock()
	b, ok := w.running[token]
	w.runMu.Unlock()
	if ok {
		return b, nil
	}
	return w.st.BatchByToken(ctx, token)
}

// RunOnce applies every batch this node must recover (left running by a
// crash of this node, or claimed by a node whose lease has passed) and
// every waiting batch it claims, and returns how many it finished. A
// leaving node recovers only its own and claims nothing new.
func (w *Worker) RunOnce(ctx context.Context) (int, error) {
	w.mu.Lock()
	var left, claimed []store.Batch
	claiming := w.node.Claiming()
	err := w.st.Write(ctx, func(tx *store.Tx) (err error) {
		left, claimed = nil, nil
		if left, err = tx.RecoverBatches(ctx, w.node.Name(), claiming, 0, 1000); err != nil || !claiming {
			return err
		}
		claimed, err = tx.ClaimBatches(ctx, w.node.Name(), 1000)
		return err
	})
	if err != nil {
		w.mu.Unlock()
		return 0, err
	}
	var jobs []*job
	for _, b := range append(left, claimed...) {
		if _, busy := w.inflight[b.ID]; !busy {
			jobs = append(jobs, w.claimLocked(b))
		}
	}
	w.mu.Unlock()
	n := 0
	var first error
	for _, j := range jobs {
		// Every job must take its turn, even after a failure, or later
		// batches would wait for it forever.
		if err := w.process(ctx, j); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		n++
	}
	return n, first
}

// Flush polling: how often a synchronous caller looks again at a batch
// another node applies, and how long it waits for one that no node takes.
const (
	flushPollMin = 2 * time.Millisecond
	flushPollMax = 250 * time.Millisecond
	// flushUnclaimedMax bounds the wait for a batch that stays waiting
	// because this node may not claim (it is leaving) and no other does.
	flushUnclaimedMax = 2 * time.Minute
)

// Flush applies batch id now (claiming it if it still waits) and returns once
// it is final. Synchronous dialects use it to answer after their change.
// When another node holds the batch, Flush polls the store until that node
// made it final, with a backoff, for as long as ctx lasts; if that node's
// lease passes meanwhile, Flush recovers the batch and applies it here.
func (w *Worker) Flush(ctx context.Context, id int64) (store.Batch, error) {
	delay := flushPollMin
	var unclaimedSince time.Time
	for {
		b, done, err := w.flushOnce(ctx, id)
		if err != nil || done {
			return b, err
		}
		if b.Status == store.BatchWaiting {
			if unclaimedSince.IsZero() {
				unclaimedSince = time.Now()
			} else if time.Since(unclaimedSince) > flushUnclaimedMax {
				return b, fmt.Errorf("queue: batch %s still waits after %s: this node is leaving the cluster and no other node claimed it",
					b.Token, flushUnclaimedMax)
			}
		}
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return b, ctx.Err()
		}
		delay = min(2*delay, flushPollMax)
	}
}

// flushOnce makes one attempt of Flush: it waits for the batch if this
// process applies it, applies it if this node can take it, and otherwise
// returns it as it is now, not done.
func (w *Worker) flushOnce(ctx context.Context, id int64) (b store.Batch, done bool, err error) {
	w.mu.Lock()
	if ch, busy := w.inflight[id]; busy {
		w.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return store.Batch{}, true, ctx.Err()
		}
		b, err = w.st.Batch(ctx, id)
		return b, true, err
	}
	claiming := w.node.Claiming()
	taken := false
	err = w.st.Write(ctx, func(tx *store.Tx) error {
		taken = false
		var err error
		if claiming {
			b, err = tx.ClaimBatch(ctx, id, w.node.Name())
			if taken = err == nil; taken || !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		// Not waiting (or not ours to claim): running because a crash left
		// it so, here or on a dead node, is ours to recover.
		got, err := tx.RecoverBatches(ctx, w.node.Name(), claiming, id, 1)
		if taken = len(got) == 1; taken {
			b = got[0]
		}
		return err
	})
	if err == nil && !taken {
		b, err = w.st.Batch(ctx, id)
	}
	if err != nil || !taken {
		w.mu.Unlock()
		final := b.Status == store.BatchSuccess || b.Status == store.BatchFailure
		return b, err != nil || final, err
	}
	j := w.claimLocked(b)
	j.waited = true
	w.mu.Unlock()
	if err := w.process(ctx, j); err != nil {
		return b, true, err
	}
	b, err = w.st.Batch(ctx, id)
	return b, true, err
}

// process prepares a claimed batch, waits for its turn and applies it.
func (w *Worker) process(ctx context.Context, j *job) error {
	defer func() {
		w.runMu.Lock()
		delete(w.running, j.b.Token)
		w.runMu.Unlock()
		w.mu.Lock()
		delete(w.inflight, j.b.ID)
		w.mu.Unlock()
		close(j.done)
	}()
	changes, err := w.st.ChangesToApply(ctx, j.b.ID)
	var work []*Work
	var failed []error
	if err == nil {
		// One allocation for the batch's Work, not one per change: a
		// batch of 100,000 made that much garbage for the collector to
		// chase while the apply and the server's requests ran.
		all := make([]Work, len(changes))
		work = make([]*Work, len(changes))
		failed = make([]error, len(changes))
		for i, c := range changes {
			all[i] = Work{Change: c.Change, Derived: c.Derived}
			work[i] = &all[i]
		}
		par := w.parallel
		if j.waited && len(work) <= flushEveryCPU {
			par = w.flushPar
		}
		w.prepare(ctx, par, work, failed)
	}
	w.waitTurn(j.seq)
	defer w.endTurn()
	if err != nil {
		return err
	}
	return w.apply(ctx, j.b, work, failed)
}

func (w *Worker) waitTurn(seq uint64) {
	for {
		w.turnMu.Lock()
		if w.turn == seq {
			w.turnMu.Unlock()
			return
		}
		ch := w.turnCh
		w.turnMu.Unlock()
		<-ch
	}
}

func (w *Worker) endTurn() {
	w.turnMu.Lock()
	w.turn++
	close(w.turnCh)
	w.turnCh = make(chan struct{})
	w.turnMu.Unlock()
}

func (w *Worker) apply(ctx context.Context, b store.Batch, work []*Work, failed []error) error {
	start := time.Now()
	status := store.BatchSuccess
	// Apart from the store's other writes where the engine allows: a big
	// batch holds its transaction for seconds (bench/batch).
	how := make([]applied, len(work))
	err := w.st.WriteApart(ctx, func(tx *store.Tx) error {
		status = store.BatchSuccess
		clear(how)
		if err := tx.HoldBatch(ctx, b.ID, w.node.Name()); err != nil {
			return err
		}
		for i, wk := range work {
			if wk.Status != store.ChangePending {
				continue // finished in an earlier run of this batch
			}
			if failed[i] == nil && how[i] == notYet {
				n, ok := w.applyRun(ctx, tx, work[i:], failed[i:])
				for k := i; k < i+n; k++ {
					how[k] = oneByOne
					if ok {
						how[k] = inRun
					}
				}
			}
			if failed[i] == nil && how[i] != inRun {
				failed[i] = w.applyOne(ctx, tx, wk)
			}
			if failed[i] != nil {
				status = store.BatchFailure
				if err := tx.FinishChange(ctx, wk.ID, store.ChangeFailed, failed[i].Error(), errorCode(failed[i])); err != nil {
					return err
				}
			}
		}
		if err := tx.FinishPendingChanges(ctx, b.ID); err != nil {
			return err
		}
		return tx.FinishBatch(ctx, b.ID, status)
	})
	if err != nil {
		return fmt.Errorf("queue: apply batch %d: %w", b.ID, err)
	}
	if w.applied != nil {
		w.applied(status, len(work), time.Since(start))
	}
	if w.effects != nil {
		for _, wk := range work {
			for _, f := range wk.effects {
				f(w.effects)
			}
		}
	}
	w.log.Info("batch applied", zap.String("token", b.Token), zap.Int64("account", b.AccountID),
		zap.Int("changes", len(work)), zap.String("status", string(status)), zap.Duration("duration", time.Since(start)))
	return nil
}

// flushEveryCPU bounds the batches whose Prepare step a waiting Flush runs
// on every CPU rather than on the default Options.Parallel's: a synchronous client's
// small batch (its callers are all waiting on it, so nothing queues behind
// it to overlap with) took its key derivations one after the other on the
// one goroutine two CPUs allow: /api/register at c=16 used 1.36 of 2 CPUs,
// 16 × 0.9 ms of PBKDF2 per batch in a row. 64 changes are ~30 ms of both
// CPUs, short enough for the services-progress polls Parallel protects.
const flushEveryCPU = 64

// prepare runs the Prepare step of every pending change on par goroutines.
func (w *Worker) prepare(ctx context.Context, par int, work []*Work, failed []error) {
	w.eachN(par, func() {}, len(work), func(i int) {
		wk := work[i]
		if a, ok := w.appliers[wk.Command]; ok && a.Prepare != nil && wk.Status == store.ChangePending {
			failed[i] = prepareOne(ctx, a, wk)
		}
	})
}

func prepareOne(ctx context.Context, a Applier, wk *Work) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("prepare panicked: %v", p)
		}
	}()
	return a.Prepare(ctx, wk)
}

// minRun is the fewest changes ApplyRun takes: below it, one statement
// per change costs no more than the run's savepoint.
const minRun = 4

// applied is how apply took a change: not yet, in a run (ApplyRun), or
// one by one (a run that failed as a whole).
type applied uint8

const (
	notYet applied = iota
	inRun
	oneByOne
)

// applyRun applies, with the ApplyRun of work[0]'s command, the run of
// pending changes of that command that starts at work[0] and whose Prepare
// did not fail, setting their errors in failed. n is the run's length (0:
// no run: no ApplyRun, or fewer than minRun changes); ok is false when
// ApplyRun failed as a whole and was rolled back, so the run's changes
// are to be applied one by one.
func (w *Worker) applyRun(ctx context.Context, tx *store.Tx, work []*Work, failed []error) (n int, ok bool) {
	a := w.appliers[work[0].Command]
	if a.ApplyRun == nil {
		return 0, false
	}
	for n < len(work) && work[n].Command == work[0].Command && work[n].Status == store.ChangePending && failed[n] == nil {
		n++
	}
	if n < minRun {
		return 0, false
	}
	var errs []error
	err := tx.Savepoint(ctx, func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("apply panicked: %v", p)
			}
		}()
		errs, err = a.ApplyRun(ctx, tx, work[:n])
		if err == nil && len(errs) != n {
			err = fmt.Errorf("ApplyRun of %s answered for %d of %d changes", work[0].Command, len(errs), n)
		}
		return err
	})
	if err != nil {
		w.log.Warn("a run of changes failed as a whole; applying them one by one", zap.String("command", work[0].Command),
			zap.Int("changes", n), zap.Error(err))
		return n, false
	}
	copy(failed, errs)
	return n, true
}

// applyOne applies a change inside its own savepoint, so a failing change
// (or an unknown command: a poison row) fails alone.
func (w *Worker) applyOne(ctx context.Context, tx *store.Tx, wk *Work) error {
	a, ok := w.appliers[wk.Command]
	if !ok || a.Apply == nil {
		return fmt.Errorf("unknown command %q", wk.Command)
	}
	run := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("apply panicked: %v", p)
			}
		}()
		return a.Apply(ctx, tx, wk)
	}
	if a.Atomic {
		return run()
	}
	return tx.Savepoint(ctx, run)
}
