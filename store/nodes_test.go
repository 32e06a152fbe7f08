package store

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// register registers node name (incarnation incar) for lease.
func (b *testBundle) register(t *testing.T, name, incar string, lease time.Duration, takeover bool) (Node, error) {
	t.Helper()
	var n Node
	err := b.st.Write(b.ctx, func(tx *Tx) (err error) {
		n, err = tx.RegisterNode(b.ctx, Node{Name: name, Incarnation: incar, Addrs: map[string]string{"http": "127.0.0.1:1"}}, lease, takeover)
		return err
	})
	return n, err
}

// expired waits until name's lease has passed on the lease clock.
func (b *testBundle) expired(t *testing.T, name string) {
	t.Helper()
	require.Eventually(t, func() bool {
		n, err := b.st.NodeByName(b.ctx, name)
		require.NoError(t, err)
		now, err := b.st.NodeClock(b.ctx)
		require.NoError(t, err)
		return !n.Alive(now)
	}, 30*time.Second, 5*time.Millisecond)
}

// A live node's name is refused to another incarnation, with an error
// that names it; a passed lease, a removed row or a takeover frees it.
func TestNodeRegistration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	n, err := b.register(t, "a@h", "one", time.Minute, false)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:1", n.Addrs["http"])

	_, err = b.register(t, "a@h", "two", time.Minute, false)
	var live *NodeLiveError
	require.ErrorAs(t, err, &live)
	require.Equal(t, "one", live.Node.Incarnation)
	require.Contains(t, err.Error(), "a live node named a@h")
	require.Contains(t, err.Error(), "127.0.0.1:1")

	// The data directory's lock proves the old row is a crashed run.
	_, err = b.register(t, "a@h", "three", time.Minute, true)
	require.NoError(t, err)
	// The replaced incarnation can no longer renew: it must stop claiming.
	_, err = b.renew(t, "a@h", "one")
	require.ErrorIs(t, err, ErrNotFound)

	// A lease that passed frees the name.
	_, err = b.register(t, "b@h", "one", time.Millisecond, false)
	require.NoError(t, err)
	b.expired(t, "b@h")
	_, err = b.register(t, "b@h", "two", time.Minute, false)
	require.NoError(t, err)

	// A clean stop removes the row.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.RemoveNode(b.ctx, "b@h", "two") }))
	_, err = b.st.NodeByName(b.ctx, "b@h")
	require.ErrorIs(t, err, ErrNotFound)

	// Leaving is marked on live nodes only.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.SetNodeLeaving(b.ctx, "a@h", true) }))
	got, err := b.renew(t, "a@h", "three")
	require.NoError(t, err)
	require.True(t, got.Leaving)
	require.ErrorIs(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.SetNodeLeaving(b.ctx, "b@h", true) }), ErrNotFound)
	ns, now, err := b.st.Nodes(b.ctx)
	require.NoError(t, err)
	require.Len(t, ns, 1)
	require.True(t, ns[0].Alive(now))
}

// renew renews name's incarnation for a minute, outside the committer
// where the engine allows, and returns its row.
func (b *testBundle) renew(t *testing.T, name, incar string) (Node, error) {
	t.Helper()
	return b.st.RenewNodeNow(b.ctx, name, incar, time.Minute)
}

// nodes is b.st and, on PostgreSQL, others more stores on the same
// database: each with its own pools and committer, as a node has.
func (b *testBundle) nodes(t *testing.T, others int) []*Store {
	t.Helper()
	stores := []*Store{b.st}
	for range others {
		if !onPG {
			break
		}
		other, err := Open(b.ctx, b.loc, Options{})
		require.NoError(t, err)
		t.Cleanup(func() { other.Close() })
		stores = append(stores, other)
	}
	return stores
}

