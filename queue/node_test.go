package queue

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
)

// join makes this test's store serve node name, until the test ends.
func (b *testBundle) join(t *testing.T, name string) *Node {
	t.Helper()
	n, err := JoinNodes(b.ctx, b.st, NodeOptions{Name: name, Lease: time.Minute})
	require.NoError(t, err)
	t.Cleanup(func() { n.Close() })
	return n
}

// nodeWorker is b.worker() acting as node n, with a "block" command whose
// apply signals started and waits for release.
func (b *testBundle) nodeWorker(n *Node, started chan<- int64, release <-chan struct{}) *Worker {
	w := b.worker()
	w.node = n
	w.appliers["block"] = Applier{Apply: func(ctx context.Context, tx *store.Tx, wk *Work) error {
		b.applied.Add(1)
		started <- wk.BatchID
		<-release
		return nil
	}}
	return w
}

// A synchronous caller on node B whose batch node A is applying waits,
// polling the store, until A made it final; B never applies it too.
func TestFlushWaitsForAnotherNode(t *testing.T) {
	t.Parallel()
	b := setup(t)
	started, release := make(chan int64, 1), make(chan struct{})
	wa := b.nodeWorker(b.join(t, "a@h"), started, release)
	wb := b.nodeWorker(b.join(t, "b@h"), started, release)
	q := b.enqueue(t, "block")
	ranA := make(chan error, 1)
	go func() { _, err := wa.RunOnce(b.ctx); ranA <- err }()
	require.Equal(t, q.BatchID, <-started)

	flushed, flushErr := make(chan store.Batch, 1), make(chan error, 1)
	go func() {
		bt, err := wb.Flush(b.ctx, q.BatchID)
		flushed <- bt
		flushErr <- err
	}()
	close(release)
	require.NoError(t, <-ranA)
	bt := <-flushed
	require.NoError(t, <-flushErr)
	require.Equal(t, store.BatchSuccess, bt.Status)
	require.Equal(t, "a@h", bt.ClaimedBy)
	require.EqualValues(t, 1, b.applied.Load())
}

// A batch claimed by a node that died (its lease passed) is recovered by
// the Flush that waits for it, and applied once.
func TestFlushRecoversDeadNodesBatch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	q := b.enqueue(t, "ok")
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		if _, err := tx.RegisterNode(b.ctx, store.Node{Name: "dead@h", Incarnation: "x"}, 50*time.Millisecond, false); err != nil {
			return err
		}
		_, err := tx.ClaimBatch(b.ctx, q.BatchID, "dead@h")
		return err
	}))
	w := b.worker()
	w.node = b.join(t, "alive@h")
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	bt, err := w.Flush(ctx, q.BatchID)
	require.NoError(t, err)
	require.Equal(t, store.BatchSuccess, bt.Status)
	require.Equal(t, "alive@h", bt.ClaimedBy)
	require.EqualValues(t, 1, b.applied.Load())
}

// A node marked leaving stops claiming once its heartbeat reads the mark;
// the other node's tick applies the batch. A second process of a live
// node's name is refused.
func TestLeavingNodeStopsClaiming(t *testing.T) {
	t.Parallel()
	b := setup(t)
	na, nb := b.join(t, "a@h"), b.join(t, "b@h")
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error { return tx.SetNodeLeaving(b.ctx, "b@h", true) }))
	nb.renew()
	require.False(t, nb.Claiming())
	require.True(t, na.Claiming())

	q := b.enqueue(t, "ok")
	wb := b.worker()
	wb.node = nb
	n, err := wb.RunOnce(b.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "a leaving node claims nothing")
	wa := b.worker()
	wa.node = na
	n, err = wa.RunOnce(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	bt, err := b.st.Batch(b.ctx, q.BatchID)
	require.NoError(t, err)
	require.Equal(t, "a@h", bt.ClaimedBy)

	_, err = JoinNodes(b.ctx, b.st, NodeOptions{Name: "a@h"})
	var live *store.NodeLiveError
	require.ErrorAs(t, err, &live)

	// Rejoining clears the mark.
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error { return tx.SetNodeLeaving(b.ctx, "b@h", false) }))
	nb.renew()
	require.True(t, nb.Claiming())
}

// A row left by a run that crashed (its lease no longer renewed) does not
// refuse the restarted node: it waits for the lease to pass, as a service
// manager's immediate restart needs.
func TestRestartAfterCrashWaitsForLease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		_, err := tx.RegisterNode(b.ctx, store.Node{Name: "c@h", Incarnation: "crashed"}, time.Second, false)
		return err
	}))
	n, err := JoinNodes(b.ctx, b.st, NodeOptions{Name: "c@h", Lease: time.Second})
	require.NoError(t, err)
	t.Cleanup(func() { n.Close() })
	live, err := b.st.NodeByName(b.ctx, "c@h")
	require.NoError(t, err)
	require.NotEqual(t, "crashed", live.Incarnation)
}
