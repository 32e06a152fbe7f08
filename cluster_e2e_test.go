package main

import (
	"bufio"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/cluster"
	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/internal/natstest"
)

// copyDataDir copies a node's data directory (its keys, certificates and
// bootstrap file) for another node, leaving out the lock, as the README
// tells an operator to.
func copyDataDir(t testing.TB, from string) string {
	t.Helper()
	to := filepath.Join(t.TempDir(), "data")
	err := filepath.WalkDir(from, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		if rel == "lock" {
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o600)
	})
	require.NoError(t, err)
	return to
}

// dreamhostAddUser sends jabber-add_user to a node and checks it was queued.
func dreamhostAddUser(t *testing.T, p *serverProc, user, password string) {
	t.Helper()
	resp, err := http.PostForm("http://"+p.http+"/", url.Values{"key": {p.boot.Key}, "cmd": {"jabber-add_user"},
		"username": {user}, "domain": {p.boot.Domain}, "password": {password}})
	require.NoError(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	require.True(t, sc.Scan())
	require.Equal(t, "success", sc.Text(), "jabber-add_user %s", user)
}

// loginWhenApplied logs in on p once the worker (on whichever node) has
// applied the user.
func loginWhenApplied(t *testing.T, p *serverProc, jid, password, resource string, opts ...goxmpptest.Option) *goxmpptest.Client {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		c, err := goxmpptest.TryLogin(t, p.c2s, jid, password, append(opts, goxmpptest.Resource(resource))...)
		if err == nil {
			return c
		}
		require.True(t, time.Now().Before(deadline), "%s never logged in on %s: %v", jid, p.c2s, err)
		time.Sleep(200 * time.Millisecond)
	}
}

// threeNodes starts nodes a@localhost, b@localhost and c@localhost on
// one fresh PostgreSQL database and one NATS server, with extra in their
// environment. Only C runs the worker on a short schedule: the changes
// sent to C are applied there, and the effects must travel to A and B.
func threeNodes(t *testing.T, extra ...string) (a, b, c *serverProc) {
	t.Helper()
	dsn := postgres(t)
	natsURL := natstest.Start(t)
	env := func(node string) []string {
		return append([]string{"XMPPGATE_STORE=" + dsn, "XMPPGATE_NATS_URL=" + natsURL, "XMPPGATE_NODE=" + node}, extra...)
	}
	a = startBinary(t, env("a@localhost")...)
	b = (&serverProc{bin: a.bin, data: copyDataDir(t, a.data), env: env("b@localhost"), boot: a.boot}).restart(t)
	c = (&serverProc{bin: a.bin, data: copyDataDir(t, a.data), env: append(env("c@localhost"), "XMPPGATE_WORKER_SCHEDULE=@every 1s"), boot: a.boot}).restart(t)
	return a, b, c
}

// threeNodesAliceBob is threeNodes with users alice (alicepw) and bob
// (bobpw) added through C; it returns their domain.
func threeNodesAliceBob(t *testing.T, extra ...string) (a, b, c *serverProc, domain string) {
	t.Helper()
	a, b, c = threeNodes(t, extra...)
	dreamhostAddUser(t, c, "alice", "alicepw")
	dreamhostAddUser(t, c, "bob", "bobpw")
	return a, b, c, a.boot.Domain
}

