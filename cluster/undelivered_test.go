package cluster

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/natstest"
	"github.com/xmppgate/xmppgate/xmppcore"
)

// joinLong is join with a lease no test waits out: what these tests see
// happen cannot be the lease's doing.
func joinLong(t *testing.T, url, name string, sessions ...xmppcore.RemoteSession) (*Node, *recorder) {
	t.Helper()
	n, err := Connect(Options{URL: url, Node: name, Heartbeat: 50 * time.Millisecond, Lease: time.Hour})
	require.NoError(t, err)
	rec := &recorder{name: name, sessions: sessions}
	require.NoError(t, n.Start(rec))
	t.Cleanup(n.Close)
	return n, rec
}

// crash ends n's NATS connection as a SIGKILL would (no unsubscribe, no
// goodbye) and waits until the NATS server has dropped its subscriptions:
// a stanza published before then is written to the dead connection and
// lost, as it would be in the microseconds after a real crash.
func crash(t *testing.T, url string, n *Node) {
	t.Helper()
	n.nc.Close()
	probe, err := nats.Connect(url)
	require.NoError(t, err)
	defer probe.Close()
	require.Eventually(t, func() bool {
		_, err := probe.Request(NodeSubject(n.opts.Node), nil, 100*time.Millisecond)
		return errors.Is(err, nats.ErrNoResponders)
	}, long, 10*time.Millisecond)
}

// A stanza sent to a node whose NATS connection closed comes back at
// once (the NATS server's 503): the node is dropped as if its lease had
// run out, with its sessions (their contacts told, its rooms moved), and
// the stanza is handed back, with the session it was for, to be routed
// again. Stanzas to live nodes, effects and the nodes' own traffic are
// not.
func TestUndeliveredDropsTheNode(t *testing.T) {
	t.Parallel()
	url := natstest.Start(t)
	a, recA := joinLong(t, url, "a@h")
	b, _ := joinLong(t, url, "b@h", xmppcore.RemoteSession{JID: "bob@d/x", Available: true, Priority: 3})
	c, recC := joinLong(t, url, "c@h", xmppcore.RemoteSession{JID: "cy@d/y", Available: true})
	require.Eventually(t, func() bool {
		return len(a.Remote("bob@d")) == 1 && len(a.Remote("cy@d")) == 1 && len(b.Peers()) == 2 && len(c.Peers()) == 2
	}, long, 10*time.Millisecond)

	a.Forward("c@h", "cy@d/y", []byte("<message id='live'/>"))
	require.Eventually(t, func() bool {
		st, _, _ := recC.snapshot()
		return slices.Equal(st, []string{"cy@d/y <message id='live'/>"})
	}, long, 10*time.Millisecond)

	crash(t, url, b)
	a.Effect(xmppcore.Effect{Kind: xmppcore.EffectKick, Domain: "d", Username: "bob"})
	a.Forward("b@h", "bob@d/x", []byte("<message id='1'/>"))
	a.Forward("b@h", "bob@d", []byte("<presence id='2'/>"))
	a.Forward("c@h", "cy@d/y", []byte("<message id='live2'/>"))
	want := []string{"b@h bob@d/x <message id='1'/> (priority 3)", "b@h bob@d <presence id='2'/>"}
	require.Eventually(t, func() bool { return slices.Equal(recA.undeliveredList(), want) }, long, 10*time.Millisecond)
	_, _, lost := recA.snapshot()
	require.Equal(t, []string{"bob@d/x"}, lost)
	require.Equal(t, []string{"b@h"}, recA.nodesLost())
	require.Empty(t, a.Remote("bob@d"))
	require.NotContains(t, a.Peers(), "b@h")
	require.Len(t, a.Remote("cy@d"), 1, "c is alive")
	require.Eventually(t, func() bool {
		st, _, _ := recC.snapshot()
		return len(st) == 2
	}, long, 10*time.Millisecond)
	require.Empty(t, recC.undeliveredList(), "c sent nothing to b")
}

// A node that was only without its subscription for a moment (NATS cut
// it off, or it restarted) is dropped on the 503 like a dead one, and
// taken back when it is heard again, as after an expiry: its sessions
// return to the directory and the XMPP side is told they are back. bob,
// whose message was routed again meanwhile (to offline storage), has it
// drained to his session there.
func TestUndeliveredNodeHeardAgain(t *testing.T) {
	t.Parallel()
	url := natstest.Start(t)
	a, recA := joinLong(t, url, "a@h")
	b, recB := joinLong(t, url, "b@h", xmppcore.RemoteSession{JID: "bob@d/x", Available: true})
	require.Eventually(t, func() bool { return len(a.Remote("bob@d")) == 1 }, long, 10*time.Millisecond)
	// b's own subject only: b still hears the others and beats.
	own := b.subs[2]
	require.Equal(t, NodeSubject("b@h"), own.Subject)
	require.NoError(t, own.Unsubscribe())
	require.NoError(t, b.nc.Flush())
	a.Forward("b@h", "bob@d/x", []byte("<message id='1'/>"))
	require.Eventually(t, func() bool { return len(recA.undeliveredList()) == 1 }, long, 10*time.Millisecond)
	require.Empty(t, a.Remote("bob@d"))

	sub, err := b.nc.ChanSubscribe(NodeSubject("b@h"), b.in)
	require.NoError(t, err)
	b.subs[2] = sub
	require.Eventually(t, func() bool {
		recA.mu.Lock()
		defer recA.mu.Unlock()
		return slices.Equal(recA.found, []string{"bob@d/x"})
	}, long, 10*time.Millisecond)
	require.Len(t, a.Remote("bob@d"), 1)
	require.Eventually(t, func() bool {
		_, fx, _ := recB.snapshot()
		return slices.Equal(fx, []xmppcore.Effect{{Kind: xmppcore.EffectOffline, Domain: "d", Username: "bob"}})
	}, long, 10*time.Millisecond)
	a.Forward("b@h", "bob@d/x", []byte("<message id='2'/>"))
	require.Never(t, func() bool { return len(recA.undeliveredList()) > 1 }, 300*time.Millisecond, 10*time.Millisecond)
}
