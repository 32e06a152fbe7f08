package xmppcore_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/internal/peer"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore"
)

// setupDomain starts a server hosting fqdn alone, with federation on a
// loopback port; routes are filled in by the caller before traffic flows.
func setupDomain(t testing.TB, fqdn string, routes map[string]string, opts ...func(*xmppcore.Config)) *testBundle {
	t.Helper()
	b := openBundle(t, "NORMAL")
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		a, err := tx.InsertAccount(b.ctx, "acct-"+fqdn, 0)
		if err != nil {
			return err
		}
		b.account = a.ID
		d, err := tx.InsertDomain(b.ctx, a.ID, fqdn)
		b.domains[fqdn] = d
		return err
	}))
	cfg := xmppcore.Config{C2SAddr: "127.0.0.1:0", C2STLSAddr: "127.0.0.1:0", DataDir: b.dataDir, S2SAddr: "127.0.0.1:0", S2SRoutes: routes}
	for _, o := range opts {
		o(&cfg)
	}
	b.serve(t, cfg)
	return b
}

// federated starts two servers, one.test and two.test, routed to each other.
func federated(t testing.TB) (one, two *testBundle) {
	t.Helper()
	r1, r2 := map[string]string{}, map[string]string{}
	one = setupDomain(t, "one.test", r1)
	two = setupDomain(t, "two.test", r2)
	// The maps are read only once traffic flows, after this.
	r1["two.test"] = two.srv.S2SAddr().String()
	r2["one.test"] = one.srv.S2SAddr().String()
	return one, two
}

func TestIntegrationS2SBetweenTwoServers(t *testing.T) {
	t.Parallel()
	one, two := federated(t)
	alice, bob := aliceAndBob(t, one, two, "home", "work")
	aj, bj := "alice@one.test", "bob@two.test"

	goxmpptest.Befriend(t, alice, aj, "home", bob, bj, "work")

	_, err := alice.Send(goxmpp.Chat{Remote: bj, Type: "chat", Text: "hello over s2s"})
	require.NoError(t, err)
	bob.Expect(t, "alice's message", goxmpptest.Chat(aj+"/home", "hello over s2s"))
	_, err = bob.Send(goxmpp.Chat{Remote: aj + "/home", Type: "chat", Text: "hello back"})
	require.NoError(t, err)
	alice.Expect(t, "bob's answer", goxmpptest.Chat(bj+"/work", "hello back"))

	// An IQ to the other server is answered there.
	iq := alice.Ask(t, "v1", "get", "two.test", "<query xmlns='jabber:iq:version'/>")
	require.Equal(t, "result", iq.Type)
	require.Contains(t, string(iq.Query), "xmppgate")

	// Both offer and ask for XEP-0288: one.test's stream, the first,
	// carries two.test's stanzas back, and two.test opens none.
	require.Equal(t, []xmppcore.S2SStream{{Local: "one.test", Remote: "two.test", Auth: "dialback"}}, one.srv.S2SStreams())
	require.Equal(t, []xmppcore.S2SStream{{Local: "two.test", Remote: "one.test", Incoming: true, Auth: "dialback"}}, two.srv.S2SStreams())
	_, out2 := two.srv.S2SCounts()
	require.Zero(t, out2, "no stream two.test -> one.test")

	// bob going offline reaches alice as unavailable.
	bob.Logout(t)
	alice.Expect(t, "bob's unavailable", goxmpptest.Presence(bj+"/work", "unavailable"))
}

func TestIntegrationS2SBounce(t *testing.T) {
	t.Parallel()
	// Nothing listens on the route's port: the message bounces with
	// remote-server-not-found.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := l.Addr().String()
	l.Close()
	one := setupDomain(t, "one.test", map[string]string{"nowhere.test": dead})
	one.user(t, "one.test", "alice", "pw-a", store.StatusActive)
	alice := goxmpptest.Login(t, one.c2s, "alice@one.test", "pw-a", goxmpptest.Transcript())
	_, err = alice.Send(goxmpp.Chat{Remote: "x@nowhere.test", Type: "chat", Text: "anyone?"})
	require.NoError(t, err)
	alice.Expect(t, "the bounce", goxmpptest.Bounce("x@nowhere.test"))
	require.Eventually(t, func() bool { return strings.Contains(alice.Transcript(), "remote-server-not-found") },
		5e9, 5e7)
}

