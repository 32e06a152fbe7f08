package cluster

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/internal/natstest"
	"github.com/xmppgate/xmppgate/xmppcore"
)

// twoNodes serves one SQLite store from two xmppcore servers in this
// process, each with its own listener and its own cluster node on one
// embedded NATS server (the root package's TestClusterThreeNodes does the
// same with real processes on PostgreSQL; in-process, the race detector
// sees both sides).
func twoNodes(t *testing.T, users ...string) (a, b *xmppcore.Server, nodeA *Node) {
	t.Helper()
	st := seedStore(t, "", users...)
	url := natstest.Start(t)
	nodeA, err := Connect(Options{URL: url, Node: "a@test"})
	require.NoError(t, err)
	nodeB, err := Connect(Options{URL: url, Node: "b@test"})
	require.NoError(t, err)
	return startXMPP(t, st, nodeA), startXMPP(t, st, nodeB), nodeA
}

func addr(s *xmppcore.Server) string {
	a, _ := s.Addrs()
	return a.String()
}

func isChat(st any) bool { _, ok := st.(goxmpp.Chat); return ok }

// Bare-JID delivery across nodes follows RFC 6121 8.5.2 as on one node:
// the highest non-negative priority wins wherever its resource is
// connected, and the message is stored offline only when no node holds an
// available resource of non-negative priority. IQs to a full JID and
// kicks cross nodes too.
func TestBareJIDDeliveryAcrossNodes(t *testing.T) {
	t.Parallel()
	srvA, srvB, nodeA := twoNodes(t, "alice", "bob")
	bobJ := "bob@" + benchDomain
	alice := goxmpptest.Login(t, addr(srvA), "alice@"+benchDomain, "pw", goxmpptest.Resource("a"))
	bobLow := goxmpptest.Login(t, addr(srvA), bobJ, "pw", goxmpptest.Resource("low"))
	bobHigh := goxmpptest.Login(t, addr(srvB), bobJ, "pw", goxmpptest.Resource("high"))
	setPriority := func(c *goxmpptest.Client, p int) {
		_, err := c.SendOrg(fmt.Sprintf("<presence><priority>%d</priority></presence>", p))
		require.NoError(t, err)
	}
	// waitHigh waits until node A's directory has bob/high at priority p.
	waitHigh := func(p int) {
		require.Eventually(t, func() bool {
			for _, r := range nodeA.Remote(bobJ) {
				if r.JID == bobJ+"/high" && r.Available && r.Priority == p {
					return true
				}
			}
			return false
		}, 20*time.Second, 5*time.Millisecond)
	}
	send := func(to, text string) {
		_, err := alice.Send(goxmpp.Chat{Remote: to, Type: "chat", Text: text})
		require.NoError(t, err)
	}
	// firstChat fails unless the next chat c receives has text.
	firstChat := func(c *goxmpptest.Client, text string) {
		require.Equal(t, text, c.Expect(t, text, isChat).(goxmpp.Chat).Text)
	}
	setPriority(bobLow, 1)
	bobLow.Expect(t, "own presence", goxmpptest.Presence(bobJ+"/low", ""))
	setPriority(bobHigh, 5)
	waitHigh(5)

	t.Run("highest priority on the other node", func(t *testing.T) {
		send(bobJ, "to-bare-1")
		firstChat(bobHigh, "to-bare-1")
		// Had the bare message gone to low as well, low would see it first.
		send(bobJ+"/low", "to-low-1")
		firstChat(bobLow, "to-low-1")
	})
	t.Run("highest priority on this node", func(t *testing.T) {
		setPriority(bobHigh, -1)
		waitHigh(-1)
		send(bobJ, "to-bare-2")
		firstChat(bobLow, "to-bare-2")
		send(bobJ+"/high", "to-high-2")
		firstChat(bobHigh, "to-high-2")
	})
	t.Run("offline only when no node holds an eligible resource", func(t *testing.T) {
		_, err := bobLow.SendOrg("<presence type='unavailable'/>")
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			for _, s := range srvA.Sessions(benchDomain, "bob") {
				if s.Resource == "low" && !s.Available {
					return true
				}
			}
			return false
		}, 20*time.Second, 5*time.Millisecond)
		send(bobJ, "stored")
		third := goxmpptest.Login(t, addr(srvB), bobJ, "pw", goxmpptest.Resource("third"))
		_, err = third.SendPresence(goxmpp.Presence{})
		require.NoError(t, err)
		firstChat(third, "stored")
		third.Close()
		// Gone from node A's directory too, or the kick below counts it.
		require.Eventually(t, func() bool {
			for _, r := range nodeA.Remote(bobJ) {
				if r.JID == bobJ+"/third" {
					return false
				}
			}
			return true
		}, 20*time.Second, 5*time.Millisecond)
	})
	t.Run("iq to a full JID on the other node", func(t *testing.T) {
		_, err := alice.RawInformation(alice.JID(), bobJ+"/high", "v1", "get", "<query xmlns='jabber:iq:version'/>")
		require.NoError(t, err)
		bobHigh.Expect(t, "alice's iq", goxmpptest.IQ("v1", "get", "jabber:iq:version"))
		_, err = bobHigh.RawInformation(bobHigh.JID(), "alice@"+benchDomain+"/a", "v1", "result", "")
		require.NoError(t, err)
		alice.Expect(t, "bob's answer", goxmpptest.IQ("v1", "result", ""))
		// A full JID no node holds: the error comes back.
		_, err = alice.RawInformation(alice.JID(), bobJ+"/nowhere", "v2", "get", "<query xmlns='jabber:iq:version'/>")
		require.NoError(t, err)
		alice.Expect(t, "an error for nowhere", goxmpptest.IQ("v2", "error", ""))
	})
	t.Run("a kick on node A ends bob's session on node B", func(t *testing.T) {
		require.Equal(t, 2, srvA.Kick(benchDomain, "bob", "", "test"))
		bobHigh.Ended(t)
		bobLow.Ended(t)
		require.Eventually(t, func() bool { return len(nodeA.Remote(bobJ)) == 0 }, 20*time.Second, 5*time.Millisecond)
		require.Empty(t, srvB.Sessions(benchDomain, "bob"))
	})
}

