package xmppcore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/store"
)

// TestRoomRowsAmend: a configuration given while the room's row waits for
// its batch is written by the batch itself; once the batch has begun,
// amend says no and the caller writes the configuration on its own.
func TestRoomRowsAmend(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, d := domainStore(t)
	w := roomRows{kick: make(chan struct{}, 1)}
	r := &room{stored: make(chan struct{})}
	other := &room{stored: make(chan struct{})}
	w.add(r, store.Room{DomainID: d.ID, Name: "lounge", Config: []byte(`{"persistent":false}`)}, "alice@example.test")
	require.True(t, w.amend(r, []byte(`{"persistent":true}`)), "the row is still pending")
	require.False(t, w.amend(other, []byte(`{}`)), "a room that is not pending")

	go w.loop(ctx, st, zap.NewNop())
	id := r.waitRow()
	require.NotZero(t, id)
	row, err := st.Room(ctx, d.ID, "lounge")
	require.NoError(t, err)
	require.JSONEq(t, `{"persistent":true}`, string(row.Config))
	require.False(t, w.amend(r, []byte(`{}`)), "the batch has been written")
	n, err := deleteTemporary(ctx, st)
	require.NoError(t, err)
	require.Zero(t, n, "the amended row is persistent, so a restart keeps it")
}

// TestRoomRowsDrop: a room that ends while its row waits is never
// written; one that ends after has its row deleted by a later batch, and a
// room made again under its name in that batch is stored (the delete goes
// first).
func TestRoomRowsDrop(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st, d := domainStore(t)
	w := roomRows{kick: make(chan struct{}, 1)}
	brief := &room{stored: make(chan struct{})}
	w.add(brief, store.Room{DomainID: d.ID, Name: "brief"}, "alice@example.test")
	w.drop(brief)
	require.Zero(t, brief.waitRow(), "ended before its batch: no row")

	go w.loop(ctx, st, zap.NewNop())
	first := &room{stored: make(chan struct{})}
	w.add(first, store.Room{DomainID: d.ID, Name: "lounge"}, "alice@example.test")
	firstID := first.waitRow()
	require.NotZero(t, firstID)
	w.drop(first)
	again := &room{stored: make(chan struct{})}
	w.add(again, store.Room{DomainID: d.ID, Name: "lounge", Config: []byte(`{"again":true}`)}, "bob@example.test")
	againID := again.waitRow()
	require.NotZero(t, againID, "the name is free again in the batch that deletes the old row")
	require.Eventually(t, func() bool {
		rows, err := st.Rooms(ctx, d.ID)
		return err == nil && len(rows) == 1 && rows[0].ID == againID
	}, 15*time.Second, 10*time.Millisecond, "only the new lounge is stored")
	_, err := st.Room(ctx, d.ID, "brief")
	require.ErrorIs(t, err, store.ErrNotFound)
	affs, err := st.RoomAffiliations(ctx, againID)
	require.NoError(t, err)
	require.Len(t, affs, 1)
	require.Equal(t, "bob@example.test", affs[0].JID)
}

func deleteTemporary(ctx context.Context, st *store.Store) (n int64, err error) {
	err = st.Write(ctx, func(tx *store.Tx) error {
		n, err = tx.DeleteTemporaryRooms(ctx)
		return err
	})
	return n, err
}

// TestRoomConfigureOrder: a form written late (a temporary room's form is
// written after the owner has the answer) does not overwrite a later one.
func TestRoomConfigureOrder(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, d := domainStore(t)
	var row store.Room
	require.NoError(t, st.Write(ctx, func(tx *store.Tx) (err error) {
		row, err = tx.CreateRoom(ctx, store.Room{DomainID: d.ID, Name: "lounge"})
		return err
	}))
	r := &room{}
	first, second := r.cfgSeq.Add(1), r.cfgSeq.Add(1)
	require.NoError(t, st.Write(ctx, r.configure(row.ID, []byte(`{"persistent":true}`), second)))
	require.NoError(t, st.Write(ctx, r.configure(row.ID, []byte(`{"persistent":false}`), first)))
	got, err := st.Room(ctx, row.DomainID, "lounge")
	require.NoError(t, err)
	require.JSONEq(t, `{"persistent":true}`, string(got.Config), "the later form stays")
}

// domainStore is a store in a temporary file holding one account and its
// domain example.test.
func domainStore(t *testing.T) (*store.Store, store.Domain) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "x.db"), store.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	var d store.Domain
	require.NoError(t, st.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.InsertAccount(ctx, "acme", 0)
		if err != nil {
			return err
		}
		d, err = tx.InsertDomain(ctx, a.ID, "example.test")
		return err
	}))
	return st, d
}