// Offline storage, carbons and IQs to the server and to users work across
// servers as they do locally, since routing is the same.
func TestIntegrationS2SOfflineCarbonsIQs(t *testing.T) {
	t.Parallel()
	one, two := federated(t)
	one.user(t, "one.test", "alice", "pw-a", store.StatusActive)
	two.user(t, "two.test", "bob", "pw-b", store.StatusActive)
	aj, bj := "alice@one.test", "bob@two.test"
	alice := one.mustLogin(t, "alice", "pw-a", loginOpts{resource: "home", fqdn: "one.test"})

	// bob is offline: the message waits on his server.
	_, err := alice.Send(goxmpp.Chat{Remote: bj, Type: "chat", Text: "while you were out"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		n, err := two.st.OfflineCount(two.ctx, mustUserID(t, two, "two.test", "bob"))
		return err == nil && n == 1
	}, 10*time.Second, 20*time.Millisecond)
	bob := two.mustLogin(t, "bob", "pw-b", loginOpts{resource: "work", fqdn: "two.test"})
	_, err = bob.SendPresence(goxmpp.Presence{})
	require.NoError(t, err)
	bob.Expect(t, "the stored message", goxmpptest.Chat(aj, "while you were out"))

	// Carbons: alice's second resource sees what bob sends to her first.
	alice2 := one.mustLogin(t, "alice", "pw-a", loginOpts{resource: "phone", fqdn: "one.test"})
	iq := alice2.Ask(t, "c1", "set", "", "<enable xmlns='urn:xmpp:carbons:2'/>")
	require.Equal(t, "result", iq.Type)
	_, err = bob.Send(goxmpp.Chat{Remote: aj + "/home", Type: "chat", Text: "carbon me"})
	require.NoError(t, err)
	alice.Expect(t, "bob's message", goxmpptest.Chat(bj, "carbon me"))
	alice2.Expect(t, "its carbon", carbon(aj, "received", "carbon me"))

	// IQs: ping and disco#info of the other server, a user's vCard there.
	for i, c := range []struct{ to, payload, want string }{
		0: {"two.test", "<ping xmlns='urn:xmpp:ping'/>", ""},
		1: {"two.test", "<query xmlns='http://jabber.org/protocol/disco#info'/>", "urn:xmpp:ping"},
		2: {bj, "<vCard xmlns='vcard-temp'/>", "vCard"},
	} {
		iq := alice.Ask(t, "q"+string(rune('0'+i)), "get", c.to, c.payload)
		require.Equal(t, "result", iq.Type, "%d: %s", i, iq.Query)
		require.Contains(t, string(iq.Query), c.want, i)
	}
}

// aliceAndBob creates alice@one.test and bob@two.test and logs them in
// with the given resources.
func aliceAndBob(t testing.TB, one, two *testBundle, ares, bres string) (alice, bob *goxmpptest.Client) {
	t.Helper()
	one.user(t, "one.test", "alice", "pw-a", store.StatusActive)
	two.user(t, "two.test", "bob", "pw-b", store.StatusActive)
	alice = one.mustLogin(t, "alice", "pw-a", loginOpts{resource: ares, fqdn: "one.test"})
	bob = two.mustLogin(t, "bob", "pw-b", loginOpts{resource: bres, fqdn: "two.test"})
	return alice, bob
}

func mustUserID(t *testing.T, b *testBundle, fqdn, name string) int64 {
	t.Helper()
	u, err := b.st.UserByJID(b.ctx, fqdn, name)
	require.NoError(t, err)
	return u.ID
}

