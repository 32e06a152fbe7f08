package bosh

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/xmlel"
)

// recorder is the XMPP side of the sessions under test: it records what
// the manager hands it, in order, and can answer through its Session.
type recorder struct {
	s      *Session
	events chan string
	// greet is written during Open, as the c2s session writes its
	// features right after the stream opens.
	greet string
}

func (r *recorder) Receive(els []*xmlel.Element) {
	if len(els) == 0 {
		return
	}
	var b strings.Builder
	for _, el := range els {
		b.WriteString(el.String())
	}
	r.events <- "receive " + b.String()
}
func (r *recorder) Restart() { r.events <- "restart" }
func (r *recorder) End(byClient bool) {
	if byClient {
		r.events <- "close by client"
		return
	}
	r.events <- "close"
}

type bundle struct {
	m   *Manager
	url string
	// streams gets the recorder of each session opened.
	streams chan *recorder
}

// setup serves a Manager as serving does: held requests leave net/http
// (Manager.Listen, park.go).
func setup(t *testing.T, cfg Config, open func(s *Session, b *Body) error) *bundle {
	t.Helper()
	return setupWith(t, cfg, open, true)
}

// setupWith serves a Manager; listen: through Manager.Listen, else
// net/http holds the requests (a server the Manager was not given).
func setupWith(t *testing.T, cfg Config, open func(s *Session, b *Body) error, listen bool) *bundle {
	t.Helper()
	bu := &bundle{streams: make(chan *recorder, 16)}
	bu.m = New(OpenerFunc(func(s *Session, b *Body, r *http.Request) (Stream, error) {
		if open != nil {
			if err := open(s, b); err != nil {
				return nil, err
			}
		}
		rec := &recorder{s: s, events: make(chan string, 64), greet: "<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></stream:features>"}
		s.StreamOpened(b.To, "stream-id")
		s.Write([]byte(rec.greet))
		bu.streams <- rec
		return rec, nil
	}), cfg)
	srv := httptest.NewUnstartedServer(bu.m)
	if listen {
		srv.Listener = bu.m.Listen(srv.Config, srv.Listener)
	}
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(bu.m.Shutdown) // first: held requests end, so that Close need not wait for them
	bu.url = srv.URL
	return bu
}

type reply struct {
	status int
	body   string
}

func (bu *bundle) post(t *testing.T, body string) reply {
	t.Helper()
	return <-bu.postAsync(t, body)
}

