package queue

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
)

type testBundle struct {
	st      *store.Store
	ctx     context.Context
	account int64
	applied atomic.Int64
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "q.db"), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	b := &testBundle{st: st, ctx: ctx}
	require.NoError(t, st.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.InsertAccount(ctx, "acme", 0)
		b.account = a.ID
		return err
	}))
	return b
}

func (b *testBundle) enqueue(t *testing.T, command string) Queued {
	t.Helper()
	var q Queued
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) (err error) {
		q, err = EnqueueTx(b.ctx, tx, b.account, store.Change{Command: command})
		return err
	}))
	return q
}

func (b *testBundle) worker() *Worker {
	return NewWorker(b.st, map[string]Applier{
		"ok": {Apply: func(ctx context.Context, tx *store.Tx, w *Work) error {
			b.applied.Add(1)
			return tx.Audit(ctx, 0, "test", "ok", fmt.Sprint(w.ID))
		}},
		"fails": {Apply: func(ctx context.Context, tx *store.Tx, w *Work) error {
			// Its write must be rolled back with it.
			if err := tx.Audit(ctx, 0, "test", "fails", ""); err != nil {
				return err
			}
			return errors.New("refused")
		}},
		"prepfails": {Prepare: func(context.Context, *Work) error { return errors.New("no key") },
			Apply: func(context.Context, *store.Tx, *Work) error { panic("not reached") }},
		"panics": {Apply: func(context.Context, *store.Tx, *Work) error { panic("boom") }},
	}, nil, Options{})
}

func TestTokenShape(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := 0; i < 1000; i++ {
		tok := NewToken()
		require.Len(t, tok, TokenLen)
		require.True(t, unicode.IsLetter(rune(tok[0])))
		require.False(t, seen[tok])
		seen[tok] = true
	}
}

func TestSharedTokenUntilClaimed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	q1 := b.enqueue(t, "ok")
	q2 := b.enqueue(t, "ok")
	require.Equal(t, q1.Token, q2.Token)
	require.Equal(t, q1.BatchID, q2.BatchID)
	require.Equal(t, q1.ChangeID+1, q2.ChangeID)
	n, err := b.worker().RunOnce(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.EqualValues(t, 2, b.applied.Load())
	q3 := b.enqueue(t, "ok")
	require.NotEqual(t, q1.Token, q3.Token)
	batch, err := Progress(b.ctx, b.st.Reader, q1.Token, []int64{b.account}, 0, b.st.Now())
	require.NoError(t, err)
	require.Equal(t, store.BatchSuccess, batch.Status)
	_, err = Progress(b.ctx, b.st.Reader, q1.Token, []int64{b.account + 1}, 0, b.st.Now())
	require.ErrorIs(t, err, ErrInvalidToken)
}

// A failing, panicking or unknown change fails alone; the rest of its batch applies.
func TestPoisonChangesFailAlone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, c := range []string{"ok", "fails", "nosuchcommand", "panics", "prepfails", "ok"} {
		b.enqueue(t, c)
	}
	q := b.enqueue(t, "ok")
	_, err := b.worker().RunOnce(b.ctx)
	require.NoError(t, err)
	require.EqualValues(t, 3, b.applied.Load())
	batch, err := b.st.BatchByToken(b.ctx, q.Token)
	require.NoError(t, err)
	require.Equal(t, store.BatchFailure, batch.Status)
	changes, err := b.st.Changes(b.ctx, batch.ID)
	require.NoError(t, err)
	var got []string
	for _, c := range changes {
		got = append(got, c.Command+":"+string(c.Status)+":"+c.Error)
	}
	require.Equal(t, []string{
		"ok:applied:", "fails:failed:refused", `nosuchcommand:failed:unknown command "nosuchcommand"`,
		"panics:failed:apply panicked: boom", "prepfails:failed:no key", "ok:applied:", "ok:applied:",
	}, got)
}

func TestFlushAppliesAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	q := b.enqueue(t, "ok")
	w := b.worker()
	batch, err := w.Flush(b.ctx, q.BatchID)
	require.NoError(t, err)
	require.Equal(t, store.BatchSuccess, batch.Status)
	// Flushing a finished batch is a no-op.
	batch, err = w.Flush(b.ctx, q.BatchID)
	require.NoError(t, err)
	require.Equal(t, store.BatchSuccess, batch.Status)
	require.EqualValues(t, 1, b.applied.Load())
}

// A batch left running (a crash after the claim) is applied by the next run.
func TestRunningBatchIsResumed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	q := b.enqueue(t, "ok")
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		_, err := tx.ClaimBatches(b.ctx, "", 10)
		return err
	}))
	n, err := b.worker().RunOnce(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	batch, err := b.st.BatchByToken(b.ctx, q.Token)
	require.NoError(t, err)
	require.Equal(t, store.BatchSuccess, batch.Status)
	require.False(t, batch.Executed.IsZero())
	require.False(t, batch.Finished.IsZero())
}

