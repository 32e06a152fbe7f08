package main

import (
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"
)

// xmppClient is an independent XMPP client (github.com/xmppo/go-xmpp)
// logged in to the test server, with its stanzas collected.
type xmppClient struct {
	*goxmpp.Client
	in    chan any
	end   chan struct{}
	err   error
	close sync.Once
}

// Close ends the stream from the client side once. go-xmpp's own Close
// races with a running Recv, so the closing tag is sent as raw text and the
// server's answer ends the Recv goroutine.
func (c *xmppClient) Close() {
	c.close.Do(func() {
		select {
		case <-c.end:
		default:
			_, _ = c.SendOrg("</stream:stream>")
		}
	})
}

func (s *testServer) xmppLogin(jid, password, mech string) (*xmppClient, error) {
	domain := jid[strings.IndexByte(jid, '@')+1:]
	opts := goxmpp.Options{
		Host: s.c2s, User: jid, Password: password, Resource: "e2e",
		NoTLS: true, StartTLS: true, Session: true,
		TLSConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: domain},
		Mechanism:   mech,
		NoPLAIN:     mech != "PLAIN",
		DialTimeout: 5 * time.Second,
	}
	c, err := opts.NewClient()
	if err != nil {
		return nil, err
	}
	cl := &xmppClient{Client: c, in: make(chan any, 100), end: make(chan struct{})}
	go func() {
		defer close(cl.end)
		for {
			st, err := c.Recv()
			if err != nil {
				cl.err = err
				return
			}
			select {
			case cl.in <- st:
			default:
			}
		}
	}()
	s.t.Cleanup(cl.Close)
	return cl, nil
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
	case <-live.end:
		t.Fatal("the session closed before the worker applied the change")
	case <-time.After(200 * time.Millisecond):
	}
	s.runWorker()
	select {
	case <-live.end:
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
	case <-c.end:
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
	boot := readBootstrap(t, s.data)
	of := func(q string) string {
		resp, err := http.Get(strings.TrimSuffix(s.url, "/") + "/plugins/userService/userservice?secret=" + boot.OpenfireSecret + "&" + q)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return string(b)
	}
	require.Equal(t, "<result>ok</result>\n", of("type=add&username=alice&password=pw1"))
	require.Equal(t, "<result>ok</result>\n", of("type=add&username=bob&password=pw2"))

	c, err := s.xmppLogin("alice@localhost", "pw1", "SCRAM-SHA-256")
	require.NoError(t, err)
	// Ask for the roster so the session is interested in pushes.
	require.NoError(t, c.Roster())
	waitFor(t, c, func(st any) bool { iq, ok := st.(goxmpp.IQ); return ok && iq.ID == "roster1" && iq.Type == "result" })

	require.Equal(t, "<result>ok</result>\n", of("type=add_roster&username=alice&item_jid=bob@localhost&name=Bobby&subscription=3"))
	waitFor(t, c, func(st any) bool {
		iq, ok := st.(goxmpp.IQ)
		return ok && iq.Type == "set" && strings.Contains(string(iq.Query), "bob@localhost") && strings.Contains(string(iq.Query), "Bobby")
	})
}

func waitFor(t *testing.T, c *xmppClient, pred func(any) bool) {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case st := <-c.in:
			if pred(st) {
				return
			}
		case <-c.end:
			t.Fatalf("stream ended: %v", c.err)
		case <-timeout:
			t.Fatal("timed out")
		}
	}
}
