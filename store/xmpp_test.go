package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func (b *testBundle) xmppUser(t *testing.T, names ...string) []User {
	t.Helper()
	var out []User
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		a, err := tx.InsertAccount(b.ctx, "acc", 0)
		if err != nil {
			return err
		}
		d, err := tx.InsertDomain(b.ctx, a.ID, "example.test")
		if err != nil {
			return err
		}
		for _, n := range names {
			u, err := tx.InsertUser(b.ctx, User{DomainID: d.ID, Username: n, Status: StatusActive})
			if err != nil {
				return err
			}
			out = append(out, u)
		}
		return nil
	}))
	return out
}

func TestRosterItemsAndVersion(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.xmppUser(t, "alice")[0]
	ver, err := b.st.RosterVersion(b.ctx, u.ID)
	require.NoError(t, err)
	require.Zero(t, ver)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		v1, err := tx.PutRosterItem(b.ctx, u.ID, RosterItem{Contact: "bob@example.test", Name: "Bob", Visible: true, Groups: []string{"A", "B"}})
		require.NoError(t, err)
		v2, err := tx.PutRosterItem(b.ctx, u.ID, RosterItem{Contact: "bob@example.test", Name: "Bobby", Subscription: SubBoth, Visible: true})
		require.NoError(t, err)
		v3, err := tx.PutRosterItem(b.ctx, u.ID, RosterItem{Contact: "carol@example.test", PendingIn: true})
		require.NoError(t, err)
		require.Equal(t, []int64{1, 2, 3}, []int64{v1, v2, v3})
		return nil
	}))
	items, ver, err := b.st.RosterItems(b.ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, int64(3), ver)
	require.Equal(t, []RosterItem{
		{Contact: "bob@example.test", Name: "Bobby", Subscription: SubBoth, Visible: true, Groups: []string{}, Ver: 2},
		{Contact: "carol@example.test", Subscription: SubNone, PendingIn: true, Groups: []string{}, Ver: 3},
	}, items)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		v, err := tx.DeleteRosterItem(b.ctx, u.ID, "carol@example.test")
		require.Equal(t, int64(4), v)
		return err
	}))
	_, err = b.st.RosterItem(b.ctx, u.ID, "carol@example.test")
	require.ErrorIs(t, err, ErrNotFound)
	err = b.st.Write(b.ctx, func(tx *Tx) error {
		_, err := tx.DeleteRosterItem(b.ctx, u.ID, "carol@example.test")
		return err
	})
	require.ErrorIs(t, err, ErrNotFound)
	err = b.st.Write(b.ctx, func(tx *Tx) error {
		_, err := tx.PutRosterItem(b.ctx, u.ID, RosterItem{Contact: "x@example.test", Subscription: "maybe"})
		return err
	})
	require.Error(t, err, "the CHECK constraint rejects unknown states")
}

func TestOfflineMessages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.xmppUser(t, "alice")[0]
	for i, body := range []string{"<m>1</m>", "<m>2</m>", "<m>3</m>"} {
		var stored bool
		require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
			var err error
			stored, err = tx.PushOffline(b.ctx, u.ID, "bob@example.test/r", []byte(body), 2)
			return err
		}))
		require.Equal(t, i < 2, stored, "row %d", i)
	}
	n, err := b.st.OfflineCount(b.ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	var msgs []OfflineMessage
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		var err error
		msgs, err = tx.PopOffline(b.ctx, u.ID)
		return err
	}))
	require.Len(t, msgs, 2)
	require.Equal(t, "<m>1</m>", string(msgs[0].Stanza))
	require.Equal(t, "<m>2</m>", string(msgs[1].Stanza))
	require.Equal(t, "bob@example.test/r", msgs[0].Sender)
	require.False(t, msgs[0].Created.IsZero())
	n, err = b.st.OfflineCount(b.ctx, u.ID)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestXMPPDataGoesWithUser(t *testing.T) {
	t.Parallel()
	b := setup(t)
	us := b.xmppUser(t, "alice", "bob")
	alice, bob := us[0], us[1]
	seen := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, u := range us {
		require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
			if _, err := tx.PutRosterItem(b.ctx, u.ID, RosterItem{Contact: "c@example.test", Visible: true}); err != nil {
				return err
			}
			if _, err := tx.PushOffline(b.ctx, u.ID, "c@example.test", []byte("<message/>"), 0); err != nil {
				return err
			}
			if err := tx.SetVCard(b.ctx, u.ID, []byte("<vCard xmlns='vcard-temp'/>")); err != nil {
				return err
			}
			if err := tx.SetPrivateXML(b.ctx, u.ID, "my:ns", []byte("<x xmlns='my:ns'/>")); err != nil {
				return err
			}
			if err := tx.SetLastActivity(b.ctx, u.ID, seen, "gone"); err != nil {
				return err
			}
			return tx.Block(b.ctx, u.ID, []string{"spam@example.test", "evil.test", "spam@example.test"})
		}))
	}
	v, err := b.st.VCard(b.ctx, alice.ID)
	require.NoError(t, err)
	require.Equal(t, "<vCard xmlns='vcard-temp'/>", string(v))
	p, err := b.st.PrivateXML(b.ctx, alice.ID, "my:ns")
	require.NoError(t, err)
	require.Equal(t, "<x xmlns='my:ns'/>", string(p))
	_, err = b.st.PrivateXML(b.ctx, alice.ID, "other:ns")
	require.ErrorIs(t, err, ErrNotFound)
	at, status, err := b.st.LastActivity(b.ctx, alice.ID)
	require.NoError(t, err)
	require.Equal(t, seen, at)
	require.Equal(t, "gone", status)
	list, err := b.st.BlockList(b.ctx, alice.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"evil.test", "spam@example.test"}, list)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.Unblock(b.ctx, alice.ID, []string{"evil.test"}) }))
	list, _ = b.st.BlockList(b.ctx, alice.ID)
	require.Equal(t, []string{"spam@example.test"}, list)

	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.DeleteUser(b.ctx, alice.ID) }))
	items, ver, err := b.st.RosterItems(b.ctx, alice.ID)
	require.NoError(t, err)
	require.Empty(t, items)
	require.Zero(t, ver)
	n, _ := b.st.OfflineCount(b.ctx, alice.ID)
	require.Zero(t, n)
	_, err = b.st.VCard(b.ctx, alice.ID)
	require.ErrorIs(t, err, ErrNotFound)
	_, _, err = b.st.LastActivity(b.ctx, alice.ID)
	require.ErrorIs(t, err, ErrNotFound)
	list, _ = b.st.BlockList(b.ctx, alice.ID)
	require.Empty(t, list)
	// bob's data is untouched
	items, _, err = b.st.RosterItems(b.ctx, bob.ID)
	require.NoError(t, err)
	require.Len(t, items, 1)
	n, _ = b.st.OfflineCount(b.ctx, bob.ID)
	require.Equal(t, 1, n)
}
