package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

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