func (bu *bundle) postAsync(t *testing.T, body string) <-chan reply {
	ch := make(chan reply, 1)
	go func() {
		resp, err := http.Post(bu.url, "text/xml; charset=utf-8", strings.NewReader(body))
		if err != nil {
			ch <- reply{status: -1, body: err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ch <- reply{resp.StatusCode, string(b)}
	}()
	return ch
}

// session opens a session (rid 100) and returns its sid and recorder.
func (bu *bundle) session(t *testing.T, extra string) (string, *recorder) {
	t.Helper()
	r := bu.post(t, "<body rid='100' to='example.com' wait='60' hold='1' ver='1.11' xmlns='"+NS+"' "+extra+"/>")
	require.Equal(t, 200, r.status, r.body)
	sid := attrOf(r.body, "sid")
	require.NotEmpty(t, sid, r.body)
	return sid, <-bu.streams
}

func attrOf(body, name string) string {
	m := regexp.MustCompile(`\s` + name + `='([^']*)'`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return m[1]
}

func req(sid string, rid int, attrs, payload string) string {
	return fmt.Sprintf("<body rid='%d' sid='%s' xmlns='%s' %s>%s</body>", rid, sid, NS, attrs, payload)
}

func next(t *testing.T, ch <-chan string) string {
	t.Helper()
	select {
	case e := <-ch:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event")
		return ""
	}
}

func wait(t *testing.T, ch <-chan reply) reply {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(10 * time.Second):
		t.Fatal("no response")
		return reply{}
	}
}

// pending asserts that no response came (yet) on ch.
func pending(t *testing.T, ch <-chan reply) {
	t.Helper()
	select {
	case r := <-ch:
		t.Fatalf("unexpected response %d %s", r.status, r.body)
	case <-time.After(100 * time.Millisecond):
	}
}

func terminated(t *testing.T, r reply, cond Condition) {
	t.Helper()
	require.Equal(t, 200, r.status, r.body)
	require.Equal(t, "terminate", attrOf(r.body, "type"), r.body)
	require.Equal(t, string(cond), attrOf(r.body, "condition"), r.body)
}

func TestCreate(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{Wait: 30 * time.Second, Inactivity: 45 * time.Second, Polling: 3 * time.Second, MaxPause: 90 * time.Second}, nil)
	r := bu.post(t, "<body rid='100' to='example.com' wait='60' hold='1' ver='1.6' ack='1' xml:lang='en' xmpp:version='1.0' xmlns:xmpp='"+NSXBOSH+"' xmlns='"+NS+"'/>")
	require.Equal(t, 200, r.status)
	sid := attrOf(r.body, "sid")
	require.Regexp(t, `^[0-9a-f]{32}$`, sid)
	// The creation response, byte for byte (sid aside): the client's
	// smaller ver wins, the manager's smaller wait, requests is hold+1,
	// ack is the creation rid, and the features ride along (XEP-0206).
	want := "<body xmlns='" + NS + "' xmlns:xmpp='" + NSXBOSH + "' xmlns:stream='http://etherx.jabber.org/streams' sid='SID' wait='30' requests='2' hold='1' inactivity='45' polling='3' maxpause='90' ver='1.6' xmpp:version='1.0' xmpp:restartlogic='true' ack='100' from='example.com' authid='stream-id'>" +
		"<stream:features><mechanisms xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/></stream:features></body>"
	require.Equal(t, want, strings.Replace(r.body, sid, "SID", 1))
	require.Equal(t, 1, bu.m.Len())
	// A second session gets another sid.
	r2 := bu.post(t, "<body rid='7' to='example.com' ver='1.11' xmlns='"+NS+"'/>")
	require.NotEqual(t, sid, attrOf(r2.body, "sid"))
	require.Equal(t, 2, bu.m.Len())
}

func TestCreateRefused(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{}, func(s *Session, b *Body) error {
		switch b.To {
		case "unknown.example":
			return &Error{Cond: HostUnknown}
		case "broken.example":
			return fmt.Errorf("disk on fire")
		}
		return nil
	})
	for i, tc := range map[int]struct {
		body   string
		status int
		cond   Condition
	}{
		0: {"<body rid='1' to='unknown.example' ver='1.11' xmlns='" + NS + "'/>", 200, HostUnknown},
		1: {"<body rid='1' to='broken.example' ver='1.11' xmlns='" + NS + "'/>", 200, InternalServerError},
		2: {"<body rid='1' ver='1.11' xmlns='" + NS + "'/>", 200, ImproperAddressing},
		// Legacy clients (no ver) get the HTTP status of the condition, where it has one.
		3: {"<body rid='1' xmlns='" + NS + "'/>", 200, ImproperAddressing},
		4: {"<body rid='x' xmlns='" + NS + "'/>", 400, BadRequest},
		5: {"not xml", 400, BadRequest},
		6: {"<body rid='1' to='example.com' xmlns='" + NS + "'><message>" + strings.Repeat("x", 600<<10) + "</message></body>", 403, PolicyViolation},
		// An unknown sid: the client's version is unknown, the condition goes in the body.
		7: {"<body rid='1' sid='nosuchsession' xmlns='" + NS + "'/>", 200, ItemNotFound},
	} {
		r := bu.post(t, tc.body)
		require.Equal(t, tc.status, r.status, "%d: %s", i, r.body)
		require.Equal(t, string(tc.cond), attrOf(r.body, "condition"), "%d: %s", i, r.body)
		require.Equal(t, "terminate", attrOf(r.body, "type"), "%d", i)
	}
	require.Equal(t, 0, bu.m.Len())
	resp, err := http.Get(bu.url)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
}

