package cluster

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/natstest"
	"github.com/xmppgate/xmppgate/xmppcore"
)

// The XMPP side is proven with real servers and independent clients in the
// root package's TestClusterThreeNodes; here the directory, leases and
// delivery are checked against a real (embedded) NATS server, with a
// recorder in place of the XMPP server on each node.

type recorder struct {
	name     string
	moved    []string // the nodes NodesChanged was told were lost
	mu       sync.Mutex
	sessions []xmppcore.RemoteSession
	stanzas  []string // to + " " + stanza
	effects  []xmppcore.Effect
	lost     []string // full JIDs
	found    []string
	// undelivered: gone.Node + " " + gone.JID + " " + stanza, the
	// session's priority appended when the directory knew it.
	undelivered []string
}

func (r *recorder) Undelivered(gone xmppcore.RemoteSession, stanza []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := gone.Node + " " + gone.JID + " " + string(stanza)
	if gone.Available {
		s += fmt.Sprintf(" (priority %d)", gone.Priority)
	}
	r.undelivered = append(r.undelivered, s)
}

func (r *recorder) undeliveredList() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.undelivered)
}

func (r *recorder) FromNode(to string, stanza []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stanzas = append(r.stanzas, to+" "+string(stanza))
}

func (r *recorder) ApplyEffect(e xmppcore.Effect) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.effects = append(r.effects, e)
}

func (r *recorder) NodeLost(gone []xmppcore.RemoteSession) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, g := range gone {
		r.lost = append(r.lost, g.JID)
	}
}

func (r *recorder) NodeFound(found []xmppcore.RemoteSession) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, f := range found {
		r.found = append(r.found, f.JID)
	}
}

func (r *recorder) NodesChanged(lost []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.moved = append(r.moved, lost...)
}

// Answer echoes the query, so that a test sees it arrived whole.
func (r *recorder) Answer(q xmppcore.Query) []byte {
	return []byte(r.name + ":" + q.Kind + " " + q.Username + "@" + q.Domain + " " + q.Name)
}

func (r *recorder) nodesLost() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.moved)
}

func (r *recorder) LocalSessions() []xmppcore.RemoteSession {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.sessions)
}

func (r *recorder) snapshot() (stanzas []string, effects []xmppcore.Effect, lost []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.stanzas), slices.Clone(r.effects), slices.Clone(r.lost)
}

// join starts a node named name whose XMPP side is a recorder.
func join(t *testing.T, url, name string, sessions ...xmppcore.RemoteSession) (*Node, *recorder) {
	t.Helper()
	n, err := Connect(Options{URL: url, Node: name, Heartbeat: 50 * time.Millisecond, Lease: 600 * time.Millisecond})
	require.NoError(t, err)
	rec := &recorder{name: name, sessions: sessions}
	require.NoError(t, n.Start(rec))
	t.Cleanup(n.Close)
	return n, rec
}

const long = 20 * time.Second // generous: the machine is shared

func remoteJIDs(n *Node, bare string) []string {
	var out []string
	for _, r := range n.Remote(bare) {
		out = append(out, r.Node+" "+r.JID)
	}
	slices.Sort(out)
	return out
}

