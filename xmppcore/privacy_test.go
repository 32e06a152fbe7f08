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

const nsPrivacy = "jabber:iq:privacy"

// privacyAsk sends a jabber:iq:privacy request to the user's own account
// and returns the raw answer.
func privacyAsk(t *testing.T, c *goxmpptest.Client, id, typ, inner string) string {
	t.Helper()
	c.Ask(t, id, typ, "", "<query xmlns='"+nsPrivacy+"'>"+inner+"</query>")
	return iqAnswer(t, c, id)
}

// iqAnswer is the answer to the IQ id as c's transcript has it.
func iqAnswer(t *testing.T, c *goxmpptest.Client, id string) string {
	t.Helper()
	lines := strings.Split(c.Transcript(), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		l := strings.TrimSpace(lines[i])
		if strings.HasPrefix(l, "RECV: <iq ") && strings.Contains(l, ` id="`+id+`"`) {
			return strings.TrimPrefix(l, "RECV: ")
		}
	}
	require.FailNow(t, "no answer to "+id, c.Transcript())
	return ""
}

func condition(t *testing.T, answer string) string {
	t.Helper()
	for _, cond := range []string{"bad-request", "item-not-found", "conflict", "service-unavailable", "not-acceptable"} {
		if strings.Contains(answer, "<"+cond+" ") {
			return cond
		}
	}
	if strings.HasPrefix(answer, `<iq type="result"`) {
		return "result"
	}
	return answer
}

// TestPrivacyProtocol drives XEP-0016's requests with go-xmpp and checks
// the answers byte for byte where they carry lists.
func TestPrivacyProtocol(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	alice := goxmpptest.Login(t, b.c2s, "alice@"+domain, "pw-a", goxmpptest.Resource("r"), goxmpptest.Transcript())
	other := goxmpptest.Login(t, b.c2s, "alice@"+domain, "pw-a", goxmpptest.Resource("o"), goxmpptest.Transcript())
	cond := func(id, typ, inner string) string { return condition(t, privacyAsk(t, alice, id, typ, inner)) }

	require.Contains(t, privacyAsk(t, alice, "none", "get", ""), `<query xmlns="jabber:iq:privacy"/>`, "no lists yet")
	list := `<list name='work'><item type='jid' value='Bob@Example.TEST' action='deny' order='20'><message/><presence-in/></item>` +
		`<item type='group' value='Friends' action='allow' order='10'/><item action='deny' order='30'/></list>`
	require.Equal(t, "result", cond("set", "set", list))
	for _, c := range []*goxmpptest.Client{alice, other} {
		require.Eventually(t, func() bool {
			return strings.Contains(c.Transcript(), `from="alice@example.test" to="`+c.JID()+`"><query xmlns="jabber:iq:privacy"><list name="work"/></query></iq>`)
		}, 5*time.Second, 10*time.Millisecond, "the list push to every resource")
	}
	require.Contains(t, privacyAsk(t, alice, "get", "get", "<list name='work'/>"), `<query xmlns="jabber:iq:privacy"><list name="work">`+
		`<item type="group" value="Friends" action="allow" order="10"/>`+
		`<item type="jid" value="bob@example.test" action="deny" order="20"><message/><presence-in/></item>`+
		`<item action="deny" order="30"/></list></query>`, "by order, the JID normalised")

	require.Equal(t, "item-not-found", cond("missing", "get", "<list name='home'/>"))
	require.Equal(t, "bad-request", cond("two", "get", "<list name='work'/><list name='home'/>"))
	require.Equal(t, "bad-request", cond("same order", "set", "<list name='x'><item action='deny' order='1'/><item action='allow' order='1'/></list>"))
	require.Equal(t, "bad-request", cond("bad sub", "set", "<list name='x'><item type='subscription' value='all' action='deny' order='1'/></list>"))
	require.Equal(t, "bad-request", cond("two kids", "set", "<active name='work'/><default name='work'/>"))
	require.Equal(t, "item-not-found", cond("active missing", "set", "<active name='home'/>"))
	require.Equal(t, "item-not-found", cond("default missing", "set", "<default name='home'/>"))
	require.Equal(t, "item-not-found", cond("remove missing", "set", "<list name='home'/>"))

	require.Equal(t, "result", cond("act", "set", "<active name='work'/>"))
	require.Equal(t, "result", cond("def", "set", "<default name='work'/>"))
	require.Contains(t, privacyAsk(t, alice, "all", "get", ""), `<query xmlns="jabber:iq:privacy"><active name="work"/><default name="work"/><list name="work"/></query>`)
	require.Contains(t, privacyAsk(t, other, "all-o", "get", ""), `<query xmlns="jabber:iq:privacy"><default name="work"/><list name="work"/></query>`, "the active list is per session")
	require.Equal(t, "result", condition(t, privacyAsk(t, other, "def-o", "set", "<default name='work'/>")), "ejabberd: no conflict with the other resource")

	require.Equal(t, "conflict", cond("rm active", "set", "<list name='work'/>"), "the session's own active list")
	require.Equal(t, "result", cond("decline", "set", "<active/>"))
	require.Equal(t, "conflict", cond("rm default", "set", "<list name='work'/>"), "the default list")
	require.Equal(t, "result", cond("nodef", "set", "<default/>"))
	require.Equal(t, "result", cond("rm", "set", "<list name='work'/>"))
	require.Contains(t, privacyAsk(t, alice, "empty", "get", ""), `<query xmlns="jabber:iq:privacy"/>`)

	other.Ask(t, "not-mine", "get", "bob@"+domain, "<query xmlns='"+nsPrivacy+"'/>")
	require.Equal(t, "service-unavailable", condition(t, iqAnswer(t, other, "not-mine")), "only the account's own lists")

	b.setModules(t, map[string]bool{"modPrivacy": false})
	require.Equal(t, "service-unavailable", cond("off", "get", ""))
}

