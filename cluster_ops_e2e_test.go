package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// awaitStream waits until c's raw stream matches re.
func awaitStream(t *testing.T, c *goxmpptest.Client, what string, re *regexp.Regexp) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !re.MatchString(c.Transcript()) {
		require.True(t, time.Now().Before(deadline), "%s never came:\n%s", what, c.Transcript())
		time.Sleep(50 * time.Millisecond)
	}
}

// rows decodes an ejabberd table answer.
func rows(t *testing.T, body string) []map[string]any {
	t.Helper()
	var out []map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &out), body)
	return out
}

// openfireSessions lists the sessions Openfire's restAPI shows on a node
// with an account's secret: session id (full JID) → Local or Remote.
func openfireSessions(t *testing.T, on *serverProc, secret string) map[string]string {
	t.Helper()
	status, body := request(t, http.MethodGet, "http://"+on.http+"/plugins/restapi/v1/sessions", "", func(r *http.Request) {
		r.Header.Set("Authorization", secret)
		r.Header.Set("Accept", "application/json")
	})
	require.Equal(t, 200, status, body)
	var got struct {
		Sessions []struct{ SessionID, Node string }
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got), body)
	nodes := map[string]string{}
	for _, s := range got.Sessions {
		nodes[s.SessionID] = s.Node
	}
	return nodes
}

