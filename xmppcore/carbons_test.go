package xmppcore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
)

const nsCarbons = "urn:xmpp:carbons:2"

// carbon matches a XEP-0280 copy of kind (sent or received) from the
// user's bare JID whose forwarded message holds text.
func carbon(bare, kind, text string) func(any) bool {
	return func(st any) bool {
		m, ok := st.(goxmpp.Chat)
		if !ok || m.Remote != bare || len(m.OtherElem) != 1 {
			return false
		}
		e := m.OtherElem[0]
		return e.XMLName.Space == nsCarbons && e.XMLName.Local == kind &&
			strings.Contains(e.InnerXML, "urn:xmpp:forward:0") && strings.Contains(e.InnerXML, "<body>"+text+"</body>")
	}
}

// anyCarbon matches any carbon whose forwarded message holds text.
func anyCarbon(text string) func(any) bool {
	return func(st any) bool {
		m, ok := st.(goxmpp.Chat)
		return ok && len(m.OtherElem) > 0 && m.OtherElem[0].XMLName.Space == nsCarbons &&
			strings.Contains(m.OtherElem[0].InnerXML, text)
	}
}

// expectOnly waits for the stanza want accepts and fails t if one that
// forbid accepts arrives before it.
func expectOnly(t *testing.T, c *goxmpptest.Client, what string, want, forbid func(any) bool) {
	t.Helper()
	c.Expect(t, what, func(st any) bool {
		if forbid(st) {
			t.Errorf("before %s: unexpected %+v", what, st)
		}
		return want(st)
	})
}

