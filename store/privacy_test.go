package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPrivacyLists(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, _, as := b.domainUsers(t, "acme", "a.example", "alice", "amy")
	alice, amy := as[0].ID, as[1].ID
	w := func(f func(tx *Tx) error) error { return b.st.Write(b.ctx, f) }
	require.NoError(t, w(func(tx *Tx) error { return tx.PutPrivacyList(b.ctx, alice, "work", []byte("<w/>")) }))
	require.NoError(t, w(func(tx *Tx) error { return tx.PutPrivacyList(b.ctx, alice, "home", []byte("<h/>")) }))
	require.NoError(t, w(func(tx *Tx) error { return tx.PutPrivacyList(b.ctx, amy, "work", []byte("<amy/>")) }))

	_, err := b.st.DefaultPrivacyList(b.ctx, alice)
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorIs(t, w(func(tx *Tx) error { return tx.SetDefaultPrivacyList(b.ctx, alice, "nope") }), ErrNotFound)
	require.NoError(t, w(func(tx *Tx) error { return tx.SetDefaultPrivacyList(b.ctx, alice, "work") }))
	require.NoError(t, w(func(tx *Tx) error { return tx.SetDefaultPrivacyList(b.ctx, alice, "home") }))
	d, err := b.st.DefaultPrivacyList(b.ctx, alice)
	require.NoError(t, err)
	require.Equal(t, PrivacyList{Name: "home", List: []byte("<h/>"), Default: true}, d)

	// Replacing keeps the default flag.
	require.NoError(t, w(func(tx *Tx) error { return tx.PutPrivacyList(b.ctx, alice, "home", []byte("<h2/>")) }))
	ls, err := b.st.PrivacyLists(b.ctx, alice)
	require.NoError(t, err)
	require.Equal(t, []PrivacyList{{Name: "home", List: []byte("<h2/>"), Default: true}, {Name: "work", List: []byte("<w/>")}}, ls)
	l, err := b.st.PrivacyList(b.ctx, amy, "work")
	require.NoError(t, err)
	require.Equal(t, "<amy/>", string(l.List), "lists are per user")

	require.NoError(t, w(func(tx *Tx) error { return tx.SetDefaultPrivacyList(b.ctx, alice, "") }))
	_, err = b.st.DefaultPrivacyList(b.ctx, alice)
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, w(func(tx *Tx) error { return tx.DeletePrivacyList(b.ctx, alice, "work") }))
	require.ErrorIs(t, w(func(tx *Tx) error { return tx.DeletePrivacyList(b.ctx, alice, "work") }), ErrNotFound)

	require.NoError(t, w(func(tx *Tx) error { return tx.DeleteUser(b.ctx, amy) }))
	ls, err = b.st.PrivacyLists(b.ctx, amy)
	require.NoError(t, err)
	require.Empty(t, ls, "lists go with their user")
}
