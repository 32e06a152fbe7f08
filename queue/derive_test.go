package queue

import (
	"context"
	"errors"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
)

// deriveWorker applies "keyed" changes whose Derive stores "k<id>" and
// whose Prepare records whether it got them or had to compute them, and
// "badkey" changes whose Derive fails.
type deriveWorker struct {
	*Worker
	derived, fresh, ahead atomic.Int64
}

func (b *testBundle) deriveWorker() *deriveWorker {
	d := &deriveWorker{}
	key := func(w *Work) []byte { return []byte("k" + strconv.FormatInt(w.ID, 10)) }
	prepare := func(_ context.Context, w *Work) error {
		if string(w.Derived) == string(key(w)) {
			d.ahead.Add(1)
		} else {
			d.fresh.Add(1)
		}
		return nil
	}
	apply := func(ctx context.Context, tx *store.Tx, w *Work) error { return nil }
	d.Worker = NewWorker(b.st, map[string]Applier{
		"keyed": {Prepare: prepare, Apply: apply, Derive: func(_ context.Context, w *Work) ([]byte, error) {
			d.derived.Add(1)
			return key(w), nil
		}},
		"badkey": {Prepare: prepare, Apply: apply, Derive: func(context.Context, *Work) ([]byte, error) {
			return nil, errors.New("cannot")
		}},
		"ok": {Apply: apply},
	}, nil, Options{})
	return d
}

func TestDeriveQueued(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name                string
		keyed, bad, plain   int
		claimFirst          bool // the worker claims the batch before the deriver runs
		wantStored, wantAhd int
	}{
		{"one change", 1, 0, 0, false, 1, 1},
		{"more than a round", deriveChunk + 7, 0, 3, false, deriveChunk + 7, deriveChunk + 7},
		{"failing derive left to the apply", 2, 2, 0, false, 2, 2},
		{"a claimed batch is the apply's", 5, 0, 0, true, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			w := b.deriveWorker()
			var q Queued
			for i := 0; i < tc.keyed+tc.bad+tc.plain; i++ {
				cmd := "keyed"
				if i >= tc.keyed {
					cmd = "badkey"
				}
				if i >= tc.keyed+tc.bad {
					cmd = "ok"
				}
				q = b.enqueue(t, cmd)
			}
			if tc.claimFirst {
				require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
					_, err := tx.ClaimBatch(b.ctx, q.BatchID, "")
					return err
				}))
			}
			n, err := w.DeriveQueued(b.ctx)
			require.NoError(t, err)
			require.Equal(t, tc.wantStored, n)
			keys, err := b.st.DerivedKeys(b.ctx, q.BatchID)
			require.NoError(t, err)
			require.Len(t, keys, tc.wantStored)

			_, err = w.Flush(b.ctx, q.BatchID)
			require.NoError(t, err)
			require.EqualValues(t, tc.wantAhd, w.ahead.Load())
			require.EqualValues(t, tc.keyed+tc.bad-tc.wantAhd, w.fresh.Load())
			keys, err = b.st.DerivedKeys(b.ctx, q.BatchID)
			require.NoError(t, err)
			require.Empty(t, keys, "cleared once final")

			// Nothing is left for a later round, not even final changes.
			n, err = w.DeriveQueued(b.ctx)
			require.NoError(t, err)
			require.Zero(t, n)
		})
	}
}

// The background deriver wakes on Queued, and one started later first
// derives what was left waiting.
func TestDeriverInBackground(t *testing.T) {
	t.Parallel()
	b := setup(t)
	w := b.deriveWorker()
	left := b.enqueue(t, "keyed")
	stop := w.StartDeriver()
	defer stop()
	queued := b.enqueue(t, "keyed")
	w.Queued()
	require.Eventually(t, func() bool {
		keys, err := b.st.DerivedKeys(b.ctx, queued.BatchID)
		return err == nil && len(keys) == 2
	}, 30*time.Second, 5*time.Millisecond)
	require.Equal(t, left.BatchID, queued.BatchID)
	stop()
	w.Queued() // a stopped deriver is not woken, and Queued does not block
	require.EqualValues(t, 2, w.derived.Load())
}
