package xmppcore_test

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
	"github.com/xmppgate/xmppgate/xmppcore"
)

// The fuzz server's users: fuzz sends the fuzzed stanzas, watch is a
// session that must keep being served.
const (
	fuzzUser, fuzzPass   = "fuzz", "fuzzpass"
	watchUser, watchPass = "watch", "watchpass"
)

// fuzzC2S is a real server on loopback over a real SQLite store, logging
// errors (a recovered panic logs one) to an observer.
type fuzzC2S struct {
	b     *testBundle
	logs  *observer.ObservedLogs
	watch *goxmpptest.Client
	n     atomic.Int64
}

func newFuzzC2S(f *testing.F, opts ...func(*testBundle, *xmppcore.Config)) *fuzzC2S {
	f.Helper()
	b := openBundle(f, "OFF")
	ctx := b.ctx
	require.NoError(f, b.st.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.InsertAccount(ctx, "acme", 0)
		if err != nil {
			return err
		}
		d, err := tx.InsertDomain(ctx, a.ID, domain)
		if err != nil {
			return err
		}
		b.account, b.domains[domain] = a.ID, d
		for _, u := range []struct{ name, pw string }{{fuzzUser, fuzzPass}, {watchUser, watchPass}, {"alice", "alicepass"}} {
			// Few PBKDF2 rounds: logins are per execution here.
			cred, err := credential.Derive(u.pw, []byte("fuzz-salt-"+u.name), 64)
			if err != nil {
				return err
			}
			usr, err := tx.InsertUser(ctx, store.User{DomainID: d.ID, Username: u.name, Status: store.StatusActive})
			if err != nil {
				return err
			}
			if err := tx.SetUserCredentials(ctx, usr.ID, cred, nil); err != nil {
				return err
			}
		}
		return nil
	}))
	core, logs := observer.New(zapcore.ErrorLevel)
	cfg := xmppcore.Config{C2SAddr: "127.0.0.1:0", C2STLSAddr: "127.0.0.1:0", DataDir: b.dataDir, MaxStanza: 16 << 10,
		NegotiationTimeout: 10 * time.Second, AuthFailures: 1 << 30, Logger: zap.New(core)}
	for _, o := range opts {
		o(b, &cfg)
	}
	b.serve(f, cfg)
	s := &fuzzC2S{b: b, logs: logs}
	var err error
	s.watch, err = b.login(f, watchUser, watchPass, loginOpts{direct: true, resource: "w"})
	require.NoError(f, err)
	return s
}

// serving fails unless the server still answers others: a fresh stream
// gets its features, and the watch session its ping.
func (s *fuzzC2S) serving(t *testing.T) {
	t.Helper()
	out := raw(t, s.b.c2s, header, "</stream:stream>")
	require.Contains(t, out, "<stream:features>", "a new stream is not served: %q", out)
	if s.watch == nil {
		return
	}
	id := fmt.Sprintf("ping%d", s.n.Add(1))
	_, err := s.watch.SendOrg("<iq type='get' id='" + id + "' to='" + domain + "'><ping xmlns='urn:xmpp:ping'/></iq>")
	require.NoError(t, err)
	s.watch.Expect(t, "the watch session's ping", goxmpptest.IQ(id, "result", ""))
}

// noInternalErrors fails if the server logged an error (a recovered
// panic, an internal error) or told a client it had one.
func (s *fuzzC2S) noInternalErrors(t *testing.T, out []byte) {
	t.Helper()
	for _, e := range s.logs.TakeAll() {
		require.Failf(t, "server error", "%s %v", e.Message, e.ContextMap())
	}
	require.NotContains(t, string(out), "internal-server-error", "%q", out)
}

// checkOutput parses what the server sent as XML streams (a stream restart
// begins a new document): each must be well-formed; the last must be
// closed, unless it ends with the start of TLS or SASL success. It returns whether a
// stream error was sent, and whether the output ends with such a restart.
func checkOutput(t *testing.T, out []byte) (streamError, restarted bool) {
	t.Helper()
	docs := strings.Split(string(out), "<?xml version='1.0'?>")
	if docs[0] != "" {
		require.Failf(t, "bytes before the stream header", "%q", out)
	}
	docs = docs[1:]
	for i, doc := range docs {
		dec := xml.NewDecoder(strings.NewReader(doc))
		dec.Strict = true
		depth, restart := 0, false
		last := i == len(docs)-1
		for {
			tok, err := dec.Token()
			if err == io.EOF {
				break
			}
			var syn *xml.SyntaxError
			if (!last || restart) && errors.As(err, &syn) && syn.Msg == "unexpected EOF" {
				break // a stream replaced by a restart stays open
			}
			require.NoError(t, err, "not well-formed: %q", out)
			switch el := tok.(type) {
			case xml.StartElement:
				depth++
				streamError = streamError || el.Name.Local == "error" && el.Name.Space == "http://etherx.jabber.org/streams"
				// After <proceed/> (TLS) or <success/> (SASL) the stream is
				// replaced: a client that stops there leaves it open.
				restart = el.Name.Local == "proceed" || el.Name.Local == "success"
			case xml.EndElement:
				depth--
			}
		}
		if last && !restart {
			require.Equal(t, 0, depth, "the stream is not closed: %q", out)
		}
		restarted = last && restart
	}
	return streamError, restarted
}

