package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/cluster"
	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// status332 is XEP-0045's "removed because of a system shutdown" in the
// raw stream (go-xmpp parses MUC status codes away).
var status332 = regexp.MustCompile(`code=["']332["']`)

// TestClusterMUC is issue 17's "MUC rooms owned by one node at a time,
// with failover": three real nodes on one PostgreSQL and one NATS; the
// room is owned (rendezvous hashing) by node C, and alice on A and bob on
// B (independent go-xmpp clients) join it through their own nodes, see
// each other's presence and groupchat messages both ways, and find it in
// the service's disco#items from either node. C is then SIGKILLed: when
// its lease runs out both are told they were removed (status 332), they
// rejoin, the room now lives on A or B, and they chat again.
func TestClusterMUC(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process cluster test")
	}
	t.Parallel()
	a, b, c, domain := threeNodesAliceBob(t)
	room := roomOwnedByC("lounge", domain)
	alice := loginWhenApplied(t, a, "alice@"+domain, "alicepw", "onA", goxmpptest.Transcript())
	bob := loginWhenApplied(t, b, "bob@"+domain, "bobpw", "onB", goxmpptest.Transcript())

	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("alice's stream:\n%s\nbob's stream:\n%s", alice.Transcript(), bob.Transcript())
		}
	})
	// The room is new each time (the first time, and after its node died).
	join := func(t *testing.T) { t.Helper(); joinNewRoom(t, room, alice, bob) }
	t.Run("occupants on two nodes see each other", func(t *testing.T) {
		join(t)
		say(t, alice, room, "Alice", "hello from A", alice, bob)
		say(t, bob, room, "Bob", "hello from B", alice, bob)
	})
	t.Run("disco items list the room on every node", func(t *testing.T) {
		for _, cl := range []*goxmpptest.Client{alice, bob} {
			iq := cl.Ask(t, "items", "get", "conference."+domain, "<query xmlns='http://jabber.org/protocol/disco#items'/>")
			require.Contains(t, string(iq.Query), room)
		}
	})
	t.Run("owner killed: occupants told, rejoin, chat", func(t *testing.T) {
		c.kill()
		for _, cl := range []*goxmpptest.Client{alice, bob} {
			deadline := time.Now().Add(60 * time.Second)
			for !status332.MatchString(cl.Transcript()) {
				require.True(t, time.Now().Before(deadline), "no status 332 after the owner died:\n%s", cl.Transcript())
				time.Sleep(100 * time.Millisecond)
			}
		}
		join(t)
		say(t, alice, room, "Alice", "back from A", alice, bob)
		say(t, bob, room, "Bob", "back from B", alice, bob)
	})
	t.Run("destroy_room through the node that does not own the room", func(t *testing.T) {
		// The API call lands on one node, the live room is on the other.
		via := a
		if cluster.OwnerAmong([]string{"a@localhost", "b@localhost"}, room) == "a@localhost" {
			via = b
		}
		name, service, _ := strings.Cut(room, "@")
		status, body := via.call(t, "destroy_room", `{"name":"`+name+`","service":"`+service+`"}`)
		require.Equal(t, 200, status, body)
		for _, cl := range []*goxmpptest.Client{alice, bob} {
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(cl.Transcript(), "<destroy") {
				require.True(t, time.Now().Before(deadline), "no destroy presence:\n%s", cl.Transcript())
				time.Sleep(100 * time.Millisecond)
			}
		}
	})
	for _, p := range []*serverProc{a, b} {
		require.False(t, strings.Contains(p.stderr.String(), `"level":"error"`), "a node logged an error:\n%s", p.stderr)
	}
}

// joinNewRoom has alice create room as Alice, accepting the default
// configuration as its owner, and bob join it as Bob; each sees the other.
func joinNewRoom(t *testing.T, room string, alice, bob *goxmpptest.Client) {
	t.Helper()
	_, err := alice.JoinMUCNoHistory(room, "Alice")
	require.NoError(t, err)
	alice.ExpectWithin(t, "alice in the room", 30*time.Second, goxmpptest.Presence(room+"/Alice", ""))
	require.Equal(t, "result", alice.Ask(t, "instant", "set", room, "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query>").Type)
	_, err = bob.JoinMUCNoHistory(room, "Bob")
	require.NoError(t, err)
	bob.ExpectWithin(t, "bob sees alice", 30*time.Second, goxmpptest.Presence(room+"/Alice", ""))
	bob.Expect(t, "bob in the room", goxmpptest.Presence(room+"/Bob", ""))
	alice.Expect(t, "alice sees bob join", goxmpptest.Presence(room+"/Bob", ""))
}

// roomOwnedByC is a room JID (prefix, then x's) that node C owns while
// the three nodes of threeNodes live.
func roomOwnedByC(prefix, domain string) string {
	for i := 0; ; i++ {
		room := prefix + strings.Repeat("x", i) + "@conference." + domain
		if cluster.OwnerAmong([]string{"a@localhost", "b@localhost", "c@localhost"}, room) == "c@localhost" {
			return room
		}
	}
}
