package xmppcore_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
)

// TestMulticast sends one XEP-0033 message to multicast.<domain> with
// go-xmpp: the to, cc and bcc recipients each get it from the sender, the
// bcc address hidden and the delivered ones marked.
func TestMulticast(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for _, u := range []string{"alice", "bob", "carol", "dave"} {
		b.user(t, domain, u, "pw-"+u, store.StatusActive)
	}
	login := func(u string) *goxmpptest.Client {
		return goxmpptest.Login(t, b.c2s, u+"@"+domain, "pw-"+u, goxmpptest.Resource("r"), goxmpptest.Transcript())
	}
	alice, bob, carol, dave := login("alice"), login("bob"), login("carol"), login("dave")
	svc := "multicast." + domain

	q := alice.Ask(t, "items", "get", domain, "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	require.Contains(t, string(q.Query), `jid="`+svc+`"`)
	q = alice.Ask(t, "info", "get", svc, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	require.Contains(t, features(q), "http://jabber.org/protocol/address")

	_, err := alice.SendOrg("<message to='" + svc + "' type='chat' id='m1'><body>to all</body>" +
		"<addresses xmlns='http://jabber.org/protocol/address'>" +
		"<address type='to' jid='bob@" + domain + "'/><address type='cc' jid='carol@" + domain + "'/>" +
		"<address type='bcc' jid='dave@" + domain + "'/><address type='replyto' jid='alice@" + domain + "/r'/>" +
		"</addresses></message>")
	require.NoError(t, err)
	wantList := `<addresses xmlns="http://jabber.org/protocol/address"><address type="to" jid="bob@` + domain + `" delivered="true"/>` +
		`<address type="cc" jid="carol@` + domain + `" delivered="true"/><address type="replyto" jid="alice@` + domain + `/r"/></addresses>`
	for name, c := range map[string]*goxmpptest.Client{"bob": bob, "carol": carol, "dave": dave} {
		c.Expect(t, name+"'s copy", goxmpptest.Chat("alice@"+domain+"/r", "to all"))
		tr := c.Transcript()
		got := tr[strings.LastIndex(tr, "<message"):]
		require.Contains(t, got, wantList, name)
		require.NotContains(t, got, `jid="dave@`, "%s: bcc is hidden", name)
	}

	for id, row := range map[string]struct{ body, want string }{
		"none": {"<message to='" + svc + "' id='none'><body>x</body></message>", "bad-request"},
		"bad":  {"<message to='" + svc + "' id='bad'><body>x</body><addresses xmlns='http://jabber.org/protocol/address'><address type='to' jid='@@'/></addresses></message>", "jid-malformed"},
		"uri":  {"<message to='" + svc + "' id='uri'><body>x</body><addresses xmlns='http://jabber.org/protocol/address'><address type='to' uri='mailto:a@b.example'/></addresses></message>", "bad-request"},
	} {
		_, err := alice.SendOrg(row.body)
		require.NoError(t, err)
		alice.Expect(t, "bounce of "+id, func(st any) bool { m, ok := st.(goxmpp.Chat); return ok && m.Type == "error" })
		tr := alice.Transcript()
		require.Contains(t, tr[strings.LastIndex(tr, `id="`+id+`"`):], row.want, id)
	}

	b.setModules(t, map[string]bool{"modMulticast": false})
	_, err = alice.SendOrg("<message to='" + svc + "' id='off'><body>x</body><addresses xmlns='http://jabber.org/protocol/address'><address type='to' jid='bob@" + domain + "'/></addresses></message>")
	require.NoError(t, err)
	alice.Expect(t, "bounce when off", func(st any) bool { m, ok := st.(goxmpp.Chat); return ok && m.Type == "error" })
	require.Contains(t, alice.Transcript()[strings.LastIndex(alice.Transcript(), `id="off"`):], "remote-server-not-found")
}
