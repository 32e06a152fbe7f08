package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// openfireFixture: account acme with domain a.example and user alice.
func openfireFixture(t *testing.T, b *testBundle) (acc, dom, user int64) {
	t.Helper()
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		a, err := tx.InsertAccount(b.ctx, "acme", 0)
		if err != nil {
			return err
		}
		d, err := tx.InsertDomain(b.ctx, a.ID, "a.example")
		if err != nil {
			return err
		}
		u, err := tx.InsertUser(b.ctx, User{DomainID: d.ID, Username: "alice", Status: StatusActive})
		acc, dom, user = a.ID, d.ID, u.ID
		return err
	}))
	return acc, dom, user
}

func TestOpenfireCredential(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acc, dom, _ := openfireFixture(t, b)
	c := OpenfireCredential{AccountID: acc, DomainID: dom, SecretSealed: []byte("sealed"), IPAllow: "10.0.0.1", Enabled: true}
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.PutOpenfireCredential(b.ctx, c, KeyHash("s1")) }))
	got, err := b.st.OpenfireCredentialByHash(b.ctx, KeyHash("s1"))
	require.NoError(t, err)
	require.Equal(t, "a.example", got.Domain)
	require.Equal(t, "10.0.0.1", got.IPAllow)
	require.True(t, got.Enabled)
	_, err = b.st.OpenfireCredentialByHash(b.ctx, KeyHash("S1"))
	require.ErrorIs(t, err, ErrNotFound)

	// Replacing keeps one row per account; the old secret stops working.
	c.Enabled = false
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.PutOpenfireCredential(b.ctx, c, KeyHash("s2")) }))
	_, err = b.st.OpenfireCredentialByHash(b.ctx, KeyHash("s1"))
	require.ErrorIs(t, err, ErrNotFound)
	all, err := b.st.OpenfireCredentials(b.ctx)
	require.NoError(t, err)
	require.Len(t, all, 1)
	require.False(t, all[0].Enabled)

	// Two accounts cannot share a secret; an unknown account is not found.
	err = b.st.Write(b.ctx, func(tx *Tx) error {
		a, err := tx.InsertAccount(b.ctx, "other", 0)
		if err != nil {
			return err
		}
		return tx.PutOpenfireCredential(b.ctx, OpenfireCredential{AccountID: a.ID, DomainID: dom, SecretSealed: []byte("x")}, KeyHash("s2"))
	})
	require.ErrorIs(t, err, ErrDuplicate)
	err = b.st.Write(b.ctx, func(tx *Tx) error {
		return tx.PutOpenfireCredential(b.ctx, OpenfireCredential{AccountID: 99, DomainID: dom, SecretSealed: []byte("x")}, KeyHash("s3"))
	})
	require.ErrorIs(t, err, ErrNotFound)
}

func TestSharedGroups(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, dom, alice := openfireFixture(t, b)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		if err := tx.JoinSharedGroups(b.ctx, dom, alice, []string{"b", "a"}, ShowOnlyGroup, false); err != nil {
			return err
		}
		// An existing group keeps its visibility.
		_, err := tx.EnsureSharedGroup(b.ctx, dom, "a", ShowNobody)
		if err != nil {
			return err
		}
		_, err = tx.EnsureSharedGroup(b.ctx, dom, "hidden", ShowNobody)
		return err
	}))
	names, err := b.st.UserSharedGroupNames(b.ctx, alice)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, names)
	shown, err := b.st.ShownSharedGroups(b.ctx, dom, []string{"a", "hidden", "none"})
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, shown)

	// Exclusive: alice leaves b, joins c; b stays as a group.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		return tx.JoinSharedGroups(b.ctx, dom, alice, []string{"a", "c"}, ShowOnlyGroup, true)
	}))
	names, err = b.st.UserSharedGroupNames(b.ctx, alice)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "c"}, names)
	all, err := b.st.SharedGroupNames(b.ctx, dom)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c", "hidden"}, all)

	// Memberships go with the user.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.DeleteUser(b.ctx, alice) }))
	names, err = b.st.UserSharedGroupNames(b.ctx, alice)
	require.NoError(t, err)
	require.Empty(t, names)
}

func TestProfileAndChanges(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acc, _, alice := openfireFixture(t, b)
	name := "Alice"
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.SetUserProfile(b.ctx, alice, &name, nil) }))
	email := "a@x"
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.SetUserProfile(b.ctx, alice, nil, &email) }))
	u, err := b.st.UserByID(b.ctx, alice)
	require.NoError(t, err)
	require.Equal(t, "Alice", u.Name)
	require.Equal(t, "a@x", u.Email)
	require.ErrorIs(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.SetUserProfile(b.ctx, 99, &name, nil) }), ErrNotFound)

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
