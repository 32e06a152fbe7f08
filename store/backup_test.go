package store

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store/credential"
)

// snapshot is what the tests compare: users with their data, batches.
func (b *testBundle) snapshot(t *testing.T) string {
	t.Helper()
	var out []string
	users, err := b.st.Users(b.ctx, nil)
	require.NoError(t, err)
	for _, u := range users {
		out = append(out, "user "+u.Username+"@"+u.Domain+" "+string(u.Status)+" sealed="+string(u.PasswordSealed))
		items, ver, err := b.st.RosterItems(b.ctx, u.ID)
		require.NoError(t, err)
		for _, it := range items {
			out = append(out, "  roster "+it.Contact+" "+it.Subscription+" "+strings.Join(it.Groups, ","))
		}
		out = append(out, "  ver "+strconv.FormatInt(ver, 10))
		if u.Username == "alice" {
			out = append(out, b.roomSnapshot(t, u.DomainID)...)
		}
		if v, err := b.st.VCard(b.ctx, u.ID); err == nil {
			out = append(out, "  vcard "+string(v))
		}
		msgs, err := b.st.OfflineMessages(b.ctx, u.ID)
		require.NoError(t, err)
		for _, m := range msgs {
			out = append(out, "  offline "+m.Sender+" "+m.Created.Format(TimeLayout)+" "+string(m.Stanza))
		}
	}
	return strings.Join(out, "\n")
}

// roomSnapshot shows a domain's MUC rooms with their affiliations, the
// nicknames registered with its service and MUC/Sub subscriptions.
func (b *testBundle) roomSnapshot(t *testing.T, domainID int64) []string {
	t.Helper()
	var out []string
	rooms, err := b.st.Rooms(b.ctx, domainID)
	require.NoError(t, err)
	for _, r := range rooms {
		out = append(out, "  room "+r.Name+" "+string(r.Config)+" "+r.Subject+" by "+r.SubjectBy)
		affs, err := b.st.RoomAffiliations(b.ctx, r.ID)
		require.NoError(t, err)
		for _, a := range affs {
			out = append(out, "    "+a.Aff+" "+a.JID+" "+a.Reason)
		}
		subs, err := b.st.RoomSubscriptions(b.ctx, r.ID)
		require.NoError(t, err)
		for _, s := range subs {
			out = append(out, "    subscriber "+s.JID+" "+s.Nick+" "+strings.Join(s.Nodes, ","))
		}
	}
	nick, err := b.st.RoomNick(b.ctx, domainID, "bob@example.test")
	require.NoError(t, err)
	return append(out, "  nick of bob: "+nick)
}