// waitingBatches opens one waiting batch for each of n new accounts.
func (b *testBundle) waitingBatches(t *testing.T, n int) {
	t.Helper()
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		for i := range n {
			a, err := tx.InsertAccount(b.ctx, fmt.Sprintf("acc%d", i), 0)
			if err != nil {
				return err
			}
			if _, err := tx.OpenBatch(b.ctx, a.ID, "tok"+strconv.Itoa(i)); err != nil {
				return err
			}
		}
		return nil
	}))
}

func (b *testBundle) recover(t *testing.T, st *Store, node string, orphans bool) []Batch {
	t.Helper()
	var got []Batch
	require.NoError(t, st.Write(b.ctx, func(tx *Tx) (err error) {
		got, err = tx.RecoverBatches(b.ctx, node, orphans, 0, 1000)
		return err
	}))
	return got
}

// Recovery takes a node's own running batches and, with orphans, those of
// dead nodes, never a live node's; HoldBatch then tells the old claimer
// the batch is no longer its own.
func TestRecoverBatches(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.waitingBatches(t, 3)
	_, err := b.register(t, "live@h", "x", time.Hour, false)
	require.NoError(t, err)
	_, err = b.register(t, "dead@h", "x", time.Millisecond, false)
	require.NoError(t, err)
	claim := func(node string) Batch {
		var got []Batch
		require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) (err error) {
			got, err = tx.ClaimBatches(b.ctx, node, 1)
			return err
		}))
		require.Len(t, got, 1)
		require.Equal(t, node, got[0].ClaimedBy)
		return got[0]
	}
	live, dead, mine := claim("live@h"), claim("dead@h"), claim("me@h")
	b.expired(t, "dead@h")

	got := b.recover(t, b.st, "me@h", false)
	require.Len(t, got, 1, "without orphans: only its own")
	require.Equal(t, mine.ID, got[0].ID)

	got = b.recover(t, b.st, "me@h", true)
	require.Len(t, got, 2, "its own and the dead node's, never the live node's")
	require.Equal(t, []int64{dead.ID, mine.ID}, []int64{got[0].ID, got[1].ID})
	require.Equal(t, "me@h", got[0].ClaimedBy)

	require.ErrorIs(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.HoldBatch(b.ctx, dead.ID, "dead@h") }), ErrNotFound)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.HoldBatch(b.ctx, dead.ID, "me@h") }))
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.HoldBatch(b.ctx, live.ID, "live@h") }))
}

// Several survivors recovering a dead node's batches at once (two stores
// on one PostgreSQL database: two nodes) take each exactly once.
func TestRecoverBatchesExactlyOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	const n = 30
	b.waitingBatches(t, n)
	_, err := b.register(t, "dead@h", "x", time.Millisecond, false)
	require.NoError(t, err)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		_, err := tx.ClaimBatches(b.ctx, "dead@h", n)
		return err
	}))
	b.expired(t, "dead@h")
	stores := b.nodes(t, 2)
	var mu sync.Mutex
	seen := map[int64][]string{}
	var wg sync.WaitGroup
	for i, st := range stores {
		for k := range 3 {
			node := fmt.Sprintf("n%d-%d@h", i, k)
			_, err := b.register(t, node, "x", time.Hour, false)
			require.NoError(t, err)
			wg.Add(1)
			go func() {
				defer wg.Done()
				var got []Batch
				err := st.Write(b.ctx, func(tx *Tx) (err error) {
					got, err = tx.RecoverBatches(b.ctx, node, true, 0, 4)
					return err
				})
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				for _, bt := range got {
					seen[bt.ID] = append(seen[bt.ID], node)
				}
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	for id, nodes := range seen {
		require.Len(t, nodes, 1, "batch %d recovered by %v", id, nodes)
	}
	// What no survivor took in its one round is still the dead node's.
	rest := b.recover(t, b.st, "last@h", true)
	require.Equal(t, n, len(seen)+len(rest))
}

// Nodes queueing for one account at the same moment all land in one
// waiting batch with one token: the partial unique index's race is lost
// gracefully (ON CONFLICT DO NOTHING, then read again) on both engines.
func TestOpenBatchConcurrent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var acc int64
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		a, err := tx.InsertAccount(b.ctx, "acme", 0)
		acc = a.ID
		return err
	}))
	stores := b.nodes(t, 3)
	for round := range 5 {
		var mu sync.Mutex
		tokens := map[string]int{}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i, st := range stores {
			for k := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					var bt Batch
					err := st.Write(b.ctx, func(tx *Tx) (err error) {
						bt, err = tx.OpenBatch(b.ctx, acc, fmt.Sprintf("r%d-s%d-%d", round, i, k))
						if err != nil {
							return err
						}
						_, err = tx.InsertChange(b.ctx, Change{BatchID: bt.ID, Command: "noop"})
						return err
					})
					if err != nil {
						t.Error(err)
						return
					}
					mu.Lock()
					tokens[bt.Token]++
					mu.Unlock()
				}()
			}
		}
		close(start)
		wg.Wait()
		require.Len(t, tokens, 1, "round %d: one waiting batch, one token: %v", round, tokens)
		// Claim it, so the next round races to create a new one.
		var got []Batch
		require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) (err error) {
			got, err = tx.ClaimBatches(b.ctx, "", 10)
			return err
		}))
		require.Len(t, got, 1)
		chs, err := b.st.Changes(b.ctx, got[0].ID)
		require.NoError(t, err)
		require.Len(t, chs, 8*len(stores), "every change in the claimed batch")
	}
}