// closesCleanly reports whether in (after an opening stream header if
// wrap is set) is well-formed and ends the stream: the one input that may
// end without a stream error.
func closesCleanly(in []byte, wrap bool) bool {
	r := io.Reader(bytes.NewReader(in))
	if wrap {
		r = io.MultiReader(strings.NewReader(
			"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"), r)
	}
	dec := xml.NewDecoder(r)
	dec.Strict = true
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return false
		}
		switch tok.(type) {
		case xml.StartElement:
			depth++
		case xml.EndElement:
			if depth--; depth == 0 {
				return true
			}
		}
	}
}

// prologOnly reports whether in holds nothing but what may precede a
// stream header (XML declarations, whitespace): the server waits for more.
func prologOnly(in []byte) bool {
	dec := xml.NewDecoder(bytes.NewReader(in))
	dec.Strict = true
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
		switch t := tok.(type) {
		case xml.ProcInst:
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return false
			}
		default:
			return false
		}
	}
}

// closeTag matches a stream's closing tag under any prefix.
var closeTag = regexp.MustCompile(`</([A-Za-z_][-.\w]*:)?stream\s*>`)

// exchange writes in to c, half-closes it and reads until the server
// closes the connection; the server must close within the deadline.
func exchange(t *testing.T, c net.Conn, in []byte) []byte {
	t.Helper()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		c.Write(in)
		switch cw := c.(type) {
		case *net.TCPConn:
			cw.CloseWrite()
		case *tls.Conn:
			cw.CloseWrite()
		}
	}()
	out, err := io.ReadAll(c)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server did not close the connection: %q", out)
	return out
}

// streamSeeds are real client traffic before TLS and garbage around it.
var streamSeeds = []string{
	header + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
	header + "</stream:stream>",
	header,
	"",
	"<?xml version='1.0'?>",
	header[:40],
	strings.Replace(header, domain, "nowhere.test", 1),
	strings.Replace(header, "jabber:client", "jabber:server", 1),
	strings.Replace(header, " version='1.0'>", ">", 1),
	header + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><a></b>",
	header + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>",
	header + "\n \n\t<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
	header + "text",
	header + "<!-- c --><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
	"<!DOCTYPE x [<!ENTITY a 'b'>]>" + header,
	"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03",
	"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' to='" + domain + "' version='1.0' xml:lang='en'><x:y/>",
}

// FuzzC2SStream feeds random and truncated streams to the STARTTLS
// listener from the first byte: no panic (none logged, no
// internal-server-error), the server closes the connection, what it sent
// is well-formed, garbage gets a stream error, and the server keeps
// serving new streams and a bound session.
func FuzzC2SStream(f *testing.F) {
	s := newFuzzC2S(f)
	for _, in := range streamSeeds {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := net.DialTimeout("tcp", s.b.c2s, 5*time.Second)
		require.NoError(t, err)
		defer c.Close()
		out := exchange(t, c, in)
		s.noInternalErrors(t, out)
		var sentError bool
		if len(out) > 0 {
			sentError, _ = checkOutput(t, out)
		}
		if !prologOnly(in) && !bytes.Contains(out, []byte("<proceed")) && !closesCleanly(in, false) {
			require.True(t, sentError, "garbage without a stream error: %q -> %q", in, out)
		}
		s.serving(t)
	})
}