// A full JID bound on a second node replaces the session on the first,
// as RFC 6120 7.7.2.2 has a server do with two sessions of one resource.
func TestResourceConflictAcrossNodes(t *testing.T) {
	t.Parallel()
	srvA, srvB, nodeA := twoNodes(t, "alice", "bob")
	bobJ := "bob@" + benchDomain
	first := goxmpptest.Login(t, addr(srvA), bobJ, "pw", goxmpptest.Resource("same"))
	second := goxmpptest.Login(t, addr(srvB), bobJ, "pw", goxmpptest.Resource("same"))
	first.Ended(t)
	require.Empty(t, srvA.Sessions(benchDomain, "bob"))
	require.Eventually(t, func() bool {
		rs := nodeA.Remote(bobJ)
		return len(rs) == 1 && rs[0].Node == "b@test"
	}, 20*time.Second, 5*time.Millisecond)
	alice := goxmpptest.Login(t, addr(srvA), "alice@"+benchDomain, "pw", goxmpptest.Resource("a"))
	_, err := alice.Send(goxmpp.Chat{Remote: bobJ + "/same", Type: "chat", Text: "to the new one"})
	require.NoError(t, err)
	second.Expect(t, "alice's message", goxmpptest.Chat("alice@", "to the new one"))
}

// twoNodesLongLease is twoNodes with a lease of a minute, which no test
// of a crash waits out; the NATS server's URL is returned for crash.
func twoNodesLongLease(t *testing.T, users ...string) (a, b *xmppcore.Server, nodeA, nodeB *Node, url string) {
	t.Helper()
	st := seedStore(t, "", users...)
	url = natstest.Start(t)
	nodeA, err := Connect(Options{URL: url, Node: "a@test", Lease: time.Minute})
	require.NoError(t, err)
	nodeB, err = Connect(Options{URL: url, Node: "b@test", Lease: time.Minute})
	require.NoError(t, err)
	return startXMPP(t, st, nodeA), startXMPP(t, st, nodeB), nodeA, nodeB, url
}

