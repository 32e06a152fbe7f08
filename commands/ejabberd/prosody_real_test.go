package ejabberd_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// prosodyReal is a data directory written by a real Prosody 0.12.3
// (Debian's package, its packaged module set); regen.sh beside it makes it
// again, people.py says what its users did.
const prosodyReal = "../../testdata/migrate/prosody-0.12/data"

// prosodyPasswords are the fixture users' passwords (regen.sh's).
var prosodyPasswords = map[string]string{
	"alice@pr.example": "alice pässword",
	"bob@pr.example":   "bob<&>'\"pw",
	"carol@pr.example": "carolpw",
	"dave@pr.example":  "пароль dave",
}

// TestImportProsodyReal imports the real Prosody data directory: every
// user logs in with the old password with go-xmpp by SCRAM-SHA-1, by PLAIN
// and by the strongest mechanism offered (Prosody's hashed store has SHA-1
// keys only), and rosters, vCards (kept by Prosody in PEP as vCard 4) and
// offline messages read back through the API as Prosody's users left them.
func TestImportProsodyReal(t *testing.T) {
	t.Parallel()
	b := freshServer(t, []string{"pr.example"}, true)
	copyTree(t, prosodyReal, filepath.Join(b.Env.DataDir, commands.TransferDir, "prosody-real"))
	require.Equal(t, "0", b.ok("POST /api/import_prosody\nAs: root\n\n"+`{"dir":"prosody-real"}`))

	call := func(cmd, user, extra string) string {
		return b.ok("POST /api/" + cmd + "\nAs: root\n\n" + `{"user":"` + user + `","host":"pr.example"` + extra + `}`)
	}
	for _, c := range []struct {
		user, roster string
		offline      int
	}{
		{"alice", `bob@pr.example "Bobby" both [Friends Work]; carol@pr.example "" to []`, 0},
		{"bob", `alice@pr.example "" both []`, 2},
		{"carol", `alice@pr.example "" from []; dave@pr.example "" none [Solo]`, 0},
		{"dave", `alice@pr.example "" none []`, 1},
	} {
		require.Equal(t, c.roster, rosterSummary(t, call("get_roster", c.user, "")), c.user)
		require.Equal(t, fmt.Sprintf(`{"value":%d}`, c.offline), call("get_offline_count", c.user, ""), c.user)
	}
	// The states get_roster does not show: dave's request waits on alice's
	// side, dave's own item still asks.
	require.Contains(t, b.userData("alice@pr.example"), "roster dave@pr.example name=\"\" subscription=none groups=[] pending_in invisible")
	require.Contains(t, b.userData("dave@pr.example"), "roster alice@pr.example name=\"\" subscription=none groups=[] ask")

	for _, v := range []struct{ user, args, want string }{
		{"alice", `,"name":"FN"`, "Alice Ä. Liddell"},
		{"alice", `,"name":"NICKNAME"`, "ally"},
		{"alice", `,"name":"NOTE"`, "Curiouser & curiouser"},
		{"alice", `,"name":"BDAY"`, "1852-05-04"},
		{"bob", `,"name":"FN"`, "Bob <the builder>"},
		{"bob", `,"name":"TITLE"`, "Builder"},
		{"bob", `,"name":"JABBERID"`, "bob@pr.example"},
	} {
		require.Equal(t, jsonContent(v.want), call("get_vcard", v.user, v.args), v.user+v.args)
	}
	for _, v := range []struct{ user, args, want string }{
		{"alice", `,"name":"N","subname":"GIVEN"`, "Alice"},
		{"alice", `,"name":"N","subname":"FAMILY"`, "Liddell"},
		{"alice", `,"name":"EMAIL","subname":"USERID"`, "alice@pr.example"},
		{"alice", `,"name":"PHOTO","subname":"TYPE"`, "image/png"},
		{"alice", `,"name":"PHOTO","subname":"BINVAL"`, "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="},
		{"bob", `,"name":"TEL","subname":"NUMBER"`, "+1 555 0100"},
		{"bob", `,"name":"EMAIL","subname":"USERID"`, "bob@home.example"},
		{"bob", `,"name":"ADR","subname":"STREET"`, "1 Builder Rd"},
		{"bob", `,"name":"ADR","subname":"CTRY"`, "UK"},
		{"bob", `,"name":"ORG","subname":"ORGNAME"`, "Fix-It Ltd"},
	} {
		require.Equal(t, jsonContent(v.want), call("get_vcard2", v.user, v.args), v.user+v.args)
	}
	// What get_vcard2 cannot show: the kinds (HOME, WORK) came along.
	require.Contains(t, b.userData("bob@pr.example"), `<TEL><NUMBER>+1 555 0100</NUMBER><WORK/></TEL>`)
	require.Contains(t, b.userData("bob@pr.example"), `<EMAIL><USERID>bob@home.example</USERID><INTERNET/><HOME/></EMAIL>`)
	require.Contains(t, b.userData("bob@pr.example"), `<ADR><STREET>1 Builder Rd</STREET><LOCALITY>Bobton</LOCALITY><CTRY>UK</CTRY><HOME/></ADR>`)

	// The offline messages keep sender, body and Prosody's time.
	bob := b.userData("bob@pr.example")
	require.Contains(t, bob, "offline alice@pr.example/fixture ")
	require.Contains(t, bob, "<body>second &lt;&amp;&gt; one</body>")
	require.Contains(t, b.userData("dave@pr.example"), "<body>hi dave</body>")

	// The persistent room, in the MUC service of pr.example, configured,
	// with its subject and affiliations; the temporary one was not kept.
	room := func(cmd string) string {
		return b.ok("POST /api/" + cmd + "\nAs: root\n\n" + `{"name":"lounge","service":"conference.pr.example"}`)
	}
	var opts map[string]string
	require.NoError(t, json.Unmarshal([]byte(room("get_room_options")), &opts))
	for k, v := range map[string]string{"title": "The Lounge", "description": "Tea & talk", "persistent": "true",
		"members_only": "true", "public": "true", "lang": "en", "anonymous": "true"} {
		require.Equal(t, v, opts[k], k)
	}
	require.Equal(t, `[{"username":"alice","domain":"pr.example","affiliation":"owner","reason":""},`+
		`{"username":"bob","domain":"pr.example","affiliation":"member","reason":""},`+
		`{"username":"dave","domain":"pr.example","affiliation":"outcast","reason":""}]`, room("get_room_affiliations"))
	require.Equal(t, `["lounge@conference.pr.example"]`, b.ok("POST /api/muc_online_rooms\nAs: root\n\n"+`{"service":"conference.pr.example"}`))
	// A second import of the same directory is refused as a whole.
	status, _, body := b.send("POST /api/import_prosody\nAs: root\n\n" + `{"dir":"prosody-real"}`)
	require.NotEqual(t, 200, status, body)
	require.Contains(t, body, "exists")

	// Last, as a login takes the offline messages.
	for jid, pw := range prosodyPasswords {
		// "": the strongest mechanism offered, SCRAM-SHA-1 while the domain
		// has users without SHA-256 keys (each PLAIN login adds them).
		for _, mech := range []string{"", "SCRAM-SHA-1", "PLAIN", ""} {
			goxmpptest.Login(t, b.XMPPAddr, jid, pw, goxmpptest.Resource("r"), goxmpptest.Mechanism(mech)).Logout(t)
			_, err := goxmpptest.Dial(b.XMPPAddr, jid, pw+"x", goxmpptest.Resource("r"), goxmpptest.Mechanism(mech))
			require.Error(t, err, "%s %s with a wrong password", jid, mech)
		}
	}
}

