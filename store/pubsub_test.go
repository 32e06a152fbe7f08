package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPubsubNodesAndItems(t *testing.T) {
	t.Parallel()
	b := setup(t)
	us := b.users(t, "alice", "bob")
	alice, bob := us[0], us[1]
	var n PubsubNode
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		var err error
		n, err = tx.CreatePubsubNode(b.ctx, PubsubNode{UserID: alice.ID, Name: "urn:x", Config: []byte(`{"a":1}`), MaxItems: 2})
		return err
	}))
	err := b.st.Write(b.ctx, func(tx *Tx) error {
		_, err := tx.CreatePubsubNode(b.ctx, PubsubNode{UserID: alice.ID, Name: "urn:x", Config: []byte(`{}`), MaxItems: 1})
		return err
	})
	require.ErrorIs(t, err, ErrDuplicate)
	publish := func(id, payload string) {
		t.Helper()
		require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
			return tx.PublishPubsubItem(b.ctx, n.ID, PubsubItem{ID: id, Payload: []byte(payload), Publisher: "alice@example.test"})
		}))
	}
	publish("1", "<p>1</p>")
	publish("2", "<p>2</p>")
	publish("1", "<p>1b</p>") // republished: newest, and 2 stays
	publish("3", "<p>3</p>")  // max_items 2: 2 goes
	items, err := b.st.PubsubItems(b.ctx, n.ID, 0, nil)
	require.NoError(t, err)
	require.Len(t, items, 2)
	require.Equal(t, "1", items[0].ID)
	require.Equal(t, "<p>1b</p>", string(items[0].Payload))
	require.Equal(t, "3", items[1].ID)
	last, err := b.st.PubsubItems(b.ctx, n.ID, 1, nil)
	require.NoError(t, err)
	require.Equal(t, "3", last[0].ID)
	byID, err := b.st.PubsubItems(b.ctx, n.ID, 0, []string{"1", "nope"})
	require.NoError(t, err)
	require.Len(t, byID, 1)

	lasts, err := b.st.PubsubLastItems(b.ctx, []string{"alice@" + "example.test", "bob@" + "example.test", "x@nowhere"}, []string{"urn:x", "urn:y"})
	require.NoError(t, err)
	require.Len(t, lasts, 1)
	require.Equal(t, "alice@"+"example.test", lasts[0].Owner)
	require.Equal(t, "3", lasts[0].Item.ID)
	require.Equal(t, `{"a":1}`, string(lasts[0].Node.Config))

	// Persist off: the items go and nothing new is kept.
	n.MaxItems = 0
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.ConfigurePubsubNode(b.ctx, n) }))
	publish("4", "<p/>")
	items, err = b.st.PubsubItems(b.ctx, n.ID, 0, nil)
	require.NoError(t, err)
	require.Empty(t, items)

	err = b.st.Write(b.ctx, func(tx *Tx) error { return tx.RetractPubsubItem(b.ctx, n.ID, "4") })
	require.ErrorIs(t, err, ErrNotFound)
	_, err = b.st.PubsubNode(b.ctx, bob.ID, "urn:x")
	require.ErrorIs(t, err, ErrNotFound)

	// Nodes go with their user.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.DeleteUser(b.ctx, alice.ID) }))
	nodes, err := b.st.PubsubNodes(b.ctx, alice.ID)
	require.NoError(t, err)
	require.Empty(t, nodes)
}

func TestPubsubPurges(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := setup(t)
	b.st.now, b.st.Reader.now = func() time.Time { return now }, func() time.Time { return now }
	_, dom, us := b.domainUsers(t, "acc", "example.test", "alice")
	alice := us[0]
	var keep, expiring PubsubNode
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		var err error
		if keep, err = tx.CreatePubsubNode(b.ctx, PubsubNode{UserID: alice.ID, Name: "keep", Config: []byte(`{}`), MaxItems: 10}); err != nil {
			return err
		}
		expiring, err = tx.CreatePubsubNode(b.ctx, PubsubNode{UserID: alice.ID, Name: "exp", Config: []byte(`{}`), MaxItems: 10, ItemExpire: 3600})
		return err
	}))
	for i, id := range []string{"a", "b", "c"} {
		now = time.Date(2026, 1, 1, i, 0, 0, 0, time.UTC)
		require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
			for _, n := range []PubsubNode{keep, expiring} {
				if err := tx.PublishPubsubItem(b.ctx, n.ID, PubsubItem{ID: id, Payload: []byte("<p/>"), Publisher: "a"}); err != nil {
					return err
				}
			}
			return nil
		}))
	}
	now = time.Date(2026, 1, 1, 2, 30, 0, 0, time.UTC)
	var n int64
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		var err error
		n, err = tx.DeleteExpiredPubsubItems(b.ctx, []int64{dom})
		return err
	}))
	require.EqualValues(t, 2, n, "a and b of exp are older than an hour")
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		var err error
		n, err = tx.DeleteOldPubsubItems(b.ctx, []int64{dom}, 1)
		return err
	}))
	require.EqualValues(t, 2, n, "a and b of keep")
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		var err error
		n, err = tx.DeleteOldPubsubItems(b.ctx, []int64{dom + 100}, 0)
		return err
	}))
	require.Zero(t, n, "another domain's purge leaves them")
}
