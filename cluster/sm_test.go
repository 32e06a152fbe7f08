package cluster

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/internal/natstest"
	"github.com/xmppgate/xmppgate/internal/slixmpptest"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore"
)

// XEP-0198 resumption on another node than the one the session hibernates
// on (xmppcore/sm_cluster.go), proven with slixmpp's own stream management
// against two servers in this process on one shared store and one
// embedded NATS server.

type smBundle struct {
	a, b         *xmppcore.Server
	nodeA, nodeB *Node
	st           *store.Store
}

// smSetup starts nodes a@test and b@test on one store with users; optsA
// configure node A's server.
func smSetup(t *testing.T, optsA []func(*xmppcore.Config), users ...string) *smBundle {
	t.Helper()
	slixmpptest.Require(t)
	st := seedAt(t, sharedStore(t), benchDomain, "", users...)
	url := natstest.Start(t)
	nodeA, err := Connect(Options{URL: url, Node: "a@test"})
	require.NoError(t, err)
	nodeB, err := Connect(Options{URL: url, Node: "b@test"})
	require.NoError(t, err)
	return &smBundle{a: startXMPP(t, st, nodeA, optsA...), b: startXMPP(t, st, nodeB), nodeA: nodeA, nodeB: nodeB, st: st}
}

// smLogin logs jid in with slixmpp, stream management and resumption on,
// through a proxy to srv the test can cut; it returns the resumption id.
func smLogin(t *testing.T, srv *xmppcore.Server, jid string) (*slixmpptest.Driver, *slixmpptest.Proxy, string) {
	t.Helper()
	p := slixmpptest.NewProxy(t, addr(srv))
	d := slixmpptest.Drive(t, jid, "pw")
	require.Equal(t, "session_start", d.Connect(p.Addr(), false))
	e := d.Wait("<enabled/>", long, slixmpptest.Is("sm_enabled"))
	require.NotEmpty(t, e.S("id"))
	d.Do("presence")
	return d, p, e.S("id")
}

// dirHas waits until n's directory shows full held by node.
func dirHas(t *testing.T, n *Node, full, node string) {
	t.Helper()
	bare := full[:len(full)-len("/phone")]
	require.Eventually(t, func() bool {
		for _, r := range n.Remote(bare) {
			if r.JID == full && r.Node == node {
				return true
			}
		}
		return false
	}, long, 5*time.Millisecond, "%s never learned that %s holds %s", n.Name(), node, full)
}

// cut drops the client's connection through its proxy and waits until
// srv holds full's session hibernated.
func cut(t *testing.T, d *slixmpptest.Driver, p *slixmpptest.Proxy, srv *xmppcore.Server, user, full string) {
	t.Helper()
	p.Cut()
	d.Wait("the connection lost", long, slixmpptest.Is("disconnected"))
	hibernated(t, srv, user, full)
}

// smQuery names alice's session id in a QuerySMTake or QuerySMDone.
func smQuery(t *testing.T, b *smBundle, id string) *xmppcore.SMQuery {
	t.Helper()
	u, err := b.st.UserByJID(context.Background(), benchDomain, "alice")
	require.NoError(t, err)
	return &xmppcore.SMQuery{ID: id, UserID: u.ID}
}

// hibernated waits until srv holds full's session hibernated.
func hibernated(t *testing.T, srv *xmppcore.Server, user, full string) {
	t.Helper()
	require.Eventually(t, func() bool {
		for _, s := range srv.Sessions(benchDomain, user) {
			if s.JID == full && s.Hibernated {
				return true
			}
		}
		return false
	}, long, 5*time.Millisecond, "%s never hibernated", full)
}

func chat(t *testing.T, from *goxmpptest.Client, to, text string) {
	t.Helper()
	_, err := from.SendOrg("<message to='" + to + "' type='chat' id='" + text + "'><body>" + text + "</body></message>")
	require.NoError(t, err)
}

