package ejabberd_test

import (
	"crypto/sha1"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/piefxis"
	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// freshServer is an empty server with one operator account "root" owning
// ops.example (admin@ops.example, As: root) and the given domains, which
// have no users: the target of an import. xmpp as in setup.
func freshServer(t *testing.T, domains []string, xmpp bool) *testBundle {
	t.Helper()
	b := newBundle(t, xmpp)
	acc := b.Account("root", "", true, append([]string{"ops.example"}, domains...)...)
	jid, pw, err := commands.BootstrapAdmin(b.Ctx, b.Env, b.Reg, acc, "ops.example")
	require.NoError(t, err)
	b.creds["root"] = basic(jid, pw)
	return b
}

// userData is what an import must carry over for one user.
func (b *testBundle) userData(jid string) string {
	b.T.Helper()
	local, domain, _ := strings.Cut(jid, "@")
	u, err := b.Store.UserByJID(b.Ctx, domain, local)
	require.NoError(b.T, err)
	out := []string{string(u.Status)}
	out = append(out, rosterState(b, u.ID)...)
	if v, err := b.Store.VCard(b.Ctx, u.ID); err == nil {
		out = append(out, "vcard "+string(v))
	}
	ps, err := b.Store.PrivateItems(b.Ctx, u.ID)
	require.NoError(b.T, err)
	for _, p := range ps {
		out = append(out, "private "+string(p.Data))
	}
	ms, err := b.Store.OfflineMessages(b.Ctx, u.ID)
	require.NoError(b.T, err)
	for _, m := range ms {
		out = append(out, "offline "+m.Sender+" "+m.Created.Format(time.RFC3339)+" "+string(m.Stanza))
	}
	return strings.Join(out, "\n")
}

// TestPiefxisRoundTrip is the must-show: users, passwords,
// rosters, vCards (and private storage, offline messages, subscription
// requests) survive export_piefxis on one server and import_piefxis on a
// fresh one, and the users log in there with their passwords, checked
// with the independent go-xmpp client.
func TestPiefxisRoundTrip(t *testing.T) {
	t.Parallel()
	src := setup(t, false)
	src.register("carol@a2.example", "carol pässword")
	src.register("dan@a2.example", "danpw")
	src.ok("POST /api/add_rosteritem\nAs: acme\n\n" + `{"localuser":"carol","localhost":"a2.example","user":"dan","host":"a2.example","nick":"Dan","group":"Friends;Work","subs":"both"}`)
	src.ok("POST /api/add_rosteritem\nAs: acme\n\n" + `{"localuser":"dan","localhost":"a2.example","user":"carol","host":"a2.example","nick":"","group":"","subs":"to"}`)
	carol, err := src.Store.UserByJID(src.Ctx, "a2.example", "carol")
	require.NoError(t, err)
	require.NoError(t, src.Store.Write(src.Ctx, func(tx *store.Tx) error {
		if err := tx.SetVCard(src.Ctx, carol.ID, []byte(`<vCard xmlns="vcard-temp"><FN>Carol &amp; Co</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>iVBORw0KGgo=</BINVAL></PHOTO></vCard>`)); err != nil {
			return err
		}
		if err := tx.SetPrivateXML(src.Ctx, carol.ID, "storage:bookmarks", []byte(`<storage xmlns="storage:bookmarks"><conference jid="r@c.example" name="R"/></storage>`)); err != nil {
			return err
		}
		if _, err := tx.PutRosterItem(src.Ctx, carol.ID, store.RosterItem{Contact: "eve@b.example", PendingIn: true}); err != nil {
			return err
		}
		return tx.ImportOffline(src.Ctx, carol.ID, "dan@a2.example/home", []byte(`<message xmlns="jabber:client" from="dan@a2.example/home" to="carol@a2.example" type="chat"><body>hello</body></message>`),
			time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC))
	}))

	require.Equal(t, "0", src.ok("POST /api/export_piefxis\nAs: acme\n\n"+`{"dir":"out"}`))
	outDir := filepath.Join(src.Env.DataDir, commands.TransferDir, "out")
	names, err := filepath.Glob(filepath.Join(outDir, "*.xml"))
	require.NoError(t, err)
	// The main file and one per domain of the server (acme is the operator).
	require.Len(t, names, 4)
	var main string
	for _, n := range names {
		if !strings.Contains(filepath.Base(n), "_") {
			main = filepath.Base(n)
		}
	}
	require.NotEmpty(t, main)

	dst := freshServer(t, []string{"a.example", "a2.example", "b.example"}, true)
	addr := dst.XMPPAddr
	copyTree(t, outDir, filepath.Join(dst.Env.DataDir, commands.TransferDir, "in"))
	require.Equal(t, "0", dst.ok("POST /api/import_piefxis\nAs: root\n\n"+`{"file":"in/`+main+`"}`))

	for _, jid := range []string{"carol@a2.example", "dan@a2.example", "bob@b.example"} {
		require.Equal(t, src.userData(jid), dst.userData(jid), jid)
	}
	require.Contains(t, dst.userData("carol@a2.example"), "vcard <vCard")
	require.Equal(t, src.ok("POST /api/get_roster\nAs: acme\n\n"+`{"user":"carol","host":"a2.example"}`),
		dst.ok("POST /api/get_roster\nAs: root\n\n"+`{"user":"carol","host":"a2.example"}`))

	// Passwords: each user logs in over XMPP with the password it had, by
	// SCRAM-SHA-256, SCRAM-SHA-1 and PLAIN (the keys of both families came along).
	for _, mech := range []string{"", "SCRAM-SHA-1", "PLAIN"} {
		for _, u := range []struct{ jid, pw string }{{"carol@a2.example", "carol pässword"}, {"dan@a2.example", "danpw"}, {"bob@b.example", "bobpass"}} {
			goxmpptest.Login(t, addr, u.jid, u.pw, goxmpptest.Resource("r"), goxmpptest.Mechanism(mech)).Logout(t)
		}
	}
	_, err = goxmpptest.Dial(addr, "carol@a2.example", "wrong", goxmpptest.Resource("r"))
	require.Error(t, err)
}