// With enableFederation off and enableOrgFederation on, a domain federates
// only with remote domains under a domain of its own account (the
// organisation's other servers): acme.test talks to eu.acme.test, not to
// other.test, in either direction.
func TestIntegrationS2SOrgFederation(t *testing.T) {
	t.Parallel()
	r1, r2, r3 := map[string]string{}, map[string]string{}, map[string]string{}
	acme := setupDomain(t, "acme.test", r1)
	eu := setupDomain(t, "eu.acme.test", r2)
	other := setupDomain(t, "other.test", r3)
	r1["eu.acme.test"], r1["other.test"] = eu.srv.S2SAddr().String(), other.srv.S2SAddr().String()
	r2["acme.test"] = acme.srv.S2SAddr().String()
	r3["acme.test"] = acme.srv.S2SAddr().String()
	require.NoError(t, acme.st.Write(acme.ctx, func(tx *store.Tx) error {
		return tx.SetDomainSettings(acme.ctx, acme.domains["acme.test"].ID,
			[]byte(`{"moduleConfig":{"enableFederation":false,"enableOrgFederation":true}}`))
	}))
	acme.srv.DomainSettingsChanged("acme.test")
	acme.user(t, "acme.test", "alice", "pw-a", store.StatusActive)
	eu.user(t, "eu.acme.test", "bob", "pw-b", store.StatusActive)
	other.user(t, "other.test", "carol", "pw-c", store.StatusActive)
	alice := acme.mustLogin(t, "alice", "pw-a", loginOpts{resource: "r", fqdn: "acme.test"})
	bob := eu.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r", fqdn: "eu.acme.test"})
	carol := other.mustLogin(t, "carol", "pw-c", loginOpts{resource: "r", fqdn: "other.test"})
	for _, c := range []struct {
		from   *goxmpptest.Client
		to     string
		rcpt   *goxmpptest.Client
		sender string
	}{
		{alice, "bob@eu.acme.test", bob, "alice@acme.test"},
		{bob, "alice@acme.test", alice, "bob@eu.acme.test"},
	} {
		_, err := c.from.Send(goxmpp.Chat{Remote: c.to, Type: "chat", Text: "same org"})
		require.NoError(t, err)
		c.rcpt.Expect(t, "a message within the organisation", goxmpptest.Chat(c.sender, "same org"))
	}
	_, err := alice.Send(goxmpp.Chat{Remote: "carol@other.test", Type: "chat", Text: "outside"})
	require.NoError(t, err)
	alice.Expect(t, "the bounce of a message outside", goxmpptest.Bounce("carol@other.test"))
	_, err = carol.Send(goxmpp.Chat{Remote: "alice@acme.test", Type: "chat", Text: "outside in"})
	require.NoError(t, err)
	carol.Expect(t, "the bounce of a message from outside", goxmpptest.Bounce("alice@acme.test"))
	alice.ExpectNone(t, "nothing from outside", 500*time.Millisecond, goxmpptest.Chat("carol@other.test", "outside in"))
}

// Abusive peers are cut off with the right stream error while local users
// keep talking: garbage, a stream that never gets to dialback, an oversized
// stanza, more streams from one address than allowed, a blocked domain.
func TestS2SAbusivePeers(t *testing.T) {
	t.Parallel()
	one := setupDomain(t, "one.test", nil, func(c *xmppcore.Config) {
		c.S2SNegotiationTimeout = time.Second
		c.S2SMaxPerIP = 3
		c.MaxStanza = 4096
		c.S2SBlocklist = []string{"bad.test"}
	})
	addr := one.srv.S2SAddr().String()
	const hdr = "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' version='1.0' to='one.test'"
	for i, c := range []struct {
		name, send, want string
	}{
		0: {"garbage", "\x00\x01<<not xml at all", "not-well-formed"},
		1: {"wrong namespace", "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='one.test'>", "invalid-namespace"},
		2: {"unknown host", "<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='nope.test'>", "host-unknown"},
		3: {"blocked domain", hdr + " from='x.bad.test'>", "policy-violation"},
		4: {"no STARTTLS", hdr + " from='peer.test'><db:result from='peer.test' to='one.test'>k</db:result>", "policy-violation"},
		5: {"never finishes", hdr + " from='peer.test'>", "connection-timeout"},
		6: {"oversized", hdr + " from='peer.test'><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls' pad='" + strings.Repeat("x", 20000) + "'/>", "policy-violation"},
	} {
		out := raw(t, addr, c.send)
		require.Contains(t, out, "<"+c.want+" xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>", "%d %s: %s", i, c.name, out)
	}

	// Streams beyond the per-address limit are refused; the first ones stay.
	require.Eventually(t, func() bool { in, _ := one.srv.S2SCounts(); return in == 0 }, 10*time.Second, 10*time.Millisecond,
		"the streams above are over")
	var held []net.Conn
	for i := 0; i < 3; i++ {
		nc, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		held = append(held, nc)
		_, err = nc.Write([]byte(hdr + " from='peer.test'>"))
		require.NoError(t, err)
		// The header and the features may come in separate reads; the
		// features mean the stream is counted.
		var got []byte
		buf := make([]byte, 512)
		nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		for !strings.Contains(string(got), "</stream:features>") {
			n, err := nc.Read(buf)
			require.NoError(t, err, "features of stream %d: %s", i, got)
			got = append(got, buf[:n]...)
		}
		require.Contains(t, string(got), "starttls")
	}
	require.Contains(t, raw(t, addr, hdr+" from='peer.test'>"), "policy-violation")
	for _, nc := range held {
		nc.Close()
	}

	// Local users were never disturbed.
	one.user(t, "one.test", "alice", "pw-a", store.StatusActive)
	one.user(t, "one.test", "bob", "pw-b", store.StatusActive)
	alice := one.mustLogin(t, "alice", "pw-a", loginOpts{resource: "r", fqdn: "one.test"})
	bob := one.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r", fqdn: "one.test"})
	_, err := alice.Send(goxmpp.Chat{Remote: "bob@one.test", Type: "chat", Text: "still here"})
	require.NoError(t, err)
	bob.Expect(t, "a local message", goxmpptest.Chat("alice@one.test", "still here"))
}

