package main

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/internal/peer"
	"github.com/xmppgate/xmppgate/xmppcore"
)

// prosodyPeer is a private Prosody 0.12 serving its own domain on loopback
// for a federation test, with a static s2s route to the xmppgate under test.
type prosodyPeer struct {
	*peer.Prosody
	domain string
}

// startProsodyPeer installs Prosody if needed (Debian's package, through
// the project's own installer) and starts it for domain on free ports;
// routes maps the remote domains (ours) to their s2s ports. The test skips
// when Prosody cannot be installed or run here.
func startProsodyPeer(t testing.TB, domain string, s2sPort int, routes map[string]int, ca *peer.CA, modules ...string) *prosodyPeer {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("federation with Prosody needs root: Prosody is installed with apt-get and runs as its own user")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := peer.Ensure(ctx, "prosody"); err != nil {
		t.Skipf("Prosody 0.12 cannot be installed here (apt-get prosody): %v", err)
	}
	if _, _, err := peer.SysUser("prosody"); err != nil {
		t.Skipf("no prosody system user after installing the package: %v", err)
	}
	// The run directory's name carries peer.RunDirMarker: the installer
	// never takes this instance for the packaged daemon.
	dir, err := os.MkdirTemp("", peer.RunDirMarker+"s2s-")
	require.NoError(t, err)
	t.Cleanup(func() { os.RemoveAll(dir) })
	require.NoError(t, os.Chmod(dir, 0o755))
	var cert peer.Cert
	caFile := ""
	if ca != nil {
		cert, err = ca.Issue(dir, domain)
		caFile = ca.File
	} else {
		cert, err = peer.MakeCert(dir, domain, "ecdsa")
	}
	require.NoError(t, err)
	c2s, err := peer.FreePort()
	require.NoError(t, err)
	p, err := peer.NewProsody(peer.ProsodyConfig{Dir: dir + "/prosody", Domain: domain, C2SPort: c2s, S2SPort: s2sPort,
		Routes: routes, Cert: cert, CAFile: caFile, MUC: "rooms." + domain, Modules: modules})
	require.NoError(t, err)
	require.NoError(t, p.Start(ctx))
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("prosody log:\n%s", tailString(p.Log(), 6000))
		}
	})
	return &prosodyPeer{Prosody: p, domain: domain}
}

// loginBoth logs alice in here (resource home) and bob at Prosody (pub).
func loginBoth(t testing.TB, s *testServer, p *prosodyPeer) (alice, bob *goxmpptest.Client) {
	t.Helper()
	alice = goxmpptest.Login(t, s.c2s, "alice@gate.test", "pw-alice", goxmpptest.Resource("home"), goxmpptest.DialTimeout(20*time.Second))
	bob = goxmpptest.Login(t, p.C2SAddr(), "bob@prosody.test", "pw-bob", goxmpptest.Resource("pub"), goxmpptest.DialTimeout(20*time.Second))
	return alice, bob
}

// testCA makes a throw-away CA in a directory Prosody can read.
func testCA(t testing.TB) *peer.CA {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.Chmod(dir, 0o755))
	ca, err := peer.MakeCA(dir)
	require.NoError(t, err)
	return ca
}

