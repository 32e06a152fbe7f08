package store

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDeleteDomain(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, dom, users := b.domainUsers(t, "acme", "a.example", "carol", "alice", "bob")
	// An ACL, to see it go with its user.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		return tx.PutUserACL(b.ctx, users[0].ID, json.RawMessage(`{"muc":true}`))
	}))
	_, err := b.st.DomainByFQDN(b.ctx, "a.example") // memoised now
	require.NoError(t, err)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.DeleteDomain(b.ctx, dom) }))
	_, err = b.st.DomainByFQDN(b.ctx, "a.example")
	require.ErrorIs(t, err, ErrNotFound, "the memo is cleared")
	us, err := b.st.DomainUsers(b.ctx, dom)
	require.NoError(t, err)
	require.Empty(t, us)
	acl, err := b.st.UserACL(b.ctx, users[0].ID)
	require.NoError(t, err)
	require.Nil(t, acl, "the ACL went with its user")
	err = b.st.Write(b.ctx, func(tx *Tx) error { return tx.DeleteDomain(b.ctx, dom) })
	require.ErrorIs(t, err, ErrNotFound)
}