// A peer server flooding stanzas beyond the stream's rate is slowed down,
// then cut off (policy-violation): of a burst of 40 messages only the
// stream's allowance arrives, while the receiving server's local
// users keep talking and a later message goes through on a new stream.
func TestIntegrationS2SFlood(t *testing.T) {
	t.Parallel()
	r1, r2 := map[string]string{}, map[string]string{}
	one := setupDomain(t, "one.test", r1)
	two := setupDomain(t, "two.test", r2, func(c *xmppcore.Config) {
		c.S2SStanzaRate, c.S2SStanzaBurst, c.S2SFloodGrace = 5, 5, 500*time.Millisecond
	})
	r1["two.test"] = two.srv.S2SAddr().String()
	r2["one.test"] = one.srv.S2SAddr().String()
	one.user(t, "one.test", "alice", "pw-a", store.StatusActive)
	two.user(t, "two.test", "bob", "pw-b", store.StatusActive)
	two.user(t, "two.test", "carl", "pw-c", store.StatusActive)
	alice := one.mustLogin(t, "alice", "pw-a", loginOpts{resource: "r", fqdn: "one.test"})
	bob := two.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r", fqdn: "two.test"})
	carl := two.mustLogin(t, "carl", "pw-c", loginOpts{resource: "r", fqdn: "two.test"})

	const sent = 40
	for i := 0; i < sent; i++ {
		_, err := alice.Send(goxmpp.Chat{Remote: "bob@two.test", Type: "chat", Text: "flood"})
		require.NoError(t, err)
	}
	got := 0
	bob.ExpectNone(t, "(counting)", 3*time.Second, func(st any) bool {
		if m, ok := st.(goxmpp.Chat); ok && m.Text == "flood" {
			got++
		}
		return false
	})
	require.GreaterOrEqual(t, got, 5, "the first stream's burst arrived")
	require.Less(t, got, sent, "the flood was cut off")

	_, err := carl.Send(goxmpp.Chat{Remote: "bob@two.test", Type: "chat", Text: "local"})
	require.NoError(t, err)
	bob.Expect(t, "a local message during the flood", goxmpptest.Chat("carl@two.test", "local"))
	_, err = alice.Send(goxmpp.Chat{Remote: "bob@two.test", Type: "chat", Text: "calm again"})
	require.NoError(t, err)
	bob.Expect(t, "a message after the flood", goxmpptest.Chat("alice@one.test", "calm again"))
}

// srvResolver answers SRV lookups from a table (the tests' stand-in for DNS).
type srvResolver map[string][]*net.SRV

func (r srvResolver) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	if recs, ok := r["_"+service+"._"+proto+"."+name]; ok {
		return "", recs, nil
	}
	return "", nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
}