// TestImportFixtures imports the hand-written files of testdata/import/
// (as ejabberd 23.01 and Prosody 0.12 write them) and logs their users in:
// the SCRAM-SHA-1-only users with SCRAM-SHA-1 and PLAIN, the SCRAM-SHA-256
// one with PLAIN, the plaintext ones with anything; once PLAIN has
// completed every user's keys, all of them with SCRAM-SHA-256.
func TestImportFixtures(t *testing.T) {
	t.Parallel()
	b := freshServer(t, []string{"a.example", "b.example"}, true)
	addr := b.XMPPAddr
	copyFixture(t, importFixtures, filepath.Join(b.Env.DataDir, commands.TransferDir, "import"))
	require.Equal(t, "0", b.ok("POST /api/import_piefxis\nAs: root\n\n"+`{"file":"import/ejabberd/20240101-120000.xml"}`))
	require.Equal(t, "0", b.ok("POST /api/import_piefxis\nAs: root\n\n"+`{"file":"import/prosody-user/gina@a.example.xml"}`))
	require.Equal(t, "0", b.ok("POST /api/import_prosody\nAs: root\n\n"+`{"dir":"import/prosody"}`))

	require.Equal(t, `active
  roster erin@a.example name="Erin" subscription=both groups=["Friends"]
  roster frank@b.example name="" subscription=none groups=[] pending_in invisible
  roster kim@b.example name="" subscription=none groups=[] ask
vcard <vCard xmlns="vcard-temp"><FN>Dave Example</FN><NICKNAME>dave</NICKNAME></vCard>
private <storage xmlns="storage:bookmarks"><conference name="Team" jid="team@conference.a.example" autojoin="true"/></storage>`, b.userData("dave@a.example"))
	require.Equal(t, `active
  roster dave@a.example name="Dave" subscription=both groups=["Friends"]
offline dave@a.example/phone 2023-12-24T18:00:00Z <message xmlns="jabber:client" from="dave@a.example/phone" to="erin@a.example" type="chat" id="m1"><body>see you</body></message>`, b.userData("erin@a.example"))
	require.Equal(t, `active
  roster frank@b.example name="" subscription=none groups=[] pending_in invisible
  roster ivy@a.example name="Ivy" subscription=both groups=["Friends"]
  roster kim@b.example name="" subscription=none groups=[] ask
vcard <vCard xmlns="vcard-temp"><FN>Hank Jürgens</FN><NICKNAME>hank</NICKNAME></vCard>
private <storage xmlns="storage:bookmarks"><conference autojoin="true" jid="team@conference.a.example" name="Team"/></storage>`, b.userData("hank@a.example"))

	for _, tc := range []struct{ jid, pw, mech string }{
		{"dave@a.example", "davepw", "SCRAM-SHA-1"},
		{"dave@a.example", "davepw", "PLAIN"},
		{"erin@a.example", "erinpw", ""},
		{"gina@a.example", "ginapw", "SCRAM-SHA-1"},
		{"hank@a.example", "hankpw", "SCRAM-SHA-1"},
		{"ivy@a.example", "ivypw", ""},
		{"judy@a.example", "judypw", "PLAIN"},
	} {
		goxmpptest.Login(t, addr, tc.jid, tc.pw, goxmpptest.Resource("r"), goxmpptest.Mechanism(tc.mech)).Logout(t)
	}
	// While a user of a.example has SCRAM-SHA-1 keys alone, the domain
	// does not offer SCRAM-SHA-256 (docs/xmpp.md); their PLAIN logins add
	// the keys, and then it does.
	_, err := goxmpptest.Dial(addr, "judy@a.example", "judypw", goxmpptest.Resource("r"), goxmpptest.Mechanism("SCRAM-SHA-256"))
	require.Error(t, err)
	for _, u := range []string{"gina", "hank"} {
		goxmpptest.Login(t, addr, u+"@a.example", u+"pw", goxmpptest.Resource("r"), goxmpptest.Mechanism("PLAIN")).Logout(t)
	}
	for _, u := range []string{"dave", "gina", "hank", "judy"} {
		goxmpptest.Login(t, addr, u+"@a.example", u+"pw", goxmpptest.Resource("r"), goxmpptest.Mechanism("SCRAM-SHA-256")).Logout(t)
	}

	var users []string
	require.NoError(t, json.Unmarshal([]byte(b.ok("POST /api/registered_users\nAs: root\n\n"+`{"host":"a.example"}`)), &users))
	require.Equal(t, []string{"dave", "erin", "gina", "hank", "ivy", "judy"}, users)
}

