package xmppcore_test

import (
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore"
)

// rawStream is a hand-written client over direct TLS, for exact wire
// checks of nonzas no client library lets a test misuse.
type rawStream struct {
	t   testing.TB
	nc  net.Conn
	buf string
}

// smLogin authenticates user with PLAIN over the direct TLS listener and
// restarts the stream; it returns the stream and the features offered
// after authentication.
func smLogin(t testing.TB, b *testBundle, user, password string) (*rawStream, string) {
	t.Helper()
	nc, err := tls.Dial("tcp", b.c2stls, &tls.Config{InsecureSkipVerify: true, ServerName: domain})
	require.NoError(t, err)
	t.Cleanup(func() { nc.Close() })
	r := &rawStream{t: t, nc: nc}
	r.send(header)
	r.expect("</stream:features>")
	r.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+password)) + "</auth>")
	r.expect("<success")
	r.send(header)
	return r, r.expect("</stream:features>")
}

// bind binds resource and returns the full JID.
func (r *rawStream) bind(resource string) {
	r.t.Helper()
	r.send("<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + resource + "</resource></bind></iq>")
	r.expect("</iq>")
}

func (r *rawStream) send(s string) {
	r.t.Helper()
	r.nc.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, err := io.WriteString(r.nc, s)
	require.NoError(r.t, err)
}

// expect reads until want appears and returns everything up to and
// including it; the rest stays for the next expect.
func (r *rawStream) expect(want string) string {
	r.t.Helper()
	r.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	p := make([]byte, 4096)
	for !strings.Contains(r.buf, want) {
		n, err := r.nc.Read(p)
		r.buf += string(p[:n])
		if err != nil && !strings.Contains(r.buf, want) {
			require.FailNow(r.t, "no "+want, "got %q (%v)", r.buf, err)
		}
	}
	i := strings.Index(r.buf, want) + len(want)
	out := r.buf[:i]
	r.buf = r.buf[i:]
	return out
}

// rest returns what arrived within d, without waiting for anything.
func (r *rawStream) rest(d time.Duration) string {
	r.nc.SetReadDeadline(time.Now().Add(d))
	p := make([]byte, 4096)
	for {
		n, err := r.nc.Read(p)
		r.buf += string(p[:n])
		if err != nil {
			break
		}
	}
	out := r.buf
	r.buf = ""
	return out
}

const (
	smNS      = "urn:xmpp:sm:3"
	enableSM  = "<enable xmlns='" + smNS + "' resume='true'/>"
	requestSM = "<r xmlns='" + smNS + "'/>"
	pingIQ    = "<iq type='get' id='p%d'><ping xmlns='urn:xmpp:ping'/></iq>"
)

func ping(n int) string { return strings.Replace(pingIQ, "%d", string(rune('0'+n)), 1) }

var enabledRE = regexp.MustCompile(`<enabled xmlns='urn:xmpp:sm:3' id='([^']+)' resume='true' max='300'/>`)

// TestSMCounters checks the acks of both directions on the wire.
func TestSMCounters(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	r, features := smLogin(t, b, "alice", "pw-a")
	require.Contains(t, features, "<sm xmlns='urn:xmpp:sm:3'/>")
	require.Contains(t, features, "<csi xmlns='urn:xmpp:csi:0'/>")
	r.bind("raw")
	r.send(enableSM)
	require.Regexp(t, enabledRE, r.expect("/>"))

	r.send(requestSM)
	require.Equal(t, "<a xmlns='urn:xmpp:sm:3' h='0'/>", r.expect("/>"), "nothing handled yet")
	r.send(ping(1))
	got := r.expect(requestSM)
	require.Contains(t, got, `id="p1"`, "the result, then a request for its ack")
	r.send(ping(2)) // sent while the ack is asked for: no second <r/>
	require.Contains(t, r.expect("/>"), `id="p2"`)
	r.send(requestSM)
	require.Equal(t, "<a xmlns='urn:xmpp:sm:3' h='2'/>", r.expect("/>"))
	r.send("<a xmlns='" + smNS + "' h='1'/>")
	require.Equal(t, requestSM, r.expect("/>"), "p2 is still unacked: asked again")
	r.send("<a xmlns='" + smNS + "' h='2'/>")
	require.Empty(t, r.rest(200*time.Millisecond), "all acked: nothing more asked")

	r.send("<a xmlns='" + smNS + "' h='3'/>")
	require.Equal(t, "<stream:error><undefined-condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"+
		"<text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>acknowledged more stanzas than were sent</text>"+
		"<handled-count-too-high xmlns='urn:xmpp:sm:3' h='3' send-count='2'/></stream:error></stream:stream>",
		r.rest(time.Second))
}

// TestSMCountersWrap: both counters wrap from 2^32-1 to 0 (XEP-0198
// section 4).
func TestSMCountersWrap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	r, _ := smLogin(t, b, "alice", "pw-a")
	r.bind("raw")
	r.send(enableSM)
	r.expect("/>")
	require.True(t, b.srv.SetSMCounters("alice@"+domain+"/raw", 4294967295, 4294967295))
	r.send(ping(1))
	r.expect(requestSM)
	r.send(requestSM)
	require.Equal(t, "<a xmlns='urn:xmpp:sm:3' h='0'/>", r.expect("/>"), "in: 4294967295 + 1")
	r.send("<a xmlns='" + smNS + "' h='4294967295'/>")
	require.Equal(t, requestSM, r.expect("/>"), "stanza 0 is not acked by h=4294967295")
	r.send("<a xmlns='" + smNS + "' h='0'/>")
	require.Empty(t, r.rest(200*time.Millisecond))
	r.send("<a xmlns='" + smNS + "' h='1'/>")
	require.Contains(t, r.rest(time.Second), "<handled-count-too-high xmlns='urn:xmpp:sm:3' h='1' send-count='0'/>")
}

