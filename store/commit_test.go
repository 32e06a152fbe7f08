package store

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

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

// TestWriteGoexitDoesNotHangCommitter: a write function that ends its
// goroutine (t.FailNow, which a failing require calls, is runtime.Goexit)
// fails alone with its writes rolled back; the other functions of its
// group commit, and later writes and Close still work.
func TestWriteGoexitDoesNotHangCommitter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		group bool // queued with others that share its transaction
	}{{"alone", false}, {"in a group", true}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			insert := func(name string, exit bool) func(*Tx) error {
				return func(tx *Tx) error {
					if _, err := tx.InsertAccount(b.ctx, name, 0); err != nil {
						return err
					}
					if exit {
						runtime.Goexit()
					}
					return nil
				}
			}
			var waits []func() error
			var want []string
			release := make(chan struct{})
			if tc.group {
				// The committer waits inside the first function while the
				// rest queue, so they make one group behind it.
				waits = append(waits, b.st.WriteAsync(b.ctx, func(*Tx) error { <-release; return nil }))
				waits = append(waits, b.st.WriteAsync(b.ctx, insert("before", false)))
				want = append(want, "before")
			}
			bad := b.st.WriteAsync(b.ctx, insert("exits", true))
			if tc.group {
				waits = append(waits, b.st.WriteAsync(b.ctx, insert("after", false)))
				want = append(want, "after")
			}
			close(release)
			require.ErrorIs(t, waitWithin(t, bad), errGoexit)
			for _, w := range waits {
				require.NoError(t, waitWithin(t, w))
			}
			require.NoError(t, waitWithin(t, b.st.WriteAsync(b.ctx, insert("later", false))))
			want = append(want, "later")
			accs, err := b.st.Accounts(b.ctx)
			require.NoError(t, err)
			var got []string
			for _, a := range accs {
				got = append(got, a.Name)
			}
			require.ElementsMatch(t, want, got)
			closed := make(chan error, 1)
			go func() { closed <- b.st.Close() }()
			select {
			case err := <-closed:
				require.NoError(t, err)
			case <-time.After(time.Minute):
				t.Fatal("Close hangs after a write function's Goexit")
			}
		})
	}
}

// waitWithin is wait() with a deadline, so a hung committer fails the test
// instead of stopping the whole run at its timeout.
func waitWithin(t *testing.T, wait func() error) error {
	t.Helper()
	ch := make(chan error, 1)
	go func() { ch <- wait() }()
	select {
	case err := <-ch:
		return err
	case <-time.After(time.Minute):
		t.Fatal("write not answered within a minute: the committer hangs")
		return nil
	}
}

// TestWriteApart: a WriteApart function's writes commit, or roll back when
// it fails; on PostgreSQL an ordinary Write goes through while a
// WriteApart transaction is still open (on SQLite it is a Write).
func TestWriteApart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.EqualError(t, b.st.WriteApart(b.ctx, func(tx *Tx) error {
		if _, err := tx.InsertAccount(b.ctx, "refused", 0); err != nil {
			return err
		}
		return errors.New("refused")
	}), "refused")
	other := make(chan error, 1)
	require.NoError(t, b.st.WriteApart(b.ctx, func(tx *Tx) error {
		if _, err := tx.InsertAccount(b.ctx, "apart", 0); err != nil {
			return err
		}
		if !onPG {
			return nil
		}
		go func() {
			other <- b.st.Write(b.ctx, func(tx *Tx) error { _, err := tx.InsertAccount(b.ctx, "meanwhile", 0); return err })
		}()
		select {
		case err := <-other:
			return err
		case <-time.After(time.Minute):
			return errors.New("a Write waited for the WriteApart transaction")
		}
	}))
	accs, err := b.st.Accounts(b.ctx)
	require.NoError(t, err)
	var got []string
	for _, a := range accs {
		got = append(got, a.Name)
	}
	want := []string{"apart"}
	if onPG {
		want = append(want, "meanwhile")
	}
	require.ElementsMatch(t, want, got)
}
