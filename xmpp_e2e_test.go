package main

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// xmppLogin logs jid in to the server's C2S listener with the independent
// client (go-xmpp), by SASL mechanism mech.
func (s *testServer) xmppLogin(jid, password, mech string) (*goxmpptest.Client, error) {
	return goxmpptest.TryLogin(s.t, s.c2s, jid, password, goxmpptest.Resource("e2e"), goxmpptest.Mechanism(mech))
}

// TestXMPPLifecycleThroughDreamHost provisions users through the DreamHost
// API and proves with an independent XMPP client that only active users log
// in and that deactivation closes a live session once the worker has run.
func TestXMPPLifecycleThroughDreamHost(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	boot := readBootstrap(t, s.data)
	k := boot.Key

	s.dh(k, "jabber-add_user", "username", "alice", "domain", "localhost", "password", "wonder land").token(t)
	_, err := s.xmppLogin("alice@localhost", "wonder land", "SCRAM-SHA-1")
	require.Error(t, err, "a pending-active user cannot log in")

	s.runWorker()
	for _, mech := range []string{"SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN"} {
		c, err := s.xmppLogin("alice@localhost", "wonder land", mech)
		require.NoError(t, err, mech)
		c.Close()
	}
	_, err = s.xmppLogin("alice@localhost", "wrong", "SCRAM-SHA-256")
	require.Error(t, err)

	live, err := s.xmppLogin("alice@localhost", "wonder land", "SCRAM-SHA-256")
	require.NoError(t, err)
	s.dh(k, "jabber-deactivate_user", "username", "alice", "domain", "localhost").token(t)
	select {
	case <-live.Done():
		t.Fatal("the session closed before the worker applied the change")
	case <-time.After(200 * time.Millisecond):
	}
	s.runWorker()
	select {
	case <-live.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("deactivation did not close the session")
	}
	_, err = s.xmppLogin("alice@localhost", "wonder land", "SCRAM-SHA-1")
	require.Error(t, err, "an inactive user cannot log in")

	s.dh(k, "jabber-reactivate_user", "username", "alice", "domain", "localhost").token(t)
	s.runWorker()
	c, err := s.xmppLogin("alice@localhost", "wonder land", "SCRAM-SHA-1")
	require.NoError(t, err)

	s.dh(k, "jabber-remove_user", "username", "alice", "domain", "localhost").token(t)
	s.runWorker()
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("removal did not close the session")
	}
	_, err = s.xmppLogin("alice@localhost", "wonder land", "SCRAM-SHA-1")
	require.Error(t, err, "a removed user cannot log in")
}

// TestXMPPRosterPushThroughOpenfire adds a roster item through the Openfire
// User Service and sees it pushed to the user's connected client.
func TestXMPPRosterPushThroughOpenfire(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=alice&password=pw1"))
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=bob&password=pw2"))

	c, err := s.xmppLogin("alice@localhost", "pw1", "SCRAM-SHA-256")
	require.NoError(t, err)
	// Ask for the roster so the session is interested in pushes.
	c.FetchRoster(t)

	require.Equal(t, "<result>ok</result>\n", s.userService("type=add_roster&username=alice&item_jid=bob@localhost&name=Bobby&subscription=3"))
	c.Expect(t, "the roster push", func(st any) bool {
		iq, ok := st.(goxmpp.IQ)
		return ok && iq.Type == "set" && strings.Contains(string(iq.Query), "bob@localhost") && strings.Contains(string(iq.Query), "Bobby")
	})
}