func TestHeldRequests(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{}, nil)
	sid, rec := bu.session(t, "")
	// An empty request is held until the stream writes.
	a := bu.postAsync(t, req(sid, 101, "", ""))
	pending(t, a)
	require.NoError(t, rec.s.Write([]byte("<message xmlns='jabber:client'><body>one</body></message>")))
	r := wait(t, a)
	require.Contains(t, r.body, "<body>one</body>")
	// With one held, a request carrying a payload answers the held one
	// at once (hold=1) and is held in its place; the payload reaches the
	// stream.
	b := bu.postAsync(t, req(sid, 102, "", ""))
	pending(t, b)
	c := bu.postAsync(t, req(sid, 103, "", "<message xmlns='jabber:client' to='x@y'><body>out</body></message>"))
	require.Equal(t, "<body xmlns='"+NS+"' xmlns:xmpp='"+NSXBOSH+"' xmlns:stream='http://etherx.jabber.org/streams'/>", wait(t, b).body)
	require.Equal(t, `receive <message xmlns="jabber:client" to="x@y"><body>out</body></message>`, next(t, rec.events))
	pending(t, c)
	// Output written while nothing is held waits for the next request.
	rec.s.Write([]byte("<iq xmlns='jabber:client' type='result' id='1'/>"))
	rec.s.Write([]byte("<iq xmlns='jabber:client' type='result' id='2'/>"))
	r = wait(t, c)
	require.Contains(t, r.body, "id='1'")
	rec.s.Write([]byte("<iq xmlns='jabber:client' type='result' id='3'/>"))
	r = bu.post(t, req(sid, 104, "", ""))
	require.Contains(t, r.body, "id='3'")
}

func TestWaitExpires(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{}, nil)
	r := bu.post(t, "<body rid='1' to='example.com' wait='1' hold='1' ver='1.11' xmlns='"+NS+"'/>")
	require.Equal(t, "1", attrOf(r.body, "wait"))
	sid := attrOf(r.body, "sid")
	start := time.Now()
	r = bu.post(t, req(sid, 2, "", ""))
	require.Equal(t, 200, r.status)
	require.Equal(t, "", attrOf(r.body, "type"))
	require.GreaterOrEqual(t, time.Since(start), time.Second)
}

func TestRIDOrderAndWindow(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{Hold: 2}, nil)
	r := bu.post(t, "<body rid='100' to='example.com' wait='60' hold='2' ver='1.11' xmlns='"+NS+"'/>")
	require.Equal(t, "3", attrOf(r.body, "requests"))
	sid := attrOf(r.body, "sid")
	rec := <-bu.streams
	// 102 arrives before 101: it waits; the stream gets 101's payload first.
	b := bu.postAsync(t, req(sid, 102, "", "<presence xmlns='jabber:client' id='second'/>"))
	pending(t, b)
	select {
	case e := <-rec.events:
		t.Fatalf("payload of 102 delivered before 101: %s", e)
	default:
	}
	a := bu.postAsync(t, req(sid, 101, "", "<presence xmlns='jabber:client' id='first'/>"))
	require.Contains(t, next(t, rec.events), "first")
	require.Contains(t, next(t, rec.events), "second")
	// Both held (hold=2) until the stream writes: the older gets it.
	rec.s.Write([]byte("<message xmlns='jabber:client' id='m1'/>"))
	require.Contains(t, wait(t, a).body, "m1")
	pending(t, b)
	rec.s.Write([]byte("<message xmlns='jabber:client' id='m2'/>"))
	require.Contains(t, wait(t, b).body, "m2")

	// A rid beyond the window (hi + requests) ends the session.
	terminated(t, bu.post(t, req(sid, 106, "", "")), ItemNotFound)
	require.Equal(t, "close", next(t, rec.events))
	require.Equal(t, 0, bu.m.Len())
	terminated(t, bu.post(t, req(sid, 103, "", "")), ItemNotFound)
}

func TestRepeatedRID(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{}, nil)
	sid, rec := bu.session(t, "")
	a := bu.postAsync(t, req(sid, 101, "", "<presence xmlns='jabber:client'/>"))
	require.Equal(t, `receive <presence xmlns="jabber:client"/>`, next(t, rec.events))
	rec.s.Write([]byte("<presence xmlns='jabber:client' from='me'/>"))
	first := wait(t, a)
	require.Contains(t, first.body, "from='me'")
	// The response was lost; the client sends the same request again and
	// gets the same response, and the payload is not processed twice.
	again := bu.post(t, req(sid, 101, "", "<presence xmlns='jabber:client'/>"))
	require.Equal(t, first, again)
	select {
	case e := <-rec.events:
		t.Fatalf("repeated payload processed again: %s", e)
	default:
	}
	// The creation response is still buffered (requests=2): same answer.
	r := bu.post(t, "<body rid='100' sid='"+sid+"' xmlns='"+NS+"'/>")
	require.Equal(t, sid, attrOf(r.body, "sid"))
	// A held request whose connection broke: its repeat takes over and
	// gets what comes.
	b := bu.postAsync(t, req(sid, 102, "", ""))
	pending(t, b)
	b2 := bu.postAsync(t, req(sid, 102, "", ""))
	require.Equal(t, reply{200, ""}, wait(t, b)) // the superseded one says nothing
	rec.s.Write([]byte("<message xmlns='jabber:client' id='late'/>"))
	require.Contains(t, wait(t, b2).body, "late")
	// Responses older than the buffer are gone: item-not-found ends the session.
	c := bu.postAsync(t, req(sid, 103, "", "<presence xmlns='jabber:client'/>"))
	next(t, rec.events)
	rec.s.Write([]byte("<message xmlns='jabber:client'/>"))
	wait(t, c)
	terminated(t, bu.post(t, req(sid, 100, "", "")), ItemNotFound)
	require.Equal(t, "close", next(t, rec.events))
}

