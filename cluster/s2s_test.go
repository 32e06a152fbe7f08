package cluster

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/internal/natstest"
	"github.com/xmppgate/xmppgate/xmppcore"
)

const remoteDomain = "remote.test"

// federatedTwoNodes serves benchDomain's users from two cluster nodes and
// remoteDomain's from a server of its own, federated with them: the remote
// server's streams to benchDomain all end on node A (its route), while
// node B opens its own streams to the remote server, which dials back to
// A to check them (the nodes share the dialback secret, as nodes sharing a
// data directory do).
func federatedTwoNodes(t *testing.T, local, remote []string) (a, b, r *xmppcore.Server, nodeA *Node) {
	t.Helper()
	url := natstest.Start(t)
	nodeA, err := Connect(Options{URL: url, Node: "a@test"})
	require.NoError(t, err)
	nodeB, err := Connect(Options{URL: url, Node: "b@test"})
	require.NoError(t, err)
	toRemote, toLocal := map[string]string{}, map[string]string{}
	secret := []byte(strings.Repeat("5e", 32) + "\n")
	federate := func(routes map[string]string) func(*xmppcore.Config) {
		return func(c *xmppcore.Config) {
			c.S2SAddr, c.S2SRoutes = "127.0.0.1:0", routes
			require.NoError(t, os.WriteFile(filepath.Join(c.DataDir, "s2s_secret"), secret, 0o600))
		}
	}
	st := seedStore(t, "", local...)
	a = startXMPP(t, st, nodeA, federate(toRemote))
	b = startXMPP(t, st, nodeB, federate(toRemote))
	r = startXMPP(t, seedDomain(t, remoteDomain, "", remote...), nil, func(c *xmppcore.Config) {
		c.S2SAddr, c.S2SRoutes = "127.0.0.1:0", toLocal
	})
	// The maps are read only once traffic flows, after this.
	toRemote[remoteDomain] = r.S2SAddr().String()
	toLocal[benchDomain] = a.S2SAddr().String()
	return a, b, r, nodeA
}

// rosterPush matches a roster push of contact with subscription sub.
func rosterPush(contact, sub string) func(any) bool {
	return func(st any) bool {
		q, ok := st.(goxmpp.IQ)
		body := string(q.Query)
		return ok && q.Type == "set" && strings.Contains(body, "jabber:iq:roster") &&
			strings.Contains(body, `jid="`+contact+`"`) && strings.Contains(body, `subscription="`+sub+`"`)
	}
}

// A user's resources on two nodes both follow what a remote server's user
// does to their subscriptions, though the remote server's stream ends on
// node A only: roster pushes and subscription presence reach the resource
// on node B, and the remote user gets the presence of both resources when
// the subscription is approved on B.
func TestFederatedSubscriptionAcrossNodes(t *testing.T) {
	t.Parallel()
	a, b, r, nodeA := federatedTwoNodes(t, []string{"bob"}, []string{"rita"})
	bobJ, ritaJ := "bob@"+benchDomain, "rita@"+remoteDomain
	bobA := goxmpptest.Login(t, addr(a), bobJ, "pw", goxmpptest.Resource("a"))
	bobB := goxmpptest.Login(t, addr(b), bobJ, "pw", goxmpptest.Resource("b"))
	rita := goxmpptest.Login(t, addr(r), ritaJ, "pw", goxmpptest.Resource("r"))
	for _, c := range []*goxmpptest.Client{bobA, bobB, rita} {
		c.FetchRoster(t)
		_, err := c.SendPresence(goxmpp.Presence{})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		for _, s := range nodeA.Remote(bobJ) {
			if s.JID == bobJ+"/b" && s.Available {
				return true
			}
		}
		return false
	}, 20*time.Second, 5*time.Millisecond, "node A's directory has bob/b available")

	t.Run("bob on B subscribes, rita's approval comes in on A", func(t *testing.T) {
		_, err := bobB.SendOrg("<presence to='" + ritaJ + "' type='subscribe'/>")
		require.NoError(t, err)
		rita.Expect(t, "bob's request", goxmpptest.Presence(bobJ, "subscribe"))
		_, err = rita.SendOrg("<presence to='" + bobJ + "' type='subscribed'/>")
		require.NoError(t, err)
		for _, c := range []*goxmpptest.Client{bobA, bobB} {
			c.Expect(t, "the roster push of rita, subscription to", rosterPush(ritaJ, "to"))
		}
		bobB.Expect(t, "rita's approval", goxmpptest.Presence(ritaJ, "subscribed"))
	})
	t.Run("rita subscribes through A, bob approves on B", func(t *testing.T) {
		_, err := rita.SendOrg("<presence to='" + bobJ + "' type='subscribe'/>")
		require.NoError(t, err)
		bobB.Expect(t, "rita's request", goxmpptest.Presence(ritaJ, "subscribe"))
		_, err = bobB.SendOrg("<presence to='" + ritaJ + "' type='subscribed'/>")
		require.NoError(t, err)
		for _, c := range []*goxmpptest.Client{bobA, bobB} {
			c.Expect(t, "the roster push of rita, subscription both", rosterPush(ritaJ, "both"))
		}
		// Both of bob's resources, the one on A from B's directory, in
		// either order.
		seen := map[string]bool{}
		for len(seen) < 2 {
			p := rita.Expect(t, "bob's resources' presence", goxmpptest.Presence(bobJ+"/", "")).(goxmpp.Presence)
			seen[p.From] = true
		}
		require.Equal(t, map[string]bool{bobJ + "/a": true, bobJ + "/b": true}, seen)
	})
}
