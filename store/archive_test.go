package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestArchive: pages from either end, the peer filter, removal by peer,
// and a deleted user's archive going with them.
func TestArchive(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, users := archiveFixture(t, 2)
	var rows []ArchiveRow
	for i := range 10 {
		peer := "a@example.test"
		if i%2 == 1 {
			peer = "b@example.test"
		}
		rows = append(rows, ArchiveRow{ID: int64(100 + i), UserID: users[0], Peer: peer, Resource: "r", Stanza: []byte{byte('0' + i)}})
	}
	rows = append(rows, ArchiveRow{ID: 200, UserID: users[1], Peer: "a@example.test", Stanza: []byte("x")})
	require.NoError(t, st.Write(ctx, func(tx *Tx) error { return tx.InsertArchive(ctx, rows) }))
	ids := func(rs []ArchiveRow) (out []int64) {
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	all := ArchiveFilter{UserID: users[0], MinID: 1, MaxID: 1 << 62, Limit: 3}
	got, err := st.Archive(ctx, all)
	require.NoError(t, err)
	require.Equal(t, []int64{100, 101, 102}, ids(got))
	last := all
	last.Last = true
	got, err = st.Archive(ctx, last)
	require.NoError(t, err)
	require.Equal(t, []int64{107, 108, 109}, ids(got), "the last page, oldest first")
	withB := all
	withB.Peer, withB.Limit = "b@example.test", 10
	got, err = st.Archive(ctx, withB)
	require.NoError(t, err)
	require.Equal(t, []int64{101, 103, 105, 107, 109}, ids(got))
	withB.IDs = []int64{103, 104, 200}
	got, err = st.Archive(ctx, withB)
	require.NoError(t, err)
	require.Equal(t, []int64{103}, ids(got), "ids, of this user and peer only")
	has, err := st.ArchiveHas(ctx, users[0], 200)
	require.NoError(t, err)
	require.False(t, has, "another user's ID")
	maxID, err := st.ArchiveMaxID(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 200, maxID)

	require.NoError(t, st.Write(ctx, func(tx *Tx) error {
		n, err := tx.DeleteUserArchive(ctx, users[0], "b@example.test")
		require.EqualValues(t, 5, n)
		return err
	}))
	require.NoError(t, st.Write(ctx, func(tx *Tx) error { return tx.DeleteUser(ctx, users[1]) }))
	has, err = st.ArchiveHas(ctx, users[1], 200)
	require.NoError(t, err)
	require.False(t, has, "the archive goes with its user")
	got, err = st.Archive(ctx, ArchiveFilter{UserID: users[0], MinID: 1, MaxID: 1 << 62, Limit: 100})
	require.NoError(t, err)
	require.Equal(t, []int64{100, 102, 104, 106, 108}, ids(got))
}