// TestIntegrationSMResumeOnOtherNode: alice's slixmpp client, with stream
// management, is on node A; its connection is cut (no </stream>) and the
// session hibernates there. Mallory, on node B, presents alice's
// resumption id and is refused (<failed/>; slixmpp binds anew); the
// session stays alice's. Alice's client then resumes on node B: the same
// full JID, the messages bob (on node A) sent while it was away arrive
// exactly once, node A no longer holds the session, no node told anyone
// it went unavailable, and bob's next message reaches it on node B.
func TestIntegrationSMResumeOnOtherNode(t *testing.T) {
	t.Parallel()
	b := smSetup(t, nil, "alice", "bob", "mallory")
	aliceJ := "alice@" + benchDomain
	aj := aliceJ + "/phone"
	d, p, id := smLogin(t, b.a, aj)
	bob := goxmpptest.Login(t, addr(b.a), "bob@"+benchDomain, "pw", goxmpptest.Resource("r"))
	// Her other resource sees her presence: an unavailable from the phone
	// would mean the session ended somewhere.
	laptop := goxmpptest.Login(t, addr(b.a), aliceJ, "pw", goxmpptest.Resource("laptop"))
	_, err := laptop.SendOrg("<presence/>")
	require.NoError(t, err)
	dirHas(t, b.nodeB, aj, "a@test")

	chat(t, bob, aj, "before")
	d.Wait("the first message", long, slixmpptest.Message("before"))
	cut(t, d, p, b.a, "alice", aj)
	chat(t, bob, aj, "while-away-1")
	chat(t, bob, aliceJ, "to-bare")
	chat(t, bob, aj, "while-away-2")

	// Another user with alice's id: item-not-found, as for an unknown id.
	m := slixmpptest.Drive(t, "mallory@"+benchDomain+"/phone", "pw")
	m.Do("previd", "id", id)
	require.Equal(t, "session_start", m.Connect(addr(b.b), false), "mallory's resumption fails, slixmpp binds anew")
	m.Wait("<failed/>", long, slixmpptest.Is("sm_failed"))
	hibernated(t, b.a, "alice", aj)

	pB := slixmpptest.NewProxy(t, addr(b.b))
	require.Equal(t, "session_resumed", d.Connect(pB.Addr(), false))
	for _, text := range []string{"while-away-1", "to-bare", "while-away-2"} {
		d.Wait("the message sent while away: "+text, long, slixmpptest.Message(text))
	}
	require.Eventually(t, func() bool { return len(b.a.Sessions(benchDomain, "alice")) == 1 }, long, 5*time.Millisecond,
		"node A still holds the phone's session")
	require.Equal(t, aliceJ+"/laptop", b.a.Sessions(benchDomain, "alice")[0].JID)
	onB := b.b.Sessions(benchDomain, "alice")
	require.Len(t, onB, 1)
	require.Equal(t, aj, onB[0].JID, "the same full JID")
	require.True(t, onB[0].Available, "its presence came along")
	require.False(t, onB[0].Hibernated)
	dirHas(t, b.nodeA, aj, "b@test")
	require.Eventually(t, func() bool {
		return !slices.ContainsFunc(b.nodeB.Remote(aliceJ), func(r xmppcore.RemoteSession) bool { return r.JID == aj })
	}, long, 5*time.Millisecond, "node B's directory still has node A's entry of the phone")
	var where []string
	for _, s := range b.a.ClusterSessions(benchDomain, "alice") {
		where = append(where, s.Node+" "+s.JID)
	}
	require.Equal(t, []string{"a@test " + aliceJ + "/laptop", "b@test " + aj}, where, "connected_users_info as node A answers it")

	chat(t, bob, aj, "after")
	d.Wait("bob's message after the move", long, slixmpptest.Message("after"))
	laptop.ExpectNone(t, "no unavailable presence of the phone", 500*time.Millisecond, goxmpptest.Presence(aj, "unavailable"))
	count := map[string]int{}
	for _, e := range d.Events() {
		if e.S("event") == "message" {
			count[e.S("body")]++
		}
	}
	require.Empty(t, count, "messages received twice")

	// The session moves on as often as its client reconnects elsewhere:
	// back to node A.
	pB.Cut()
	d.Wait("the connection lost", long, slixmpptest.Is("disconnected"))
	hibernated(t, b.b, "alice", aj)
	chat(t, bob, aj, "while-away-3")
	pA := slixmpptest.NewProxy(t, addr(b.a))
	require.Equal(t, "session_resumed", d.Connect(pA.Addr(), false), "and back to node A")
	d.Wait("the message sent while away on B", long, slixmpptest.Message("while-away-3"))
	require.Eventually(t, func() bool { return len(b.b.Sessions(benchDomain, "alice")) == 0 }, long, 5*time.Millisecond)
}

