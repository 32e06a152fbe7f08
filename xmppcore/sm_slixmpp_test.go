package xmppcore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/internal/slixmpptest"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore"
)

// smClient logs alice in with slixmpp (stream management with resumption
// from its xep_0198 plugin) through a proxy to addr that the test can cut.
func smClient(t *testing.T, addr string, direct bool) (*slixmpptest.Driver, *slixmpptest.Proxy) {
	t.Helper()
	p := slixmpptest.NewProxy(t, addr)
	d := slixmpptest.Drive(t, "alice@"+domain+"/phone", "pw-a")
	require.Equal(t, "session_start", d.Connect(p.Addr(), direct))
	d.Wait("<enabled/>", 10*time.Second, slixmpptest.Is("sm_enabled"))
	d.Do("presence")
	return d, p
}

func chatTo(t *testing.T, from *goxmpptest.Client, to, text string) {
	t.Helper()
	_, err := from.SendOrg("<message to='" + to + "' type='chat' id='" + text + "'><body>" + text + "</body></message>")
	require.NoError(t, err)
}

// TestIntegrationSMResume: the connection of a slixmpp client with stream
// management is cut (no </stream>); a message sent meanwhile reaches it
// after it resumes on a new connection, over the STARTTLS listener and
// then over the direct TLS one; presence stayed on all along.
func TestIntegrationSMResume(t *testing.T) {
	t.Parallel()
	slixmpptest.Require(t)
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	aj := "alice@" + domain + "/phone"
	d, p := smClient(t, b.c2s, false)
	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r"})

	chatTo(t, bob, aj, "before")
	d.Wait("the first message", 10*time.Second, slixmpptest.Message("before"))

	p.Cut()
	d.Wait("the connection lost", 10*time.Second, slixmpptest.Is("disconnected"))
	chatTo(t, bob, aj, "while-away")
	chatTo(t, bob, "alice@"+domain, "to-bare")
	require.Len(t, b.srv.Sessions(domain, "alice"), 1, "the hibernated session is still there")

	require.Equal(t, "session_resumed", d.Connect(p.Addr(), false))
	d.Wait("the message sent while away", 10*time.Second, slixmpptest.Message("while-away"))
	d.Wait("the message to the bare JID", 10*time.Second, slixmpptest.Message("to-bare"))
	chatTo(t, bob, aj, "after")
	d.Wait("a message after resuming", 10*time.Second, slixmpptest.Message("after"))

	// Again, resumed this time over the direct TLS listener (XEP-0368):
	// the session does not care where its transport comes from.
	p2 := slixmpptest.NewProxy(t, b.c2stls)
	p.Cut()
	d.Wait("the connection lost", 10*time.Second, slixmpptest.Is("disconnected"))
	chatTo(t, bob, aj, "while-away-2")
	require.Equal(t, "session_resumed", d.Connect(p2.Addr(), true))
	d.Wait("the message sent while away", 10*time.Second, slixmpptest.Message("while-away-2"))

	// The stream's end by the client ends the session: no hibernation.
	d.Do("disconnect")
	d.Wait("the end", 10*time.Second, slixmpptest.Is("disconnected"))
	require.Eventually(t, func() bool { return len(b.srv.Sessions(domain, "alice")) == 0 }, 5*time.Second, 20*time.Millisecond)
}

// TestIntegrationSMTimeoutToOffline: a hibernated session that is not
// resumed ends after sm_resume_timeout; what it never acknowledged goes to
// offline storage and comes at the next login, and contacts see it go.
func TestIntegrationSMTimeoutToOffline(t *testing.T) {
	t.Parallel()
	slixmpptest.Require(t)
	b := setup(t, func(c *xmppcore.Config) { c.SMResumeTimeout = time.Second })
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	d, p := smClient(t, b.c2s, false)
	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r"})

	p.Cut()
	d.Wait("the connection lost", 10*time.Second, slixmpptest.Is("disconnected"))
	chatTo(t, bob, "alice@"+domain+"/phone", "kept-offline")
	require.Eventually(t, func() bool { return len(b.srv.Sessions(domain, "alice")) == 0 }, 10*time.Second, 50*time.Millisecond)

	d2 := slixmpptest.Drive(t, "alice@"+domain+"/laptop", "pw-a")
	require.Equal(t, "session_start", d2.Connect(b.c2s, false))
	d2.Do("presence")
	m := d2.Wait("the unacked message from offline storage", 10*time.Second, slixmpptest.Message("kept-offline"))
	require.Equal(t, true, m["delay"], "offline messages carry a delay stamp")
}

// TestIntegrationSMKickHibernated: the worker's effects reach a hibernated
// session: it ends at once and can no longer be resumed.
func TestIntegrationSMKickHibernated(t *testing.T) {
	t.Parallel()
	slixmpptest.Require(t)
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	d, p := smClient(t, b.c2s, false)
	p.Cut()
	d.Wait("the connection lost", 10*time.Second, slixmpptest.Is("disconnected"))
	require.Eventually(t, func() bool { return b.srv.Kick(domain, "alice", "", "") == 1 }, 5*time.Second, 20*time.Millisecond)
	require.Eventually(t, func() bool { return len(b.srv.Sessions(domain, "alice")) == 0 }, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, "session_start", d.Connect(p.Addr(), false), "the resumption fails, slixmpp binds anew")
}