func TestAcks(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{Hold: 2}, nil)
	r := bu.post(t, "<body rid='100' to='example.com' hold='2' ver='1.11' ack='1' xmlns='"+NS+"'/>")
	require.Equal(t, "100", attrOf(r.body, "ack"))
	sid := attrOf(r.body, "sid")
	rec := <-bu.streams
	a := bu.postAsync(t, req(sid, 101, "ack='100'", ""))
	pending(t, a)
	b := bu.postAsync(t, req(sid, 102, "ack='100'", "<presence xmlns='jabber:client'/>"))
	next(t, rec.events)
	rec.s.Write([]byte("<message xmlns='jabber:client'/>"))
	// 101 is answered after 102 arrived: ack tells the client so.
	require.Equal(t, "102", attrOf(wait(t, a).body, "ack"))
	rec.s.Write([]byte("<message xmlns='jabber:client'/>"))
	// No ack where it would be the request's own rid.
	require.Equal(t, "", attrOf(wait(t, b).body, "ack"))
	// The client acknowledged up to 102: 101 is no longer buffered.
	c := bu.postAsync(t, req(sid, 103, "ack='102'", ""))
	pending(t, c)
	terminated(t, bu.post(t, req(sid, 101, "", "")), ItemNotFound)
	terminated(t, wait(t, c), ItemNotFound) // the session's end, for every request held
}

func TestOveractivity(t *testing.T) {
	t.Parallel()
	for i, tc := range map[int]struct {
		hold  string
		steps func(t *testing.T, bu *bundle, sid string)
	}{
		// Three simultaneous requests where two are allowed.
		0: {"1", func(t *testing.T, bu *bundle, sid string) {
			a := bu.postAsync(t, req(sid, 101, "", ""))
			pending(t, a)
			c := bu.postAsync(t, req(sid, 103, "", ""))
			pending(t, c)
			terminated(t, bu.post(t, req(sid, 102, "", "")), PolicyViolation)
			terminated(t, wait(t, a), PolicyViolation)
			terminated(t, wait(t, c), PolicyViolation)
		}},
		// One more is allowed to terminate.
		1: {"1", func(t *testing.T, bu *bundle, sid string) {
			a := bu.postAsync(t, req(sid, 101, "", ""))
			pending(t, a)
			c := bu.postAsync(t, req(sid, 103, "type='terminate'", ""))
			pending(t, c)
			// 102 answers 101 (hold=1); 103, processed next, ends the
			// session without a policy violation.
			r := bu.post(t, req(sid, 102, "", "<presence xmlns='jabber:client'/>"))
			terminated(t, r, "")
			require.Equal(t, "", attrOf(wait(t, a).body, "type"))
			terminated(t, wait(t, c), "")
		}},
		// Empty requests while one is held, faster than polling.
		2: {"1", func(t *testing.T, bu *bundle, sid string) {
			a := bu.postAsync(t, req(sid, 101, "", ""))
			pending(t, a)
			terminated(t, bu.post(t, req(sid, 102, "", "")), PolicyViolation)
		}},
		// A polling session (hold=0): two empty polls in a row, too fast.
		3: {"0", func(t *testing.T, bu *bundle, sid string) {
			r := bu.post(t, req(sid, 101, "", ""))
			require.Equal(t, "", attrOf(r.body, "type"))
			terminated(t, bu.post(t, req(sid, 102, "", "")), PolicyViolation)
		}},
		// Payloads may come as fast as the client likes.
		4: {"0", func(t *testing.T, bu *bundle, sid string) {
			for rid := 101; rid < 105; rid++ {
				r := bu.post(t, req(sid, rid, "", "<presence xmlns='jabber:client'/>"))
				require.Equal(t, "", attrOf(r.body, "type"), r.body)
			}
		}},
	} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			t.Parallel()
			bu := setup(t, Config{Polling: time.Hour}, nil)
			r := bu.post(t, "<body rid='100' to='example.com' hold='"+tc.hold+"' ver='1.11' xmlns='"+NS+"'/>")
			<-bu.streams
			tc.steps(t, bu, attrOf(r.body, "sid"))
		})
	}
}

