package xmppcore_test

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
)

// rawXMPP is a hand-written client over direct TLS: crypto/tls and
// encoding/xml only, independent of the server's XMPP code.
type rawXMPP struct {
	t    *testing.T
	conn *tls.Conn
	dec  *xml.Decoder
}

func dialRaw(t *testing.T, addr string) *rawXMPP {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: domain})
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return &rawXMPP{t: t, conn: conn}
}

func (r *rawXMPP) write(s string) {
	r.t.Helper()
	_, err := io.WriteString(r.conn, s)
	require.NoError(r.t, err)
}

// features opens a stream (a new one after SASL) and returns the
// mechanisms the server offers, and whether it offers resource binding.
func (r *rawXMPP) features() (mechs []string, bind bool) {
	r.t.Helper()
	r.write(header)
	r.dec = xml.NewDecoder(r.conn)
	for {
		tok, err := r.dec.Token()
		require.NoError(r.t, err)
		if se, ok := tok.(xml.StartElement); ok && se.Name.Local == "stream" {
			break
		}
	}
	var f struct {
		Mechanisms []string  `xml:"urn:ietf:params:xml:ns:xmpp-sasl mechanisms>mechanism"`
		Bind       *struct{} `xml:"urn:ietf:params:xml:ns:xmpp-bind bind"`
	}
	r.next(&f)
	return f.Mechanisms, f.Bind != nil
}

// next decodes the next top-level element into v and returns its name.
func (r *rawXMPP) next(v any) xml.Name {
	r.t.Helper()
	for {
		tok, err := r.dec.Token()
		require.NoError(r.t, err)
		if se, ok := tok.(xml.StartElement); ok {
			require.NoError(r.t, r.dec.DecodeElement(v, &se))
			return se.Name
		}
	}
}

// saslAnswer is a <success/> or <failure/> with its condition.
type saslAnswer struct {
	XMLName xml.Name
	Conds   []struct {
		XMLName xml.Name
	} `xml:",any"`
}

func (a saslAnswer) String() string {
	s := a.XMLName.Local
	for _, c := range a.Conds {
		if c.XMLName.Local != "text" {
			s += " " + c.XMLName.Local
		}
	}
	return s
}

// auth sends <auth mechanism='ANONYMOUS'> with the given initial response
// (none if empty) and returns "success" or "failure <condition>".
func (r *rawXMPP) auth(mech, initial string) string {
	r.t.Helper()
	body := ""
	if initial != "" {
		body = base64.StdEncoding.EncodeToString([]byte(initial))
	}
	r.write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='" + mech + "'>" + body + "</auth>")
	var a saslAnswer
	r.next(&a)
	return a.String()
}

type rawIQ struct {
	XMLName xml.Name `xml:"iq"`
	Type    string   `xml:"type,attr"`
	ID      string   `xml:"id,attr"`
	JID     string   `xml:"urn:ietf:params:xml:ns:xmpp-bind bind>jid"`
	Items   []struct {
		JID string `xml:"jid,attr"`
	} `xml:"jabber:iq:roster query>item"`
	Error *struct {
		Conds []struct {
			XMLName xml.Name
		} `xml:",any"`
	} `xml:"error"`
}

func (q rawIQ) cond() string {
	if q.Error == nil || len(q.Error.Conds) == 0 {
		return ""
	}
	return q.Error.Conds[0].XMLName.Local
}

// iq sends an IQ and reads the next element, which must be its answer.
func (r *rawXMPP) iq(s string) rawIQ {
	r.t.Helper()
	r.write(s)
	var q rawIQ
	require.Equal(r.t, "iq", r.next(&q).Local)
	return q
}

// anonymousLogin logs in with ANONYMOUS and binds without a resource,
// returning the JID the server gave.
func (r *rawXMPP) anonymousLogin(trace string) string {
	r.t.Helper()
	mechs, _ := r.features()
	require.Contains(r.t, mechs, "ANONYMOUS")
	require.Equal(r.t, "success", r.auth("ANONYMOUS", trace))
	_, bind := r.features()
	require.True(r.t, bind)
	q := r.iq("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
	require.Equal(r.t, "result", q.Type)
	return q.JID
}

func (b *testBundle) setAnonymous(t *testing.T, on bool) {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"moduleConfig": map[string]any{"enableAnonymousLogin": on}})
	require.NoError(t, err)
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		return tx.SetDomainSettings(b.ctx, b.domains[domain].ID, raw)
	}))
	b.srv.DomainSettingsChanged(domain) // what the REST API's domain PUT does
}