// TestPrivacyMessages: what a list does to messages and IQs, online and
// offline, with go-xmpp on every end.
func TestPrivacyMessages(t *testing.T) {
	t.Parallel()
	b := setup(t)
	au := b.user(t, domain, "alice", "pw-a", store.StatusActive)
	bu := b.user(t, domain, "bob", "pw-b", store.StatusActive)
	b.user(t, domain, "carol", "pw-c", store.StatusActive)
	b.befriend(t, au, bu)
	aj, bj, cj := "alice@"+domain, "bob@"+domain, "carol@"+domain
	alice := goxmpptest.Login(t, b.c2s, aj, "pw-a", goxmpptest.Resource("r"), goxmpptest.Transcript())
	bob := goxmpptest.Login(t, b.c2s, bj, "pw-b", goxmpptest.Resource("r"), goxmpptest.Transcript())
	carol := goxmpptest.Login(t, b.c2s, cj, "pw-c", goxmpptest.Resource("r"))
	for _, c := range []*goxmpptest.Client{alice, bob, carol} {
		_, err := c.SendPresence(goxmpp.Presence{})
		require.NoError(t, err)
	}
	bounced := func(c *goxmpptest.Client, from string) func(any) bool {
		return func(st any) bool {
			m, ok := st.(goxmpp.Chat)
			return ok && m.Type == "error" && strings.HasPrefix(m.Remote, from)
		}
	}

	// Bob is denied everything; the list is alice's active one.
	require.Equal(t, "result", condition(t, privacyAsk(t, alice, "set", "set", "<list name='nobob'><item type='jid' value='"+bj+"' action='deny' order='1'/></list>")))
	require.Equal(t, "result", condition(t, privacyAsk(t, alice, "act", "set", "<active name='nobob'/>")))
	chatTo(t, bob, aj, "denied")
	bob.Expect(t, "the bounce", bounced(bob, aj))
	require.Regexp(t, `<message type="error" id="denied" from="alice@example.test" to="bob@example.test/r"><error type="cancel"><service-unavailable `, bob.Transcript())
	chatTo(t, carol, aj, "from carol")
	alice.Expect(t, "carol's message", goxmpptest.Chat(cj, "from carol"))

	// An item for all kinds covers what alice sends too (ejabberd's
	// "other"): not-acceptable, not routed.
	chatTo(t, alice, bj, "to bob")
	alice.Expect(t, "alice's own bounce", bounced(alice, bj))
	require.Regexp(t, `<message type="error" id="to bob" from="bob@example.test" to="alice@example.test/r"><error type="modify"><not-acceptable [^>]*/><text [^>]*>Your active privacy list has denied the routing of this stanza.</text>`, alice.Transcript())

	// An IQ to alice's full JID from bob: service-unavailable; alice's to
	// bob: not-acceptable.
	bob.Ask(t, "ping", "get", aj+"/r", "<ping xmlns='urn:xmpp:ping'/>")
	require.Equal(t, "service-unavailable", condition(t, iqAnswer(t, bob, "ping")))
	alice.Ask(t, "ping-out", "get", bj+"/r", "<ping xmlns='urn:xmpp:ping'/>")
	require.Equal(t, "not-acceptable", condition(t, iqAnswer(t, alice, "ping-out")))

	// Bob's presence (he is alice's contact) is dropped on the way in.
	_, err := bob.SendPresence(goxmpp.Presence{Status: "bob's news"})
	require.NoError(t, err)
	alice.ExpectNone(t, "bob's presence", 500*time.Millisecond, func(st any) bool {
		p, ok := st.(goxmpp.Presence)
		return ok && strings.HasPrefix(p.From, bj)
	})
	require.NotContains(t, alice.Transcript(), "bob's news")

	// Offline: the default list guards the offline store.
	require.Equal(t, "result", condition(t, privacyAsk(t, alice, "def", "set", "<default name='nobob'/>")))
	alice.Logout(t)
	// Logout does not wait for the server to drop the session: a message
	// sent before it has would still go to it, not to the offline store.
	require.Eventually(t, func() bool { return len(b.srv.Sessions(domain, "alice")) == 0 }, 5*time.Second, 10*time.Millisecond)
	chatTo(t, bob, aj, "offline denied")
	bob.Expect(t, "the offline bounce", bounced(bob, aj))
	chatTo(t, carol, aj, "offline ok")
	require.Eventually(t, func() bool { n, _ := b.st.OfflineCount(b.ctx, au.ID); return n == 1 }, 5*time.Second, 20*time.Millisecond)
	time.Sleep(100 * time.Millisecond)
	n, err := b.st.OfflineCount(b.ctx, au.ID)
	require.NoError(t, err)
	require.Equal(t, 1, n, "only carol's message is stored")

	// Switched off live: no enforcement.
	b.setModules(t, map[string]bool{"modPrivacy": false})
	chatTo(t, bob, aj, "module off")
	require.Eventually(t, func() bool { n, _ := b.st.OfflineCount(b.ctx, au.ID); return n == 2 }, 5*time.Second, 20*time.Millisecond)
}
