package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

type testBundle struct {
	st  *Store
	ctx context.Context
}

func setup(t *testing.T) *testBundle {
	t.Helper()
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"), Options{})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return &testBundle{st: st, ctx: ctx}
}

func TestReopenKeepsSchema(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "x.db")
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

func TestWriteGroupIsolatesFailures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	errs := make([]error, 40)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = b.st.Write(b.ctx, func(tx *Tx) error {
				if _, err := tx.InsertAccount(b.ctx, fmt.Sprintf("acc%d", i), 0); err != nil {
					return err
				}
				if i%2 == 1 {
					return errors.New("refused")
				}
				return nil
			})
		}()
	}
	wg.Wait()
	accs, err := b.st.Accounts(b.ctx)
	require.NoError(t, err)
	require.Len(t, accs, 20)
	for i, err := range errs {
		if i%2 == 1 {
			require.EqualError(t, err, "refused")
		} else {
			require.NoError(t, err)
		}
	}
}

func TestWritePanicIsAnError(t *testing.T) {
	t.Parallel()
	b := setup(t)
	err := b.st.Write(b.ctx, func(tx *Tx) error { panic("boom") })
	require.ErrorContains(t, err, "boom")
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return nil }))
}

func TestAccountTreeAndIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var parent, child, other Account
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) (err error) {
		if parent, err = tx.InsertAccount(b.ctx, "reseller", 0); err != nil {
			return err
		}
		if child, err = tx.InsertAccount(b.ctx, "customer", parent.ID); err != nil {
			return err
		}
		if other, err = tx.InsertAccount(b.ctx, "other", 0); err != nil {
			return err
		}
		for _, d := range []struct {
			acc  int64
			fqdn string
		}{{parent.ID, "a.example"}, {child.ID, "b.example"}, {other.ID, "c.example"}} {
			if _, err := tx.InsertDomain(b.ctx, d.acc, d.fqdn); err != nil {
				return err
			}
		}
		return nil
	}))
	err := b.st.Write(b.ctx, func(tx *Tx) error {
		_, err := tx.InsertDomain(b.ctx, other.ID, "a.example")
		return err
	})
	require.ErrorIs(t, err, ErrDuplicate)
	tree, err := b.st.AccountTree(b.ctx, parent.ID)
	require.NoError(t, err)
	require.Equal(t, []int64{parent.ID, child.ID}, tree)
	ds, err := b.st.Domains(b.ctx, tree)
	require.NoError(t, err)
	require.Len(t, ds, 2)
	require.Equal(t, "a.example", ds[0].FQDN)
	require.Equal(t, "b.example", ds[1].FQDN)
}

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