// TestIntegrationSMUnackedToOtherNode: a hibernated session that times
// out routes what its client never acknowledged to the user's resource
// online on another node, as it does to one on its own node, instead of
// storing it offline for that node to drain.
func TestIntegrationSMUnackedToOtherNode(t *testing.T) {
	t.Parallel()
	b := smSetup(t, []func(*xmppcore.Config){func(c *xmppcore.Config) { c.SMResumeTimeout = time.Second }}, "alice", "bob")
	aliceJ := "alice@" + benchDomain
	aj := aliceJ + "/phone"
	d, p, _ := smLogin(t, b.a, aj)
	laptop := goxmpptest.Login(t, addr(b.b), aliceJ, "pw", goxmpptest.Resource("laptop"))
	_, err := laptop.SendOrg("<presence/>")
	require.NoError(t, err)
	bob := goxmpptest.Login(t, addr(b.a), "bob@"+benchDomain, "pw", goxmpptest.Resource("r"))
	require.Eventually(t, func() bool {
		for _, r := range b.nodeA.Remote(aliceJ) {
			if r.JID == aliceJ+"/laptop" && r.Available {
				return true
			}
		}
		return false
	}, long, 5*time.Millisecond)

	cut(t, d, p, b.a, "alice", aj)
	chat(t, bob, aj, "unacked")
	got := laptop.ExpectWithin(t, "the phone's unacked message", long, goxmpptest.Chat("bob@"+benchDomain+"/r", "unacked"))
	// Through the offline store and node B draining it (drainElsewhere)
	// it would come too, later and with a delay stamp.
	require.True(t, got.(goxmpp.Chat).Stamp.IsZero(), "routed live, not stored offline")
	require.Empty(t, b.a.Sessions(benchDomain, "alice"))
}

// TestIntegrationSMResumeWhileMoving: while node A hands alice's
// hibernated session to another node (the test plays that node through
// node A's Answer), a resumption of it on node A and one on node B both
// fail (<failed/>, the clients bind anew): exactly one resumer wins. When
// the taker gives up, the session hibernates on and resumes on node B.
func TestIntegrationSMResumeWhileMoving(t *testing.T) {
	t.Parallel()
	b := smSetup(t, nil, "alice", "bob")
	aliceJ := "alice@" + benchDomain
	aj := aliceJ + "/phone"
	d, p, id := smLogin(t, b.a, aj)
	dirHas(t, b.nodeB, aj, "a@test")
	cut(t, d, p, b.a, "alice", aj)
	sm := smQuery(t, b, id)

	take := b.a.Answer(xmppcore.Query{Kind: xmppcore.QuerySMTake, Domain: benchDomain, Username: "alice", SM: sm})
	require.Contains(t, string(take), `"f":true`)
	require.Contains(t, string(b.a.Answer(xmppcore.Query{Kind: xmppcore.QuerySMTake, Domain: benchDomain, Username: "alice", SM: sm})),
		`"f":false`, "a second taker")
	for i, srv := range []*xmppcore.Server{b.a, b.b} {
		other := slixmpptest.Drive(t, aliceJ+"/other"+strconv.Itoa(i), "pw")
		other.Do("previd", "id", id)
		require.Equal(t, "session_start", other.Connect(addr(srv), false), "a resumption during the move, %d", i)
		other.Wait("<failed/>", long, slixmpptest.Is("sm_failed"))
	}
	hibernated(t, b.a, "alice", aj)

	abort := *sm
	abort.Abort = true
	require.Contains(t, string(b.a.Answer(xmppcore.Query{Kind: xmppcore.QuerySMDone, SM: &abort})), `"ok":true`)
	require.Equal(t, "session_resumed", d.Connect(addr(b.b), false))
	require.Eventually(t, func() bool { return len(b.a.Sessions(benchDomain, "alice")) == 1 }, long, 5*time.Millisecond,
		"node A holds other0 only")
	for _, s := range b.a.Sessions(benchDomain, "alice") {
		require.NotEqual(t, aj, s.JID)
	}
}

// TestIntegrationSMHolderSilent: the node holding the session does not
// answer (its cluster link is gone): the resumption on the other node
// fails at once and the client binds anew; the hibernated session stays
// on its node, where it times out as any other.
func TestIntegrationSMHolderSilent(t *testing.T) {
	t.Parallel()
	b := smSetup(t, nil, "alice")
	aj := "alice@" + benchDomain + "/phone"
	d, p, _ := smLogin(t, b.a, aj)
	dirHas(t, b.nodeB, aj, "a@test")
	cut(t, d, p, b.a, "alice", aj)
	b.nodeA.Close()
	require.Equal(t, "session_start", d.Connect(addr(b.b), false), "the resumption fails, slixmpp binds anew")
	require.Len(t, b.b.Sessions(benchDomain, "alice"), 1)
	hibernated(t, b.a, "alice", aj)
}

