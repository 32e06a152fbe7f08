package ejabberd_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// TestEjabberdStanzasLive proves the stanza and presence commands with an
// independent client (go-xmpp) on a real XMPP server: send_message and
// send_stanza reach a connected client, send_stanza_c2s writes to a
// session's client, set_presence changes what a subscribed contact sees,
// and get_presence and status_list report it.
func TestEjabberdStanzasLive(t *testing.T) {
	t.Parallel()
	b := setupServer(t)
	for _, u := range []string{"carol", "dave"} {
		b.register(u+"@a.example", u+"pw")
	}
	// dave is subscribed to carol's presence: carol's roster has dave (from/both).
	b.ok("POST /api/add_rosteritem\nAs: acme\n\n" + `{"localuser":"carol","localhost":"a.example","user":"dave","host":"a.example","nick":"Dave","group":"","subs":"both"}`)
	b.ok("POST /api/add_rosteritem\nAs: acme\n\n" + `{"localuser":"dave","localhost":"a.example","user":"carol","host":"a.example","nick":"Carol","group":"","subs":"both"}`)
	dave := goxmpptest.Login(t, b.XMPPAddr, "dave@a.example", "davepw", goxmpptest.Resource("phone"))
	_, err := dave.SendPresence(goxmpp.Presence{})
	require.NoError(t, err)
	carol := goxmpptest.Login(t, b.XMPPAddr, "carol@a.example", "carolpw", goxmpptest.Resource("r1"))
	_, err = carol.SendPresence(goxmpp.Presence{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return b.ok("POST /api/status_num\nAs: acme\n\n"+`{"status":"available"}`) == `{"users":2}`
	}, 5*time.Second, 20*time.Millisecond)

	// send_message reaches carol.
	require.Equal(t, "0", b.ok("POST /api/send_message\nAs: acme\n\n"+
		`{"type":"chat","from":"admin@a.example","to":"carol@a.example","subject":"Hi","body":"Hello Carol"}`))
	m := carol.Expect(t, "send_message's chat", goxmpptest.Chat("", "Hello Carol")).(goxmpp.Chat)
	require.Equal(t, "admin@a.example", m.Remote)
	require.Equal(t, "chat", m.Type)
	require.Equal(t, "Hi", m.Subject)

	// send_stanza delivers the raw stanza, with its extension, from the given JID.
	require.Equal(t, "0", b.ok("POST /api/send_stanza\nAs: acme\n\n"+
		`{"from":"admin@a.example/bot","to":"carol@a.example/r1","stanza":"<message type='normal' from='spoof@b.example'><body>raw</body><ext xmlns='urn:example' attr='value'/></message>"}`))
	m = carol.Expect(t, "send_stanza's message", goxmpptest.Chat("", "raw")).(goxmpp.Chat)
	require.Equal(t, "admin@a.example/bot", m.Remote)
	require.Len(t, m.OtherElem, 2, "the extension, and the stanza-id of carol's archive (XEP-0359)")
	require.Equal(t, "urn:example", m.OtherElem[0].XMLName.Space)
	require.Equal(t, "ext", m.OtherElem[0].XMLName.Local)
	require.Equal(t, "urn:xmpp:sid:0", m.OtherElem[1].XMLName.Space)

	// send_stanza_c2s writes to carol's client as it is.
	require.Equal(t, "0", b.ok("POST /api/send_stanza_c2s\nAs: acme\n\n"+
		`{"user":"carol","host":"a.example","resource":"r1","stanza":"<message from='a.example' type='headline'><body>to the client</body></message>"}`))
	m = carol.Expect(t, "send_stanza_c2s's message", goxmpptest.Chat("", "to the client")).(goxmpp.Chat)
	require.Equal(t, "a.example", m.Remote)

	// set_presence: dave, subscribed, sees carol's new presence.
	require.Equal(t, "0", b.ok("POST /api/set_presence\nAs: acme\n\n"+
		`{"user":"carol","host":"a.example","resource":"r1","type":"available","show":"dnd","status":"In a meeting","priority":"5"}`))
	p := dave.Expect(t, "carol's dnd presence", func(st any) bool {
		p, ok := st.(goxmpp.Presence)
		return ok && strings.HasPrefix(p.From, "carol@a.example/r1") && p.Show == "dnd"
	}).(goxmpp.Presence)
	require.Equal(t, "In a meeting", p.Status)
	require.Equal(t, `{"jid":"carol@a.example/r1","show":"dnd","status":"In a meeting"}`,
		b.ok("POST /api/get_presence\nAs: acme\n\n"+`{"user":"carol","host":"a.example"}`))
	require.Equal(t, `[{"user":"carol","host":"a.example","resource":"r1","priority":5,"status":"In a meeting"}]`,
		b.ok("POST /api/status_list\nAs: acme\n\n"+`{"status":"dnd"}`))
	require.Equal(t, `[]`, b.ok("POST /api/status_list_host\nAs: acme\n\n"+`{"host":"a2.example","status":"all"}`))
	require.Equal(t, `{"stat":2}`, b.ok("POST /api/stats_host\nAs: acme\n\n"+`{"name":"onlineusers","host":"a.example"}`))
	require.Equal(t, `{"stat":0}`, b.ok("POST /api/stats\nAs: other\n\n"+`{"name":"onlineusers"}`))
	require.Equal(t, `{"stat":2}`, b.ok("POST /api/stats\nAs: operator\n\n"+`{"name":"onlineusersnode"}`))

	// unavailable: dave sees it, and get_presence says so for the session.
	require.Equal(t, "0", b.ok("POST /api/set_presence/v1\nAs: acme\n\n"+
		`{"user":"carol","host":"a.example","resource":"r1","type":"unavailable","show":"","status":"gone","priority":0}`))
	dave.Expect(t, "carol's unavailable presence", func(st any) bool {
		p, ok := st.(goxmpp.Presence)
		return ok && strings.HasPrefix(p.From, "carol@a.example/r1") && p.Type == "unavailable"
	})
	require.Equal(t, `{"jid":"carol@a.example/r1","show":"unavailable","status":""}`,
		b.ok("POST /api/get_presence\nAs: acme\n\n"+`{"user":"carol","host":"a.example"}`))

	// stop_kindly: every session gets the headline from its domain, then the control stops.
	require.Equal(t, "0", b.ok("POST /api/stop_kindly\nAs: operator\n\n"+`{"delay":30,"announcement":"Maintenance"}`))
	for _, c := range []*goxmpptest.Client{carol, dave} {
		m := c.Expect(t, "stop_kindly's announcement", goxmpptest.Chat("", "Maintenance")).(goxmpp.Chat)
		require.Equal(t, "headline", m.Type)
		require.Equal(t, "a.example", m.Remote)
		require.Equal(t, "Server stop in 30 seconds!", m.Subject)
	}
	require.Equal(t, []string{"stop delay=30s restart=false"}, b.ctl.calls)
}
