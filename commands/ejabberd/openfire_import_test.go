package ejabberd_test

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// openfireFixture is an export in the format of Openfire's User
// Import/Export plugin, written by hand (see its comment).
const openfireFixture = "../../testdata/migrate/openfire/users.xml"

// TestImportOpenfire imports the Openfire fixture into of.example (moving
// roster items of Openfire's old domain there) and checks what came over:
// users with plaintext passwords log in with go-xmpp by SCRAM-SHA-256,
// SCRAM-SHA-1 and PLAIN; kim, whose Openfire kept only SCRAM-SHA-1 keys,
// by SCRAM-SHA-1 and PLAIN; names, emails, rosters with groups and
// subscription states, and Openfire's groups as shared roster groups
// that show in their members' rosters over XMPP.
func TestImportOpenfire(t *testing.T) {
	t.Parallel()
	b := freshServer(t, []string{"of.example"}, true)
	dir := filepath.Join(b.Env.DataDir, commands.TransferDir, "openfire")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	src, err := os.ReadFile(openfireFixture)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "users.xml"), src, 0o600))
	require.Equal(t, "0", b.ok("POST /api/import_openfire\nAs: root\n\n"+`{"file":"openfire/users.xml","host":"of.example","old_domain":"openfire.old"}`))

	require.Equal(t, `active
  roster ext@elsewhere.example name="" subscription=none groups=["Work"] ask
  roster kim@of.example name="Kim" subscription=to groups=[]
  roster sally@of.example name="Sally" subscription=both groups=["Friends" "Work"]`, b.userData("joe@of.example"))
	require.Equal(t, `active
  roster joe@of.example name="" subscription=both groups=[]
  roster pat@of.example name="" subscription=none groups=[] pending_in`, b.userData("sally@of.example"))
	require.Equal(t, `active
  roster joe@of.example name="" subscription=from groups=[]`, b.userData("kim@of.example"))
	for _, u := range []struct{ name, fullName, email string }{{"joe", "Joe Average", "joe@example.com"}, {"sally", "Sally Ö", ""}, {"kim", "Kim", "kim@example.com"}} {
		got, err := b.Store.UserByJID(b.Ctx, "of.example", u.name)
		require.NoError(t, err)
		require.Equal(t, []string{u.fullName, u.email}, []string{got.Name, got.Email}, u.name)
	}
	members := func(group string) string {
		return b.ok("POST /api/srg_get_members\nAs: root\n\n" + `{"group":"` + group + `","host":"of.example"}`)
	}
	require.Equal(t, `["joe@of.example","kim@of.example"]`, members("Engineering"))
	require.Equal(t, `["sally@of.example"]`, members("Everyone"))
	require.Equal(t, `["pat@of.example"]`, members("Hidden"))
	// A file of groups alone (the users came earlier) makes the groups.
	require.NoError(t, os.WriteFile(filepath.Join(dir, "groups.xml"),
		[]byte(`<Openfire><Group><Name>Late</Name><Member>joe@of.example</Member><Member>pat</Member></Group></Openfire>`), 0o600))
	require.Equal(t, "0", b.ok("POST /api/import_openfire\nAs: root\n\n"+`{"file":"openfire/groups.xml","host":"of.example"}`))
	require.Equal(t, `["joe@of.example","pat@of.example"]`, members("Late"))

	for _, u := range []struct {
		jid, pw string
		mechs   []string
	}{
		{"joe@of.example", "joepwd", []string{"", "SCRAM-SHA-1", "PLAIN"}},
		{"sally@of.example", "s3cr&t <pw>", []string{"", "SCRAM-SHA-1", "PLAIN"}},
		{"pat@of.example", "patpw", []string{"", "SCRAM-SHA-1", "PLAIN"}},
		// Only SCRAM-SHA-1 keys: SCRAM-SHA-1 and PLAIN; a client picking
		// the strongest gets SCRAM-SHA-1 (of.example offers no
		// SCRAM-SHA-256 while kim has no SHA-256 keys), and after her PLAIN
		// login, which adds them, SCRAM-SHA-256.
		{"kim@of.example", "kim-hashed-pw", []string{"", "SCRAM-SHA-1", "PLAIN", "", "SCRAM-SHA-256"}},
	} {
		for _, m := range u.mechs {
			goxmpptest.Login(t, b.XMPPAddr, u.jid, u.pw, goxmpptest.Resource("r"), goxmpptest.Mechanism(m)).Logout(t)
		}
	}
	// The plugin's stand-in password (the username) does not open kim's account.
	_, err = goxmpptest.Dial(b.XMPPAddr, "kim@of.example", "kim", goxmpptest.Resource("r"), goxmpptest.Mechanism("PLAIN"))
	require.Error(t, err)

	// Over XMPP, kim's roster holds joe by the Engineering group
	// (onlyGroup) and sally by Everyone (everybody); pat is in nobody's. A
	// shared group shows as a mutual subscription (over kim's own "from").
	c := goxmpptest.Login(t, b.XMPPAddr, "kim@of.example", "kim-hashed-pw", goxmpptest.Resource("r"), goxmpptest.Mechanism("SCRAM-SHA-1"))
	defer c.Logout(t)
	r, err := parseRoster(c.FetchRoster(t))
	require.NoError(t, err)
	var got []string
	for _, it := range r.Query.Items {
		got = append(got, it.JID+" "+it.Subscription+" ["+strings.Join(it.Groups, ",")+"]")
	}
	require.ElementsMatch(t, []string{"joe@of.example both [Engineering]", "sally@of.example both [Everyone]"}, got)
}

