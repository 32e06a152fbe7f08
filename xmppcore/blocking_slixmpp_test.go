package xmppcore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/slixmpptest"
	"github.com/xmppgate/xmppgate/store"
)

// TestIntegrationBlockingSlixmpp: with slixmpp on both ends, alice blocks
// bob (XEP-0191); his message is not delivered and comes back to him as
// an error; unblocked, the next one arrives.
func TestIntegrationBlockingSlixmpp(t *testing.T) {
	t.Parallel()
	slixmpptest.Require(t)
	b := setup(t)
	au := b.user(t, domain, "alice", "pw-a", store.StatusActive)
	bu := b.user(t, domain, "bob", "pw-b", store.StatusActive)
	b.befriend(t, au, bu)
	alice := slixmpptest.Drive(t, "alice@"+domain+"/phone", "pw-a")
	bob := slixmpptest.Drive(t, "bob@"+domain+"/pc", "pw-b")
	require.Equal(t, "session_start", alice.Connect(b.c2s, false))
	require.Equal(t, "session_start", bob.Connect(b.c2s, false))
	alice.Do("presence")
	bob.Do("presence")
	aj, bj := "alice@"+domain, "bob@"+domain

	bob.Do("send", "to", aj, "body", "before", "type", "chat")
	alice.Wait("the message before the block", 10*time.Second, slixmpptest.Message("before"))

	alice.Do("iq", "xml", "<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='"+bj+"'/></block></iq>")
	require.Equal(t, "result", alice.Wait("the block's answer", 10*time.Second, slixmpptest.Is("iq")).S("type"))
	bob.Wait("alice appears offline", 10*time.Second, func(e slixmpptest.Event) bool {
		return e.S("event") == "presence" && e.S("from") == aj+"/phone" && e.S("type") == "unavailable"
	})
	bob.Do("send", "to", aj, "body", "blocked?", "type", "chat")
	e := bob.Wait("the bounce", 10*time.Second, slixmpptest.Is("message_error"))
	require.Equal(t, aj, e.S("from"))
	require.Equal(t, "service-unavailable", e.S("condition"), "XEP-0191 3.5: as if alice did not exist")

	alice.Do("iq", "xml", "<iq type='set' id='b2'><unblock xmlns='urn:xmpp:blocking'><item jid='"+bj+"'/></unblock></iq>")
	require.Equal(t, "result", alice.Wait("the unblock's answer", 10*time.Second, slixmpptest.Is("iq")).S("type"))
	bob.Do("send", "to", aj, "body", "after", "type", "chat")
	alice.Wait("the message after the unblock", 10*time.Second, slixmpptest.Message("after"))
	for _, e := range alice.Events() {
		require.NotEqual(t, "blocked?", e.S("body"), "a blocked user's message is not delivered")
	}
}