// TestCarbons drives XEP-0280 with go-xmpp: alice has three resources, two
// of which enable carbons; bob talks to her.
func TestCarbons(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	aj, bj := "alice@"+domain, "bob@"+domain
	phone := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "phone"})
	laptop := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "laptop"})
	plain := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "plain"}) // never enables carbons
	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r"})

	q := phone.Ask(t, "d1", "get", domain, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	require.Contains(t, features(q), nsCarbons)
	for _, c := range []*goxmpptest.Client{phone, laptop} {
		require.Equal(t, "result", c.Ask(t, "en", "set", "", "<enable xmlns='urn:xmpp:carbons:2'/>").Type)
	}
	require.Equal(t, "result", phone.Ask(t, "en2", "set", "", "<enable xmlns='urn:xmpp:carbons:2'/>").Type, "enable twice")
	require.Equal(t, "error", phone.Ask(t, "en3", "get", "", "<enable xmlns='urn:xmpp:carbons:2'/>").Type, "enable is a set")

	chat := func(from *goxmpptest.Client, to, text, extra string) {
		t.Helper()
		_, err := from.SendOrg("<message to='" + to + "' type='chat' id='" + text + "'><body>" + text + "</body>" + extra + "</message>")
		require.NoError(t, err)
	}

	// received: bob writes to the phone; the laptop gets a copy, the phone
	// only the message itself.
	chat(bob, aj+"/phone", "hi-phone", "")
	phone.Expect(t, "the message", goxmpptest.Chat(bj+"/r", "hi-phone"))
	laptop.Expect(t, "a received carbon", carbon(aj, "received", "hi-phone"))

	// sent: the phone answers; the laptop gets a sent copy, bob the message.
	chat(phone, bj, "re-phone", "")
	bob.Expect(t, "the answer", goxmpptest.Chat(aj+"/phone", "re-phone"))
	laptop.Expect(t, "a sent carbon", carbon(aj, "sent", "re-phone"))

	// private (XEP-0280 7) and no-copy (XEP-0334) are not copied. Each
	// sender then sends a copied message: a session's stanzas arrive in
	// order, so a wrong copy would arrive before its copy.
	chat(phone, bj, "private-1", "<private xmlns='urn:xmpp:carbons:2'/>")
	chat(phone, bj, "private-2", "<no-copy xmlns='urn:xmpp:hints'/>")
	chat(phone, bj, "mark-sent", "")
	expectOnly(t, laptop, "sent mark", carbon(aj, "sent", "mark-sent"), anyCarbon("private-"))
	chat(bob, aj+"/phone", "private-3", "<private xmlns='urn:xmpp:hints'/>")
	chat(bob, aj+"/phone", "mark-received", "")
	expectOnly(t, laptop, "received mark", carbon(aj, "received", "mark-received"), anyCarbon("private-"))
	expectOnly(t, phone, "mark-received", goxmpptest.Chat(bj+"/r", "mark-received"), anyCarbon(""))
	bob.Expect(t, "private-2", goxmpptest.Chat(aj+"/phone", "private-2"))

	// to the bare JID: every resource gets it (equal priorities), so there
	// is nobody left to copy it to.
	chat(bob, aj, "to-all", "")
	chat(bob, aj+"/plain", "to-plain", "")
	expectOnly(t, laptop, "to-plain", carbon(aj, "received", "to-plain"), anyCarbon("to-all"))
	expectOnly(t, phone, "to-plain", carbon(aj, "received", "to-plain"), anyCarbon("to-all"))
	plain.Expect(t, "to-all", goxmpptest.Chat(bj+"/r", "to-all"))

	// disable: the laptop no longer gets copies; the phone still does.
	require.Equal(t, "result", laptop.Ask(t, "dis", "set", "", "<disable xmlns='urn:xmpp:carbons:2'/>").Type)
	chat(bob, aj+"/plain", "after-disable", "")
	chat(bob, aj+"/laptop", "mark-laptop", "")
	phone.Expect(t, "a received carbon of after-disable", carbon(aj, "received", "after-disable"))
	expectOnly(t, laptop, "mark-laptop", goxmpptest.Chat(bj+"/r", "mark-laptop"), anyCarbon(""))
	// bob never enabled carbons; neither did plain.
	chat(phone, bj, "last", "")
	bob.Expect(t, "last", goxmpptest.Chat(aj+"/phone", "last"))
	plain.ExpectNone(t, "any carbon without enabling", 200*time.Millisecond, anyCarbon(""))
	bob.ExpectNone(t, "any carbon without enabling", 100*time.Millisecond, anyCarbon(""))

	// module off, live: no feature, enable refused, no copies even for a
	// session that had enabled them.
	b.setModules(t, map[string]bool{"modCarbons": false})
	q = phone.Ask(t, "d2", "get", domain, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	require.NotContains(t, features(q), nsCarbons)
	q = laptop.Ask(t, "en4", "set", "", "<enable xmlns='urn:xmpp:carbons:2'/>")
	require.Equal(t, "error", q.Type)
	chat(bob, aj+"/plain", "module-off", "")
	plain.Expect(t, "module-off", goxmpptest.Chat(bj+"/r", "module-off"))
	phone.ExpectNone(t, "a carbon with the module off", 300*time.Millisecond, anyCarbon("module-off"))
}

// TestCarbonsOff checks what a client sees on a domain whose carbons are
// off from the start: no feature, and <enable/> refused as an unsupported
// IQ (service-unavailable, RFC 6120 8.4).
func TestCarbonsOff(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.setModules(t, map[string]bool{"modCarbons": false})
	c := goxmpptest.Login(t, b.c2s, "alice@"+domain, "pw-a", goxmpptest.Resource("r"), goxmpptest.Transcript())
	q := c.Ask(t, "d", "get", domain, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	require.Equal(t, "result", q.Type)
	require.NotContains(t, features(q), nsCarbons)
	require.Equal(t, "error", c.Ask(t, "en", "set", "", "<enable xmlns='urn:xmpp:carbons:2'/>").Type)
	require.Regexp(t, `(?s)id=['"]en['"].*<service-unavailable xmlns=['"]urn:ietf:params:xml:ns:xmpp-stanzas['"]`, c.Transcript())
}