// TestRestoreClosesSessions: after a restore no session of the old
// database stays open.
func TestRestoreClosesSessions(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	addr := b.XMPPAddr
	require.Equal(t, `""`, b.ok("POST /api/backup\nAs: acme\n\n"+`{"file":"before.db"}`))
	b.register("carol@a.example", "carolpw")
	c := goxmpptest.Login(t, addr, "carol@a.example", "carolpw", goxmpptest.Resource("r1"))
	require.Equal(t, `""`, b.ok("POST /api/restore\nAs: acme\n\n"+`{"file":"before.db"}`))
	c.Ended(t)
	_, err := goxmpptest.Dial(addr, "carol@a.example", "carolpw", goxmpptest.Resource("r2"))
	require.Error(t, err)
	require.Equal(t, "1", b.ok("POST /api/check_account\nAs: acme\n\n"+`{"user":"carol","host":"a.example"}`))
}

// TestExportLayout: the files land where ejabberd puts them (a main file
// including one file per domain), in the caller's own transfer folder,
// with only the caller's domains; users carry both SCRAM families, SHA-1
// first.
func TestExportLayout(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	require.Equal(t, "0", b.ok("POST /api/export_piefxis\nAs: other\n\n"+`{"dir":"out"}`))
	require.Equal(t, "0", b.ok("POST /api/export_piefxis_host\nAs: acme\n\n"+`{"dir":"one","host":"a.example"}`))
	for _, tc := range []struct {
		dir, host string
		users     []string
	}{
		{filepath.Join(strconv.FormatInt(b.Accs["other"], 10), "out"), "b.example", []string{"admin", "bob"}},
		{"one", "a.example", []string{"admin", "limited", "noperm"}},
	} {
		dir := filepath.Join(b.Env.DataDir, commands.TransferDir, tc.dir)
		names, err := filepath.Glob(filepath.Join(dir, "*.xml"))
		require.NoError(t, err)
		require.Len(t, names, 2, tc.dir)
		main, host := filepath.Base(names[0]), filepath.Base(names[1])
		require.Regexp(t, `^\d{8}-\d{6}\.xml$`, main)
		require.Equal(t, strings.TrimSuffix(main, ".xml")+"_"+strings.ReplaceAll(tc.host, ".", "_")+".xml", host)
		st, err := os.Stat(names[1])
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "the files hold SCRAM keys")

		hs, err := piefxis.ReadFile(names[0], dir)
		require.NoError(t, err)
		require.Len(t, hs, 1)
		require.Equal(t, tc.host, hs[0].JID)
		var got []string
		for _, u := range hs[0].Users {
			got = append(got, u.Name)
			require.Len(t, u.SCRAM, 2)
			require.Equal(t, piefxis.ScramSHA1, u.SCRAM[0].Mechanism)
			require.Equal(t, piefxis.ScramSHA256, u.SCRAM[1].Mechanism)
			require.Empty(t, u.Password)
		}
		require.Equal(t, tc.users, got)
	}
}

