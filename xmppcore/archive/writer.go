package archive

import (
	"sync"
	"time"
)

// Writer takes archive rows off the delivery path: Add stamps them with
// their IDs and queues them, one goroutine cuts them into batches of up
// to MaxBatch rows, or whatever came within Every of a batch's first row,
// and hands each to commit. Up to InFlight batches are committing at once:
// the store commits them in the order they were handed over and fsyncs
// one group while the next commits, so the writer is not idle during a
// sync.
//
// IDs are given under the lock that queues the rows, and batches are
// handed to the store in queue order, so rows become visible in ID order:
// a client paging "after the last ID I saw" never skips a row committed
// later with a smaller ID (commit must keep that order: store.Write's
// queue does).
//
// The queue is bounded: when the store falls behind by Queue rows, Add
// waits, slowing the senders to what the store can take instead of
// dropping history. Close commits what is queued. A crash loses the rows
// not yet committed (at most Every's worth under load, or Queue rows if
// the store was the bottleneck); the messages themselves were delivered.
type Writer[T any] struct {
	commit func([]T) (wait func() error)
	setID  func(*T, int64)
	max    int
	every  time.Duration
	slots  chan struct{} // one per batch committing

	mu     sync.Mutex // orders ID assignment with queueing
	clock  Clock
	queued uint64 // rows queued so far (under mu)
	in     chan T
	kick   chan struct{} // Sync: cut the batch now

	cmu       sync.Mutex
	committed uint64 // rows whose batch is over (under cmu)
	stopped   bool
	cond      *sync.Cond
	quit      chan struct{}
	done      chan struct{}
	once      sync.Once
}

// WriterOptions tune a Writer; zero values take the defaults.
type WriterOptions struct {
	// MaxBatch is rows per transaction (default 16384). A batch costs about
	// two index pages per user it touches, however few rows each has, so
	// large batches make cheap rows.
	MaxBatch int
	// Every is the longest wait for a batch to fill (default 250 ms): the
	// rows a crash can lose. Sync cuts the batch at once.
	Every    time.Duration
	Queue    int // rows queued before Add waits (default 65536)
	InFlight int // batches committing at once (default 2)
	// LastID is the highest ID already stored: new IDs continue above it.
	LastID int64
	// OnError sees a batch that failed to commit (its rows are lost).
	OnError func(err error, rows int)
}

// NewWriter starts a writer committing with commit, which queues a batch
// and returns a function waiting for its outcome; setID writes a row's ID
// into it.
func NewWriter[T any](commit func([]T) (wait func() error), setID func(*T, int64), o WriterOptions) *Writer[T] {
	if o.MaxBatch <= 0 {
		o.MaxBatch = 16384
	}
	if o.Every <= 0 {
		o.Every = 250 * time.Millisecond
	}
	if o.Queue <= 0 {
		o.Queue = 65536
	}
	if o.InFlight <= 0 {
		o.InFlight = 2
	}
	w := &Writer[T]{commit: commit, setID: setID, max: o.MaxBatch, every: o.Every, slots: make(chan struct{}, o.InFlight),
		clock: Clock{last: o.LastID}, in: make(chan T, o.Queue), quit: make(chan struct{}), done: make(chan struct{}), kick: make(chan struct{}, 1)}
	w.cond = sync.NewCond(&w.cmu)
	go w.loop(o.OnError)
	return w
}

// Add gives rows consecutive new IDs, queues them and returns the first
// ID. It returns 0 (and queues nothing) once the writer is closed.
func (w *Writer[T]) Add(now time.Time, rows ...T) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	select {
	case <-w.quit:
		return 0
	default:
	}
	first := w.clock.Next(now)
	for i := range rows {
		id := first
		if i > 0 {
			id = w.clock.Next(now)
		}
		w.setID(&rows[i], id)
		w.in <- rows[i]
	}
	w.queued += uint64(len(rows))
	return first
}

// Sync waits until every row queued before it was called is committed (or
// its batch failed), so a reader sees them.
func (w *Writer[T]) Sync() {
	w.mu.Lock()
	target := w.queued
	w.mu.Unlock()
	select {
	case w.kick <- struct{}{}:
	default:
	}
	w.cmu.Lock()
	for w.committed < target && !w.stopped {
		w.cond.Wait()
	}
	w.cmu.Unlock()
}

// Close commits the queued rows and stops the writer. Adds that come
// after it are refused.
func (w *Writer[T]) Close() {
	w.once.Do(func() {
		w.mu.Lock()
		close(w.quit)
		w.mu.Unlock()
	})
	<-w.done
}

func (w *Writer[T]) loop(onErr func(error, int)) {
	defer func() {
		for range cap(w.slots) { // every batch handed over is done
			w.slots <- struct{}{}
		}
		w.cmu.Lock()
		w.stopped = true
		w.cond.Broadcast()
		w.cmu.Unlock()
		close(w.done)
	}()
	batch := make([]T, 0, w.max)
	flush := func() {
		if len(batch) == 0 {
			return
		}
		w.slots <- struct{}{}
		b := batch
		batch = make([]T, 0, w.max)
		wait := w.commit(b) // queued here, in order
		go func() {
			if err := wait(); err != nil && onErr != nil {
				onErr(err, len(b))
			}
			w.cmu.Lock()
			w.committed += uint64(len(b))
			w.cond.Broadcast()
			w.cmu.Unlock()
			<-w.slots
		}()
	}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		select {
		case v := <-w.in:
			batch = append(batch, v)
		case <-w.quit:
			w.drain(&batch, flush)
			return
		}
		timer.Reset(w.every)
	fill:
		for len(batch) < w.max {
			select {
			case v := <-w.in:
				batch = append(batch, v)
			case <-timer.C:
				break fill
			case <-w.kick: // take what is queued, then cut
				for len(batch) < w.max {
					select {
					case v := <-w.in:
						batch = append(batch, v)
						continue
					default:
					}
					break
				}
				break fill
			case <-w.quit:
				w.drain(&batch, flush)
				return
			}
		}
		timer.Stop()
		flush()
	}
}

// drain commits everything queued; no Add can queue more (quit is closed
// under mu).
func (w *Writer[T]) drain(batch *[]T, flush func()) {
	for {
		select {
		case v := <-w.in:
			*batch = append(*batch, v)
			if len(*batch) >= w.max {
				flush()
			}
		default:
			flush()
			return
		}
	}
}

// Clock gives archive IDs: microseconds since the epoch, bumped past the
// last one given so they stay unique and increasing even within one
// microsecond or when the wall clock steps back.
type Clock struct{ last int64 }

// Next returns the next ID at time now.
func (c *Clock) Next(now time.Time) int64 {
	c.last = max(c.last+1, now.UnixMicro())
	return c.last
}