// TestSMFailures checks each <failed/> case and what follows it.
func TestSMFailures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	failed := func(cond string) string {
		return "<failed xmlns='urn:xmpp:sm:3'><" + cond + " xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></failed>"
	}
	notFound := "<failed xmlns='urn:xmpp:sm:3'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>" +
		"<text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas' xml:lang='en'>Previous session not found</text></failed>"

	// bob's resumable session, for alice to try to take.
	rb, _ := smLogin(t, b, "bob", "pw-b")
	rb.bind("raw")
	rb.send(enableSM)
	bobID := enabledRE.FindStringSubmatch(rb.expect("/>"))[1]

	r, _ := smLogin(t, b, "alice", "pw-a")
	r.send(enableSM)
	require.Equal(t, failed("unexpected-request"), r.expect("</failed>"), "enable before bind")
	r.send(requestSM)
	require.Equal(t, failed("unexpected-request"), r.expect("</failed>"), "<r/> before bind")
	r.send("<resume xmlns='" + smNS + "' previd='nope' h='0'/>")
	require.Equal(t, notFound, r.expect("</failed>"), "unknown id")
	r.send("<resume xmlns='" + smNS + "' previd='" + bobID + "' h='0'/>")
	require.Equal(t, notFound, r.expect("</failed>"), "another user's id: as unknown")
	r.send("<resume xmlns='" + smNS + "' previd='x' h='-1'/>")
	require.Equal(t, failed("bad-request"), r.expect("</failed>"), "h not a number")
	r.bind("raw")
	r.send(requestSM)
	require.Equal(t, failed("unexpected-request"), r.expect("</failed>"), "<r/> before enable")
	r.send("<a xmlns='" + smNS + "' h='0'/>")
	require.Equal(t, failed("unexpected-request"), r.expect("</failed>"), "<a/> before enable")
	r.send(enableSM)
	r.expect("/>")
	r.send(enableSM)
	require.Equal(t, failed("unexpected-request"), r.expect("</failed>"), "enable twice")
	r.send("<resume xmlns='" + smNS + "' previd='" + bobID + "' h='0'/>")
	require.Equal(t, failed("unexpected-request"), r.expect("</failed>"), "resume on a bound stream")
	r.send(ping(1))
	require.Contains(t, r.expect(requestSM), `id="p1"`, "the stream goes on")

	// bob's session was not disturbed.
	rb.send(requestSM)
	require.Equal(t, "<a xmlns='urn:xmpp:sm:3' h='0'/>", rb.expect("/>"))

	// Module off: not offered, and refused.
	b.setModules(t, map[string]bool{"modStreamManagement": false, "modClientState": false})
	r2, features := smLogin(t, b, "alice", "pw-a")
	require.NotContains(t, features, "urn:xmpp:sm:3")
	require.NotContains(t, features, "urn:xmpp:csi:0")
	r2.bind("raw2")
	r2.send(enableSM)
	require.Equal(t, failed("feature-not-implemented"), r2.expect("</failed>"))
}

