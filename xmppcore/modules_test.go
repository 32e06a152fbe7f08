package xmppcore_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
)

var allFeatures = []string{
	"http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items", "urn:xmpp:ping",
	"urn:xmpp:time", "jabber:iq:version", "jabber:iq:last", "vcard-temp", "urn:xmpp:blocking",
	"jabber:iq:private", "msgoffline", "jabber:iq:privacy", "http://jabber.org/protocol/commands", "urn:xmpp:extdisco:2", "urn:xmpp:carbons:2",
}

func features(q goxmpp.IQ) []string {
	var out []string
	for _, part := range strings.Split(string(q.Query), `var="`)[1:] {
		out = append(out, part[:strings.IndexByte(part, '"')])
	}
	return out
}

func TestModules(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	alice := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "r"})
	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r"})
	aj, bj := "alice@"+domain, "bob@"+domain

	q := alice.Ask(t, "d1", "get", domain, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	require.Equal(t, "result", q.Type)
	require.ElementsMatch(t, allFeatures, features(q))
	require.Contains(t, string(q.Query), `category="server"`)

	tests := []struct {
		name, typ, to, body, want, contains string
	}{
		0:  {"version", "get", domain, "<query xmlns='jabber:iq:version'/>", "result", "xmppgate"},
		1:  {"time", "get", domain, "<time xmlns='urn:xmpp:time'/>", "result", "<utc>"},
		2:  {"uptime", "get", domain, "<query xmlns='jabber:iq:last'/>", "result", `seconds="`},
		3:  {"ping self", "get", "", "<ping xmlns='urn:xmpp:ping'/>", "result", ""},
		4:  {"vcard set", "set", "", "<vCard xmlns='vcard-temp'><FN>Alice A.</FN></vCard>", "result", ""},
		5:  {"vcard get", "get", "", "<vCard xmlns='vcard-temp'/>", "result", "Alice A."},
		6:  {"private set", "set", "", "<query xmlns='jabber:iq:private'><prefs xmlns='my:prefs'><x>42</x></prefs></query>", "result", ""},
		7:  {"private get", "get", "", "<query xmlns='jabber:iq:private'><prefs xmlns='my:prefs'/></query>", "result", ">42<"},
		8:  {"private reserved", "set", "", "<query xmlns='jabber:iq:private'><q xmlns='jabber:iq:roster'/></query>", "error", ""},
		9:  {"unknown payload", "get", domain, "<query xmlns='urn:example:nothing'/>", "error", ""},
		10: {"last of a stranger", "get", bj, "<query xmlns='jabber:iq:last'/>", "error", ""},
		11: {"iq to missing resource", "get", bj + "/nope", "<ping xmlns='urn:xmpp:ping'/>", "error", ""},
		12: {"bind again", "set", "", "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>", "error", ""},
	}
	for i, tt := range tests {
		q := alice.Ask(t, tt.name, tt.typ, tt.to, tt.body)
		require.Equal(t, tt.want, q.Type, "row %d %s: %s", i, tt.name, q.Query)
		require.Contains(t, string(q.Query), tt.contains, "row %d %s", i, tt.name)
	}
	// bob reads alice's vCard
	q = bob.Ask(t, "v", "get", aj, "<vCard xmlns='vcard-temp'/>")
	require.Equal(t, "result", q.Type)
	require.Contains(t, string(q.Query), "Alice A.")
	// an IQ to a full JID is routed to that session, and its answer back
	_, err := bob.RawInformation(bob.JID(), aj+"/r", "routed", "get", "<query xmlns='urn:example:app'/>")
	require.NoError(t, err)
	in := alice.Expect(t, "routed iq", goxmpptest.IQ("routed", "get", "urn:example:app")).(goxmpp.IQ)
	require.Equal(t, bj+"/r", in.From)

	// blocking command: bob's messages no longer reach alice
	q = alice.Ask(t, "blk", "set", "", "<block xmlns='urn:xmpp:blocking'><item jid='"+bj+"'/></block>")
	require.Equal(t, "result", q.Type)
	bob.Expect(t, "alice appears offline", goxmpptest.Presence(aj+"/r", "unavailable"))
	q = alice.Ask(t, "bl", "get", "", "<blocklist xmlns='urn:xmpp:blocking'/>")
	require.Contains(t, string(q.Query), bj)
	_, err = bob.Send(goxmpp.Chat{Remote: aj, Type: "chat", Text: "blocked?"})
	require.NoError(t, err)
	bob.Expect(t, "bounce", func(st any) bool { m, ok := st.(goxmpp.Chat); return ok && m.Type == "error" })
	q = alice.Ask(t, "ublk", "set", "", "<unblock xmlns='urn:xmpp:blocking'/>")
	require.Equal(t, "result", q.Type)
	_, err = bob.Send(goxmpp.Chat{Remote: aj, Type: "chat", Text: "unblocked"})
	require.NoError(t, err)
	alice.Expect(t, "message after unblock", goxmpptest.Chat(bj, "unblocked"))

	// switching modules off per domain takes effect without restart
	b.setModules(t, map[string]bool{"modPing": false, "modVcard": false, "modTime": true})
	q = alice.Ask(t, "d2", "get", domain, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	got := features(q)
	require.NotContains(t, got, "urn:xmpp:ping")
	require.NotContains(t, got, "vcard-temp")
	require.Contains(t, got, "urn:xmpp:time")
	require.Len(t, got, len(allFeatures)-2)
	q = alice.Ask(t, "p2", "get", domain, "<ping xmlns='urn:xmpp:ping'/>")
	require.Equal(t, "error", q.Type, "%+v", q)
	require.Equal(t, "error", alice.Ask(t, "v2", "get", "", "<vCard xmlns='vcard-temp'/>").Type)
	b.setModules(t, map[string]bool{"modDisco": false})
	require.Equal(t, "error", alice.Ask(t, "d3", "get", domain, "<query xmlns='http://jabber.org/protocol/disco#info'/>").Type)
	require.Equal(t, "result", alice.Ask(t, "p3", "get", domain, "<ping xmlns='urn:xmpp:ping'/>").Type)
}
