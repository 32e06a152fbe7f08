package xmppcore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/slixmpptest"
	"github.com/xmppgate/xmppgate/store"
)

const (
	pushEnable = "<iq xmlns='jabber:client' type='set' id='pe'><enable xmlns='urn:xmpp:push:0' jid='app@" + domain +
		"/push' node='n1'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'>" +
		"<value>http://jabber.org/protocol/pubsub#publish-options</value></field>" +
		"<field var='secret'><value>s3cret</value></field></x></enable></iq>"
	pushDisable = "<iq xmlns='jabber:client' type='set' id='pd'><disable xmlns='urn:xmpp:push:0' jid='app@" + domain + "/push'/></iq>"
	selfDisco   = "<iq xmlns='jabber:client' type='get' id='dq' to='alice@" + domain + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"
)

func isPush(e slixmpptest.Event) bool { return e.S("event") == "push" }

// TestIntegrationPush: alice's client (slixmpp) enables push with an app
// server that is a local user's session (slixmpp too, answering the
// publish); a message for alice while her session hibernates, and one
// while she is offline, each make a notification; after <disable/> none.
func TestIntegrationPush(t *testing.T) {
	t.Parallel()
	slixmpptest.Require(t)
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	b.user(t, domain, "app", "pw-app", store.StatusActive)
	app := slixmpptest.Drive(t, "app@"+domain+"/push", "pw-app")
	require.Equal(t, "session_start", app.Connect(b.c2s, false))
	d, p := smClient(t, b.c2s, false)
	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r"})

	d.Do("iq", "xml", selfDisco)
	require.Contains(t, d.Wait("disco#info", 10*time.Second, slixmpptest.Is("iq")).S("xml"), `var="urn:xmpp:push:0"`)
	d.Do("iq", "xml", pushEnable)
	require.Equal(t, "result", d.Wait("enable's answer", 10*time.Second, slixmpptest.Is("iq")).S("type"))

	// Online and connected: no notification.
	chatTo(t, bob, "alice@"+domain, "online")
	d.Wait("the message", 10*time.Second, slixmpptest.Message("online"))

	// Hibernated: the app server is told, without the text or the sender.
	p.Cut()
	d.Wait("the connection lost", 10*time.Second, slixmpptest.Is("disconnected"))
	require.Eventually(t, func() bool { return b.srv.Kick(domain, "nobody", "", "") == 0 && hibernating(b) }, 5*time.Second, 20*time.Millisecond)
	chatTo(t, bob, "alice@"+domain, "very private words")
	n := app.Wait("a notification for the hibernated session", 10*time.Second, isPush).S("xml")
	for _, want := range []string{`from="alice@` + domain + `"`, `<publish node="n1">`, `<notification xmlns="urn:xmpp:push:0">`,
		"<value>urn:xmpp:push:summary</value>", `<field var="message-count"><value>1</value>`,
		`<field var="last-message-body"><value>New message</value>`, "<publish-options>", "<value>s3cret</value>"} {
		require.Contains(t, n, want)
	}
	require.NotContains(t, n, "very private words")
	require.NotContains(t, n, "bob@")
	require.Equal(t, "session_resumed", d.Connect(p.Addr(), false))
	d.Wait("the message", 10*time.Second, slixmpptest.Message("very private words"))

	// Offline: stored, and the app server is told.
	d.Do("disconnect")
	d.Wait("the end", 10*time.Second, slixmpptest.Is("disconnected"))
	require.Eventually(t, func() bool { return len(b.srv.Sessions(domain, "alice")) == 0 }, 5*time.Second, 20*time.Millisecond)
	chatTo(t, bob, "alice@"+domain, "while-offline")
	require.Contains(t, app.Wait("a notification for the offline user", 10*time.Second, isPush).S("xml"), `<publish node="n1">`)

	// Disabled: nothing more.
	d2 := slixmpptest.Drive(t, "alice@"+domain+"/laptop", "pw-a")
	require.Equal(t, "session_start", d2.Connect(b.c2s, false))
	d2.Do("iq", "xml", pushDisable)
	require.Equal(t, "result", d2.Wait("disable's answer", 10*time.Second, slixmpptest.Is("iq")).S("type"))
	d2.Do("iq", "xml", pushDisable)
	e := d2.Wait("disable's answer", 10*time.Second, slixmpptest.Is("iq"))
	require.Equal(t, "error", e.S("type"))
	require.Contains(t, e.S("xml"), "item-not-found")
	d2.Do("disconnect")
	d2.Wait("the end", 10*time.Second, slixmpptest.Is("disconnected"))
	require.Eventually(t, func() bool { return len(b.srv.Sessions(domain, "alice")) == 0 }, 5*time.Second, 20*time.Millisecond)
	time.Sleep(200 * time.Millisecond)
	app.Events() // the notifications of before (a hibernation with an unacked message makes one more)
	chatTo(t, bob, "alice@"+domain, "after-disable")
	time.Sleep(300 * time.Millisecond)
	for _, e := range app.Events() {
		require.NotEqual(t, "push", e.S("event"), "no notification after disable")
	}
}

// hibernating: alice's only session is there although its connection is gone.
func hibernating(b *testBundle) bool {
	s := b.srv.Sessions(domain, "alice")
	return len(s) == 1 && s[0].Hibernated
}

// TestPushIQErrors checks the answers to malformed or refused requests
// and the switch.
func TestPushIQErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	r, _ := smLogin(t, b, "alice", "pw-a")
	r.bind("raw")
	ask := func(id, typ, payload string) string {
		t.Helper()
		r.send("<iq type='" + typ + "' id='" + id + "'>" + payload + "</iq>")
		out := r.expect(`id="` + id + `"`)
		if strings.Contains(out, `type="result"`) { // these results have no payload
			return out + r.expect("/>")
		}
		return out + r.expect("</iq>")
	}
	en := func(attrs string) string { return "<enable xmlns='urn:xmpp:push:0' " + attrs + "/>" }
	require.Contains(t, ask("g", "get", en("jid='a@b' node='n'")), "<not-allowed")
	require.Contains(t, ask("n", "set", en("jid='push.example'")), "<feature-not-implemented")
	require.Contains(t, ask("j", "set", en("node='n'")), "<bad-request")
	require.Contains(t, ask("f", "set", "<enable xmlns='urn:xmpp:push:0' jid='push.example' node='n'><x xmlns='jabber:x:data' type='form'/></enable>"), "<bad-request")
	for i := 0; i < 20; i++ {
		require.Contains(t, ask("ok", "set", en("jid='push.example' node='n"+strings.Repeat("x", i)+"'")), `type="result"`)
	}
	require.Contains(t, ask("lim", "set", en("jid='push.example' node='one-too-many'")), "<resource-constraint")
	require.Contains(t, ask("re", "set", en("jid='push.example' node='n'")), `type="result"`, "renewing one is fine")
	require.Contains(t, ask("d", "set", "<disable xmlns='urn:xmpp:push:0' jid='push.example' node='nope'/>"), "<item-not-found")
	require.Contains(t, ask("da", "set", "<disable xmlns='urn:xmpp:push:0' jid='push.example'/>"), `type="result"`)

	b.setModules(t, map[string]bool{"modPush": false})
	require.Contains(t, ask("off", "set", en("jid='push.example' node='n'")), "<service-unavailable")
	r.send("<iq type='get' id='dq'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	q := r.expect("</iq>")
	require.Contains(t, q, `<identity category="account" type="registered"`)
	require.NotContains(t, q, "urn:xmpp:push:0")
}
