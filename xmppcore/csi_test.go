package xmppcore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/slixmpptest"
	"github.com/xmppgate/xmppgate/store"
)

const pingXML = "<iq type='get' to='" + domain + "' id='sync'><ping xmlns='urn:xmpp:ping'/></iq>"

// TestIntegrationCSI: slixmpp's xep_0352 says inactive; a contact's
// presence changes and chat states wait (only the latest presence is
// kept), a message with a body goes out at once, and <active/> lets the
// rest out.
func TestIntegrationCSI(t *testing.T) {
	t.Parallel()
	slixmpptest.Require(t)
	b := setup(t)
	alice := b.user(t, domain, "alice", "pw-a", store.StatusActive)
	bobU := b.user(t, domain, "bob", "pw-b", store.StatusActive)
	b.befriend(t, alice, bobU)
	aj, bj := "alice@"+domain+"/phone", "bob@"+domain+"/r"
	d := slixmpptest.Drive(t, aj, "pw-a")
	require.Equal(t, "session_start", d.Connect(b.c2s, false))
	d.Do("presence")
	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r"})
	_, err := bob.SendOrg("<presence/>")
	require.NoError(t, err)
	d.Wait("bob's presence", 10*time.Second, func(e slixmpptest.Event) bool { return e.S("event") == "presence" && e.S("from") == bj })

	// inactive, and a round trip so the server has read it.
	d.Do("inactive")
	d.Do("iq", "xml", pingXML)
	d.Wait("the ping's result", 10*time.Second, slixmpptest.Is("iq"))
	d.Events()
	for _, show := range []string{"away", "xa", "dnd"} {
		_, err := bob.SendOrg("<presence><show>" + show + "</show></presence>")
		require.NoError(t, err)
	}
	_, err = bob.SendOrg("<message to='" + aj + "' type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	require.NoError(t, err)
	// A ping from bob to alice is an IQ: it goes out at once, after what
	// was held: so one probe shows nothing was sent before it.
	time.Sleep(300 * time.Millisecond)
	require.Empty(t, d.Events(), "presence and chat states are held while inactive")

	d.Do("active")
	d.Wait("the latest presence", 10*time.Second, func(e slixmpptest.Event) bool {
		return e.S("event") == "presence" && e.S("from") == bj && e.S("type") == "dnd"
	})
	d.Wait("the held chat state", 10*time.Second, func(e slixmpptest.Event) bool {
		return e.S("event") == "chatstate" && e.S("state") == "composing"
	})
	for _, e := range d.Events() {
		require.NotEqual(t, "presence", e.S("event"), "only the latest presence per sender: %v", e)
	}

	// Inactive again: a message with a body goes out at once, after the
	// chat state held before it (order kept).
	d.Do("inactive")
	d.Do("iq", "xml", pingXML)
	d.Wait("the ping's result", 10*time.Second, slixmpptest.Is("iq"))
	_, err = bob.SendOrg("<message to='" + aj + "' type='chat'><paused xmlns='http://jabber.org/protocol/chatstates'/></message>")
	require.NoError(t, err)
	time.Sleep(200 * time.Millisecond)
	require.Empty(t, d.Events())
	chatTo(t, bob, aj, "wake-up")
	m := d.Wait("the message with a body", 10*time.Second, slixmpptest.Message("wake-up"))
	cs := d.Wait("the chat state held before it", 10*time.Second, func(e slixmpptest.Event) bool {
		return e.S("event") == "chatstate" && e.S("state") == "paused"
	})
	require.Less(t, cs["n"], m["n"], "the held chat state comes first")
}
