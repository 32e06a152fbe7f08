package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestUniqueIDOncePerKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var k1, k2 Key
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		a, err := tx.InsertAccount(b.ctx, "a", 0)
		if err != nil {
			return err
		}
		if k1, err = tx.InsertKey(b.ctx, Key{AccountID: a.ID, Sealed: []byte("x"), Cmds: []string{"*"}}, KeyHash("K1")); err != nil {
			return err
		}
		k2, err = tx.InsertKey(b.ctx, Key{AccountID: a.ID, Sealed: []byte("y"), Cmds: []string{"*"}}, KeyHash("K2"))
		return err
	}))
	use := func(k Key) error {
		return b.st.Write(b.ctx, func(tx *Tx) error { return tx.UseUniqueID(b.ctx, k.ID, []byte("u")) })
	}
	require.NoError(t, use(k1))
	require.ErrorIs(t, use(k1), ErrDuplicate)
	require.NoError(t, use(k2))
	used, err := b.st.UniqueIDUsed(b.ctx, k2.ID, []byte("u"))
	require.NoError(t, err)
	require.True(t, used)
}

func TestOpenfireCredential(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acc, dom, _ := b.alice(t)
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

func TestEjabberdPermission(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acc, _, user := b.alice(t)
	_, err := b.st.EjabberdPermission(b.ctx, user)
	require.ErrorIs(t, err, ErrNotFound)

	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		return tx.PutEjabberdPermission(b.ctx, EjabberdPermission{UserID: user, AccountID: acc, What: []string{"*", "!stop"}})
	}))
	p, err := b.st.EjabberdPermission(b.ctx, user)
	require.NoError(t, err)
	require.Equal(t, EjabberdPermission{UserID: user, AccountID: acc, What: []string{"*", "!stop"}}, p)

	// Replacing keeps one row per user; nil is the empty list.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		return tx.PutEjabberdPermission(b.ctx, EjabberdPermission{UserID: user, AccountID: acc})
	}))
	p, err = b.st.EjabberdPermission(b.ctx, user)
	require.NoError(t, err)
	require.Equal(t, []string{}, p.What)

	// An unknown user is not found; the grant goes with its user.
	err = b.st.Write(b.ctx, func(tx *Tx) error {
		return tx.PutEjabberdPermission(b.ctx, EjabberdPermission{UserID: 999, AccountID: acc})
	})
	require.ErrorIs(t, err, ErrNotFound)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.DeleteUser(b.ctx, user) }))
	_, err = b.st.EjabberdPermission(b.ctx, user)
	require.ErrorIs(t, err, ErrNotFound)
	err = b.st.Write(b.ctx, func(tx *Tx) error { return tx.DeleteEjabberdPermission(b.ctx, user) })
	require.ErrorIs(t, err, ErrNotFound)
}

func TestRESTCredential(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acc, _, _ := b.alice(t)
	_, err := b.st.RESTCredential(b.ctx, acc)
	require.ErrorIs(t, err, ErrNotFound)
	c := RESTCredential{AccountID: acc, Salt: []byte("s"), Iterations: 1, StoredKey: []byte("k"), PasswordSealed: []byte("p")}
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.PutRESTCredential(b.ctx, c) }))
	c.StoredKey = []byte("k2")
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.PutRESTCredential(b.ctx, c) }))
	got, err := b.st.RESTCredential(b.ctx, acc)
	require.NoError(t, err)
	require.Equal(t, []byte("k2"), got.StoredKey)
	c.AccountID = 999
	err = b.st.Write(b.ctx, func(tx *Tx) error { return tx.PutRESTCredential(b.ctx, c) })
	require.ErrorIs(t, err, ErrNotFound)
}