// rosterSummary is get_roster's answer as `jid "nick" subscription
// [groups]` per contact (the ask field is another test's business), in
// either API version's shape.
func rosterSummary(t *testing.T, body string) string {
	t.Helper()
	var rows []struct {
		JID, Nick, Subscription, Group string
		Groups                         []string
	}
	require.NoError(t, json.Unmarshal([]byte(body), &rows), body)
	groups := map[string][]string{}
	var order []string
	line := map[string]string{}
	for _, r := range rows {
		if _, seen := line[r.JID]; !seen {
			order = append(order, r.JID)
		}
		line[r.JID] = fmt.Sprintf("%s %q %s", r.JID, r.Nick, r.Subscription)
		if r.Group != "" {
			groups[r.JID] = append(groups[r.JID], r.Group)
		}
		groups[r.JID] = append(groups[r.JID], r.Groups...)
	}
	var out []string
	for _, j := range order {
		sort.Strings(groups[j])
		out = append(out, fmt.Sprintf("%s [%s]", line[j], strings.Join(groups[j], " ")))
	}
	return strings.Join(out, "; ")
}

// jsonContent is {"content": s} as the API writes it (no HTML escaping).
func jsonContent(s string) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]string{"content": s})
	return strings.TrimSuffix(b.String(), "\n")
}
