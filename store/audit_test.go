package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestAuditLog reads the audit log by account, actor, time range and page,
// newest first; lines of other accounts and without an account never show.
func TestAuditLog(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 0, 0, 0, time.UTC)
	st, err := Open(ctx, filepath.Join(t.TempDir(), "x.db"), Options{Now: func() time.Time { return at }})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	var a, b Account
	require.NoError(t, st.Write(ctx, func(tx *Tx) (err error) {
		if a, err = tx.InsertAccount(ctx, "a", 0); err != nil {
			return err
		}
		b, err = tx.InsertAccount(ctx, "b", 0)
		return err
	}))
	// One line a minute: a's by cli and by x, b's, and a server-wide one.
	for i, l := range []struct {
		acc        int64
		actor, cmd string
	}{{a.ID, "cli", "one"}, {a.ID, "x", "two"}, {b.ID, "cli", "b's"}, {0, "cli", "global"}, {a.ID, "cli", "three"}} {
		at = time.Date(2026, 1, 2, 3, i, 0, 0, time.UTC)
		require.NoError(t, st.Write(ctx, func(tx *Tx) error { return tx.Audit(ctx, l.acc, l.actor, l.cmd, "") }))
	}
	for i, tc := range []struct {
		f    AuditFilter
		want []string
	}{
		0: {AuditFilter{Accounts: []int64{a.ID}}, []string{"three", "two", "one"}},
		1: {AuditFilter{Accounts: []int64{a.ID, b.ID}, Actor: "cli"}, []string{"three", "b's", "one"}},
		2: {AuditFilter{Accounts: []int64{a.ID}, Offset: 1, Limit: 1}, []string{"two"}},
		3: {AuditFilter{Accounts: []int64{a.ID}, From: time.Date(2026, 1, 2, 3, 1, 0, 0, time.UTC),
			To: time.Date(2026, 1, 2, 3, 3, 0, 0, time.UTC)}, []string{"two"}},
		4: {AuditFilter{Accounts: nil}, nil},
		5: {AuditFilter{Accounts: []int64{b.ID}, Actor: "x"}, nil},
	} {
		es, err := st.AuditLog(ctx, tc.f)
		require.NoError(t, err, "row %d", i)
		var got []string
		for _, e := range es {
			got = append(got, e.Command)
		}
		require.Equal(t, tc.want, got, "row %d", i)
	}
}