// TestImportExistingUserData: a user element without credentials adds its
// data to the existing user, as ejabberd 23.01 does.
func TestImportExistingUserData(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	require.Equal(t, "0", b.ok("POST /api/import_piefxis\nAs: acme\n\n"+`{"file":"import/existing_data.xml"}`))
	require.Equal(t, "active\nvcard <vCard xmlns=\"vcard-temp\"><FN>No Perm</FN></vCard>", b.userData("noperm@a.example"))
	require.Equal(t, "0", b.ok("POST /api/check_password\nAs: acme\n\n"+`{"user":"noperm","host":"a.example","password":"nopermpass"}`))
	require.Equal(t, "0", b.ok("POST /api/check_password\nAs: acme\n\n"+`{"user":"lena","host":"a.example","password":"lenapw"}`))
}

// TestImportedSHA1OnlyUsersDoNotShareAuth: the API's cache of verified
// passwords tells apart two imported users that have SCRAM-SHA-1 keys
// only and the same salt (salts are public: SCRAM shows them to anyone).
func TestImportedSHA1OnlyUsersDoNotShareAuth(t *testing.T) {
	t.Parallel()
	b := freshServer(t, []string{"a.example"}, false)
	salt := []byte("the same salt")
	user := func(name, pw string) piefxis.User {
		st, sv, err := credential.Keys(sha1.New, pw, salt, 4096)
		require.NoError(t, err)
		return piefxis.User{Name: name, SCRAM: []piefxis.SCRAM{{Mechanism: piefxis.ScramSHA1, Salt: salt, Iterations: 4096, StoredKey: st, ServerKey: sv}}}
	}
	dir := filepath.Join(b.Env.DataDir, commands.TransferDir)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	f, err := os.Create(filepath.Join(dir, "two.xml"))
	require.NoError(t, err)
	require.NoError(t, piefxis.WriteHost(f, piefxis.Host{JID: "a.example", Users: []piefxis.User{user("x", "secret-x"), user("y", "secret-y")}}))
	require.NoError(t, f.Close())
	require.Equal(t, "0", b.ok("POST /api/import_piefxis\nAs: root\n\n"+`{"file":"two.xml"}`))

	b.creds["x"] = basic("x@a.example", "secret-x")
	b.creds["y with x's password"] = basic("y@a.example", "secret-x")
	status, _, _ := b.send("POST /api/status\nAs: x\n\n{}")
	require.Equal(t, 403, status, "x's password is right (x has no API permission)")
	status, _, _ = b.send("POST /api/status\nAs: y with x's password\n\n{}")
	require.Equal(t, 401, status)
}
