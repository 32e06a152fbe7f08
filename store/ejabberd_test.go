package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEjabberdPermission(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acc, _, user := openfireFixture(t, b)
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
