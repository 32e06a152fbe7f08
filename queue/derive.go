package queue

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/store"
)

// deriveChunk bounds the changes one round of the deriver reads, derives
// and stores in one write: about 0.4 s of SCRAM derivation on one CPU, so
// little is derived twice when the worker claims a batch meanwhile.
const deriveChunk = 256

// deriver derives ahead, in the background, what the Prepare step of a
// queued change would derive at apply (SCRAM keys: 1.7 ms of CPU per
// password, 75 s of a 100,000-change batch on 2 cores, bench/batch), and
// stores it beside the change. The batch then applies in the time its
// writes take. It runs on the worker's parallel goroutines, so a CPU is
// left to the requests queuing the changes and polling their progress.
type deriver struct {
	kick    atomic.Pointer[chan struct{}]
	mu      sync.Mutex // one round at a time; guards after and started
	after   int64      // the last change id a round looked at
	started bool
}

// StartDeriver derives the keys of queued changes in the background (each
// Queued call wakes it) until stop is called.
func (w *Worker) StartDeriver() (stop func()) {
	kick := make(chan struct{}, 1)
	kick <- struct{}{} // what an earlier run left waiting
	w.der.kick.Store(&kick)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-kick:
			case <-ctx.Done():
				return
			}
			if _, err := w.DeriveQueued(ctx); err != nil && ctx.Err() == nil {
				w.log.Warn("deriving keys ahead failed; the apply derives them", zap.Error(err))
			}
		}
	}()
	return func() {
		w.der.kick.Store(nil)
		cancel()
		<-done
	}
}

// Queued tells the deriver that changes were committed to the queue. It
// never blocks: the acknowledgement does not wait for the derivation.
func (w *Worker) Queued() {
	if k := w.der.kick.Load(); k != nil {
		select {
		case *k <- struct{}{}:
		default: // already woken
		}
	}
}

// DeriveQueued derives and stores the keys of every change of a waiting
// batch not yet derived, and returns how many it stored. A change the
// worker claims first, or one whose derivation fails, is left to the
// apply's Prepare. On PostgreSQL a change committed after a higher id was
// looked at is also left to the apply.
func (w *Worker) DeriveQueued(ctx context.Context) (int, error) {
	w.der.mu.Lock()
	defer w.der.mu.Unlock()
	if !w.der.started {
		first, err := w.st.FirstWaitingChange(ctx)
		if err != nil {
			return 0, err
		}
		w.der.after, w.der.started = first-1, true
	}
	stored := 0
	for ctx.Err() == nil {
		changes, err := w.st.ChangesToDerive(ctx, w.der.after, deriveChunk)
		if err != nil || len(changes) == 0 {
			return stored, err
		}
		w.der.after = changes[len(changes)-1].ID
		var work []*Work
		for _, c := range changes {
			if w.appliers[c.Command].Derive != nil {
				work = append(work, &Work{Change: c})
			}
		}
		keys := make([][]byte, len(work))
		w.eachIn(backgroundThread, len(work), func(i int) {
			k, err := deriveOne(ctx, w.appliers[work[i].Command], work[i])
			if err != nil {
				w.log.Debug("deriving ahead failed", zap.Int64("change", work[i].ID), zap.Error(err))
			}
			keys[i] = k
		})
		err = w.st.Write(ctx, func(tx *store.Tx) error {
			for i, k := range keys {
				if k != nil {
					if err := tx.SetDerived(ctx, work[i].ID, k); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return stored, err
		}
		for _, k := range keys {
			if k != nil {
				stored++
			}
		}
	}
	return stored, ctx.Err()
}

func deriveOne(ctx context.Context, a Applier, wk *Work) (keys []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("derive panicked: %v", p)
		}
	}()
	return a.Derive(ctx, wk)
}

// eachIn runs f(0) … f(n-1) on w.parallel goroutines, each first running
// setup and then taking the next index: a goroutine per item cost more
// than the item itself for the cheap changes of a 100,000-change batch.
func (w *Worker) eachIn(setup func(), n int, f func(i int)) { w.eachN(w.parallel, setup, n, f) }

// eachN is eachIn on par goroutines.
func (w *Worker) eachN(par int, setup func(), n int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for g := 0; g < min(par, n); g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			setup()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}
