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

// TestPreApproval drives RFC 6121 3.4 with go-xmpp: alice approves bob's
// subscription before he asks; his request is then answered at once and
// never shown to her. An unsubscribed withdraws a pre-approval.
func TestPreApproval(t *testing.T) {
	t.Parallel()
	b := setup(t)
	au := b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	b.user(t, domain, "carol", "pw-c", store.StatusActive)
	aj, bj, cj := "alice@"+domain, "bob@"+domain, "carol@"+domain
	alice := goxmpptest.Login(t, b.c2s, aj, "pw-a", goxmpptest.Resource("home"), goxmpptest.Transcript())
	require.Contains(t, alice.Transcript(), `<sub xmlns='urn:xmpp:features:pre-approval'/>`, "the stream feature is offered")
	alice.FetchRoster(t)
	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "work"})
	carol := b.mustLogin(t, "carol", "pw-c", loginOpts{resource: "x"})

	_, err := alice.SendPresence(goxmpp.Presence{To: bj, Type: "subscribed"})
	require.NoError(t, err)
	alice.Expect(t, "roster push with approved", goxmpptest.IQ("", "set", `approved="true"`))
	require.Contains(t, alice.Transcript(), `<item jid="`+bj+`" subscription="none" approved="true"/>`)
	bob.ExpectNone(t, "a pre-approval is not delivered", 200*time.Millisecond, goxmpptest.Presence(aj, "subscribed"))

	bob.RequestSubscription(aj)
	bob.Expect(t, "subscribed from alice at once", goxmpptest.Presence(aj, "subscribed"))
	bob.Expect(t, "alice's presence", goxmpptest.Presence(aj+"/home", ""))
	alice.Expect(t, "roster push: from, no longer approved", func(st any) bool {
		q, ok := st.(goxmpp.IQ)
		return ok && q.Type == "set" && strings.Contains(string(q.Query), `subscription="from"`) && !strings.Contains(string(q.Query), "approved")
	})
	it, err := b.st.RosterItem(b.ctx, au.ID, bj)
	require.NoError(t, err)
	require.Equal(t, store.SubFrom, it.Subscription)
	require.False(t, it.Approved)
	require.False(t, it.PendingIn)
	require.NotContains(t, alice.Transcript(), `type="subscribe" from="`+bj, "alice never sees the request")

	// A second subscribed for someone already subscribed changes nothing.
	_, err = alice.SendPresence(goxmpp.Presence{To: bj, Type: "subscribed"})
	require.NoError(t, err)
	it, err = b.st.RosterItem(b.ctx, au.ID, bj)
	require.NoError(t, err)
	require.False(t, it.Approved)

	// Withdrawn: carol's request then waits for alice as usual.
	_, err = alice.SendPresence(goxmpp.Presence{To: cj, Type: "subscribed"})
	require.NoError(t, err)
	alice.Expect(t, "carol pre-approved", goxmpptest.IQ("", "set", `approved="true"`))
	_, err = alice.SendPresence(goxmpp.Presence{To: cj, Type: "unsubscribed"})
	require.NoError(t, err)
	alice.Expect(t, "pre-approval withdrawn", func(st any) bool {
		q, ok := st.(goxmpp.IQ)
		return ok && q.Type == "set" && strings.Contains(string(q.Query), cj) && !strings.Contains(string(q.Query), "approved")
	})
	carol.RequestSubscription(aj)
	alice.Expect(t, "carol's request reaches alice", goxmpptest.Presence(cj, "subscribe"))
}
