package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestChangeByIDAndOpenBatchIDs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acc, _, alice := b.alice(t)
	var last int64
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		batch, err := tx.OpenBatch(b.ctx, acc, "tok")
		if err != nil {
			return err
		}
		c, err := tx.InsertChange(b.ctx, Change{BatchID: batch.ID, Command: "x", UserID: alice})
		last = c.ID
		return err
	}))
	c, err := b.st.ChangeByID(b.ctx, last)
	require.NoError(t, err)
	require.Equal(t, "x", c.Command)
	require.Equal(t, ChangePending, c.Status)
	_, err = b.st.ChangeByID(b.ctx, last+1)
	require.ErrorIs(t, err, ErrNotFound)
	ids, err := b.st.OpenBatchIDs(b.ctx, acc)
	require.NoError(t, err)
	require.Equal(t, []int64{c.BatchID}, ids)
}