// Without a static route the remote is found by DNS SRV; an
// _xmpps-server record leads to the direct TLS listener (XEP-0368).
func TestIntegrationS2SDirectTLSBySRV(t *testing.T) {
	t.Parallel()
	r2 := map[string]string{}
	two := setupDomain(t, "two.test", r2, func(c *xmppcore.Config) { c.S2STLSAddr = "127.0.0.1:0" })
	_, port, err := net.SplitHostPort(two.srv.S2STLSAddr().String())
	require.NoError(t, err)
	p, err := strconv.Atoi(port)
	require.NoError(t, err)
	one := setupDomain(t, "one.test", nil, func(c *xmppcore.Config) {
		c.S2SResolver = srvResolver{"_xmpps-server._tcp.two.test": {{Target: "127.0.0.1.", Port: uint16(p)}}}
	})
	// two finds one by its static route (dialback goes back there).
	r2["one.test"] = one.srv.S2SAddr().String()
	alice, bob := aliceAndBob(t, one, two, "r", "r")
	_, err = alice.Send(goxmpp.Chat{Remote: "bob@two.test", Type: "chat", Text: "via SRV and direct TLS"})
	require.NoError(t, err)
	bob.Expect(t, "alice's message", goxmpptest.Chat("alice@one.test", "via SRV and direct TLS"))
}

// A hosted domain's own certificate in DATA/tls/domains/ is served to
// peers asking for it by SNI and presented as our client certificate;
// with both servers' domain certificates from a CA the other trusts, the
// streams authenticate with SASL EXTERNAL instead of dialback.
func TestIntegrationS2SDomainCertificatesAndExternal(t *testing.T) {
	t.Parallel()
	caDir := t.TempDir()
	ca, err := peer.MakeCA(caDir)
	require.NoError(t, err)
	pem, err := os.ReadFile(ca.File)
	require.NoError(t, err)
	roots := x509.NewCertPool()
	require.True(t, roots.AppendCertsFromPEM(pem))
	r1, r2 := map[string]string{}, map[string]string{}
	withCA := func(c *xmppcore.Config) { c.S2SRoots, c.S2STLSAddr = roots, "127.0.0.1:0" }
	one := setupDomain(t, "one.test", r1, withCA)
	two := setupDomain(t, "two.test", r2, withCA)
	r1["two.test"], r2["one.test"] = two.srv.S2SAddr().String(), one.srv.S2SAddr().String()
	for _, b := range []struct {
		bundle *testBundle
		fqdn   string
	}{{one, "one.test"}, {two, "two.test"}} {
		dir := filepath.Join(b.bundle.dataDir, "tls", "domains")
		require.NoError(t, os.MkdirAll(dir, 0o700))
		_, err := ca.Issue(dir, b.fqdn) // <fqdn>.crt and <fqdn>.key
		require.NoError(t, err)
	}

	// SNI picks the domain's certificate; another name gets the default.
	for name, want := range map[string]string{"one.test": "one.test", "unknown.test": ""} {
		tc, err := tls.Dial("tcp", one.srv.S2STLSAddr().String(), &tls.Config{ServerName: name, InsecureSkipVerify: true})
		require.NoError(t, err)
		leaf := tc.ConnectionState().PeerCertificates[0]
		tc.Close()
		if want != "" {
			require.Equal(t, []string{want}, leaf.DNSNames, name)
		} else {
			require.NotEqual(t, []string{"one.test"}, leaf.DNSNames, name)
		}
	}

	alice, bob := aliceAndBob(t, one, two, "r", "r")
	_, err = alice.Send(goxmpp.Chat{Remote: "bob@two.test", Type: "chat", Text: "certified"})
	require.NoError(t, err)
	bob.Expect(t, "alice's message", goxmpptest.Chat("alice@one.test", "certified"))
	require.Equal(t, []xmppcore.S2SStream{{Local: "one.test", Remote: "two.test", Auth: "sasl-external"}}, one.srv.S2SStreams())
	require.Eventually(t, func() bool {
		return slices.Equal([]xmppcore.S2SStream{{Local: "two.test", Remote: "one.test", Incoming: true, Auth: "sasl-external"}}, two.srv.S2SStreams())
	}, 5*time.Second, 10*time.Millisecond, "%+v", two.srv.S2SStreams())
}