// available logs jid in on srv with resource res at priority prio.
func available(t *testing.T, srv *xmppcore.Server, jid, res string, prio int) *goxmpptest.Client {
	t.Helper()
	c := goxmpptest.Login(t, addr(srv), jid, "pw", goxmpptest.Resource(res))
	_, err := c.SendOrg(fmt.Sprintf("<presence><priority>%d</priority></presence>", prio))
	require.NoError(t, err)
	c.Expect(t, "own presence", goxmpptest.Presence(jid+"/"+res, ""))
	return c
}

// availableAt waits until node's directory has full as an available
// session.
func availableAt(t *testing.T, node *Node, full string) {
	t.Helper()
	bare, _, _ := strings.Cut(full, "/")
	require.Eventually(t, func() bool {
		for _, r := range node.Remote(bare) {
			if r.JID == full && r.Available {
				return true
			}
		}
		return false
	}, long, 5*time.Millisecond)
}

// A node that dies (its NATS connection closed with no goodbye, as a
// SIGKILL closes it) loses nothing sent to its users afterwards: node A
// hears of it from the NATS server at the first stanza it sends there,
// long before the lease, drops node B's sessions (alice sees bob go
// unavailable) and routes that stanza again without them. bob's only
// session was on node B: alice's chat, to his bare JID and to the full
// JID of his gone resource, waits in offline storage (XEP-0160) until he
// logs in again, on node A.
func TestCrashedNodeMessagesStoredOffline(t *testing.T) {
	t.Parallel()
	srvA, srvB, nodeA, nodeB, url := twoNodesLongLease(t, "alice", "bob")
	aliceJ, bobJ := "alice@"+benchDomain, "bob@"+benchDomain
	alice := available(t, srvA, aliceJ, "a", 0)
	bob := available(t, srvB, bobJ, "b", 0)
	// Node A must know bob is available on B before alice writes to him:
	// else her subscription request waits in offline storage.
	availableAt(t, nodeA, bobJ+"/b")
	goxmpptest.Befriend(t, alice, aliceJ, "a", bob, bobJ, "b")

	killed := time.Now()
	crash(t, url, nodeB)
	for _, m := range []goxmpp.Chat{
		{Remote: bobJ, Type: "chat", Text: "to bare, B dead"},
		{Remote: bobJ + "/b", Type: "chat", Text: "to B's resource, B dead"},
	} {
		_, err := alice.Send(m)
		require.NoError(t, err)
	}
	alice.Expect(t, "bob unavailable", goxmpptest.Presence(bobJ+"/b", "unavailable"))
	require.Less(t, time.Since(killed), time.Minute/4, "node B's sessions were dropped by its lease, not at once")
	require.Empty(t, nodeA.Remote(bobJ))
	alice.ExpectNone(t, "an error for the messages", 300*time.Millisecond, goxmpptest.Bounce(bobJ))

	// In either order: the first message is routed again after the drop,
	// on the goroutine behind it, so the second may be stored first.
	again := available(t, srvA, bobJ, "again", 0)
	var got []string
	for len(got) < 2 {
		got = append(got, again.Expect(t, "alice's messages, from offline storage", isChat).(goxmpp.Chat).Text)
	}
	require.ElementsMatch(t, []string{"to bare, B dead", "to B's resource, B dead"}, got)
}