// TestSASLAnonymous proves with independent clients (a hand-written
// crypto/tls + encoding/xml client, and go-xmpp) that ANONYMOUS is offered
// and works only where enableAnonymousLogin is set, that switching it takes
// effect without a restart, and that an anonymous session is a random JID
// of the domain that keeps nothing and disappears at logout.
func TestSASLAnonymous(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw", store.StatusActive)

	// Off (the default): not offered, and refused if tried.
	r := dialRaw(t, b.c2stls)
	mechs, _ := r.features()
	require.NotContains(t, mechs, "ANONYMOUS")
	require.Contains(t, mechs, "SCRAM-SHA-256")
	require.Equal(t, "failure invalid-mechanism", r.auth("ANONYMOUS", ""))

	// On, live: offered to new streams and it works.
	b.setAnonymous(t, true)
	r = dialRaw(t, b.c2stls)
	jid1 := r.anonymousLogin("")
	local, rest, ok := strings.Cut(jid1, "@")
	require.True(t, ok, jid1)
	require.True(t, strings.HasPrefix(local, "anon-"), jid1)
	dom, res, ok := strings.Cut(rest, "/")
	require.True(t, ok && res != "", "a resource is bound: %s", jid1)
	require.Equal(t, domain, dom)

	// A second anonymous login (with a trace message) is someone else.
	r2 := dialRaw(t, b.c2stls)
	jid2 := r2.anonymousLogin("sirhc@example.org")
	require.NotEqual(t, strings.Split(jid1, "/")[0], strings.Split(jid2, "/")[0])

	// No roster: empty, and nothing can be stored.
	q := r.iq("<iq type='get' id='r1'><query xmlns='jabber:iq:roster'/></iq>")
	require.Equal(t, "result", q.Type)
	require.Empty(t, q.Items)
	q = r.iq("<iq type='set' id='r2'><query xmlns='jabber:iq:roster'><item jid='alice@" + domain + "'/></query></iq>")
	require.Equal(t, "error", q.Type)
	require.Equal(t, "not-allowed", q.cond())
	q = r.iq("<iq type='set' id='v1'><vCard xmlns='vcard-temp'><FN>x</FN></vCard></iq>")
	require.Equal(t, "not-allowed", q.cond())
	q = r.iq("<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
	require.Equal(t, "result", q.Type)
	users, err := b.st.Users(b.ctx, nil)
	require.NoError(t, err)
	require.Len(t, users, 1, "no user row for anonymous sessions")

	// A registered user (go-xmpp) reaches the anonymous session.
	alice := b.mustLogin(t, "alice", "pw", loginOpts{})
	_, err = alice.Send(goxmpp.Chat{Remote: jid1, Type: "chat", Text: "hello anon"})
	require.NoError(t, err)
	var m struct {
		XMLName xml.Name `xml:"message"`
		From    string   `xml:"from,attr"`
		Body    string   `xml:"body"`
	}
	require.Equal(t, "message", r.next(&m).Local)
	require.Equal(t, "hello anon", m.Body)
	require.True(t, strings.HasPrefix(m.From, "alice@"+domain+"/"), m.From)

	// At logout the JID is gone: a message to it bounces.
	r.write("</stream:stream>")
	require.Eventually(t, func() bool { return len(b.srv.Sessions(domain, local)) == 0 }, 5*time.Second, 20*time.Millisecond)
	_, err = alice.Send(goxmpp.Chat{Remote: strings.Split(jid1, "/")[0], Type: "chat", Text: "still there?"})
	require.NoError(t, err)
	alice.Expect(t, "the bounce", func(st any) bool {
		c, ok := st.(goxmpp.Chat)
		return ok && c.Type == "error" && strings.HasPrefix(c.Remote, local+"@")
	})

	// go-xmpp's own ANONYMOUS (User = the domain, no password).
	g, err := goxmpptest.Dial(b.c2s, domain, "")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(g.JID(), "anon-"), g.JID())
	require.True(t, strings.HasSuffix(strings.Split(g.JID(), "/")[0], "@"+domain), g.JID())
	g.Close()

	// Off again, live: not offered, refused; PLAIN still works.
	b.setAnonymous(t, false)
	r = dialRaw(t, b.c2stls)
	mechs, _ = r.features()
	require.NotContains(t, mechs, "ANONYMOUS")
	require.Equal(t, "failure invalid-mechanism", r.auth("ANONYMOUS", ""))
	require.Equal(t, "success", r.auth("PLAIN", "\x00alice\x00pw"))
	_, err = goxmpptest.Dial(b.c2s, domain, "")
	require.Error(t, err, "go-xmpp finds no ANONYMOUS")
}

// TestSASLAnonymousRefusals: an initial response that is not a valid
// trace message (RFC 4505), or not base64, fails the exchange.
func TestSASLAnonymousRefusals(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.setAnonymous(t, true)
	tests := []struct {
		initial string
		want    string
	}{
		0: {strings.Repeat("a", 256), "failure malformed-request"},
		1: {"\xff\xfe", "failure malformed-request"},
		2: {"ok", "success"},
	}
	for i, tt := range tests {
		r := dialRaw(t, b.c2stls)
		r.features()
		require.Equal(t, tt.want, r.auth("ANONYMOUS", tt.initial), "row %d", i)
	}
	r := dialRaw(t, b.c2stls)
	r.features()
	r.write("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='ANONYMOUS'>!!!</auth>")
	var a saslAnswer
	r.next(&a)
	require.Equal(t, "failure incorrect-encoding", a.String())
}