// TestClusterOperatorView: on three real nodes (one PostgreSQL, one NATS,
// cluster_heartbeat and cluster_lease from the environment), an operator
// asking node C, which holds no session, sees and acts on the sessions of
// A and B (independent go-xmpp clients) as ejabberd's commands do across a
// Mnesia cluster; and a node that does not own a room answers the live
// room reads from the node that does.
func TestClusterOperatorView(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process cluster test")
	}
	t.Parallel()
	a, b, c, domain := threeNodesAliceBob(t, "XMPPGATE_CLUSTER_HEARTBEAT=300ms", "XMPPGATE_CLUSTER_LEASE=3s")
	aliceJ, bobJ := "alice@"+domain, "bob@"+domain

	t.Run("cluster_heartbeat and cluster_lease are read", func(t *testing.T) {
		for _, p := range []*serverProc{a, b, c} {
			require.Regexp(t, `"msg":"joined".*"heartbeat":0\.3,"lease":3[,}]`, p.stderr.String())
		}
	})

	alice := loginWhenApplied(t, a, aliceJ, "alicepw", "onA", goxmpptest.Transcript())
	bob := loginWhenApplied(t, b, bobJ, "bobpw", "onB", goxmpptest.Transcript())
	_, err := alice.SendPresence(goxmpp.Presence{})
	require.NoError(t, err)
	_, err = bob.SendOrg("<presence><show>dnd</show><status>busy on B</status><priority>5</priority></presence>")
	require.NoError(t, err)
	alice.Expect(t, "alice's own presence", goxmpptest.Presence(aliceJ+"/onA", ""))
	bob.Expect(t, "bob's own presence", goxmpptest.Presence(bobJ+"/onB", ""))

	t.Run("session listings on a node without sessions", func(t *testing.T) {
		// The directory fills as the events arrive: wait for bob's presence.
		require.Eventually(t, func() bool {
			_, body := c.call(t, "status_num", `{"status":"dnd"}`)
			return body == `{"users":1}`
		}, 30*time.Second, 50*time.Millisecond)
		user := `{"user":"bob","host":"` + domain + `"}`
		for i, tc := range []struct {
			p         *serverProc
			cmd, body string
			want      string
		}{
			0: {c, "connected_users", `{}`, `["` + aliceJ + `/onA","` + bobJ + `/onB"]`},
			1: {c, "connected_users_number", `{}`, `{"num_sessions":2}`},
			2: {c, "connected_users_vhost", `{"host":"` + domain + `"}`, `["` + aliceJ + `/onA","` + bobJ + `/onB"]`},
			3: {c, "user_resources", user, `["onB"]`},
			4: {a, "num_resources", user, `{"resources":1}`},
			5: {c, "stats", `{"name":"onlineusers"}`, `{"stat":2}`},
			6: {c, "stats", `{"name":"onlineusersnode"}`, `{"stat":0}`},
			7: {a, "stats", `{"name":"onlineusersnode"}`, `{"stat":1}`},
			8: {c, "stats_host", `{"name":"onlineusers","host":"` + domain + `"}`, `{"stat":2}`},
			9: {c, "status_num", `{"status":"all"}`, `{"users":2}`},
		} {
			status, body := tc.p.call(t, tc.cmd, tc.body)
			require.Equal(t, 200, status, "case %d: %s", i, body)
			require.Equal(t, tc.want, body, "case %d: %s", i, tc.cmd)
		}
		_, body := c.call(t, "connected_users_info", `{}`)
		info := rows(t, body)
		require.Len(t, info, 2, body)
		for i, want := range []map[string]any{
			{"jid": aliceJ + "/onA", "node": "a@localhost", "status": "available", "priority": 0.0, "resource": "onA", "ip": "127.0.0.1", "connection": "c2s_tls"},
			{"jid": bobJ + "/onB", "node": "b@localhost", "status": "dnd", "statustext": "busy on B", "priority": 5.0, "resource": "onB", "ip": "127.0.0.1", "connection": "c2s_tls"},
		} {
			for k, v := range want {
				require.Equal(t, v, info[i][k], "row %d %s: %s", i, k, body)
			}
			require.NotZero(t, info[i]["port"], body)
		}
		_, body = a.call(t, "user_sessions_info", user)
		si := rows(t, body)
		require.Len(t, si, 1, body)
		require.Equal(t, "b@localhost", si[0]["node"], body)
		require.Equal(t, "onB", si[0]["resource"], body)

		// Openfire's restAPI names a session held elsewhere Remote.
		for _, p := range []struct {
			on          *serverProc
			alice, bobs string
		}{{c, "Remote", "Remote"}, {b, "Remote", "Local"}} {
			require.Equal(t, map[string]string{aliceJ + "/onA": p.alice, bobJ + "/onB": p.bobs}, openfireSessions(t, p.on, p.on.boot.OpenfireSecret))
		}
	})

	// A room that node C owns while all three live; alice (on A) and bob
	// (on B) are in it, and the reads go to A and B.
	room := roomOwnedByC("ops", domain)
	name, service, _ := strings.Cut(room, "@")
	t.Run("live room reads answered by the room's owner", func(t *testing.T) {
		joinNewRoom(t, room, alice, bob)
		say(t, alice, room, "Alice", "minutes of the meeting", alice, bob)

		roomArgs := `{"name":"` + name + `","service":"` + service + `"}`
		for _, p := range []*serverProc{a, b} {
			status, body := p.call(t, "get_room_occupants", roomArgs)
			require.Equal(t, 200, status, body)
			occ := rows(t, body)
			require.Len(t, occ, 2, body)
			require.Equal(t, map[string]any{"jid": aliceJ + "/onA", "nick": "Alice", "role": "moderator"}, occ[0], body)
			require.Equal(t, map[string]any{"jid": bobJ + "/onB", "nick": "Bob", "role": "participant"}, occ[1], body)

			_, body = p.call(t, "get_room_occupants_number", roomArgs)
			require.Equal(t, `{"occupants":2}`, body)
			_, body = p.call(t, "get_room_history", roomArgs)
			hist := rows(t, body)
			require.Len(t, hist, 1, body)
			require.Contains(t, hist[0]["message"], "minutes of the meeting")
			_, body = p.call(t, "muc_online_rooms_by_regex", `{"service":"`+service+`","regex":"^ops"}`)
			require.Contains(t, body, `"participants":2`)
			for _, u := range []string{"alice", "bob"} {
				_, body = p.call(t, "get_user_rooms", `{"user":"`+u+`","host":"`+domain+`"}`)
				require.Equal(t, `["`+room+`"]`, body, u)
			}
		}
		_, body := a.call(t, "get_user_rooms", `{"user":"nobody","host":"`+domain+`"}`)
		require.Equal(t, `[]`, body)
	})

	t.Run("stanzas and presence through a node that holds no session", func(t *testing.T) {
		status, body := c.call(t, "send_stanza_c2s", `{"user":"bob","host":"`+domain+`","resource":"onB",`+
			`"stanza":"<message from='`+domain+`' type='chat'><body>written through C</body></message>"}`)
		require.Equal(t, 200, status, body)
		bob.Expect(t, "the stanza C had B write", goxmpptest.Chat(domain, "written through C"))

		status, body = c.call(t, "set_presence", `{"user":"alice","host":"`+domain+`","resource":"onA",`+
			`"type":"available","show":"away","status":"set through C","priority":"3"}`)
		require.Equal(t, 200, status, body)
		alice.Expect(t, "alice's presence as C had A set it", func(st any) bool {
			p, ok := st.(goxmpp.Presence)
			return ok && p.From == aliceJ+"/onA" && p.Show == "away" && p.Status == "set through C"
		})
		require.Eventually(t, func() bool {
			_, body := b.call(t, "status_num", `{"status":"away"}`)
			return body == `{"users":1}`
		}, 30*time.Second, 50*time.Millisecond, "B's directory has alice's new presence")

		for _, call := range []struct{ cmd, body string }{
			{"send_stanza_c2s", `{"user":"bob","host":"` + domain + `","resource":"elsewhere","stanza":"<message/>"}`},
			{"set_presence", `{"user":"bob","host":"` + domain + `","resource":"elsewhere","type":"available","show":"","status":"","priority":"0"}`},
		} {
			status, body := c.call(t, call.cmd, call.body)
			require.NotEqual(t, 200, status, "%s: %s", call.cmd, body)
			require.Contains(t, body, "no_session", call.cmd)
		}
	})

	t.Run("kicks through a node that holds no session", func(t *testing.T) {
		status, body := c.call(t, "kick_session", `{"user":"bob","host":"`+domain+`","resource":"onB","reason":"maintenance on B"}`)
		require.Equal(t, 200, status, body)
		require.Error(t, bob.Ended(t), "bob's stream ends with an error")
		awaitStream(t, bob, "the kick's stream error", regexp.MustCompile(`maintenance on B`))
		status, body = b.call(t, "kick_user", `{"user":"alice","host":"`+domain+`"}`)
		require.Equal(t, 200, status, body)
		require.Equal(t, `{"num_resources":1}`, body)
		require.Error(t, alice.Ended(t), "alice's stream ends with an error")
		require.Eventually(t, func() bool {
			_, body := c.call(t, "connected_users", `{}`)
			return body == `[]`
		}, 30*time.Second, 50*time.Millisecond)
	})
	t.Run("another account sees only its own sessions on every node", func(t *testing.T) {
		// A second tenant made with the CLI on the shared store, its user
		// carol on B; alice of the first tenant back on A.
		cli := func(args ...string) string { return c.cli(t, args...) }
		id := cli("account", "add", "other")
		cli("domain", "add", "other.test", "--account", id)
		key := cli("key", "add", "--account", id, "--cmds", "*")
		secret := cli("openfire", "set", "--account", id, "--random")
		resp, err := http.PostForm("http://"+c.http+"/", url.Values{"key": {key}, "cmd": {"jabber-add_user"},
			"username": {"carol"}, "domain": {"other.test"}, "password": {"carolpw"}})
		require.NoError(t, err)
		resp.Body.Close()
		carol := loginWhenApplied(t, b, "carol@other.test", "carolpw", "onB")
		defer carol.Close()
		alice := loginWhenApplied(t, a, aliceJ, "alicepw", "again")
		defer alice.Close()

		// Once C's directory has carol's session, each tenant sees only
		// its own sessions on every node, held there or elsewhere (the
		// listings are per caller's domains, as on one node).
		require.Eventually(t, func() bool { return len(openfireSessions(t, c, secret)) == 1 }, 30*time.Second, 50*time.Millisecond,
			"carol's session reaches C's directory")
		for _, on := range []*serverProc{a, b, c} {
			want := map[string]string{"carol@other.test/onB": "Remote"}
			if on == b {
				want["carol@other.test/onB"] = "Local"
			}
			require.Equal(t, want, openfireSessions(t, on, secret), "the other tenant on %s", on.http)
			want = map[string]string{aliceJ + "/again": "Remote"}
			if on == a {
				want[aliceJ+"/again"] = "Local"
			}
			require.Equal(t, want, openfireSessions(t, on, a.boot.OpenfireSecret), "the first tenant on %s", on.http)
			_, body := on.call(t, "connected_users", `{}`)
			require.Equal(t, `["`+aliceJ+`/again"]`, body, "the first tenant's ejabberd admin on %s", on.http)
		}
	})
	for _, p := range []*serverProc{a, b, c} {
		require.False(t, strings.Contains(p.stderr.String(), `"level":"error"`), "a node logged an error:\n%s", p.stderr)
	}
}

