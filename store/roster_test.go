package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRosterItemsAndVersion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.users(t, "alice")[0]
	ver, err := b.st.RosterVersion(b.ctx, u.ID)
	require.NoError(t, err)
	require.Zero(t, ver)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		v1, err := tx.PutRosterItem(b.ctx, u.ID, RosterItem{Contact: "bob@example.test", Name: "Bob", Visible: true, Groups: []string{"A", "B"}})
		require.NoError(t, err)
		v2, err := tx.PutRosterItem(b.ctx, u.ID, RosterItem{Contact: "bob@example.test", Name: "Bobby", Subscription: SubBoth, Visible: true})
		require.NoError(t, err)
		v3, err := tx.PutRosterItem(b.ctx, u.ID, RosterItem{Contact: "carol@example.test", PendingIn: true})
		require.NoError(t, err)
		require.Equal(t, []int64{1, 2, 3}, []int64{v1, v2, v3})
		return nil
	}))
	items, ver, err := b.st.RosterItems(b.ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, int64(3), ver)
	require.Equal(t, []RosterItem{
		{Contact: "bob@example.test", Name: "Bobby", Subscription: SubBoth, Visible: true, Groups: []string{}, Ver: 2},
		{Contact: "carol@example.test", Subscription: SubNone, PendingIn: true, Groups: []string{}, Ver: 3},
	}, items)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		v, err := tx.DeleteRosterItem(b.ctx, u.ID, "carol@example.test")
		require.Equal(t, int64(4), v)
		return err
	}))
	_, err = b.st.RosterItem(b.ctx, u.ID, "carol@example.test")
	require.ErrorIs(t, err, ErrNotFound)
	err = b.st.Write(b.ctx, func(tx *Tx) error {
		_, err := tx.DeleteRosterItem(b.ctx, u.ID, "carol@example.test")
		return err
	})
	require.ErrorIs(t, err, ErrNotFound)
	err = b.st.Write(b.ctx, func(tx *Tx) error {
		_, err := tx.PutRosterItem(b.ctx, u.ID, RosterItem{Contact: "x@example.test", Subscription: "maybe"})
		return err
	})
	require.Error(t, err, "the CHECK constraint rejects unknown states")
}