// rawLogin opens a direct TLS connection and negotiates by hand (header,
// SASL PLAIN, restart, bind) as user, and returns the connection and what
// the server sent since the restart.
func rawLogin(t *testing.T, addr, user, pass string) (*tls.Conn, []byte) {
	t.Helper()
	c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: domain})
	require.NoError(t, err)
	c.SetDeadline(time.Now().Add(10 * time.Second))
	var got []byte
	until := func(marker string) {
		buf := make([]byte, 4096)
		for !bytes.Contains(got, []byte(marker)) {
			n, err := c.Read(buf)
			got = append(got, buf[:n]...)
			require.NoError(t, err, "waiting for %s: %q", marker, got)
		}
	}
	io.WriteString(c, header)
	until("</stream:features>")
	got = nil
	io.WriteString(c, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>"+
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass))+"</auth>")
	until("<success")
	got = nil
	io.WriteString(c, header)
	until("</stream:features>")
	r := make([]byte, 6)
	rand.Read(r)
	io.WriteString(c, "<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>f"+
		base64.RawURLEncoding.EncodeToString(r)+"</resource></bind></iq>")
	until("</iq>")
	return c, got
}

// sessionSeeds are stanzas of a bound session: the IM payloads (roster,
// vCard, private storage, blocking, disco, last, time, version, ping,
// presence and subscriptions, messages) and broken ones.
var sessionSeeds = []string{
	"<presence/>",
	"<presence><show>away</show><status>out</status><priority>5</priority></presence>",
	"<presence to='watch@" + domain + "' type='subscribe'/>",
	"<presence to='watch@" + domain + "' type='subscribed'/><presence to='watch@" + domain + "' type='unsubscribe'/>",
	"<presence to='alice@" + domain + "/x'/><presence type='unavailable'/>",
	"<message to='watch@" + domain + "/w' type='chat'><body>hi</body></message>",
	"<message to='alice@" + domain + "' type='chat'><body>offline</body></message>",
	"<message to='nobody@" + domain + "'><body>x</body></message>",
	"<message to='someone@elsewhere.test'><body>x</body></message>",
	"<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>",
	"<iq type='get' id='r2'><query xmlns='jabber:iq:roster' ver='0'/></iq>",
	"<iq type='set' id='r3'><query xmlns='jabber:iq:roster'><item jid='watch@" + domain + "' name='W'><group>G</group></item></query></iq>",
	"<iq type='set' id='r4'><query xmlns='jabber:iq:roster'><item jid='watch@" + domain + "' subscription='remove'/></query></iq>",
	"<iq type='set' id='r5'><query xmlns='jabber:iq:roster'><item jid='@@'/><item/></query></iq>",
	"<iq type='get' id='v1'><vCard xmlns='vcard-temp'/></iq>",
	"<iq type='set' id='v2'><vCard xmlns='vcard-temp'><FN>Fuzz</FN><PHOTO><BINVAL>AAAA</BINVAL></PHOTO></vCard></iq>",
	"<iq type='get' id='v3' to='watch@" + domain + "'><vCard xmlns='vcard-temp'/></iq>",
	"<iq type='set' id='p1'><query xmlns='jabber:iq:private'><x xmlns='a:b'><y/></x></query></iq>",
	"<iq type='get' id='p2'><query xmlns='jabber:iq:private'><x xmlns='a:b'/></query></iq>",
	"<iq type='get' id='b1'><blocklist xmlns='urn:xmpp:blocking'/></iq>",
	"<iq type='set' id='b2'><block xmlns='urn:xmpp:blocking'><item jid='spam@elsewhere.test'/></block></iq>",
	"<iq type='set' id='b3'><unblock xmlns='urn:xmpp:blocking'/></iq>",
	"<iq type='get' id='d1' to='" + domain + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>",
	"<iq type='get' id='d2' to='" + domain + "'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>",
	"<iq type='get' id='l1' to='watch@" + domain + "'><query xmlns='jabber:iq:last'/></iq>",
	"<iq type='get' id='t1' to='" + domain + "'><time xmlns='urn:xmpp:time'/></iq>",
	"<iq type='get' id='ve1' to='" + domain + "'><query xmlns='jabber:iq:version'/></iq>",
	"<iq type='get' id='pi1' to='" + domain + "'><ping xmlns='urn:xmpp:ping'/></iq>",
	"<iq type='get' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>",
	"<iq type='get' id='u1'><unknown xmlns='x:y'/></iq><iq type='result' id='u2'/><iq id='u3'/>",
	"<iq type='set' id='bind2'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
	"<message><body>" + strings.Repeat("a", 20000) + "</body></message>",
	"<message to='watch@" + domain + "'><body>&lt;&amp;&#x1F600;</body></message>",
	"<message to='watch@" + domain + "'><body>trunc",
	"<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/>",
	"<db:result xmlns:db='jabber:server:dialback'/>",
	"<message xmlns='jabber:server'/>",
	"<foo/>",
	"</stream:stream>",
	"<presence/></stream:stream>",
	"<?xml version='1.0'?><message/>",
	"<message><![CDATA[x]]></message>",
	"<a><b><c><d><e><f><g><h><i><j><k><l><m><n><o><p><q><r><s><t><u><v><w><x><y><z/></y></x></w></v></u></t></s></r></q></p></o></n></m></l></k></j></i></h></g></f></e></d></c></b></a>",
}