func TestLegacyStatus(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{}, nil)
	r := bu.post(t, "<body rid='100' to='example.com' hold='1' xmlns='"+NS+"'/>")
	require.Equal(t, "", attrOf(r.body, "ver"))
	sid := attrOf(r.body, "sid")
	rec := <-bu.streams
	r = bu.post(t, req(sid, 200, "", ""))
	require.Equal(t, 404, r.status)
	require.Equal(t, "close", next(t, rec.events))

	r = bu.post(t, "<body rid='100' to='example.com' hold='1' xmlns='"+NS+"'/>")
	sid = attrOf(r.body, "sid")
	<-bu.streams
	r = bu.post(t, "<body rid='101' sid='"+sid+"' xmlns='"+NS+"'>junk</body>")
	require.Equal(t, 400, r.status)
	require.Equal(t, 0, bu.m.Len())
}

func TestInactivity(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{Inactivity: 300 * time.Millisecond}, nil)
	sid, rec := bu.session(t, "")
	// Requests keep it alive: a held one stops the clock.
	a := bu.postAsync(t, req(sid, 101, "", ""))
	pending(t, a)
	time.Sleep(400 * time.Millisecond) // longer than inactivity, on purpose: held requests stop it
	rec.s.Write([]byte("<message xmlns='jabber:client'/>"))
	wait(t, a)
	// Nothing held: the session ends silently and the stream is told.
	require.Equal(t, "close", next(t, rec.events))
	require.Equal(t, 0, bu.m.Len())
	terminated(t, bu.post(t, req(sid, 102, "", "")), ItemNotFound)
	require.ErrorIs(t, rec.s.Write([]byte("<x/>")), ErrClosed)
}

func TestPause(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{MaxPause: 60 * time.Second, Inactivity: time.Hour}, nil)
	sid, rec := bu.session(t, "")
	a := bu.postAsync(t, req(sid, 101, "", ""))
	pending(t, a)
	// A pause answers the held request and itself at once; the pause
	// response carries nothing even though output waits.
	r := bu.post(t, req(sid, 102, "pause='1'", ""))
	require.Equal(t, "", attrOf(r.body, "type"))
	wait(t, a)
	rec.s.Write([]byte("<message xmlns='jabber:client' id='kept'/>"))
	// The pause (1 s) replaces the inactivity period (1 h) once.
	require.Equal(t, "close", next(t, rec.events))
	require.Equal(t, 0, bu.m.Len())

	sid, _ = bu.session(t, "")
	terminated(t, bu.post(t, req(sid, 101, "pause='61'", "")), PolicyViolation)

	// The kept output goes with the next request after a pause.
	sid, rec = bu.session(t, "")
	bu.post(t, req(sid, 101, "pause='30'", ""))
	rec.s.Write([]byte("<message xmlns='jabber:client' id='kept'/>"))
	require.Contains(t, bu.post(t, req(sid, 102, "", "")).body, "kept")

	noPause := setup(t, Config{MaxPause: -1}, nil)
	r = noPause.post(t, "<body rid='100' to='example.com' ver='1.11' xmlns='"+NS+"'/>")
	require.Equal(t, "", attrOf(r.body, "maxpause"))
	terminated(t, noPause.post(t, req(attrOf(r.body, "sid"), 101, "pause='10'", "")), PolicyViolation)
}