func TestDirectory(t *testing.T) {
	t.Parallel()
	url := natstest.Start(t)
	// a holds a session before b joins: b learns it by asking (sync).
	a, recA := join(t, url, "a@host.example", xmppcore.RemoteSession{JID: "ann@d.example/old", Available: true, Priority: 5})
	b, recB := join(t, url, "b@host.example")
	require.Eventually(t, func() bool {
		return slices.Equal(remoteJIDs(b, "ann@d.example"), []string{"a@host.example ann@d.example/old"})
	}, long, 10*time.Millisecond, "b never learned a's existing session")
	require.Empty(t, a.Remote("ann@d.example"), "a node does not list its own sessions")

	// Announcements: bind, presence, gone.
	a.Announce(xmppcore.RemoteSession{JID: "ann@d.example/new"}, false)
	a.Announce(xmppcore.RemoteSession{JID: "ann@d.example/new", Available: true, Priority: -1, Presence: []byte("<presence/>")}, false)
	require.Eventually(t, func() bool {
		for _, r := range b.Remote("ann@d.example") {
			if r.JID == "ann@d.example/new" && r.Available && r.Priority == -1 && string(r.Presence) == "<presence/>" {
				return true
			}
		}
		return false
	}, long, 10*time.Millisecond)
	a.Announce(xmppcore.RemoteSession{JID: "ann@d.example/old"}, true)
	require.Eventually(t, func() bool {
		return slices.Equal(remoteJIDs(b, "ann@d.example"), []string{"a@host.example ann@d.example/new"})
	}, long, 10*time.Millisecond)

	// Stanzas go to one node; effects to the nodes holding the user.
	a.Forward("b@host.example", "bob@d.example/r", []byte("<message/>"))
	b.Effect(xmppcore.Effect{Kind: xmppcore.EffectKick, Domain: "d.example", Username: "ann"})
	b.Effect(xmppcore.Effect{Kind: xmppcore.EffectKick, Domain: "d.example", Username: "nobody"})
	require.Eventually(t, func() bool {
		st, _, _ := recB.snapshot()
		return slices.Equal(st, []string{"bob@d.example/r <message/>"})
	}, long, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		_, fx, _ := recA.snapshot()
		return len(fx) == 1 && fx[0].Username == "ann" && fx[0].Kind == xmppcore.EffectKick
	}, long, 10*time.Millisecond, "the kick of ann reaches a, the one of nobody nowhere")
}

func TestEffectsReachTheHoldingNode(t *testing.T) {
	t.Parallel()
	url := natstest.Start(t)
	a, recA := join(t, url, "a@h")
	b, recB := join(t, url, "b@h")
	c, recC := join(t, url, "c@h")
	a.Announce(xmppcore.RemoteSession{JID: "ann@d/x"}, false)
	require.Eventually(t, func() bool { return len(c.Remote("ann@d")) == 1 && len(b.Remote("ann@d")) == 1 }, long, 10*time.Millisecond)
	c.Effect(xmppcore.Effect{Kind: xmppcore.EffectRoster, Domain: "d", Username: "ann", Contact: "z@e"})
	require.Eventually(t, func() bool {
		_, fx, _ := recA.snapshot()
		return len(fx) == 1 && fx[0].Contact == "z@e" && fx[0].Kind == xmppcore.EffectRoster
	}, long, 10*time.Millisecond)
	// b holds none of ann's sessions: nothing reaches it.
	_, fxB, _ := recB.snapshot()
	_, fxC, _ := recC.snapshot()
	require.Empty(t, fxB)
	require.Empty(t, fxC)
}

// A node that stops (SIGKILL, or cut from NATS) loses its sessions on the
// others once its lease runs out, and they are told which.
func TestLeaseExpiry(t *testing.T) {
	t.Parallel()
	url := natstest.Start(t)
	a, _ := join(t, url, "a@h")
	b, recB := join(t, url, "b@h")
	a.Announce(xmppcore.RemoteSession{JID: "ann@d/x", Available: true}, false)
	require.Eventually(t, func() bool { return len(b.Remote("ann@d")) == 1 }, long, 10*time.Millisecond)
	require.Contains(t, b.Peers(), "a@h")
	a.Close()
	require.Eventually(t, func() bool {
		_, _, lost := recB.snapshot()
		return slices.Equal(lost, []string{"ann@d/x"})
	}, long, 10*time.Millisecond)
	require.Empty(t, b.Remote("ann@d"))
	require.NotContains(t, b.Peers(), "a@h")
}

// A node whose lease ran out (NATS cut it off for a while) and is then
// heard again is synced, and the XMPP side told its sessions are back.
func TestHeardAgainAfterExpiry(t *testing.T) {
	t.Parallel()
	url := natstest.Start(t)
	_, _ = join(t, url, "a@h", xmppcore.RemoteSession{JID: "ann@d/x", Available: true})
	b, recB := join(t, url, "b@h")
	require.Eventually(t, func() bool { return len(b.Remote("ann@d")) == 1 }, long, 10*time.Millisecond)
	// As if no heartbeat of a's had come for an hour.
	b.expire(time.Now().Add(time.Hour))
	require.Eventually(t, func() bool {
		_, _, lost := recB.snapshot()
		return slices.Equal(lost, []string{"ann@d/x"})
	}, long, 10*time.Millisecond)
	require.Eventually(t, func() bool {
		recB.mu.Lock()
		defer recB.mu.Unlock()
		return slices.Equal(recB.found, []string{"ann@d/x"})
	}, long, 10*time.Millisecond)
	require.Len(t, b.Remote("ann@d"), 1)
}

