package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestServiceNodes(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, domA, as := b.domainUsers(t, "acme", "a.example", "alice", "bob")
	_, domB, bs := b.domainUsers(t, "other", "b.example", "carol")
	alice, bob, carol := as[0], as[1], bs[0]
	create := func(dom, owner int64, name string) PubsubNode {
		t.Helper()
		var n PubsubNode
		require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
			var err error
			n, err = tx.CreateServiceNode(b.ctx, PubsubNode{DomainID: dom, Name: name, Config: []byte(`{}`), MaxItems: 2}, owner)
			return err
		}))
		return n
	}
	n := create(domA, alice.ID, "news")
	other := create(domB, carol.ID, "news") // same name, other domain
	require.NotEqual(t, n.ID, other.ID)
	err := b.st.Write(b.ctx, func(tx *Tx) error {
		_, err := tx.CreateServiceNode(b.ctx, PubsubNode{DomainID: domA, Name: "news", Config: []byte(`{}`)}, bob.ID)
		return err
	})
	require.ErrorIs(t, err, ErrDuplicate)

	// Isolation: each domain sees its own nodes.
	nodes, err := b.st.ServiceNodes(b.ctx, domA)
	require.NoError(t, err)
	require.Len(t, nodes, 1)
	require.Equal(t, n.ID, nodes[0].ID)

	// Items behave as personal eventing's (max_items 2).
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		for _, id := range []string{"1", "2", "3"} {
			if err := tx.PublishServiceItem(b.ctx, n.ID, PubsubItem{ID: id, Payload: []byte("<p/>"), Publisher: "alice@a.example"}); err != nil {
				return err
			}
		}
		return nil
	}))
	items, err := b.st.ServiceItems(b.ctx, n.ID, 0, nil)
	require.NoError(t, err)
	require.Len(t, items, 2)
	require.Equal(t, "2", items[0].ID)
	empty, err := b.st.ServiceItems(b.ctx, other.ID, 0, nil)
	require.NoError(t, err)
	require.Empty(t, empty)

	// Affiliations: the last owner stays; an outcast loses its subscriptions.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		if _, err := tx.Subscribe(b.ctx, n.ID, bob.ID, "bob@a.example", "s1"); err != nil {
			return err
		}
		subid, err := tx.Subscribe(b.ctx, n.ID, bob.ID, "bob@a.example", "s2")
		require.Equal(t, "s1", subid, "a repeated subscribe keeps its subid")
		return err
	}))
	err = b.st.Write(b.ctx, func(tx *Tx) error { return tx.SetNodeAffiliation(b.ctx, n.ID, alice.ID, AffPublisher) })
	require.ErrorIs(t, err, ErrLastOwner)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.SetNodeAffiliation(b.ctx, n.ID, bob.ID, AffOutcast) }))
	subs, err := b.st.NodeSubscriptions(b.ctx, n.ID)
	require.NoError(t, err)
	require.Empty(t, subs)
	aff, err := b.st.NodeAffiliation(b.ctx, n.ID, bob.ID)
	require.NoError(t, err)
	require.Equal(t, AffOutcast, aff)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.SetNodeAffiliation(b.ctx, n.ID, bob.ID, AffOwner) }))
	affs, err := b.st.NodeAffiliations(b.ctx, n.ID)
	require.NoError(t, err)
	require.Len(t, affs, 2)

	// Deleting one of two owners keeps the node; deleting the last one
	// takes it with its items.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.DeleteUser(b.ctx, alice.ID) }))
	_, err = b.st.ServiceNode(b.ctx, domA, "news")
	require.NoError(t, err)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.DeleteUser(b.ctx, bob.ID) }))
	_, err = b.st.ServiceNode(b.ctx, domA, "news")
	require.ErrorIs(t, err, ErrNotFound)
	items, err = b.st.ServiceItems(b.ctx, n.ID, 0, nil)
	require.NoError(t, err)
	require.Empty(t, items)

	// The purge commands cover service nodes, of the domains named only.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		for _, id := range []string{"1", "2"} {
			if err := tx.PublishServiceItem(b.ctx, other.ID, PubsubItem{ID: id, Payload: []byte("<p/>"), Publisher: "carol@b.example"}); err != nil {
				return err
			}
		}
		return nil
	}))
	var deleted int64
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		var err error
		deleted, err = tx.DeleteOldPubsubItems(b.ctx, []int64{domA}, 1)
		return err
	}))
	require.Zero(t, deleted)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		var err error
		deleted, err = tx.DeleteOldPubsubItems(b.ctx, []int64{domB}, 1)
		return err
	}))
	require.EqualValues(t, 1, deleted)
	// Deleting a node with affiliations goes through the trigger cleanly.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.DeleteServiceNode(b.ctx, other.ID) }))
}