func TestBackupRestoreAndDumpLoad(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		save    func(b *testBundle, dir string) string
		restore func(b *testBundle, saved string) error
	}{
		{"backup", func(b *testBundle, dir string) string {
			path := filepath.Join(dir, "x.backup")
			require.NoError(t, b.st.BackupTo(b.ctx, path))
			return path
		}, func(b *testBundle, saved string) error { return b.st.RestoreFrom(b.ctx, saved) }},
		{"dump", func(b *testBundle, dir string) string {
			var buf bytes.Buffer
			require.NoError(t, b.st.Dump(b.ctx, &buf))
			return buf.String()
		}, func(b *testBundle, saved string) error { return b.st.Load(b.ctx, strings.NewReader(saved)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			us := b.users(t, "alice", "bob")
			when := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
			require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
				if _, err := tx.PutRosterItem(b.ctx, us[0].ID, RosterItem{Contact: "bob@example.test", Subscription: SubBoth, Visible: true, Groups: []string{"G"}}); err != nil {
					return err
				}
				if err := tx.SetVCard(b.ctx, us[0].ID, []byte(`<vCard xmlns="vcard-temp"><FN>Älice</FN></vCard>`)); err != nil {
					return err
				}
				if err := tx.SetUserCredentials(b.ctx, us[1].ID, credential.SCRAM{Salt: []byte("salt"), Iterations: 4096, SHA1Stored: []byte{1}, SHA1Server: []byte{2}, SHA256Stored: []byte{3}, SHA256Server: []byte{4}}, []byte{0, 1, 2, 255}); err != nil {
					return err
				}
				if err := tx.ImportOffline(b.ctx, us[1].ID, "alice@example.test", []byte(`<message xmlns="jabber:client"><body>hi</body></message>`), when); err != nil {
					return err
				}
				// A persistent room: backups carry rooms (issue #14).
				r, err := tx.CreateRoom(b.ctx, Room{DomainID: us[0].DomainID, Name: "lounge", Config: []byte(`{"persistent":true}`), Subject: "tea", SubjectBy: "al"})
				if err != nil {
					return err
				}
				for jid, aff := range map[string]string{"alice@example.test": MUCAffOwner, "eve@else.example": MUCAffOutcast} {
					if err := tx.SetRoomAffiliation(b.ctx, r.ID, jid, aff, "why"); err != nil {
						return err
					}
				}
				if err := tx.SubscribeRoom(b.ctx, r.ID, "bob@example.test", "bo", []string{"urn:xmpp:mucsub:nodes:messages"}); err != nil {
					return err
				}
				return tx.RegisterRoomNick(b.ctx, us[0].DomainID, "bob@example.test", "bo")
			}))
			before := b.snapshot(t)
			require.Contains(t, before, "room lounge")
			saved := tc.save(b, t.TempDir())

			require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
				r, err := tx.Room(b.ctx, us[0].DomainID, "lounge")
				if err != nil {
					return err
				}
				if err := tx.DeleteRoom(b.ctx, r.ID); err != nil {
					return err
				}
				if err := tx.DeleteUser(b.ctx, us[0].ID); err != nil {
					return err
				}
				_, err = tx.InsertUser(b.ctx, User{DomainID: us[1].DomainID, Username: "carol", Status: StatusActive})
				return err
			}))
			require.NotEqual(t, before, b.snapshot(t))

			require.NoError(t, tc.restore(b, saved))
			require.Equal(t, before, b.snapshot(t))
			// The directory cache was cleared: the restored domain is found.
			d, err := b.st.DomainByFQDN(b.ctx, "example.test")
			require.NoError(t, err)
			require.Equal(t, us[0].DomainID, d.ID)
		})
	}
}

func TestRestoreRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.users(t, "alice")
	var dump bytes.Buffer
	require.NoError(t, b.st.Dump(b.ctx, &dump))
	before := b.snapshot(t)
	lines := strings.SplitAfter(dump.String(), "\n")

	for i, tc := range []struct {
		text string
		want error
	}{
		0: {"", ErrNotACopy},
		1: {`{"format":"other","version":1}` + "\n", ErrNotACopy},
		2: {regexp.MustCompile(`"schema":[0-9]+`).ReplaceAllString(lines[0], `"schema":999`), ErrNewerSchema},
		// Truncated: the trailer is missing.
		3: {strings.Join(lines[:len(lines)-2], ""), ErrNotACopy},
		// A user whose domain is not in the dump.
		4: {lines[0] + `{"table":"users","columns":["id","domain_id","username","status","created"]}` + "\n" +
			`{"row":[9,77,"x","active","2020-01-01 00:00:00"]}` + "\n" + `{"end":true,"rows":1}` + "\n", ErrNotACopy},
		5: {lines[0] + `{"table":"nope","columns":["a"]}` + "\n" + `{"row":[1]}` + "\n", ErrNotACopy},
	} {
		err := b.st.Load(b.ctx, strings.NewReader(tc.text))
		require.ErrorIs(t, err, tc.want, "row %d", i)
		require.Equal(t, before, b.snapshot(t), "row %d changed the database", i)
	}

	// A running batch (the worker is applying it) makes a restore wait.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		a, err := tx.AccountByName(b.ctx, "acc")
		if err != nil {
			return err
		}
		if _, err := tx.OpenBatch(b.ctx, a.ID, "Tok"); err != nil {
			return err
		}
		_, err = tx.ClaimBatches(b.ctx, "", 10)
		return err
	}))
	require.ErrorIs(t, b.st.Load(b.ctx, strings.NewReader(dump.String())), ErrBusy)

	require.ErrorIs(t, b.st.RestoreFrom(b.ctx, filepath.Join(t.TempDir(), "missing")), os.ErrNotExist)
}
