package store_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
)

func TestRESTStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "x.db"), store.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })

	var acc store.Account
	var dom store.Domain
	var users []store.User
	require.NoError(t, st.Write(ctx, func(tx *store.Tx) (err error) {
		if acc, err = tx.InsertAccount(ctx, "acme", 0); err != nil {
			return err
		}
		if dom, err = tx.InsertDomain(ctx, acc.ID, "a.example"); err != nil {
			return err
		}
		for _, n := range []string{"carol", "alice", "bob"} {
			u, err := tx.InsertUser(ctx, store.User{DomainID: dom.ID, Username: n, Status: store.StatusActive})
			if err != nil {
				return err
			}
			users = append(users, u)
		}
		return nil
	}))

	t.Run("credential", func(t *testing.T) {
		_, err := st.RESTCredential(ctx, acc.ID)
		require.ErrorIs(t, err, store.ErrNotFound)
		c := store.RESTCredential{AccountID: acc.ID, Salt: []byte("s"), Iterations: 1, StoredKey: []byte("k"), PasswordSealed: []byte("p")}
		require.NoError(t, st.Write(ctx, func(tx *store.Tx) error { return tx.PutRESTCredential(ctx, c) }))
		c.StoredKey = []byte("k2")
		require.NoError(t, st.Write(ctx, func(tx *store.Tx) error { return tx.PutRESTCredential(ctx, c) }))
		got, err := st.RESTCredential(ctx, acc.ID)
		require.NoError(t, err)
		require.Equal(t, []byte("k2"), got.StoredKey)
		c.AccountID = 999
		err = st.Write(ctx, func(tx *store.Tx) error { return tx.PutRESTCredential(ctx, c) })
		require.ErrorIs(t, err, store.ErrNotFound)
	})

	t.Run("paging", func(t *testing.T) {
		n, err := st.CountDomainUsers(ctx, dom.ID)
		require.NoError(t, err)
		require.Equal(t, 3, n)
		page, err := st.DomainUsersAfter(ctx, dom.ID, "", 2)
		require.NoError(t, err)
		require.Len(t, page, 2)
		require.Equal(t, "alice", page[0].Username)
		require.Equal(t, "bob", page[1].Username)
		page, err = st.DomainUsersAfter(ctx, dom.ID, "bob", 2)
		require.NoError(t, err)
		require.Len(t, page, 1)
		require.Equal(t, "carol", page[0].Username)
	})

	t.Run("acl", func(t *testing.T) {
		acl, err := st.UserACL(ctx, users[0].ID)
		require.NoError(t, err)
		require.Nil(t, acl)
		require.NoError(t, st.Write(ctx, func(tx *store.Tx) error {
			return tx.PutUserACL(ctx, users[0].ID, json.RawMessage(`{"muc":true}`))
		}))
		acl, err = st.UserACL(ctx, users[0].ID)
		require.NoError(t, err)
		require.JSONEq(t, `{"muc":true}`, string(acl))
		err = st.Write(ctx, func(tx *store.Tx) error { return tx.PutUserACL(ctx, 999, json.RawMessage(`{}`)) })
		require.ErrorIs(t, err, store.ErrNotFound)
		err = st.Write(ctx, func(tx *store.Tx) error { return tx.PutUserACL(ctx, users[1].ID, json.RawMessage(`[1]`)) })
		require.Error(t, err, "CHECK keeps non-objects out")
	})

	t.Run("delete domain", func(t *testing.T) {
		_, err := st.DomainByFQDN(ctx, "a.example") // memoised now
		require.NoError(t, err)
		require.NoError(t, st.Write(ctx, func(tx *store.Tx) error { return tx.DeleteDomain(ctx, dom.ID) }))
		_, err = st.DomainByFQDN(ctx, "a.example")
		require.ErrorIs(t, err, store.ErrNotFound, "the memo is cleared")
		us, err := st.DomainUsers(ctx, dom.ID)
		require.NoError(t, err)
		require.Empty(t, us)
		acl, err := st.UserACL(ctx, users[0].ID)
		require.NoError(t, err)
		require.Nil(t, acl, "the ACL went with its user")
		err = st.Write(ctx, func(tx *store.Tx) error { return tx.DeleteDomain(ctx, dom.ID) })
		require.ErrorIs(t, err, store.ErrNotFound)
	})
}