func ExampleEnqueueTx() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "queue-example")
	defer os.RemoveAll(dir)
	st, _ := store.Open(ctx, filepath.Join(dir, "x.db"), store.Options{})
	defer st.Close()
	var acc store.Account
	_ = st.Write(ctx, func(tx *store.Tx) (err error) { acc, err = tx.InsertAccount(ctx, "acme", 0); return })

	var q1, q2 Queued
	_ = st.Write(ctx, func(tx *store.Tx) (err error) {
		q1, err = EnqueueTx(ctx, tx, acc.ID, store.Change{Command: "greet"})
		return
	})
	_ = st.Write(ctx, func(tx *store.Tx) (err error) {
		q2, err = EnqueueTx(ctx, tx, acc.ID, store.Change{Command: "greet"})
		return
	})
	fmt.Println("same token while waiting:", q1.Token == q2.Token)

	w := NewWorker(st, map[string]Applier{"greet": {Apply: func(context.Context, *store.Tx, *Work) error {
		fmt.Println("applied")
		return nil
	}}}, nil, Options{})
	b, _ := w.Flush(ctx, q1.BatchID)
	fmt.Println(b.Status)
	// Output:
	// same token while waiting: true
	// applied
	// applied
	// success
}

// TestTickingAndApplied: Ticking follows the schedule's start, a missed
// interval and Stop; Applied hears of each final batch with its status.
func TestTickingAndApplied(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var mu sync.Mutex
	var heard []store.BatchStatus
	w := NewWorker(b.st, b.worker().appliers, nil, Options{Applied: func(st store.BatchStatus, n int, took time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		require.Equal(t, 1, n)
		require.Positive(t, took)
		heard = append(heard, st)
	}})
	require.EqualError(t, w.Ticking(time.Now(), 3), "worker not running")
	require.NoError(t, w.Start("@every 1h"))
	now := time.Now()
	for i, c := range []struct {
		at   time.Time
		fail bool
	}{
		0: {now, false},
		1: {now.Add(2 * time.Hour), false},
		2: {now.Add(3*time.Hour + time.Minute), true},
	} {
		err := w.Ticking(c.at, 3)
		require.Equal(t, c.fail, err != nil, "%d: %v", i, err)
	}
	b.enqueue(t, "ok")
	_, err := w.RunOnce(b.ctx)
	require.NoError(t, err)
	b.enqueue(t, "fails")
	_, err = w.RunOnce(b.ctx)
	require.NoError(t, err)
	w.Stop()
	require.EqualError(t, w.Ticking(time.Now(), 3), "worker not running")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []store.BatchStatus{store.BatchSuccess, store.BatchFailure}, heard)
}

// TestPrepareEachChangeOnce: with several Prepare goroutines, every
// pending change is prepared exactly once and its Apply sees what its own
// Prepare computed; a panicking Prepare fails its change alone; commands
// without Prepare are left to Apply.
func TestPrepareEachChangeOnce(t *testing.T) {
	t.Parallel()
	for _, parallel := range []int{1, 3, 64} {
		t.Run(fmt.Sprint(parallel), func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			var prepared atomic.Int64
			want := map[string]int{}
			for i := 0; i < 200; i++ {
				cmd := []string{"prep", "prep", "prep", "preppanics", "ok"}[i%5]
				b.enqueue(t, cmd)
				want[cmd]++
			}
			w := NewWorker(b.st, map[string]Applier{
				"prep": {
					Prepare: func(_ context.Context, w *Work) error { prepared.Add(1); w.Prepared = w.ID; return nil },
					Apply: func(_ context.Context, _ *store.Tx, w *Work) error {
						if w.Prepared != w.ID {
							return fmt.Errorf("change %d sees %v prepared", w.ID, w.Prepared)
						}
						return nil
					},
				},
				"preppanics": {Prepare: func(context.Context, *Work) error { panic("no salt") },
					Apply: func(context.Context, *store.Tx, *Work) error { panic("not reached") }},
				"ok": {Apply: func(context.Context, *store.Tx, *Work) error { return nil }},
			}, nil, Options{Parallel: parallel})
			_, err := w.RunOnce(b.ctx)
			require.NoError(t, err)
			require.EqualValues(t, want["prep"], prepared.Load())
			ids, err := b.st.RecentBatches(b.ctx, nil, "", 1)
			require.NoError(t, err)
			changes, err := b.st.Changes(b.ctx, ids[0].ID)
			require.NoError(t, err)
			got := map[string]int{}
			for _, c := range changes {
				got[c.Command+":"+string(c.Status)+":"+c.Error]++
			}
			require.Equal(t, map[string]int{"prep:applied:": want["prep"], "ok:applied:": want["ok"],
				"preppanics:failed:prepare panicked: no salt": want["preppanics"]}, got)
		})
	}
}