// TestClusterThreeNodes is issue 17's must-show for routing: three real
// xmppgate processes share one PostgreSQL and one NATS server. Users on
// nodes A and B (independent go-xmpp clients) subscribe to each other,
// chat both ways and see each other's presence; a roster change made
// through node C's ejabberd API reaches the session on A; a DreamHost
// jabber-add_user sent to C is applied and its user logs in on A; B is
// SIGKILLed and A's user sees B's user go unavailable within the lease,
// and A keeps serving.
func TestClusterThreeNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process cluster test")
	}
	t.Parallel()
	a, b, c, domain := threeNodesAliceBob(t)
	alice := loginWhenApplied(t, a, "alice@"+domain, "alicepw", "onA")
	bob := loginWhenApplied(t, b, "bob@"+domain, "bobpw", "onB")
	aliceJ, bobJ := "alice@"+domain, "bob@"+domain
	alice.FetchRoster(t)
	bob.FetchRoster(t)
	_, err := alice.SendPresence(goxmpp.Presence{})
	require.NoError(t, err)
	_, err = bob.SendPresence(goxmpp.Presence{})
	require.NoError(t, err)
	alice.Expect(t, "alice's own presence", goxmpptest.Presence(aliceJ+"/onA", ""))
	bob.Expect(t, "bob's own presence", goxmpptest.Presence(bobJ+"/onB", ""))

	t.Run("subscription and presence across nodes", func(t *testing.T) {
		// Subscription requests, approvals, the roster pushes of both
		// sides and the presence each then sees all cross A-B.
		goxmpptest.Befriend(t, alice, aliceJ, "onA", bob, bobJ, "onB")
		alice.Expect(t, "roster push: bob", goxmpptest.IQ("", "set", bobJ))
	})
	t.Run("chat both ways", func(t *testing.T) {
		_, err := alice.Send(goxmpp.Chat{Remote: bobJ, Type: "chat", Text: "hello B from A"})
		require.NoError(t, err)
		bob.Expect(t, "alice's message", goxmpptest.Chat(aliceJ+"/onA", "hello B from A"))
		_, err = bob.Send(goxmpp.Chat{Remote: aliceJ + "/onA", Type: "chat", Text: "hello A from B"})
		require.NoError(t, err)
		alice.Expect(t, "bob's message", goxmpptest.Chat(bobJ+"/onB", "hello A from B"))
	})
	t.Run("presence change seen on the other node", func(t *testing.T) {
		_, err := bob.SendPresence(goxmpp.Presence{Show: "away", Status: "on node B"})
		require.NoError(t, err)
		alice.Expect(t, "bob away", func(st any) bool {
			p, ok := st.(goxmpp.Presence)
			return ok && p.From == bobJ+"/onB" && p.Show == "away"
		})
	})
	t.Run("roster change through node C reaches the session on A", func(t *testing.T) {
		status, body := c.call(t, "add_rosteritem", `{"localuser":"alice","localhost":"`+domain+`","user":"carol","host":"elsewhere.example","nick":"Carol","group":"Friends","subs":"both"}`)
		require.Equal(t, 200, status, body)
		alice.Expect(t, "roster push: carol", goxmpptest.IQ("", "set", "carol@elsewhere.example"))
	})
	t.Run("jabber-add_user on C, login on A", func(t *testing.T) {
		dreamhostAddUser(t, c, "dave", "davepw")
		dave := loginWhenApplied(t, a, "dave@"+domain, "davepw", "onA")
		_, err := dave.Send(goxmpp.Chat{Remote: bobJ, Type: "chat", Text: "dave says hi"})
		require.NoError(t, err)
		bob.Expect(t, "dave's message", goxmpptest.Chat("dave@"+domain, "dave says hi"))
		dave.Close()
	})
	t.Run("kill node B", func(t *testing.T) {
		b.kill()
		// Nobody logs bob out: A learns it when B's lease runs out
		// (5 s by default; generous here for a loaded machine).
		alice.ExpectWithin(t, "bob unavailable after B died", 60*time.Second, goxmpptest.Presence(bobJ+"/onB", "unavailable"))
		// A still serves: a message to bob, now offline everywhere, is
		// stored, and bob gets it when he logs in on C.
		_, err := alice.Send(goxmpp.Chat{Remote: bobJ, Type: "chat", Text: "while you were away"})
		require.NoError(t, err)
		bob2 := loginWhenApplied(t, c, bobJ, "bobpw", "onC")
		_, err = bob2.SendPresence(goxmpp.Presence{})
		require.NoError(t, err)
		bob2.Expect(t, "the offline message", goxmpptest.Chat(aliceJ, "while you were away"))
		alice.Expect(t, "bob back on C", goxmpptest.Presence(bobJ+"/onC", ""))
		_, err = alice.Send(goxmpp.Chat{Remote: bobJ + "/onC", Type: "chat", Text: "welcome to C"})
		require.NoError(t, err)
		bob2.Expect(t, "alice's message on C", goxmpptest.Chat(aliceJ+"/onA", "welcome to C"))
	})
	require.False(t, strings.Contains(a.stderr.String(), `"level":"error"`), "node A logged an error:\n%s", a.stderr)
}

// TestClusterCrashLosesNothingSentAfter: node B, holding bob's only
// session, is SIGKILLed, and alice on node A writes to him at once. The
// NATS server answers A's first stanza for B that nobody listens there
// any more, long before B's lease (a minute here) would run out: A drops
// B's sessions (alice sees bob go unavailable) and routes the message
// again, to offline storage, where bob finds it when he logs in on C.
func TestClusterCrashLosesNothingSentAfter(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process cluster test")
	}
	t.Parallel()
	const lease = time.Minute
	a, b, c, domain := threeNodesAliceBob(t, "XMPPGATE_CLUSTER_LEASE="+lease.String())
	aliceJ, bobJ := "alice@"+domain, "bob@"+domain
	alice := loginWhenApplied(t, a, aliceJ, "alicepw", "onA")
	bob := loginWhenApplied(t, b, bobJ, "bobpw", "onB")
	for _, u := range []struct {
		c   *goxmpptest.Client
		jid string
	}{{alice, aliceJ + "/onA"}, {bob, bobJ + "/onB"}} {
		_, err := u.c.SendPresence(goxmpp.Presence{})
		require.NoError(t, err)
		u.c.Expect(t, "own presence", goxmpptest.Presence(u.jid, ""))
	}
	goxmpptest.Befriend(t, alice, aliceJ, "onA", bob, bobJ, "onB")

	killed := time.Now()
	b.kill()
	waitNotListening(t, b, "b@localhost")
	_, err := alice.Send(goxmpp.Chat{Remote: bobJ, Type: "chat", Text: "sent as B died"})
	require.NoError(t, err)
	alice.ExpectWithin(t, "bob unavailable", lease/2, goxmpptest.Presence(bobJ+"/onB", "unavailable"))
	require.Less(t, time.Since(killed), lease/2, "B's lease, not its death, dropped bob")
	alice.ExpectNone(t, "an error for the message", 300*time.Millisecond, goxmpptest.Bounce(bobJ))

	bob2 := loginWhenApplied(t, c, bobJ, "bobpw", "onC")
	_, err = bob2.SendPresence(goxmpp.Presence{})
	require.NoError(t, err)
	bob2.Expect(t, "the message, from offline storage", goxmpptest.Chat(aliceJ, "sent as B died"))
}

// waitNotListening waits until the NATS server of p (a killed node) has
// seen its connection close and dropped its subscription: a stanza sent
// before then is written to a dead socket and lost, as it would be in
// the first milliseconds after any crash.
func waitNotListening(t *testing.T, p *serverProc, node string) {
	t.Helper()
	var url string
	for _, kv := range p.env {
		if v, ok := strings.CutPrefix(kv, "XMPPGATE_NATS_URL="); ok {
			url = v
		}
	}
	probe, err := nats.Connect(url)
	require.NoError(t, err)
	defer probe.Close()
	require.Eventually(t, func() bool {
		_, err := probe.Request(cluster.NodeSubject(node), nil, 100*time.Millisecond)
		return errors.Is(err, nats.ErrNoResponders)
	}, 30*time.Second, 10*time.Millisecond)
}
