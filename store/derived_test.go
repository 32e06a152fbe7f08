package store

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// Keys derived ahead, on both engines: listed for changes of waiting
// batches only, stored only while the change is pending, cleared when it
// is final (applied or failed).
func TestDerivedKeys(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acc, _, _ := b.domainUsers(t, "acme", "a.example")
	var batch Batch
	var ids []int64
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) (err error) {
		if batch, err = tx.OpenBatch(b.ctx, acc, "tok"); err != nil {
			return err
		}
		for i := range 3 {
			c, err := tx.InsertChange(b.ctx, Change{BatchID: batch.ID, Command: "add_user",
				Args: json.RawMessage(fmt.Sprintf(`{"n":%d}`, i)), Actor: "key:1"})
			if err != nil {
				return err
			}
			ids = append(ids, c.ID)
		}
		return nil
	}))
	first, err := b.st.FirstWaitingChange(b.ctx)
	require.NoError(t, err)
	require.Equal(t, ids[0], first)
	todo, err := b.st.ChangesToDerive(b.ctx, first-1, 2)
	require.NoError(t, err)
	require.Len(t, todo, 2, "limit")
	require.Equal(t, ids[:2], []int64{todo[0].ID, todo[1].ID})

	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		for i, id := range ids[:2] {
			if err := tx.SetDerived(b.ctx, id, []byte{byte(i), 0xff}); err != nil {
				return err
			}
		}
		return nil
	}))
	todo, err = b.st.ChangesToDerive(b.ctx, 0, 10)
	require.NoError(t, err)
	require.Len(t, todo, 1, "derived changes are not listed again")
	require.Equal(t, ids[2], todo[0].ID)
	keys, err := b.st.DerivedKeys(b.ctx, batch.ID)
	require.NoError(t, err)
	require.Equal(t, map[int64][]byte{ids[0]: {0, 0xff}, ids[1]: {1, 0xff}}, keys)
	// The worker's read: every change as Changes lists it, with its keys
	// (all pending here, so without an error to leave out).
	changes, err := b.st.Changes(b.ctx, batch.ID)
	require.NoError(t, err)
	queued, err := b.st.ChangesToApply(b.ctx, batch.ID)
	require.NoError(t, err)
	require.Len(t, queued, len(changes))
	for i, q := range queued {
		require.Equal(t, changes[i], q.Change)
		require.Equal(t, keys[q.ID], q.Derived, "change %d", q.ID)
	}

	// Claimed: no longer the deriver's; final: no keys left, none stored.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		if _, err := tx.ClaimBatch(b.ctx, batch.ID, ""); err != nil {
			return err
		}
		return nil
	}))
	todo, err = b.st.ChangesToDerive(b.ctx, 0, 10)
	require.NoError(t, err)
	require.Empty(t, todo)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		if err := tx.FinishChange(b.ctx, ids[0], ChangeFailed, "no", ""); err != nil {
			return err
		}
		if err := tx.FinishPendingChanges(b.ctx, batch.ID); err != nil {
			return err
		}
		if err := tx.FinishBatch(b.ctx, batch.ID, BatchFailure); err != nil {
			return err
		}
		return tx.SetDerived(b.ctx, ids[2], []byte{9})
	}))
	keys, err = b.st.DerivedKeys(b.ctx, batch.ID)
	require.NoError(t, err)
	require.Empty(t, keys)
	first, err = b.st.FirstWaitingChange(b.ctx)
	require.NoError(t, err)
	require.Zero(t, first)
}
