package store

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

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

// TestWriteAloneRollsBack: a write function alone in its group runs without
// a savepoint; its failure must still leave nothing behind.
func TestWriteAloneRollsBack(t *testing.T) {
	t.Parallel()
	b := setup(t)
	err := b.st.Write(b.ctx, func(tx *Tx) error {
		if _, err := tx.InsertAccount(b.ctx, "lonely", 0); err != nil {
			return err
		}
		return errors.New("refused")
	})
	require.EqualError(t, err, "refused")
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { _, err := tx.InsertAccount(b.ctx, "next", 0); return err }))
	accs, err := b.st.Accounts(b.ctx)
	require.NoError(t, err)
	require.Len(t, accs, 1)
	require.Equal(t, "next", accs[0].Name)
}