// While the worker applies a batch, Worker.BatchByToken answers for it
// from memory exactly what the store holds (running, with its claim
// time), and once the batch is final, what the store says then; other
// tokens it reads from the store. Progress through the worker and
// through the store agree all along, and the answer does not wait for a
// claim queued behind the batch.
func TestWorkerBatchByTokenDuringApply(t *testing.T) {
	t.Parallel()
	b := setup(t)
	inApply, release := make(chan struct{}), make(chan struct{})
	w := NewWorker(b.st, map[string]Applier{
		"hold": {Apply: func(ctx context.Context, tx *store.Tx, _ *Work) error {
			close(inApply)
			<-release
			return tx.Audit(ctx, 0, "test", "hold", "")
		}},
	}, nil, Options{})
	q := b.enqueue(t, "hold")

	waiting, err := w.BatchByToken(b.ctx, q.Token)
	require.NoError(t, err)
	require.Equal(t, store.BatchWaiting, waiting.Status)
	_, err = w.BatchByToken(b.ctx, "NoSuchToken")
	require.ErrorIs(t, err, store.ErrNotFound)

	done := make(chan error, 1)
	go func() { _, err := w.Flush(b.ctx, q.BatchID); done <- err }()
	select {
	case <-inApply:
	case err := <-done:
		t.Fatalf("the batch finished without its apply: %v", err)
	}
	// A scheduled run meanwhile holds the claiming lock while its claim
	// waits for the writer the batch holds; the answer does not wait.
	ran := make(chan error, 1)
	go func() { _, err := w.RunOnce(b.ctx); ran <- err }()
	for w.mu.TryLock() {
		w.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	got := make(chan store.Batch, 1)
	go func() {
		mem, err := w.BatchByToken(b.ctx, q.Token)
		assert.NoError(t, err)
		got <- mem
	}()
	var mem store.Batch
	select {
	case mem = <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("BatchByToken waited for the claim behind the batch")
	}
	stored, err := b.st.BatchByToken(b.ctx, q.Token) // the last commit: the claim
	require.NoError(t, err)
	require.Equal(t, store.BatchRunning, mem.Status)
	require.Equal(t, stored, mem)
	for _, r := range []BatchReader{w, b.st.Reader} {
		p, err := Progress(b.ctx, r, q.Token, []int64{b.account}, 0, b.st.Now())
		require.NoError(t, err)
		require.Equal(t, stored, p)
		_, err = Progress(b.ctx, r, q.Token, []int64{b.account + 1}, 0, b.st.Now())
		require.ErrorIs(t, err, ErrInvalidToken, "another account's token")
	}

	close(release)
	require.NoError(t, <-done)
	require.NoError(t, <-ran)
	final, err := w.BatchByToken(b.ctx, q.Token)
	require.NoError(t, err)
	require.Equal(t, store.BatchSuccess, final.Status)
	stored, err = b.st.BatchByToken(b.ctx, q.Token)
	require.NoError(t, err)
	require.Equal(t, stored, final)
}

// A small batch a synchronous caller flushes prepares on every CPU, since
// its callers all wait on it; the scheduled run, a flushed batch of more
// than flushEveryCPU changes, and any batch where Options.Parallel was set
// keep to Parallel's goroutines.
func TestFlushPreparesOnEveryCPU(t *testing.T) {
	t.Parallel()
	cpus := min(runtime.GOMAXPROCS(0), 4)
	if cpus < 2 {
		t.Skip("needs GOMAXPROCS >= 2 to tell the pools apart")
	}
	all, def := runtime.GOMAXPROCS(0), max(1, runtime.GOMAXPROCS(0)-1)
	tests := []struct {
		name  string
		n     int
		flush bool
		par   int // Options.Parallel
		want  int // the most Prepare calls at once
	}{
		{"flushed, small", cpus, true, 0, min(cpus, all)},
		{"scheduled", cpus, false, 0, min(cpus, def)},
		{"flushed, large", flushEveryCPU + 1, true, 0, def},
		{"flushed, small, Parallel set", cpus, true, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			var active, most atomic.Int64
			prepare := func(context.Context, *Work) error {
				n := active.Add(1)
				defer active.Add(-1)
				for m := most.Load(); n > m; m = most.Load() {
					if most.CompareAndSwap(m, n) {
						break
					}
				}
				// Wait for the pool's other goroutines, generously where
				// they must come (a loaded machine starts them late), a
				// little where none should (a pool of one).
				wait, meet := 5*time.Millisecond, int64(cpus)
				if tt.want > 1 {
					wait, meet = 2*time.Second, int64(tt.want)
				}
				for deadline := time.Now().Add(wait); active.Load() < meet && time.Now().Before(deadline); {
					time.Sleep(200 * time.Microsecond)
				}
				return nil
			}
			var q Queued
			for range tt.n {
				q = b.enqueue(t, "slow")
			}
			w := NewWorker(b.st, map[string]Applier{"slow": {Prepare: prepare,
				Apply: func(context.Context, *store.Tx, *Work) error { return nil }}}, nil, Options{Parallel: tt.par})
			var err error
			if tt.flush {
				_, err = w.Flush(b.ctx, q.BatchID)
			} else {
				_, err = w.RunOnce(b.ctx)
			}
			require.NoError(t, err)
			require.EqualValues(t, tt.want, most.Load())
		})
	}
}