// TestImportOpenfireRefused: a broken or unsafe file is refused as a whole
// with the user (or group) and the field named, and nothing is imported.
func TestImportOpenfireRefused(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(openfireFixture)
	require.NoError(t, err)
	fixture := string(src)
	for _, c := range []struct {
		name, old, new, body, want string
	}{
		{name: "the plugin's stand-in password without keys",
			old: fixture[strings.Index(fixture, "<StoredKey>") : strings.Index(fixture, "</IterationCount>")+len("</IterationCount>")], new: "",
			want: "user kim@of.example: the Password is the username, which the User Import/Export plugin writes when Openfire keeps only hashed passwords"},
		{name: "a substatus out of range", old: `substatus="3" name="Sally"`, new: `substatus="9" name="Sally"`,
			want: `user \"joe\": Roster Item sally@openfire.old: substatus \"9\" is not -1, 0, 1, 2 or 3; nothing was imported`},
		{name: "a key that is not base64", old: "<ServerKey>N98ymKpyU90Meej+SBUQROgOL+Y=</ServerKey>", new: "<ServerKey>*</ServerKey>",
			want: `user \"kim\": ServerKey is not base64`},
		{name: "keys of the wrong size", old: "<ServerKey>N98ymKpyU90Meej+SBUQROgOL+Y=</ServerKey>", new: "<ServerKey>AAAA</ServerKey>",
			want: "user kim@of.example: SCRAM-SHA-1 server-key is 3 bytes, not 20; nothing was imported"},
		{name: "a group member nobody knows", old: "<Member>pat</Member>", new: "<Member>nobody</Member>",
			want: `group \"Hidden\": member nobody@of.example is neither in the file nor a user; nothing was imported`},
		{name: "an unknown showInRoster", old: "<ShowInRoster>nobody</ShowInRoster>", new: "<ShowInRoster>some</ShowInRoster>",
			want: `group \"Hidden\": ShowInRoster \"some\" is not nobody, onlyGroup or everybody`},
		{name: "not the Openfire format", old: "<Openfire>", new: "<server-data>",
			want: "not an Openfire user export"},
		{name: "a host of another account", body: `{"file":"users.xml","host":"a.example"}`,
			want: `"Unknown virtual host"`}, // ejabberd's words for ReasonUnknownDomain
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			b, as, dir := freshServer(t, []string{"of.example"}, false), "root", ""
			if c.body != "" {
				// An account (not the operator) naming a domain it does not own.
				b, as, dir = setup(t, false), "other", strconv.FormatInt(b.Accs["other"], 10)
			}
			text := fixture
			if c.old != "" {
				require.Contains(t, text, c.old)
				text = strings.Replace(text, c.old, c.new, 1)
			}
			dir = filepath.Join(b.Env.DataDir, commands.TransferDir, dir)
			require.NoError(t, os.MkdirAll(dir, 0o700))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "users.xml"), []byte(text), 0o600))
			body := c.body
			if body == "" {
				body = `{"file":"users.xml","host":"of.example","old_domain":"openfire.old"}`
			}
			before := b.state()
			status, _, got := b.send("POST /api/import_openfire\nAs: " + as + "\n\n" + body)
			require.Equal(t, 400, status, got)
			require.Contains(t, got, c.want)
			require.Equal(t, before, b.state(), "nothing was imported")
		})
	}
}
