package store

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
)

type testBundle struct {
	st  *Store
	ctx context.Context
	loc string // where st lives (location)
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	loc := location(t)
	st, err := Open(ctx, loc, Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return &testBundle{st: st, ctx: ctx, loc: loc}
}

func TestReopenKeepsSchema(t *testing.T) {
	t.Parallel()
	path := location(t)
	ctx := context.Background()
	st, err := Open(ctx, path, Options{})
	require.NoError(t, err)
	require.NoError(t, st.Write(ctx, func(tx *Tx) error {
		_, err := tx.InsertAccount(ctx, "acme", 0)
		return err
	}))
	require.NoError(t, st.Close())
	st, err = Open(ctx, path, Options{})
	require.NoError(t, err)
	defer st.Close()
	a, err := st.AccountByName(ctx, "acme")
	require.NoError(t, err)
	require.Equal(t, "acme", a.Name)
}

// domainUsers creates an account with one domain and an active user per name.
func (b *testBundle) domainUsers(t testing.TB, account, fqdn string, names ...string) (acc, dom int64, users []User) {
	t.Helper()
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		a, err := tx.InsertAccount(b.ctx, account, 0)
		if err != nil {
			return err
		}
		d, err := tx.InsertDomain(b.ctx, a.ID, fqdn)
		if err != nil {
			return err
		}
		acc, dom = a.ID, d.ID
		for _, n := range names {
			u, err := tx.InsertUser(b.ctx, User{DomainID: d.ID, Username: n, Status: StatusActive})
			if err != nil {
				return err
			}
			users = append(users, u)
		}
		return nil
	}))
	return acc, dom, users
}

// usersIn inserts users of domain dom by name and status; it returns
// their ids by name.
func (b *testBundle) usersIn(tb testing.TB, dom int64, users map[string]Status) map[string]int64 {
	tb.Helper()
	ids := map[string]int64{}
	require.NoError(tb, b.st.Write(b.ctx, func(tx *Tx) error {
		for n, st := range users {
			u, err := tx.InsertUser(b.ctx, User{DomainID: dom, Username: n, Status: st})
			if err != nil {
				return err
			}
			ids[n] = u.ID
		}
		return nil
	}))
	return ids
}

// alice: account acme with domain a.example and user alice.
func (b *testBundle) alice(t *testing.T) (acc, dom, alice int64) {
	t.Helper()
	acc, dom, us := b.domainUsers(t, "acme", "a.example", "alice")
	return acc, dom, us[0].ID
}

// users: account acc with domain example.test and the named users.
func (b *testBundle) users(t *testing.T, names ...string) []User {
	t.Helper()
	_, _, us := b.domainUsers(t, "acc", "example.test", names...)
	return us
}