// ApplyRun takes the runs of at least minRun changes of its command that
// follow each other and whose Prepare did not fail, with per-change
// errors; a run it fails as a whole is rolled back and applied one by one
// with Apply; shorter runs go to Apply.
func TestApplyRun(t *testing.T) {
	t.Parallel()
	b := setup(t)
	// run ×5, other, run ×2, run with a failing Prepare, run ×4, whole ×4
	cmds := []string{"run", "run", "run", "run", "run", "other", "run", "run", "runprep", "run", "run", "run", "run",
		"whole", "whole", "whole", "whole"}
	for _, c := range cmds {
		b.enqueue(t, c)
	}
	var mu sync.Mutex
	var runs []int
	var oneByOne []string
	apply := func(name string) func(ctx context.Context, tx *store.Tx, w *Work) error {
		return func(ctx context.Context, tx *store.Tx, w *Work) error {
			mu.Lock()
			oneByOne = append(oneByOne, name)
			mu.Unlock()
			return tx.Audit(ctx, 0, "test", name, fmt.Sprint(w.ID))
		}
	}
	applyRun := func(ctx context.Context, tx *store.Tx, run []*Work) ([]error, error) {
		mu.Lock()
		runs = append(runs, len(run))
		mu.Unlock()
		errs := make([]error, len(run))
		for i, w := range run {
			if w.ID%2 == 0 {
				errs[i] = fmt.Errorf("even %d", w.ID)
				continue
			}
			if err := tx.Audit(ctx, 0, "test", "run", fmt.Sprint(w.ID)); err != nil {
				return nil, err
			}
		}
		return errs, nil
	}
	w := NewWorker(b.st, map[string]Applier{
		"run":     {Apply: apply("run"), ApplyRun: applyRun},
		"runprep": {Prepare: func(context.Context, *Work) error { return errors.New("no key") }, Apply: apply("runprep"), ApplyRun: applyRun},
		"other":   {Apply: apply("other")},
		"whole": {Apply: apply("whole"), ApplyRun: func(ctx context.Context, tx *store.Tx, run []*Work) ([]error, error) {
			// Its write must be rolled back with the run.
			if err := tx.Audit(ctx, 0, "test", "whole-run", ""); err != nil {
				return nil, err
			}
			return nil, errors.New("the statement failed")
		}},
	}, nil, Options{})
	_, err := w.RunOnce(b.ctx)
	require.NoError(t, err)
	require.Equal(t, []int{5, 4}, runs, "the runs of run: 5, then 2 too short, then 4 after the failed Prepare")
	require.Equal(t, []string{"other", "run", "run", "whole", "whole", "whole", "whole"}, oneByOne)

	ids, err := b.st.RecentBatches(b.ctx, nil, "", 1)
	require.NoError(t, err)
	changes, err := b.st.Changes(b.ctx, ids[0].ID)
	require.NoError(t, err)
	require.Len(t, changes, len(cmds))
	appliedRuns := 0
	for i, c := range changes {
		if c.Command == "run" && c.Status == store.ChangeApplied {
			appliedRuns++
		}
		want, why := store.ChangeApplied, ""
		switch {
		case c.Command == "runprep":
			want, why = store.ChangeFailed, "no key"
		case c.Command == "run" && (i < 5 || i > 8) && c.ID%2 == 0:
			want, why = store.ChangeFailed, fmt.Sprintf("even %d", c.ID)
		}
		require.Equal(t, want, c.Status, "change %d (%s)", i, c.Command)
		require.Equal(t, why, c.Error, "change %d (%s)", i, c.Command)
	}
	audit := func(command string) int {
		lines, err := b.st.AuditLog(b.ctx, store.AuditFilter{Command: command})
		require.NoError(t, err)
		return len(lines)
	}
	require.Zero(t, audit("whole-run"), "the failed run's writes were rolled back")
	require.Equal(t, 4, audit("whole"))
	require.Equal(t, appliedRuns, audit("run"), "a write for each applied change of run, in a run or one by one")
}
