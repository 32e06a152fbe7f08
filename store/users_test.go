package store

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUserProfile(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, _, alice := b.alice(t)
	name := "Alice"
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.SetUserProfile(b.ctx, alice, &name, nil) }))
	email := "a@x"
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.SetUserProfile(b.ctx, alice, nil, &email) }))
	u, err := b.st.UserByID(b.ctx, alice)
	require.NoError(t, err)
	require.Equal(t, "Alice", u.Name)
	require.Equal(t, "a@x", u.Email)
	require.ErrorIs(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.SetUserProfile(b.ctx, 99, &name, nil) }), ErrNotFound)
}

func TestDomainUsersAfter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, dom, _ := b.domainUsers(t, "acme", "a.example", "carol", "alice", "bob")
	n, err := b.st.CountDomainUsers(b.ctx, dom)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	page, err := b.st.DomainUsersAfter(b.ctx, dom, "", 2)
	require.NoError(t, err)
	require.Len(t, page, 2)
	require.Equal(t, "alice", page[0].Username)
	require.Equal(t, "bob", page[1].Username)
	page, err = b.st.DomainUsersAfter(b.ctx, dom, "bob", 2)
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.Equal(t, "carol", page[0].Username)
}

func TestUserACL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, _, users := b.domainUsers(t, "acme", "a.example", "carol", "alice", "bob")
	acl, err := b.st.UserACL(b.ctx, users[0].ID)
	require.NoError(t, err)
	require.Nil(t, acl)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		return tx.PutUserACL(b.ctx, users[0].ID, json.RawMessage(`{"muc":true}`))
	}))
	acl, err = b.st.UserACL(b.ctx, users[0].ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"muc":true}`, string(acl))
	err = b.st.Write(b.ctx, func(tx *Tx) error { return tx.PutUserACL(b.ctx, 999, json.RawMessage(`{}`)) })
	require.ErrorIs(t, err, ErrNotFound)
	err = b.st.Write(b.ctx, func(tx *Tx) error { return tx.PutUserACL(b.ctx, users[1].ID, json.RawMessage(`[1]`)) })
	require.Error(t, err, "CHECK keeps non-objects out")
}