// A node restarted under the same name (a new incarnation) replaces its
// old sessions: those are lost, the new ones learned.
func TestRestartedNode(t *testing.T) {
	t.Parallel()
	url := natstest.Start(t)
	a1, _ := join(t, url, "a@h")
	b, recB := join(t, url, "b@h")
	a1.Announce(xmppcore.RemoteSession{JID: "ann@d/before", Available: true}, false)
	require.Eventually(t, func() bool { return len(b.Remote("ann@d")) == 1 }, long, 10*time.Millisecond)
	// The old process's connection stays up but stops speaking, as one
	// frozen would; the new one starts with its own session.
	for _, s := range a1.subs {
		_ = s.Unsubscribe()
	}
	close(a1.stop)
	a1.done.Wait()
	_, _ = join(t, url, "a@h", xmppcore.RemoteSession{JID: "ann@d/after", Available: true})
	require.Eventually(t, func() bool {
		_, _, lost := recB.snapshot()
		return slices.Equal(remoteJIDs(b, "ann@d"), []string{"a@h ann@d/after"}) && slices.Equal(lost, []string{"ann@d/before"})
	}, long, 10*time.Millisecond)
	a1.nc.Close()
}

func TestConnectNeedsURLAndName(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{}, {URL: "nats://127.0.0.1:1"}, {Node: "a@h"}} {
		_, err := Connect(o)
		require.Error(t, err)
	}
	_, err := Connect(Options{URL: "nats://127.0.0.1:1", Node: "a@h"})
	require.ErrorContains(t, err, "NATS")
}

// Node subjects are single NATS tokens whatever the node's name holds.
func TestNodeSubject(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"a@h", "xmppgate@node1.example.com", "x.y@*>"} {
		s := NodeSubject(name)
		require.Regexp(t, `^xmppgate\.node\.[0-9a-f]{16}$`, s, name)
	}
	require.NotEqual(t, NodeSubject("a@h"), NodeSubject("b@h"))
}

// FuzzHandle feeds what a hostile or broken peer could publish on the
// cluster's subjects to one node: nothing may panic.
func FuzzHandle(f *testing.F) {
	f.Add(SubjectSessions, "", "", []byte(`{"node":"x@h","inc":"1","j":"a@d/r","a":true,"p":3,"s":"PHByZXNlbmNlLz4="}`))
	f.Add(SubjectSessions, "", "", []byte(`{"node":"x@h","inc":"1","gone":true,"j":"a@d"}`))
	f.Add(SubjectHeartbeat, "", "", []byte(`{"node":"x@h","inc":"2"}`))
	f.Add("xmppgate.node.0", opSessions, "x@h", []byte(`[{"j":"b@d/r"},{"j":""}]`))
	f.Add("xmppgate.node.0", opEffect, "x@h", []byte(`{"k":"kick","d":"d","u":"a"}`))
	f.Add("xmppgate.node.0", opStanza, "x@h", []byte(`<message/>`))
	f.Add("xmppgate.node.0", opSync, "x@h", []byte(nil))
	f.Add(SubjectSessions, "", "", []byte(`{]`))
	n, err := Connect(Options{URL: natstest.Start(f), Node: "me@h"})
	require.NoError(f, err)
	defer n.nc.Close()
	n.local = &recorder{}
	n.done.Add(1)
	go n.runSlow()
	defer close(n.stop)
	f.Fuzz(func(t *testing.T, subject, op, from string, data []byte) {
		m := nats.NewMsg(subject)
		m.Header.Set(hdrOp, op)
		m.Header.Set(hdrFrom, from)
		m.Header.Set(hdrInc, "1")
		m.Data = data
		n.handle(m)
	})
}