// On PostgreSQL a node's claim cannot take a waiting batch while another
// node's transaction is adding a change to it: the claim skips the batch
// until that change is committed, and then finds it in the batch.
func TestClaimWaitsForChangeBeingAdded(t *testing.T) {
	t.Parallel()
	if !onPG {
		t.Skip("SQLite's single writer orders the two transactions")
	}
	b := setup(t)
	other := b.nodes(t, 1)[1]
	var acc int64
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		a, err := tx.InsertAccount(b.ctx, "acme", 0)
		if err != nil {
			return err
		}
		acc = a.ID
		bt, err := tx.OpenBatch(b.ctx, acc, "tok")
		if err != nil {
			return err
		}
		_, err = tx.InsertChange(b.ctx, Change{BatchID: bt.ID, Command: "first"})
		return err
	}))
	adding, release := make(chan struct{}), make(chan struct{})
	added := make(chan error, 1)
	go func() {
		added <- b.st.Write(b.ctx, func(tx *Tx) error {
			bt, err := tx.OpenBatch(b.ctx, acc, "unused")
			if err != nil {
				return err
			}
			if _, err := tx.InsertChange(b.ctx, Change{BatchID: bt.ID, Command: "second"}); err != nil {
				return err
			}
			close(adding)
			<-release
			return nil
		})
	}()
	<-adding
	claim := func() []Batch {
		var got []Batch
		require.NoError(t, other.Write(b.ctx, func(tx *Tx) (err error) {
			got, err = tx.ClaimBatches(b.ctx, "other", 10)
			return err
		}))
		return got
	}
	require.Empty(t, claim(), "the batch a change is being added to is skipped")
	// A synchronous caller's claim of that very batch waits for the change.
	claimed := make(chan int, 1)
	go func() {
		var n int
		err := other.Write(b.ctx, func(tx *Tx) error {
			bt, err := tx.ClaimBatch(b.ctx, 1, "other")
			if err != nil {
				return err
			}
			chs, err := tx.Changes(b.ctx, bt.ID)
			n = len(chs)
			return err
		})
		if err != nil {
			t.Error(err)
		}
		claimed <- n
	}()
	select {
	case n := <-claimed:
		close(release)
		<-added
		t.Fatalf("batch claimed with %d changes while one was being added", n)
	case <-time.After(300 * time.Millisecond):
	}
	close(release)
	require.NoError(t, <-added)
	require.Equal(t, 2, <-claimed)
}