// FuzzC2SSession feeds random and truncated stanzas to a bound session
// (direct TLS, SASL PLAIN, bind): no panic, the server closes the
// connection, what it sent is well-formed, anything but a cleanly closed
// stream ends with a stream error, and the watch session and new streams
// are still served.
func FuzzC2SSession(f *testing.F) {
	s := newFuzzC2S(f)
	for _, in := range sessionSeeds {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, start := rawLogin(t, s.b.c2stls, fuzzUser, fuzzPass)
		defer c.Close()
		out := append(start, exchange(t, c, in)...)
		s.noInternalErrors(t, out)
		sentError, _ := checkOutput(t, out)
		if !closesCleanly(in, true) {
			require.True(t, sentError, "no stream error: %q -> %q", in, out)
		}
		s.serving(t)
	})
}

// FuzzC2SNegotiation feeds random streams to the direct TLS listener from
// the first byte: header, SASL (any mechanism, bad base64, aborts, retries)
// and binding, with the same properties.
func FuzzC2SNegotiation(f *testing.F) {
	s := newFuzzC2S(f)
	auth := func(mech, data string) string {
		return "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='" + mech + "'>" + data + "</auth>"
	}
	plain := base64.StdEncoding.EncodeToString([]byte("\x00" + fuzzUser + "\x00" + fuzzPass))
	bind := "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>r</resource></bind></iq>"
	for _, in := range []string{
		header + auth("PLAIN", plain) + header + bind + "<presence/></stream:stream>",
		header + auth("PLAIN", plain) + header + bind,
		header + auth("PLAIN", plain) + header + "<message/>",
		header + auth("PLAIN", plain),
		header + auth("PLAIN", "") + "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + plain + "</response>",
		header + auth("PLAIN", "=") + auth("PLAIN", "!!!") + auth("X-NONE", "AA==") + auth("PLAIN", plain),
		header + auth("SCRAM-SHA-1", base64.StdEncoding.EncodeToString([]byte("n,,n=fuzz,r=abcdef"))),
		header + auth("SCRAM-SHA-256", base64.StdEncoding.EncodeToString([]byte("n,,n=fuzz,r=abcdef"))) + "<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>AAAA</response>",
		header + auth("PLAIN", base64.StdEncoding.EncodeToString([]byte("other@"+domain+"\x00fuzz\x00"+fuzzPass))),
		header + "<abort xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>",
		header + "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
		header + "<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>",
		header[:60],
		"",
	} {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", s.b.c2stls, &tls.Config{InsecureSkipVerify: true, ServerName: domain})
		require.NoError(t, err)
		defer c.Close()
		out := exchange(t, c, in)
		s.noInternalErrors(t, out)
		// Restarts after SASL make the input several documents: where the
		// server closed without an error and was not waiting for a new
		// stream, the client must have closed its stream.
		var sentError, restarted bool
		if len(out) > 0 {
			sentError, restarted = checkOutput(t, out)
		}
		if !prologOnly(in) && !sentError && !restarted {
			require.Regexp(t, closeTag, string(in), "garbage without a stream error: %q -> %q", in, out)
		}
		s.serving(t)
	})
}

// TestNoCloseBeforeHeader is FuzzC2SStream's finding: a client that closed
// its side before sending a stream header (or after an XML declaration
// only) was answered "</stream:stream>" alone, which is not well-formed
// XML. Now nothing is written; a stream that was opened is still closed.
func TestNoCloseBeforeHeader(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for i, tc := range []struct {
		in   string
		want string
	}{
		0: {"", ""},
		1: {"<?xml version='1.0'?>", ""},
		2: {" \n", ""},
	} {
		c, err := net.DialTimeout("tcp", b.c2s, 5*time.Second)
		require.NoError(t, err)
		out := exchange(t, c, []byte(tc.in))
		c.Close()
		require.Equal(t, tc.want, string(out), "row %d", i)
	}
	out := raw(t, b.c2s, header, "</stream:stream>")
	require.True(t, strings.HasSuffix(out, "</stream:features></stream:stream>"), out)
}