func TestTerminate(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{Hold: 2}, nil)
	r := bu.post(t, "<body rid='100' to='example.com' hold='2' ver='1.11' xmlns='"+NS+"'/>")
	sid := attrOf(r.body, "sid")
	rec := <-bu.streams
	a := bu.postAsync(t, req(sid, 101, "", ""))
	pending(t, a)
	r = bu.post(t, req(sid, 102, "type='terminate'", "<presence type='unavailable' xmlns='jabber:client'/>"))
	terminated(t, r, "")
	terminated(t, wait(t, a), "")
	// The payload reaches the stream before it is closed.
	require.Equal(t, `receive <presence xmlns="jabber:client" type="unavailable"/>`, next(t, rec.events))
	require.Equal(t, "close by client", next(t, rec.events))
	require.Equal(t, 0, bu.m.Len())
	terminated(t, bu.post(t, req(sid, 103, "", "")), ItemNotFound)
}

func TestStreamTerminates(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{}, nil)
	const streamErr = "<stream:error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-streams'/></stream:error>"
	// With a request held: it carries the stream error.
	sid, rec := bu.session(t, "")
	a := bu.postAsync(t, req(sid, 101, "", ""))
	pending(t, a)
	rec.s.Terminate(RemoteStreamError, []byte(streamErr))
	r := wait(t, a)
	terminated(t, r, RemoteStreamError)
	require.Contains(t, r.body, streamErr)
	require.Equal(t, 0, bu.m.Len())

	// With nothing held: the client's next request gets it.
	sid, rec = bu.session(t, "")
	rec.s.Write([]byte("<message xmlns='jabber:client' id='before'/>"))
	rec.s.Terminate(RemoteStreamError, []byte(streamErr))
	r = bu.post(t, req(sid, 101, "", ""))
	terminated(t, r, RemoteStreamError)
	require.Contains(t, r.body, "id='before'")
	require.Contains(t, r.body, streamErr)
	require.Equal(t, 0, bu.m.Len())
	select {
	case e := <-rec.events:
		t.Fatalf("stream told of its own end: %s", e)
	default:
	}
}

func TestRestart(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{}, nil)
	sid, rec := bu.session(t, "")
	restart := "xmpp:restart='true' xmlns:xmpp='" + NSXBOSH + "' to='example.com'"
	a := bu.postAsync(t, req(sid, 101, restart, ""))
	require.Equal(t, "restart", next(t, rec.events))
	rec.s.Write([]byte("<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>"))
	require.Contains(t, wait(t, a).body, "<bind ")
	terminated(t, bu.post(t, req(sid, 102, restart, "<presence xmlns='jabber:client'/>")), BadRequest)
}

func TestKeySequence(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{Hold: 0}, nil)
	// K(1) = sha1("seed"), K(2) = sha1(K(1)); newkey is K(2), then K(1) is used.
	k1 := "92713d4709377111cf31f2a71986c411bd6cb5b0"
	k2 := "c62acc6f8c0c715ca7c1c81bec6fea819c9c3c62"
	r := bu.post(t, "<body rid='100' to='example.com' hold='0' ver='1.11' newkey='"+k2+"' xmlns='"+NS+"'/>")
	sid := attrOf(r.body, "sid")
	<-bu.streams
	r = bu.post(t, req(sid, 101, "key='"+k1+"'", "<presence xmlns='jabber:client'/>"))
	require.Equal(t, "", attrOf(r.body, "type"), r.body)
	terminated(t, bu.post(t, req(sid, 102, "key='"+k1+"'", "<presence xmlns='jabber:client'/>")), ItemNotFound)
}

func TestBacklogAndShutdown(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{MaxPending: 1000}, nil)
	_, rec := bu.session(t, "")
	big := []byte("<message xmlns='jabber:client'>" + strings.Repeat("x", 600) + "</message>")
	require.NoError(t, rec.s.Write(big))
	require.ErrorIs(t, rec.s.Write(big), errBacklog)
	require.Equal(t, "close", next(t, rec.events))

	sid, rec := bu.session(t, "")
	a := bu.postAsync(t, req(sid, 101, "", ""))
	pending(t, a)
	bu.m.Shutdown()
	terminated(t, wait(t, a), SystemShutdown)
	require.Equal(t, "close", next(t, rec.events))
	r := bu.post(t, "<body rid='1' to='example.com' ver='1.11' xmlns='"+NS+"'/>")
	terminated(t, r, SystemShutdown)
}