// TestClusterCarbonsPEP: bob has one resource on node A and one on node
// B, both with carbons and with caps asking for tune events; alice is on
// C. Each of bob's resources gets the carbons of the other's messages, and
// PEP events, alice's and bob's own, reach both (independent go-xmpp
// clients, three real nodes).
func TestClusterCarbonsPEP(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process cluster test")
	}
	t.Parallel()
	a, b, c, domain := threeNodesAliceBob(t)
	aliceJ, bobJ := "alice@"+domain, "bob@"+domain
	alice := loginWhenApplied(t, c, aliceJ, "alicepw", "onC", goxmpptest.Transcript())
	bobA := loginWhenApplied(t, a, bobJ, "bobpw", "onA", goxmpptest.Transcript())
	alice.FetchRoster(t)
	bobA.FetchRoster(t)
	_, err := alice.SendPresence(goxmpp.Presence{})
	require.NoError(t, err)
	_, err = bobA.SendPresence(goxmpp.Presence{})
	require.NoError(t, err)
	goxmpptest.Befriend(t, alice, aliceJ, "onC", bobA, bobJ, "onA")
	bobB := loginWhenApplied(t, b, bobJ, "bobpw", "onB", goxmpptest.Transcript())

	const tune = "http://jabber.org/protocol/tune"
	caps, info := capsOf("http://jabber.org/protocol/disco#info", tune, tune+"+notify", "urn:xmpp:carbons:2")
	for _, bob := range []*goxmpptest.Client{bobA, bobB} {
		require.Equal(t, "result", bob.Ask(t, "carbons", "set", "", "<enable xmlns='urn:xmpp:carbons:2'/>").Type)
		_, err = bob.SendOrg("<presence><status>carbons on</status>" + caps + "</presence>")
		require.NoError(t, err)
		answerCaps(t, bob, domain, info)
	}
	// Each node has heard the other's session with carbons on once it
	// lists its presence after the switch (one node's events keep their
	// order).
	for _, p := range []struct {
		on  *serverProc
		res string
	}{{a, "onB"}, {b, "onA"}} {
		require.Eventually(t, func() bool {
			_, body := p.on.call(t, "user_sessions_info", `{"user":"bob","host":"`+domain+`"}`)
			for _, r := range rows(t, body) {
				if r["resource"] == p.res && r["statustext"] == "carbons on" {
					return true
				}
			}
			return false
		}, 30*time.Second, 50*time.Millisecond, "%s never listed bob/%s with carbons", p.on.http, p.res)
	}

	t.Run("carbons of a message received on the other node", func(t *testing.T) {
		_, err := alice.Send(goxmpp.Chat{Remote: bobJ + "/onA", Type: "chat", Text: "for bob on A"})
		require.NoError(t, err)
		bobA.Expect(t, "the message", goxmpptest.Chat(aliceJ+"/onC", "for bob on A"))
		awaitStream(t, bobB, "the received carbon", regexp.MustCompile(`(?s)<received xmlns=["']urn:xmpp:carbons:2["']>.*for bob on A`))
	})
	t.Run("carbons of a message sent from the other node", func(t *testing.T) {
		_, err := bobB.Send(goxmpp.Chat{Remote: aliceJ + "/onC", Type: "chat", Text: "bob writes from B"})
		require.NoError(t, err)
		alice.Expect(t, "bob's message", goxmpptest.Chat(bobJ+"/onB", "bob writes from B"))
		awaitStream(t, bobA, "the sent carbon", regexp.MustCompile(`(?s)<sent xmlns=["']urn:xmpp:carbons:2["']>.*bob writes from B`))
	})
	t.Run("no carbon to a resource that got a bare-JID message itself", func(t *testing.T) {
		// Both of bob's resources have priority 0: a message to his bare
		// JID goes to both, and neither gets a copy of it.
		_, err := alice.Send(goxmpp.Chat{Remote: bobJ, Type: "chat", Text: "for every bob"})
		require.NoError(t, err)
		for _, bob := range []*goxmpptest.Client{bobA, bobB} {
			bob.Expect(t, "the message to the bare JID", goxmpptest.Chat(aliceJ+"/onC", "for every bob"))
		}
		// A node's stanzas to another keep their order: once the carbon of
		// a later message from the same node arrives, a wrong copy of the
		// first would have come before it.
		for _, p := range []struct {
			to, other *goxmpptest.Client
			res, mark string
		}{{bobA, bobB, "onA", "mark via A"}, {bobB, bobA, "onB", "mark via B"}} {
			_, err := alice.Send(goxmpp.Chat{Remote: bobJ + "/" + p.res, Type: "chat", Text: p.mark})
			require.NoError(t, err)
			awaitStream(t, p.other, "the carbon of "+p.mark, regexp.MustCompile(`(?s)<received xmlns=["']urn:xmpp:carbons:2["']>.*`+p.mark))
			for _, part := range strings.Split(p.other.Transcript(), "<received")[1:] {
				carbon, _, _ := strings.Cut(part, "</received>")
				require.NotContains(t, carbon, "for every bob", "a copy of a message the resource got itself")
			}
		}
	})
	// A node learns what a caps hash means from its client's answer,
	// which may still be on its way: publish again every 2 s until the
	// event arrives.
	publish := func(cl *goxmpptest.Client, title string) (stop func()) {
		return repeat(t, 2*time.Second, func() {
			_, _ = cl.RawInformation(cl.JID(), "", "pub-"+newTestID(), "set", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='"+tune+
				"'><item id='current'><tune xmlns='"+tune+"'><title>"+title+"</title></tune></item></publish></pubsub>")
		})
	}
	t.Run("a contact's PEP event on both resources", func(t *testing.T) {
		stop := publish(alice, "Blue Train")
		defer stop()
		for _, bob := range []*goxmpptest.Client{bobA, bobB} {
			bob.Expect(t, "alice's tune", pepEvent(tune, "Blue Train"))
		}
	})
	t.Run("the user's own PEP event on the other node", func(t *testing.T) {
		stop := publish(bobA, "So What")
		defer stop()
		bobB.Expect(t, "bob's own tune, published on A", pepEvent(tune, "So What"))
	})
	for _, p := range []*serverProc{a, b, c} {
		require.False(t, strings.Contains(p.stderr.String(), `"level":"error"`), "a node logged an error:\n%s", p.stderr)
	}
}