// TestSMResumeRaw: the exact <resumed/> and redelivery after the client
// acknowledged part of the queue, and a resumed id cannot be used twice
// at once by someone else's stream.
func TestSMResumeRaw(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	r, _ := smLogin(t, b, "alice", "pw-a")
	r.bind("raw")
	r.send(enableSM)
	id := enabledRE.FindStringSubmatch(r.expect("/>"))[1]
	r.send(ping(1)) // in = 1
	r.expect(requestSM)
	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r"})
	for _, s := range []string{"m1", "m2"} {
		chatTo(t, bob, "alice@"+domain+"/raw", s)
		r.expect("<body>" + s + "</body>")
		r.expect("</message>") // after the archive's stanza-id
	}
	r.nc.Close() // out = 3 (p1's result, m1, m2); the client saw all

	// The client says it handled 2 (p1, m1): m2 comes again. A resumption
	// right away finds the session still connected or hibernated; both work.
	r2, _ := smLogin(t, b, "alice", "pw-a")
	r2.send("<resume xmlns='" + smNS + "' previd='" + id + "' h='2'/>")
	require.Equal(t, "<resumed xmlns='urn:xmpp:sm:3' previd='"+id+"' h='1'/>", r2.expect("/>"))
	require.Contains(t, r2.expect(requestSM), "<body>m2</body>")
	require.NotContains(t, r2.buf, "m1")
	r2.send("<a xmlns='" + smNS + "' h='3'/>")
	chatTo(t, bob, "alice@"+domain+"/raw", "m3")
	require.Contains(t, r2.expect(requestSM), "<body>m3</body>")
	r2.send(requestSM)
	require.Equal(t, "<a xmlns='urn:xmpp:sm:3' h='1'/>", r2.expect("/>"), "the handled count goes on")
	require.Len(t, b.srv.Sessions(domain, "alice"), 1)

	// A new session binding the same resource replaces the hibernated one.
	r2.nc.Close()
	r3, _ := smLogin(t, b, "alice", "pw-a")
	r3.bind("raw")
	// m3 was never acked: the replaced session hands it on to the one on
	// its resource, after the bind result.
	require.Contains(t, r3.expect("</message>"), "<body>m3</body>")
	require.Eventually(t, func() bool { return len(b.srv.Sessions(domain, "alice")) == 1 }, 5*time.Second, 20*time.Millisecond)
	r4, _ := smLogin(t, b, "alice", "pw-a")
	r4.send("<resume xmlns='" + smNS + "' previd='" + id + "' h='4'/>")
	require.Contains(t, r4.expect("</failed>"), "item-not-found", "the replaced session is gone")
}

// TestSMWorkerEffectsEndHibernated: deactivation or removal (UserGone)
// and a password change reach a hibernated session: it ends at once,
// contacts see it go, and its id no longer resumes.
func TestSMWorkerEffectsEndHibernated(t *testing.T) {
	t.Parallel()
	for name, effect := range map[string]func(*xmppcore.Server){
		"user gone":        func(s *xmppcore.Server) { s.UserGone(domain, "alice") },
		"password changed": func(s *xmppcore.Server) { s.PasswordChanged(domain, "alice") },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			alice := b.user(t, domain, "alice", "pw-a", store.StatusActive)
			bobU := b.user(t, domain, "bob", "pw-b", store.StatusActive)
			b.befriend(t, alice, bobU)
			bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r"})
			r, _ := smLogin(t, b, "alice", "pw-a")
			r.bind("raw")
			r.send(enableSM)
			id := enabledRE.FindStringSubmatch(r.expect("/>"))[1]
			r.send("<presence/>")
			bob.Expect(t, "alice available", goxmpptest.Presence("alice@"+domain+"/raw", ""))
			r.nc.Close()
			require.Eventually(t, func() bool { return hibernating(b) }, 5*time.Second, 10*time.Millisecond)
			bob.ExpectNone(t, "no unavailable while hibernated", 200*time.Millisecond, goxmpptest.Presence("alice@"+domain+"/raw", "unavailable"))
			effect(b.srv)
			bob.Expect(t, "alice unavailable", goxmpptest.Presence("alice@"+domain+"/raw", "unavailable"))
			require.Empty(t, b.srv.Sessions(domain, "alice"))
			r2, _ := smLogin(t, b, "alice", "pw-a")
			r2.send("<resume xmlns='" + smNS + "' previd='" + id + "' h='0'/>")
			require.Contains(t, r2.expect("</failed>"), "item-not-found")
		})
	}
}

// TestSMAckTimeout: a client that stops answering <r/> (its network gone
// without a word) is taken as lost after SMAckTimeout: the session
// hibernates, and resumes with what was not acked.
func TestSMAckTimeout(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *xmppcore.Config) { c.SMAckTimeout = 300 * time.Millisecond })
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	r, _ := smLogin(t, b, "alice", "pw-a")
	r.bind("raw")
	r.send(enableSM)
	id := enabledRE.FindStringSubmatch(r.expect("/>"))[1]
	r.send(ping(1))
	r.expect(requestSM)
	r.send("<a xmlns='" + smNS + "' h='1'/>")
	r.send(ping(2))
	r.expect(requestSM) // not answered
	require.Eventually(t, func() bool { return hibernating(b) }, 5*time.Second, 20*time.Millisecond)
	r.nc.SetReadDeadline(time.Now().Add(time.Second))
	_, err := r.nc.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the server closed the connection, without a stream error")

	r2, _ := smLogin(t, b, "alice", "pw-a")
	r2.send("<resume xmlns='" + smNS + "' previd='" + id + "' h='1'/>")
	require.Equal(t, "<resumed xmlns='urn:xmpp:sm:3' previd='"+id+"' h='2'/>", r2.expect("/>"))
	got := r2.expect(requestSM)
	require.Contains(t, got, `id="p2"`, "the unacked result comes again")
	require.NotContains(t, got, `id="p1"`)
	r2.send("<a xmlns='" + smNS + "' h='2'/>")
	time.Sleep(500 * time.Millisecond)
	require.False(t, hibernating(b), "an answered request keeps the session connected")
}
