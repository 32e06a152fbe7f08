package xmppcore_test

import (
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore"
)

// waitParked polls until the session bound to full is parked without a
// goroutine, or fails t.
func waitParked(t *testing.T, srv *xmppcore.Server, full string) {
	t.Helper()
	require.Eventually(t, func() bool { return srv.Parked(full) }, 15*time.Second, 10*time.Millisecond,
		"%s is parked once idle", full)
}

// TestIdleSessionParked: an idle session (STARTTLS or direct TLS) waits
// without a goroutine, and is continued whole by what reaches it: a
// message routed to it, its own stanzas, a kick, the idle timeout. The
// client is go-xmpp.
func TestIdleSessionParked(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("sessions are parked on epoll, on Linux only")
	}
	for _, direct := range []bool{false, true} {
		name := map[bool]string{false: "starttls", true: "direct-tls"}[direct]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, func(c *xmppcore.Config) { c.IdleTimeout = time.Hour })
			b.user(t, domain, "alice", "pw-a", store.StatusActive)
			b.user(t, domain, "bob", "pw-b", store.StatusActive)
			alice := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "home", direct: direct})
			bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "work", direct: direct})
			aj, bj := "alice@"+domain+"/home", "bob@"+domain+"/work"

			waitParked(t, b.srv, aj)
			_, err := bob.Send(goxmpp.Chat{Remote: aj, Type: "chat", Text: "wake up"})
			require.NoError(t, err)
			alice.Expect(t, "message to the parked session", goxmpptest.Chat(bj, "wake up"))

			waitParked(t, b.srv, aj)
			_, err = alice.Send(goxmpp.Chat{Remote: bj, Type: "chat", Text: "awake"})
			require.NoError(t, err)
			bob.Expect(t, "message from the parked session", goxmpptest.Chat(aj, "awake"))
			iq := alice.Ask(t, "p1", "get", domain, "<ping xmlns='urn:xmpp:ping'/>")
			require.Equal(t, "result", iq.Type)

			waitParked(t, b.srv, aj)
			require.Equal(t, 1, b.srv.Kick(domain, "alice", "home", ""))
			alice.Ended(t)
			require.Eventually(t, func() bool { return len(b.srv.Sessions(domain, "alice")) == 0 },
				15*time.Second, 10*time.Millisecond, "the kicked session is gone")
		})
	}
}

// TestIdleSessionParkedTimesOut: the idle timeout still ends a parked
// session.
func TestIdleSessionParkedTimesOut(t *testing.T) {
	t.Parallel()
	if runtime.GOOS != "linux" {
		t.Skip("sessions are parked on epoll, on Linux only")
	}
	b := setup(t, func(c *xmppcore.Config) { c.IdleTimeout = 2 * time.Second })
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	alice := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "home"})
	waitParked(t, b.srv, "alice@"+domain+"/home")
	alice.Ended(t)
	require.Eventually(t, func() bool { return len(b.srv.Sessions(domain, "alice")) == 0 },
		15*time.Second, 10*time.Millisecond, "the timed-out session is gone")
}
