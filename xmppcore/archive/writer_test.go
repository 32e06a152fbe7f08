package archive

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type row struct{ id, n int64 }

// recorder is a commit function keeping what it was handed, in order.
type recorder struct {
	mu      sync.Mutex
	batches [][]row
	fail    bool
}

func (r *recorder) commit(b []row) func() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.batches = append(r.batches, slices.Clone(b))
	if r.fail {
		return func() error { return errors.New("disk full") }
	}
	return func() error { return nil }
}

func (r *recorder) rows() []row {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Concat(r.batches...)
}

func TestWriter(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	w := NewWriter(rec.commit, func(r *row, id int64) { r.id = id }, WriterOptions{MaxBatch: 10, Every: time.Hour, LastID: 5_000_000_000_000_000})
	past := time.UnixMicro(1000) // a clock behind the stored IDs: IDs continue above LastID
	first := w.Add(past, row{n: 0}, row{n: 1})
	require.EqualValues(t, 5_000_000_000_000_001, first)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 25 {
				w.Add(time.Now(), row{n: int64(100*g + i)})
			}
		}()
	}
	wg.Wait()
	// Every is an hour: the full batches of 10 go without waiting for it.
	require.Eventually(t, func() bool { return len(rec.rows()) == 100 }, 5*time.Second, time.Millisecond)
	w.Close()
	got := rec.rows()
	for _, b := range rec.batches {
		require.LessOrEqual(t, len(b), 10)
	}
	require.Len(t, got, 102, "Close commits what was queued")
	require.True(t, slices.IsSortedFunc(got, func(a, b row) int { return int(a.id - b.id) }), "handed over in ID order")
	require.Zero(t, w.Add(time.Now(), row{}), "refused after Close")
}

func TestWriterEvery(t *testing.T) {
	t.Parallel()
	rec := &recorder{fail: true}
	var lost int
	var mu sync.Mutex
	w := NewWriter(rec.commit, func(r *row, id int64) { r.id = id }, WriterOptions{Every: time.Millisecond,
		OnError: func(_ error, n int) { mu.Lock(); lost += n; mu.Unlock() }})
	w.Add(time.Now(), row{})
	w.Sync() // a batch that is not full goes after Every; a failed one still ends Sync
	require.Len(t, rec.rows(), 1)
	w.Close()
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 1, lost)
}

func TestWriterSyncCuts(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	w := NewWriter(rec.commit, func(r *row, id int64) { r.id = id }, WriterOptions{Every: time.Hour})
	defer w.Close()
	for range 50 {
		w.Add(time.Now(), row{})
	}
	done := make(chan struct{})
	go func() { w.Sync(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Sync waited for Every")
	}
	require.Len(t, rec.rows(), 50)
}