// TestConcurrentClients runs many sessions at once (for the race
// detector): each sends payloads the recorder echoes back.
func TestConcurrentClients(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{}, nil)
	var wg sync.WaitGroup
	for c := 0; c < 20; c++ {
		sid, rec := bu.session(t, "")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rid := 101; rid < 111; rid++ {
				ch := bu.postAsync(t, req(sid, rid, "", fmt.Sprintf("<message xmlns='jabber:client' id='%d'/>", rid)))
				<-rec.events
				rec.s.Write([]byte(fmt.Sprintf("<message xmlns='jabber:client' id='echo%d'/>", rid)))
				if r := <-ch; !strings.Contains(r.body, fmt.Sprintf("echo%d", rid)) {
					t.Errorf("rid %d: %s", rid, r.body)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// TestHeldByNetHTTP: on a server the Manager was not given (Listen),
// net/http holds the requests; the same rules hold.
func TestHeldByNetHTTP(t *testing.T) {
	t.Parallel()
	bu := setupWith(t, Config{}, nil, false)
	sid, rec := bu.session(t, "")
	a := bu.postAsync(t, req(sid, 101, "", ""))
	pending(t, a)
	require.NoError(t, rec.s.Write([]byte("<message xmlns='jabber:client' id='held'/>")))
	require.Contains(t, wait(t, a).body, "id='held'")
	b := bu.postAsync(t, req(sid, 102, "", ""))
	pending(t, b)
	b2 := bu.postAsync(t, req(sid, 102, "", ""))
	require.Equal(t, reply{200, ""}, wait(t, b)) // superseded by its repeat
	rec.s.Write([]byte("<message xmlns='jabber:client' id='late'/>"))
	require.Contains(t, wait(t, b2).body, "late")
}

// TestParkedConnectionReused: a held request's connection, taken from
// net/http for the wait, goes back to it once answered: the client's next
// requests reuse it (keep-alive), with the headers set before the wait.
func TestParkedConnectionReused(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{}, nil)
	sid, rec := bu.session(t, "")
	conns := make(chan string, 8)
	client := &http.Client{Transport: &http.Transport{MaxConnsPerHost: 1, DisableCompression: true}}
	t.Cleanup(client.CloseIdleConnections)
	post := func(body string) reply {
		ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { conns <- i.Conn.LocalAddr().String() }})
		rq, err := http.NewRequestWithContext(ctx, http.MethodPost, bu.url, strings.NewReader(body))
		require.NoError(t, err)
		resp, err := client.Do(rq)
		if err != nil {
			return reply{-1, err.Error()}
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		require.Equal(t, "text/xml; charset=utf-8", resp.Header.Get("Content-Type"))
		require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
		return reply{resp.StatusCode, string(b)}
	}
	for i, id := range []string{"one", "two", "three"} {
		ch := make(chan reply, 1)
		go func() { ch <- post(req(sid, 101+i, "", "")) }()
		require.Eventually(t, func() bool { return bu.m.parked.Load() == 1 }, 10*time.Second, 5*time.Millisecond,
			"the held request was not parked")
		require.NoError(t, rec.s.Write([]byte("<message xmlns='jabber:client' id='"+id+"'/>")))
		r := wait(t, ch)
		require.Equal(t, 200, r.status)
		require.Contains(t, r.body, "id='"+id+"'")
	}
	first := <-conns
	for range 2 {
		require.Equal(t, first, <-conns, "a later request came on another connection")
	}
	require.Equal(t, int32(0), bu.m.parked.Load())
}

// TestParkedClientGone: a client that drops the connection of its parked
// request is noticed at once (not after the wait): the request is
// abandoned, the inactivity clock runs, and the session ends.
func TestParkedClientGone(t *testing.T) {
	t.Parallel()
	bu := setup(t, Config{Inactivity: 300 * time.Millisecond}, nil)
	sid, rec := bu.session(t, "")
	nc, err := net.Dial("tcp", strings.TrimPrefix(bu.url, "http://"))
	require.NoError(t, err)
	body := req(sid, 101, "", "")
	_, err = fmt.Fprintf(nc, "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return bu.m.parked.Load() == 1 }, 10*time.Second, 5*time.Millisecond,
		"the held request was not parked")
	require.NoError(t, nc.Close())
	// The session's wait is 60 s: only the noticed close ends it sooner.
	require.Equal(t, "close", next(t, rec.events))
	require.Eventually(t, func() bool { return bu.m.parked.Load() == 0 }, 10*time.Second, 5*time.Millisecond)
}
