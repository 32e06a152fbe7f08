package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestPushSessions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, domA, as := b.domainUsers(t, "acme", "a.example", "alice", "amy")
	_, _, bs := b.domainUsers(t, "other", "b.example", "bob")
	alice, amy, bob := as[0].ID, as[1].ID, bs[0].ID
	old := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	put := func(user int64, p PushSession, limit int) bool {
		t.Helper()
		var ok bool
		require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
			var err error
			ok, err = tx.PutPush(b.ctx, user, p, limit)
			return err
		}))
		return ok
	}
	require.True(t, put(alice, PushSession{JID: "push.example", Node: "n1", Options: []byte("<x/>")}, 2))
	require.True(t, put(alice, PushSession{JID: "push.example", Node: "n2"}, 2))
	require.False(t, put(alice, PushSession{JID: "push.example", Node: "n3"}, 2), "a third is over the limit")
	require.True(t, put(alice, PushSession{JID: "push.example", Node: "n1", Options: []byte("<y/>")}, 2), "renewing is not a new one")
	require.True(t, put(amy, PushSession{JID: "push.example", Node: "old", Created: old}, 0))
	require.True(t, put(bob, PushSession{JID: "push.example", Node: "old", Created: old}, 0))

	ps, err := b.st.PushSessions(b.ctx, alice)
	require.NoError(t, err)
	require.Len(t, ps, 2)
	require.Equal(t, "n1", ps[0].Node)
	require.Equal(t, "<y/>", string(ps[0].Options))
	require.Equal(t, []byte{}, ps[1].Options)
	require.False(t, ps[0].Created.IsZero())

	var n int64
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		n, err = tx.DeleteOldPush(b.ctx, []int64{domA}, old.Add(time.Hour))
		return err
	}))
	require.Equal(t, int64(1), n, "amy's old one; bob is in another domain, alice's are new")
	ps, _ = b.st.PushSessions(b.ctx, bob)
	require.Len(t, ps, 1)

	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		n, err = tx.DeletePush(b.ctx, alice, "push.example", "n2")
		return err
	}))
	require.Equal(t, int64(1), n)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		n, err = tx.DeletePush(b.ctx, alice, "push.example", "")
		return err
	}))
	require.Equal(t, int64(1), n, "no node: every node of the jid")
	ps, _ = b.st.PushSessions(b.ctx, alice)
	require.Empty(t, ps)
}
