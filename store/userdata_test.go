package store

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestOfflineMessages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	u := b.users(t, "alice")[0]
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
	us := b.users(t, "alice", "bob")
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