// TestIntegrationSMResumeKeepsRooms: alice's session, on node A, is in a
// room node A owns and in one node B owns; after it resumes on node B,
// both rooms' messages reach it there (node A's room through a cluster
// stand-in, node B's room directly), and the rooms did not see it leave.
func TestIntegrationSMResumeKeepsRooms(t *testing.T) {
	t.Parallel()
	b := smSetup(t, nil, "alice", "bob")
	aj := "alice@" + benchDomain + "/phone"
	d, p, _ := smLogin(t, b.a, aj)
	bob := goxmpptest.Login(t, addr(b.a), "bob@"+benchDomain, "pw", goxmpptest.Resource("r"))
	dirHas(t, b.nodeB, aj, "a@test")
	require.Eventually(t, func() bool { return len(b.nodeA.Peers()) == 1 && len(b.nodeB.Peers()) == 1 }, long, 5*time.Millisecond)
	var rooms []string
	for _, owner := range []string{"a@test", "b@test"} {
		for i := 0; ; i++ {
			room := "room" + strconv.Itoa(i) + "@conference." + benchDomain
			if OwnerAmong([]string{"a@test", "b@test"}, room) == owner {
				rooms = append(rooms, room)
				break
			}
		}
	}
	for _, room := range rooms {
		_, err := bob.JoinMUCNoHistory(room, "Bob")
		require.NoError(t, err)
		bob.ExpectWithin(t, "bob in "+room, long, goxmpptest.Presence(room+"/Bob", ""))
		require.Equal(t, "result", bob.Ask(t, "instant", "set", room,
			"<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query>").Type)
		d.Do("join", "room", room, "nick", "Alice")
		bob.ExpectWithin(t, "alice joins "+room, long, goxmpptest.Presence(room+"/Alice", ""))
	}

	cut(t, d, p, b.a, "alice", aj)
	require.Equal(t, "session_resumed", d.Connect(addr(b.b), false))
	require.Eventually(t, func() bool { return len(b.a.Sessions(benchDomain, "alice")) == 0 }, long, 5*time.Millisecond)
	for _, room := range rooms {
		_, err := bob.SendOrg("<message to='" + room + "' type='groupchat'><body>in " + room + "</body></message>")
		require.NoError(t, err)
		d.Wait("the room's message after the move: "+room, long, slixmpptest.Message("in "+room))
	}
	bob.ExpectNone(t, "alice never left a room", 300*time.Millisecond, func(st any) bool {
		pr, ok := st.(goxmpp.Presence)
		return ok && pr.Type == "unavailable"
	})
}

// TestIntegrationSMTakerSilent: a node took alice's session (the test
// plays it through node A's Answer) and never confirmed nor bound it:
// after the wait (the resumption timeout here, shorter than 30 s) node A
// lets it hibernate on, and the client resumes it on node B.
func TestIntegrationSMTakerSilent(t *testing.T) {
	t.Parallel()
	b := smSetup(t, []func(*xmppcore.Config){func(c *xmppcore.Config) { c.SMResumeTimeout = 3 * time.Second }}, "alice")
	aj := "alice@" + benchDomain + "/phone"
	d, p, id := smLogin(t, b.a, aj)
	dirHas(t, b.nodeB, aj, "a@test")
	cut(t, d, p, b.a, "alice", aj)
	sm := smQuery(t, b, id)
	take := xmppcore.Query{Kind: xmppcore.QuerySMTake, Domain: benchDomain, Username: "alice", SM: sm}
	require.Contains(t, string(b.a.Answer(take)), `"f":true`)
	start := time.Now()
	// Taken again (by the test) as soon as node A gave up on the first
	// taker, so that it does not time out meanwhile; then let go of.
	require.Eventually(t, func() bool { return strings.Contains(string(b.a.Answer(take)), `"f":true`) }, long, 20*time.Millisecond)
	require.Greater(t, time.Since(start), 2*time.Second, "node A gave up on the taker early")
	abort := *sm
	abort.Abort = true
	require.Contains(t, string(b.a.Answer(xmppcore.Query{Kind: xmppcore.QuerySMDone, SM: &abort})), `"ok":true`)
	require.Equal(t, "session_resumed", d.Connect(addr(b.b), false))
}