// scram_hashes decides which SCRAM keys a new password gets, and streams
// offer only the mechanisms those users can answer: an independent client
// logs in with each mechanism offered, and one not offered fails. A PLAIN
// login adds no family the configuration leaves out.
func TestXMPPScramHashes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		hashes   string
		works    []string
		refused  []string
		sha1Keys bool
		sha2Keys bool
	}{
		{"sha1", []string{"SCRAM-SHA-1", "PLAIN"}, []string{"SCRAM-SHA-256"}, true, false},
		{"sha256", []string{"SCRAM-SHA-256", "PLAIN"}, []string{"SCRAM-SHA-1"}, false, true},
		{"sha1,sha256", []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"}, nil, true, true},
	} {
		t.Run(tc.hashes, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, func(c *Config) { c.ScramHashes = tc.hashes })
			k := readBootstrap(t, s.data).Key
			s.dh(k, "jabber-add_user", "username", "alice", "domain", "localhost", "password", "wonder land").token(t)
			s.runWorker()
			for _, mech := range tc.works {
				c, err := goxmpptest.TryLogin(t, s.c2s, "alice@localhost", "wonder land", goxmpptest.Mechanism(mech), goxmpptest.Transcript())
				require.NoError(t, err, mech)
				for _, other := range tc.refused {
					require.NotContains(t, c.Transcript(), "<mechanism>"+other+"</mechanism>")
				}
				c.Close()
			}
			for _, mech := range tc.refused {
				_, err := s.xmppLogin("alice@localhost", "wonder land", mech)
				require.Error(t, err, mech)
			}
			u, err := s.app.env.Store.UserByJID(context.Background(), "localhost", "alice")
			require.NoError(t, err)
			require.Equal(t, tc.sha1Keys, len(u.Cred.SHA1Stored) > 0, "SHA-1 keys")
			require.Equal(t, tc.sha2Keys, len(u.Cred.SHA256Stored) > 0, "SHA-256 keys")
		})
	}
}

// A panel's bulk status changes (five deactivations, reactivations, then
// removals, each in one batch, so the worker applies them as a run) close
// the users' live sessions and leave every user in the right state, on
// SQLite and on PostgreSQL, where a run is one statement.
func TestXMPPBulkStatusChanges(t *testing.T) {
	t.Parallel()
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			s := startServer(t, func(c *Config) {
				if engine == "postgres" {
					c.Store = postgres(t)
				}
			})
			k := readBootstrap(t, s.data).Key
			const n = 5
			name := func(i int) string { return "bulk" + strconv.Itoa(i) }
			each := func(cmd string) {
				for i := range n {
					args := []string{"username", name(i), "domain", "localhost"}
					if cmd == "jabber-add_user" {
						args = append(args, "password", "pw"+name(i))
					}
					s.dh(k, cmd, args...).token(t)
				}
				s.runWorker()
			}
			states := func(want string) []string {
				var out []string
				for i := range n {
					out = append(out, name(i)+"@localhost "+want)
				}
				return out
			}
			each("jabber-add_user")
			require.ElementsMatch(t, states("active"), s.users())
			var live []*goxmpptest.Client
			for i := range n {
				c, err := s.xmppLogin(name(i)+"@localhost", "pw"+name(i), "SCRAM-SHA-256")
				require.NoError(t, err)
				live = append(live, c)
			}

			each("jabber-deactivate_user")
			require.ElementsMatch(t, states("inactive"), s.users())
			for i, c := range live {
				select {
				case <-c.Done():
				case <-time.After(5 * time.Second):
					t.Fatalf("%s's session outlived its deactivation", name(i))
				}
			}
			_, err := s.xmppLogin(name(0)+"@localhost", "pw"+name(0), "SCRAM-SHA-256")
			require.Error(t, err, "an inactive user cannot log in")

			each("jabber-reactivate_user")
			require.ElementsMatch(t, states("active"), s.users())
			c, err := s.xmppLogin(name(n-1)+"@localhost", "pw"+name(n-1), "SCRAM-SHA-256")
			require.NoError(t, err)

			each("jabber-remove_user")
			require.Empty(t, s.users())
			select {
			case <-c.Done():
			case <-time.After(5 * time.Second):
				t.Fatal("a removed user's session stayed open")
			}
		})
	}
}