// TestOwnerAmong: rendezvous hashing spreads rooms over the nodes, and a
// node leaving moves only its own rooms (the others' occupants are left
// alone).
func TestOwnerAmong(t *testing.T) {
	t.Parallel()
	all := []string{"a@h", "b@h", "c@h"}
	tests := []struct {
		name  string
		nodes []string
	}{
		{"a gone", []string{"b@h", "c@h"}},
		{"b gone", []string{"a@h", "c@h"}},
		{"c gone", []string{"a@h", "b@h"}},
	}
	count := map[string]int{}
	const rooms = 3000
	for i := range rooms {
		count[OwnerAmong(all, fmt.Sprintf("room%d@conference.d.example", i))]++
	}
	for _, n := range all {
		require.InDelta(t, rooms/3, count[n], rooms/10, "%s owns %d of %d rooms", n, count[n], rooms)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for i := range rooms {
				room := fmt.Sprintf("room%d@conference.d.example", i)
				before, after := OwnerAmong(all, room), OwnerAmong(tt.nodes, room)
				if slices.Contains(tt.nodes, before) {
					require.Equal(t, before, after, "%s moved though its node lives", room)
				} else {
					require.Contains(t, tt.nodes, after)
				}
			}
		})
	}
	require.Equal(t, "", OwnerAmong(nil, "r@c.d"))
}

// TestOwnerFailover: live nodes agree on each room's owner; when the
// owner's lease runs out the survivors are told, and agree on a new one.
func TestOwnerFailover(t *testing.T) {
	t.Parallel()
	url := natstest.Start(t)
	a, recA := join(t, url, "a@h")
	b, _ := join(t, url, "b@h")
	c, _ := join(t, url, "c@h")
	require.Eventually(t, func() bool { return len(a.Peers()) == 2 && len(b.Peers()) == 2 && len(c.Peers()) == 2 }, long, 10*time.Millisecond)
	var room string
	for i := 0; room == ""; i++ {
		if r := fmt.Sprintf("r%d@conference.d.example", i); OwnerAmong([]string{"a@h", "b@h", "c@h"}, r) == "c@h" {
			room = r
		}
	}
	for _, n := range []*Node{a, b, c} {
		owner, self := n.Owner(room)
		require.Equal(t, "c@h", owner)
		require.Equal(t, n == c, self)
	}
	c.Close() // no goodbye: the others wait for its lease
	require.Eventually(t, func() bool { return slices.Contains(recA.nodesLost(), "c@h") }, long, 10*time.Millisecond)
	want := OwnerAmong([]string{"a@h", "b@h"}, room)
	require.Eventually(t, func() bool {
		oa, _ := a.Owner(room)
		ob, _ := b.Owner(room)
		return oa == want && ob == want
	}, long, 10*time.Millisecond)
}

// Ask reaches the named node's Answer over request/reply (and only that
// node's); Sessions lists the directory by domain.
func TestAskAndSessions(t *testing.T) {
	t.Parallel()
	url := natstest.Start(t)
	a, _ := join(t, url, "a@host.example")
	_, _ = join(t, url, "b@host.example", xmppcore.RemoteSession{JID: "ann@d.example/x", Available: true, Transport: "c2s", IP: "192.0.2.7", TLS: true})
	_, _ = join(t, url, "c@host.example", xmppcore.RemoteSession{JID: "bo@e.example/y"})
	for i, tc := range []struct {
		node string
		q    xmppcore.Query
		want string
	}{
		0: {"b@host.example", xmppcore.Query{Kind: xmppcore.QueryOccupants, Domain: "d.example", Name: "lounge"}, "b@host.example:occupants @d.example lounge"},
		1: {"c@host.example", xmppcore.Query{Kind: xmppcore.QueryUserRooms, Domain: "e.example", Username: "bo"}, "c@host.example:userrooms bo@e.example "},
	} {
		got, err := a.Ask(tc.node, tc.q)
		require.NoError(t, err, "case %d", i)
		require.Equal(t, tc.want, string(got), "case %d", i)
	}
	_, err := a.Ask("nobody@host.example", xmppcore.Query{Kind: xmppcore.QueryHistory})
	require.Error(t, err, "a node nobody serves does not answer")
	require.Eventually(t, func() bool { return len(a.Sessions("")) == 2 }, long, 10*time.Millisecond)
	ss := a.Sessions("d.example")
	require.Len(t, ss, 1)
	require.Equal(t, xmppcore.RemoteSession{Node: "b@host.example", JID: "ann@d.example/x", Available: true, Transport: "c2s", IP: "192.0.2.7", TLS: true}, ss[0])
	require.Empty(t, a.Sessions("f.example"))
}
