package store

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestConsoleReads: the queue and audit readers the operator's console
// uses keep to the accounts asked for, filter as documented and list
// newest first.
func TestConsoleReads(t *testing.T) {
	t.Parallel()
	b := setup(t)
	accA, domA, usA := b.domainUsers(t, "acme", "a.example", "alice", "albert", "bob", "x_y")
	accB, _, usB := b.domainUsers(t, "other", "b.example", "zed")
	batch := func(acc, user int64, token string, fail bool) {
		require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
			bt, err := tx.OpenBatch(b.ctx, acc, token)
			if err != nil {
				return err
			}
			c, err := tx.InsertChange(b.ctx, Change{BatchID: bt.ID, Command: "deactivate_user", UserID: user})
			if err != nil || token == "open" {
				return err
			}
			if _, err := tx.ClaimBatch(b.ctx, bt.ID, ""); err != nil {
				return err
			}
			status, cs, msg := BatchSuccess, ChangeApplied, ""
			if fail {
				status, cs, msg = BatchFailure, ChangeFailed, "user gone"
			}
			if err := tx.FinishChange(b.ctx, c.ID, cs, msg, ""); err != nil {
				return err
			}
			return tx.FinishBatch(b.ctx, bt.ID, status)
		}))
	}
	batch(accA, usA[0].ID, "a-ok", false)
	batch(accA, usA[1].ID, "a-fail", true)
	batch(accB, usB[0].ID, "b-fail", true)
	batch(accA, usA[2].ID, "open", false)

	for i, tc := range []struct {
		accounts []int64
		status   BatchStatus
		want     []string
	}{
		0: {nil, "", []string{"open", "b-fail", "a-fail", "a-ok"}},
		1: {[]int64{accA}, "", []string{"open", "a-fail", "a-ok"}},
		2: {[]int64{accA}, BatchFailure, []string{"a-fail"}},
		3: {[]int64{}, "", nil},
	} {
		bs, err := b.st.RecentBatches(b.ctx, tc.accounts, tc.status, 10)
		require.NoError(t, err)
		var got []string
		for _, x := range bs {
			got = append(got, x.Token)
			require.Equal(t, 1, x.Changes)
		}
		require.Equal(t, tc.want, got, i)
	}
	fs, err := b.st.FailedChanges(b.ctx, []int64{accA}, 10)
	require.NoError(t, err)
	require.Len(t, fs, 1)
	require.Equal(t, "a-fail", fs[0].Token)
	require.Equal(t, "user gone", fs[0].Error)
	require.False(t, fs[0].Finished.IsZero())
	fs, err = b.st.FailedChanges(b.ctx, nil, 1)
	require.NoError(t, err)
	require.Equal(t, "b-fail", fs[0].Token, "newest first, limit kept")
	d, err := b.st.Depth(b.ctx, nil)
	require.NoError(t, err)
	require.Equal(t, QueueDepth{Waiting: 1, Pending: 1}, d)
	d, err = b.st.Depth(b.ctx, []int64{accB})
	require.NoError(t, err)
	require.Equal(t, QueueDepth{}, d)

	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		for _, l := range []struct {
			acc            int64
			actor, command string
		}{{accA, "key:1", "account add"}, {accB, "key:2", "account add"}, {0, "x@y", "login_failed"}, {accA, "admin@a.example", "ejabberd admin"}} {
			if err := tx.Audit(b.ctx, l.acc, l.actor, l.command, "d"); err != nil {
				return err
			}
		}
		return nil
	}))
	for i, tc := range []struct {
		f    AuditFilter
		want []string
	}{
		0: {AuditFilter{}, []string{"admin@a.example", "x@y", "key:2", "key:1"}},
		1: {AuditFilter{Accounts: []int64{accA}}, []string{"admin@a.example", "key:1"}},
		2: {AuditFilter{Accounts: []int64{}}, nil},
		3: {AuditFilter{Accounts: []int64{accA}, Account: accB}, nil},
		4: {AuditFilter{ActorPart: "key:"}, []string{"key:2", "key:1"}},
		5: {AuditFilter{Command: "login_failed"}, []string{"x@y"}},
		6: {AuditFilter{From: time.Now().Add(time.Hour)}, nil},
		7: {AuditFilter{From: time.Now().Add(-time.Hour), Limit: 1}, []string{"admin@a.example"}},
	} {
		es, err := b.st.AuditLog(b.ctx, tc.f)
		require.NoError(t, err)
		var got []string
		for _, e := range es {
			got = append(got, e.Actor)
		}
		require.Equal(t, tc.want, got, i)
	}
	// Paging back from the oldest line shown.
	es, err := b.st.AuditLog(b.ctx, AuditFilter{Limit: 2})
	require.NoError(t, err)
	es, err = b.st.AuditLog(b.ctx, AuditFilter{Before: es[1].ID})
	require.NoError(t, err)
	require.Len(t, es, 2)
	require.Equal(t, "key:2", es[0].Actor)

	for i, tc := range []struct {
		part string
		want []string
	}{
		0: {"", []string{"albert", "alice", "bob", "x_y"}},
		1: {"al", []string{"albert", "alice"}},
		2: {"_", []string{"x_y"}},
		3: {"%", nil},
	} {
		us, err := b.st.DomainUsersMatching(b.ctx, domA, tc.part, 10)
		require.NoError(t, err)
		var got []string
		for _, u := range us {
			got = append(got, u.Username)
		}
		require.Equal(t, tc.want, got, i)
	}
}

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
		4: {AuditFilter{Accounts: []int64{}}, nil},
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