// When the user has another resource, on a node still alive, what was
// sent to the dead node's resource goes there as RFC 6121 says: a chat to
// the bare JID goes to the highest priority left, and only if it did not
// get it already (both resources had priority 5, so it went to both: the
// survivor gets one copy); a chat to the gone resource's full JID is
// treated as one to the bare JID (8.5.3.2.1).
func TestCrashedNodeMessagesToOtherResource(t *testing.T) {
	t.Parallel()
	srvA, srvB, nodeA, nodeB, url := twoNodesLongLease(t, "alice", "bob")
	aliceJ, bobJ := "alice@"+benchDomain, "bob@"+benchDomain
	alice := available(t, srvA, aliceJ, "a", 0)
	here := available(t, srvA, bobJ, "here", 5)
	_ = available(t, srvB, bobJ, "there", 5)
	require.Eventually(t, func() bool {
		rs := nodeA.Remote(bobJ)
		return len(rs) == 1 && rs[0].Available && rs[0].Priority == 5
	}, long, 5*time.Millisecond)

	crash(t, url, nodeB)
	for _, m := range []goxmpp.Chat{
		{Remote: bobJ, Type: "chat", Text: "to bare"},
		{Remote: bobJ + "/there", Type: "chat", Text: "to there"},
	} {
		_, err := alice.Send(m)
		require.NoError(t, err)
	}
	var got []string
	for len(got) < 2 {
		got = append(got, here.Expect(t, "a chat", isChat).(goxmpp.Chat).Text)
	}
	here.ExpectNone(t, "a third chat", 300*time.Millisecond, isChat)
	require.ElementsMatch(t, []string{"to bare", "to there"}, got)
	require.Empty(t, nodeA.Remote(bobJ))
}

// A node that stopped listening for a moment but kept its sessions (NATS
// cut it off, or it was resubscribing) is dropped at the first stanza
// sent to it like a dead one, so the stanza is not lost: alice's chat to
// bob goes to offline storage. When node B is heard again, bob, still
// connected there, gets it without logging in again.
func TestNodeBackAfterBlipDeliversWhatWasStored(t *testing.T) {
	t.Parallel()
	srvA, srvB, nodeA, nodeB, _ := twoNodesLongLease(t, "alice", "bob")
	aliceJ, bobJ := "alice@"+benchDomain, "bob@"+benchDomain
	alice := available(t, srvA, aliceJ, "a", 0)
	// A message waiting for bob: its delivery at his initial presence
	// shows node B is done with the offline store for that presence, which
	// would otherwise deliver the message stored during the blip too.
	_, err := alice.Send(goxmpp.Chat{Remote: bobJ, Type: "chat", Text: "before bob came"})
	require.NoError(t, err)
	bob := goxmpptest.Login(t, addr(srvB), bobJ, "pw", goxmpptest.Resource("b"))
	_, err = bob.SendOrg("<presence/>")
	require.NoError(t, err)
	// His own presence and the waiting message, in either order: were the
	// message stored as he logged in, node A has B drain it (drainElsewhere).
	for presence, chat := false, false; !presence || !chat; {
		switch st := bob.Expect(t, "his own presence and the waiting message", func(st any) bool {
			return goxmpptest.Presence(bobJ+"/b", "")(st) || goxmpptest.Chat(aliceJ, "before bob came")(st)
		}).(type) {
		case goxmpp.Presence:
			presence = true
		case goxmpp.Chat:
			chat = true
		default:
			t.Fatalf("unexpected %T", st)
		}
	}
	// Available, not just bound: else alice's chat goes to offline storage
	// on node A without being sent to node B at all.
	availableAt(t, nodeA, bobJ+"/b")

	own := nodeB.subs[2]
	require.Equal(t, NodeSubject("b@test"), own.Subject)
	require.NoError(t, own.Unsubscribe())
	require.NoError(t, nodeB.nc.Flush())
	_, err = alice.Send(goxmpp.Chat{Remote: bobJ, Type: "chat", Text: "during the blip"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(nodeA.Remote(bobJ)) == 0 }, long, 5*time.Millisecond)
	bob.ExpectNone(t, "the message, before B is back", 300*time.Millisecond, isChat)

	sub, err := nodeB.nc.ChanSubscribe(NodeSubject("b@test"), nodeB.in)
	require.NoError(t, err)
	nodeB.subs[2] = sub
	bob.Expect(t, "the message, from offline storage", goxmpptest.Chat(aliceJ, "during the blip"))
	require.Len(t, nodeA.Remote(bobJ), 1)
}