func tailString(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// federatedWithProsody starts xmppgate serving gate.test with federation on
// a loopback port routed to a Prosody serving prosody.test, and Prosody
// routed back; alice@gate.test and bob@prosody.test exist. With a CA, both
// servers get certificates from it and trust it; else each has a
// self-signed one.
func federatedWithProsody(t testing.TB, ca *peer.CA, modules ...string) (*testServer, *prosodyPeer) {
	t.Helper()
	var gateCert peer.Cert
	if ca != nil {
		var err error
		gateCert, err = ca.Issue(t.TempDir(), "gate.test")
		require.NoError(t, err)
	}
	prosodyS2S, err := peer.FreePort()
	require.NoError(t, err)
	s := startServerTB(t, func(c *Config) {
		c.BootstrapDomain = "gate.test"
		c.S2SAddr = "127.0.0.1:0" // Prosody learns the port below
		c.S2SRoutes = map[string]string{"prosody.test": "127.0.0.1:" + strconv.Itoa(prosodyS2S),
			"rooms.prosody.test": "127.0.0.1:" + strconv.Itoa(prosodyS2S)}
		if ca != nil {
			c.CertFile, c.KeyFile, c.S2SCAFile = gateCert.Cert, gateCert.Key, ca.File
		}
	})
	gateS2S := s.app.env.Live.(live).S2SAddr().(*net.TCPAddr).Port
	// Our MUC service is a domain of its own to Prosody, routed alike.
	p := startProsodyPeer(t, "prosody.test", prosodyS2S, map[string]int{"gate.test": gateS2S, "conference.gate.test": gateS2S}, ca, modules...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	require.NoError(t, p.CreateUsers(ctx, []string{"bob"}, "pw-bob"))
	r := s.dh(s.boot.Key, "jabber-add_user", "username", "alice", "domain", "gate.test", "password", "pw-alice")
	require.Equal(t, "success", r.Result, string(r.Data))
	s.runWorker()
	return s, p
}

// TestIntegrationProsodyFederation proves s2s against a real Prosody 0.12:
// a user here and a user there subscribe to each other, see each other's
// presence and exchange messages and IQs both ways, over streams secured by
// STARTTLS and authenticated by dialback (neither certificate verifies).
func TestIntegrationProsodyFederation(t *testing.T) {
	t.Parallel()
	s, p := federatedWithProsody(t, nil)
	alice, bob := loginBoth(t, s, p)
	aj, bj := "alice@gate.test", "bob@prosody.test"
	befriendAcross(t, alice, bob)

	_, err := alice.Send(goxmpp.Chat{Remote: bj, Type: "chat", Text: "hello Prosody"})
	require.NoError(t, err)
	bob.Expect(t, "alice's message", goxmpptest.Chat(aj+"/home", "hello Prosody"))
	_, err = bob.Send(goxmpp.Chat{Remote: aj, Type: "chat", Text: "hello xmppgate"})
	require.NoError(t, err)
	alice.Expect(t, "bob's message", goxmpptest.Chat(bj+"/pub", "hello xmppgate"))

	// IQs both ways: software version of the other server, a ping to the
	// other user's resource.
	iq := alice.Ask(t, "v1", "get", "prosody.test", "<query xmlns='jabber:iq:version'/>")
	require.Equal(t, "result", iq.Type)
	require.Contains(t, string(iq.Query), "Prosody")
	iq = bob.Ask(t, "v2", "get", "gate.test", "<query xmlns='jabber:iq:version'/>")
	require.Equal(t, "result", iq.Type)
	require.Contains(t, string(iq.Query), "xmppgate")

	// A presence change crosses, and so does going offline.
	_, err = bob.SendPresence(goxmpp.Presence{Show: "away", Status: "at the pub"})
	require.NoError(t, err)
	alice.Expect(t, "bob away", func(st any) bool {
		pr, ok := st.(goxmpp.Presence)
		return ok && strings.HasPrefix(pr.From, bj) && pr.Show == "away"
	})

	// ejabberd's s2s commands see the streams, and stop them; federation
	// then goes on over new ones.
	op := tenantCreds{adminJID: s.boot.AdminJID, adminPW: s.boot.AdminPassword}
	ej := func(cmd string) string {
		t.Helper()
		status, body := s.ejabberd(op, cmd, "{}")
		require.Equal(t, 200, status, body)
		return body
	}
	require.Equal(t, `{"s2s_outgoing":1}`, ej("outgoing_s2s_number"), "our stream to Prosody")
	require.NotEqual(t, `{"s2s_incoming":0}`, ej("incoming_s2s_number"), "Prosody's stream to us")
	// Another account sees only the streams of its own domains: none.
	ctx := context.Background()
	acc, err := commands.CreateAccount(ctx, s.app.env, "other", 0, false)
	require.NoError(t, err)
	_, err = commands.CreateDomain(ctx, s.app.env, "other.test", acc.ID)
	require.NoError(t, err)
	var other tenantCreds
	other.adminJID, other.adminPW, err = commands.BootstrapAdmin(ctx, s.app.env, s.app.reg, acc.ID, "other.test")
	require.NoError(t, err)
	for cmd, want := range map[string]string{"outgoing_s2s_number": `{"s2s_outgoing":0}`, "incoming_s2s_number": `{"s2s_incoming":0}`} {
		status, body := s.ejabberd(other, cmd, "{}")
		require.Equal(t, 200, status, body)
		require.Equal(t, want, body, "%s as another account", cmd)
	}
	status, body := s.ejabberd(other, "stop_s2s_connections", "{}")
	require.Equal(t, 403, status, "operator only: %s", body)
	require.Equal(t, `{"s2s_outgoing":1}`, ej("outgoing_s2s_number"), "still up")
	status, body = s.do(http.MethodGet, "/metrics", "", nil)
	require.Equal(t, 200, status)
	require.Contains(t, body, `xmppgate_s2s_streams{direction="out"} 1`)
	require.Equal(t, "0", ej("stop_s2s_connections"), "rescode 0: done")
	require.Eventually(t, func() bool {
		in, out := s.app.env.Live.(live).S2SCounts()
		return in == 0 && out == 0
	}, 10*time.Second, 20*time.Millisecond)
	// Prosody may still be closing its side of the stopped stream and drop
	// what is written to it then (its log: "Discarding data received from
	// resting session"), so bob repeats until a new stream carries one.
	_, err = bob.Send(goxmpp.Chat{Remote: aj, Type: "chat", Text: "after the stop"})
	require.NoError(t, err)
	alice.Expect(t, "bob's message over a new stream", goxmpptest.Chat(bj+"/pub", "after the stop"))

	alice.Logout(t)
	bob.Expect(t, "alice unavailable", goxmpptest.Presence(aj+"/home", "unavailable"))
}

// TestIntegrationProsodyFederationSwitchedOff switches federation off and
// on through the REST domains API: the request itself stops it (our
// stanzas bounce, Prosody's stream is cut and its reconnection refused
// with policy-violation) and switching it on again restores it.
func TestIntegrationProsodyFederationSwitchedOff(t *testing.T) {
	t.Parallel()
	s, p := federatedWithProsody(t, nil)
	alice, bob := loginBoth(t, s, p)
	aj, bj := "alice@gate.test", "bob@prosody.test"
	put := func(on string) {
		t.Helper()
		status, body := s.do(http.MethodPut, "/api/1.0/xmppdomains/gate.test", `{"enableFederation": `+on+`, "enableOrgFederation": false}`,
			func(r *http.Request) {
				r.SetBasicAuth(s.boot.RESTUser, s.boot.RESTPassword)
				r.Header.Set("Content-Type", "application/json")
			})
		require.Equal(t, 200, status, body)
	}
	chat := func(from *goxmpptest.Client, to, text string) {
		t.Helper()
		_, err := from.Send(goxmpp.Chat{Remote: to, Type: "chat", Text: text})
		require.NoError(t, err)
	}
	chat(alice, bj, "one")
	bob.Expect(t, "one", goxmpptest.Chat(aj, "one"))
	chat(bob, aj, "two")
	alice.Expect(t, "two", goxmpptest.Chat(bj, "two"))

	put("false")
	// The request cut both streams; Prosody's next stanza opens a new one,
	// which is refused. A stanza Prosody wrote before it read our stream
	// error is dropped unanswered (s2s has no acknowledgements, and a
	// stream ended by an error is not read on), so bob repeats his until
	// the refused new stream bounces one.
	require.Eventually(t, func() bool {
		in, out := s.app.env.Live.(live).S2SCounts()
		return in == 0 && out == 0
	}, 10*time.Second, 20*time.Millisecond)
	chat(alice, bj, "three")
	alice.Expect(t, "a bounce from bob", goxmpptest.Bounce(bj))
	stop := repeat(t, 2*time.Second, func() { bob.Send(goxmpp.Chat{Remote: aj, Type: "chat", Text: "four"}) }) //nolint:errcheck // the Expect below judges
	bob.Expect(t, "a bounce from alice", goxmpptest.Bounce(aj))
	stop()
	alice.ExpectNone(t, "nothing from Prosody while federation is off", time.Second, goxmpptest.Chat(bj, "four"))

	put("true")
	chat(alice, bj, "five")
	bob.Expect(t, "five", goxmpptest.Chat(aj, "five"))
	chat(bob, aj, "six")
	alice.Expect(t, "six", goxmpptest.Chat(bj, "six"))
}

// TestIntegrationProsodyFederationExternal: when both servers trust a test
// CA, the streams both ways authenticate with SASL EXTERNAL (XEP-0178), as
// Prosody's log says, and carry stanzas as with dialback.
func TestIntegrationProsodyFederationExternal(t *testing.T) {
	t.Parallel()
	ca := testCA(t)
	s, p := federatedWithProsody(t, ca)
	alice, bob := loginBoth(t, s, p)
	aj, bj := "alice@gate.test", "bob@prosody.test"
	chatTo(t, alice, aj, bob, bj, "certified")
	chatTo(t, bob, bj, alice, aj, "certified back")
	log := p.Log()
	require.Contains(t, log, "Accepting SASL EXTERNAL identity from gate.test", "our stream to Prosody")
	require.Contains(t, log, "SASL EXTERNAL with gate.test succeeded", "Prosody's stream to us")
	require.NotContains(t, log, "<db:result", "no dialback was needed")
}

// BenchmarkProsodyFederation measures messages per second from 100 users
// here to 100 users on a Prosody 0.12 peer over federation (one stream
// each way, dialback), each pair with at most 50 messages in flight;
// ns/op is per delivered message.
func BenchmarkProsodyFederation(b *testing.B) {
	const pairs, window = 100, 50
	s, p := federatedWithProsody(b, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var names []string
	for i := 0; i < pairs; i++ {
		names = append(names, "u"+strconv.Itoa(i))
		r := s.dh(s.boot.Key, "jabber-add_user", "username", names[i], "domain", "gate.test", "password", "pw")
		require.Equal(b, "success", r.Result, string(r.Data))
	}
	s.runWorker()
	require.NoError(b, p.CreateUsers(ctx, names, "pw"))
	var here, there []*goxmpptest.Client
	for _, n := range names {
		here = append(here, goxmpptest.Login(b, s.c2s, n+"@gate.test", "pw", goxmpptest.DialTimeout(time.Minute)))
		there = append(there, goxmpptest.Login(b, p.C2SAddr(), n+"@prosody.test", "pw", goxmpptest.DialTimeout(time.Minute)))
	}
	for i, n := range names {
		_, err := here[i].Send(goxmpp.Chat{Remote: n + "@prosody.test", Type: "chat", Text: "warm"})
		require.NoError(b, err)
		there[i].Expect(b, "warm-up", goxmpptest.Chat(n+"@gate.test", "warm"))
	}
	var flows []goxmpptest.Flow
	for i, n := range names {
		flows = append(flows, goxmpptest.Flow{From: here[i], To: there[i], ToJID: n + "@prosody.test"})
	}
	b.ResetTimer()
	start := time.Now()
	n := goxmpptest.Pump(b, flows, max(1, b.N/pairs), window)
	b.StopTimer()
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
}

// TestIntegrationProsodyRemoteRoom: a user here joins a room of Prosody's
// MUC service, talks in it with a user there and gets the room's messages.
func TestIntegrationProsodyRemoteRoom(t *testing.T) {
	t.Parallel()
	s, p := federatedWithProsody(t, nil)
	alice, bob := loginBoth(t, s, p)
	const room = "lounge@rooms.prosody.test"
	_, err := bob.JoinMUCNoHistory(room, "Bob")
	require.NoError(t, err)
	bob.Expect(t, "bob in the room", goxmpptest.Presence(room+"/Bob", ""))
	_, err = alice.JoinMUCNoHistory(room, "Alice")
	require.NoError(t, err)
	alice.Expect(t, "alice in the room", goxmpptest.Presence(room+"/Alice", ""))
	bob.Expect(t, "alice joined", goxmpptest.Presence(room+"/Alice", ""))

	say(t, alice, room, "Alice", "hello room", bob, alice)
	say(t, bob, room, "Bob", "hi alice", alice)
}

// chatTo sends a chat message from one user to another (bare JIDs fj and
// tj) and waits for it to arrive. The wait is long: the first message
// opens the s2s stream (TLS, authentication, bidi), which under CI's load
// took longer than Expect's default (failed once in a fresh-clone run).
func chatTo(t *testing.T, from *goxmpptest.Client, fj string, to *goxmpptest.Client, tj, text string) {
	t.Helper()
	_, err := from.Send(goxmpp.Chat{Remote: tj, Type: "chat", Text: text})
	require.NoError(t, err)
	to.ExpectWithin(t, fj+"'s "+text, 30*time.Second, goxmpptest.Chat(fj, text))
}

// say sends a groupchat message to room and waits for it, from nick, at
// each of hear (the sender too, for its echo).
func say(t *testing.T, from *goxmpptest.Client, room, nick, text string, hear ...*goxmpptest.Client) {
	t.Helper()
	_, err := from.Send(goxmpp.Chat{Remote: room, Type: "groupchat", Text: text})
	require.NoError(t, err)
	for _, c := range hear {
		c.Expect(t, nick+"'s "+text, goxmpptest.Chat(room+"/"+nick, text))
	}
}

// TestIntegrationProsodyBidi: XEP-0288 with Prosody's mod_s2s_bidi, both
// ways. Whoever writes first opens the only stream, and the answer comes
// back on it: our stream to Prosody when alice starts, Prosody's to us
// (we offer bidi on incoming streams) when bob does. (Certificates from a
// shared CA: with dialback Prosody opens a stream to us anyway, to check
// our key, and then uses that one.)
func TestIntegrationProsodyBidi(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		ourFirst bool
		want     xmppcore.S2SStream
		log      string // what Prosody's log says of the request
	}{
		{name: "ours", ourFirst: true, want: xmppcore.S2SStream{Local: "gate.test", Remote: "prosody.test", Auth: "sasl-external"},
			log: "Requested bidirectional stream"},
		{name: "theirs", want: xmppcore.S2SStream{Local: "gate.test", Remote: "prosody.test", Incoming: true, Auth: "sasl-external"},
			log: "Requesting bidirectional stream"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s, p := federatedWithProsody(t, testCA(t), "s2s_bidi")
			alice, bob := loginBoth(t, s, p)
			first, second := alice, bob
			fj, sj := "alice@gate.test", "bob@prosody.test"
			if !c.ourFirst {
				first, second, fj, sj = bob, alice, sj, fj
			}
			chatTo(t, first, fj, second, sj, "one stream")
			chatTo(t, second, sj, first, fj, "both ways")
			require.Equal(t, []xmppcore.S2SStream{c.want}, s.app.env.Live.(live).Server.S2SStreams(), "one stream, used both ways")
			require.Contains(t, p.Log(), c.log)
		})
	}
}

// TestIntegrationProsodyRemoteOccupant: a user of Prosody joins a room of
// our MUC service (conference.gate.test, its own s2s domain pair and
// dialback), gets the room's history, and talks with a user here both
// ways; leaving is seen here.
func TestIntegrationProsodyRemoteOccupant(t *testing.T) {
	t.Parallel()
	s, p := federatedWithProsody(t, nil)
	alice, bob := loginBoth(t, s, p)
	const room = "lounge@conference.gate.test"
	// mucAcl "local" (the default) admits the domain's own users only:
	// the refusal crosses back to bob.
	_, err := bob.JoinMUCNoHistory(room, "Bob")
	require.NoError(t, err)
	bob.Expect(t, "the refusal", goxmpptest.Presence(room+"/Bob", "error"))
	status, body := s.do(http.MethodPut, "/api/1.0/xmppdomains/gate.test", `{"moduleConfig": {"modMuc": {"enabled": true, "mucAcl": "all"}}}`,
		func(r *http.Request) {
			r.SetBasicAuth(s.boot.RESTUser, s.boot.RESTPassword)
			r.Header.Set("Content-Type", "application/json")
		})
	require.Equal(t, http.StatusOK, status, body)
	_, err = alice.JoinMUCNoHistory(room, "Alice")
	require.NoError(t, err)
	alice.Expect(t, "alice in the room", goxmpptest.Presence(room+"/Alice", ""))
	// An instant room: unlocked for others (XEP-0045 10.1.2).
	iq := alice.Ask(t, "inst", "set", room, "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query>")
	require.Equal(t, "result", iq.Type)
	say(t, alice, room, "Alice", "before bob came", alice)

	_, err = bob.JoinMUC(room, "Bob", goxmpp.StanzaHistory, 10, nil)
	require.NoError(t, err)
	bob.Expect(t, "alice's presence in the room", goxmpptest.Presence(room+"/Alice", ""))
	bob.Expect(t, "bob in the room", goxmpptest.Presence(room+"/Bob", ""))
	bob.Expect(t, "the history", goxmpptest.Chat(room+"/Alice", "before bob came"))
	alice.Expect(t, "bob joined", goxmpptest.Presence(room+"/Bob", ""))

	say(t, bob, room, "Bob", "hello from Prosody", alice, bob)
	say(t, alice, room, "Alice", "welcome bob", bob)
	// A private message through the room, and the room's disco#info.
	_, err = alice.Send(goxmpp.Chat{Remote: room + "/Bob", Type: "chat", Text: "psst"})
	require.NoError(t, err)
	bob.Expect(t, "a private message", goxmpptest.Chat(room+"/Alice", "psst"))
	iq = bob.Ask(t, "ri", "get", room, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	require.Equal(t, "result", iq.Type)
	require.Contains(t, string(iq.Query), "http://jabber.org/protocol/muc")
	// An IQ between occupants goes through the room and its answer back:
	// alice asks bob's client its version through his occupant JID.
	_, err = alice.RawInformation(alice.JID(), room+"/Bob", "ver1", "get", "<query xmlns='jabber:iq:version'/>")
	require.NoError(t, err)
	q := bob.Expect(t, "the relayed version query", goxmpptest.IQ("ver1", "get", "jabber:iq:version")).(goxmpp.IQ)
	require.Equal(t, room+"/Alice", q.From)
	_, err = bob.RawInformation(bob.JID(), q.From, q.ID, "result", "<query xmlns='jabber:iq:version'><name>fedtest</name></query>")
	require.NoError(t, err)
	alice.Expect(t, "bob's answer through the room", goxmpptest.IQ("ver1", "result", "fedtest"))
	iq = bob.Ask(t, "si", "get", "conference.gate.test", "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	require.Equal(t, "result", iq.Type, "the service's disco#info")
	require.Contains(t, string(iq.Query), "category='conference'")
	iq = bob.Ask(t, "sl", "get", "conference.gate.test", "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	require.Equal(t, "result", iq.Type, "the service's rooms")
	require.Contains(t, string(iq.Query), room)

	_, err = bob.LeaveMUC(room)
	require.NoError(t, err)
	alice.Expect(t, "bob left", goxmpptest.Presence(room+"/Bob", "unavailable"))

	// Back in; then an error from his side that says he is gone (as his
	// server sends when his client vanished unannounced) removes him.
	_, err = bob.JoinMUCNoHistory(room, "Bob")
	require.NoError(t, err)
	alice.Expect(t, "bob back", goxmpptest.Presence(room+"/Bob", ""))
	_, err = bob.SendOrg("<message to='" + room + "' type='error'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
	require.NoError(t, err)
	alice.Expect(t, "bob removed", goxmpptest.Presence(room+"/Bob", "unavailable"))
	_, err = bob.Send(goxmpp.Chat{Remote: room, Type: "groupchat", Text: "still here?"})
	require.NoError(t, err)
	bob.Expect(t, "not an occupant any more", goxmpptest.Bounce(room))
	streams := s.app.env.Live.(live).Server.S2SStreams()
	require.Contains(t, streams, xmppcore.S2SStream{Local: "conference.gate.test", Remote: "prosody.test", Auth: "dialback"},
		"the room's own stream to Prosody")
}

// capsOf is a client's XEP-0115 caps element and its disco#info answer
// for the features given (one identity, client/pc).
func capsOf(features ...string) (c, info string) {
	sorted := slices.Clone(features)
	slices.Sort(sorted)
	s := "client/pc//fedtest<"
	var q strings.Builder
	q.WriteString("<query xmlns='http://jabber.org/protocol/disco#info' node='https://xmppgate.test/fed#%s'><identity category='client' type='pc' name='fedtest'/>")
	for _, f := range sorted {
		s += f + "<"
		q.WriteString("<feature var='" + f + "'/>")
	}
	q.WriteString("</query>")
	sum := sha1.Sum([]byte(s))
	ver := base64.StdEncoding.EncodeToString(sum[:])
	return "<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://xmppgate.test/fed' ver='" + ver + "'/>",
		fmt.Sprintf(q.String(), ver)
}

// repeat runs fn now and every d until the returned stop is called or
// the test ends: s2s has no acknowledgements, so a stanza written while a
// stream was still being negotiated or closed is sent again.
func repeat(t testing.TB, d time.Duration, fn func()) (stop func()) {
	done := make(chan struct{})
	var once sync.Once
	stop = func() { once.Do(func() { close(done) }) }
	t.Cleanup(stop)
	go func() {
		for {
			fn()
			select {
			case <-done:
				return
			case <-time.After(d):
			}
		}
	}()
	return stop
}

func newTestID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// answerCaps waits for a disco#info query to c from a JID starting with
// from and answers it with info.
func answerCaps(t *testing.T, c *goxmpptest.Client, from, info string) {
	t.Helper()
	q := c.Expect(t, "a caps query from "+from, func(st any) bool {
		iq, ok := st.(goxmpp.IQ)
		return ok && iq.Type == "get" && strings.HasPrefix(iq.From, from) && strings.Contains(string(iq.Query), "disco#info")
	}).(goxmpp.IQ)
	_, err := c.RawInformation(c.JID(), q.From, q.ID, "result", info)
	require.NoError(t, err)
}

// pepEvent matches a PEP event of node whose item contains text. (go-xmpp
// drops an event's sender: the text tells who published it.)
func pepEvent(node, text string) func(any) bool {
	return func(st any) bool {
		ev, ok := st.(goxmpp.PubsubEvent)
		if !ok || ev.Node != node {
			return false
		}
		for _, it := range ev.Items {
			if strings.Contains(string(it.InnerXML), text) {
				return true
			}
		}
		return false
	}
}

// befriendAcross makes alice here and bob at Prosody available and
// mutually subscribed. Prosody passes subscription answers only to
// resources that asked for the roster ("interested" resources, RFC 6121
// 2.1.6), so bob fetches it first. alice asks, bob approves: the first
// stanza sets up both directions (our stream out, Prosody's dialback check
// back to us).
func befriendAcross(t *testing.T, alice, bob *goxmpptest.Client) {
	t.Helper()
	bob.FetchRoster(t)
	_, err := alice.SendPresence(goxmpp.Presence{})
	require.NoError(t, err)
	_, err = bob.SendPresence(goxmpp.Presence{})
	require.NoError(t, err)
	goxmpptest.Befriend(t, alice, "alice@gate.test", "home", bob, "bob@prosody.test", "pub")
}

// TestIntegrationProsodyPEP: PEP events cross both ways. Bob at Prosody
// sends caps with tune+notify; we ask his client what they mean over s2s
// and send him alice's tune when she publishes it. The other way, alice's
// caps reach Prosody, which asks her client and sends her bob's tune.
func TestIntegrationProsodyPEP(t *testing.T) {
	t.Parallel()
	s, p := federatedWithProsody(t, nil, "pep")
	alice, bob := loginBoth(t, s, p)
	aj, bj := "alice@gate.test", "bob@prosody.test"
	befriendAcross(t, alice, bob)
	const tune = "http://jabber.org/protocol/tune"
	caps, info := capsOf("http://jabber.org/protocol/disco#info", tune, tune+"+notify")
	publish := func(c *goxmpptest.Client, bare, title string) error {
		_, err := c.RawInformation(c.JID(), bare, "pub-"+newTestID(), "set", "<pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='"+tune+
			"'><item id='current'><tune xmlns='"+tune+"'><title>"+title+"</title></tune></item></publish></pubsub>")
		return err
	}

	// Ours to Prosody's user.
	_, err := bob.SendOrg("<presence>" + caps + "</presence>")
	require.NoError(t, err)
	answerCaps(t, bob, "gate.test", info)
	// bob's answer may still be crossing when alice publishes: she
	// publishes again every 2 s until an event reaches him.
	stop := repeat(t, 2*time.Second, func() { publish(alice, aj, "Blue Train") }) //nolint:errcheck // the Expect below judges
	bob.Expect(t, "alice's tune", pepEvent(tune, "Blue Train"))
	stop()

	// Prosody's to ours.
	_, err = alice.SendOrg("<presence>" + caps + "</presence>")
	require.NoError(t, err)
	answerCaps(t, alice, bj, info)
	stop = repeat(t, 2*time.Second, func() { publish(bob, bj, "So What") }) //nolint:errcheck // the Expect below judges
	alice.Expect(t, "bob's tune", pepEvent(tune, "So What"))
	stop()
}
