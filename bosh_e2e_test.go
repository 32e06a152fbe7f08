package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// boshClient speaks XEP-0124/0206 in raw HTTP posts, written for the tests
// (no independent Go BOSH client exists; slixmpp has none either): the
// tests see the server's <body/> wrappers byte for byte. The browser test
// uses converse.js (Strophe's BOSH).
type boshClient struct {
	t    *testing.T
	url  string
	sid  string
	rid  int
	dom  string
	http *http.Client
}

const boshNS = "http://jabber.org/protocol/httpbind"

type boshReply struct {
	status int
	body   string
}

func (s *testServer) boshClient(t *testing.T, path string) *boshClient {
	return &boshClient{t: t, url: strings.TrimSuffix(s.url, "/") + path, rid: 4000, dom: s.boot.Domain,
		http: &http.Client{Timeout: 90 * time.Second}}
}

// post sends one <body/> and waits for the answer.
func (c *boshClient) post(body string) boshReply {
	c.t.Helper()
	return <-c.postAsync(body)
}

func (c *boshClient) postAsync(body string) <-chan boshReply {
	ch := make(chan boshReply, 1)
	go func() {
		resp, err := c.http.Post(c.url, "text/xml; charset=utf-8", strings.NewReader(body))
		if err != nil {
			ch <- boshReply{-1, err.Error()}
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		ch <- boshReply{resp.StatusCode, string(b)}
	}()
	return ch
}

// body is a request of this session with the next rid.
func (c *boshClient) body(attrs, payload string) string {
	c.rid++
	return fmt.Sprintf("<body xmlns='%s' sid='%s' rid='%d' %s>%s</body>", boshNS, c.sid, c.rid, attrs, payload)
}

// create opens a session and returns the creation response.
func (c *boshClient) create(extra string) string {
	c.t.Helper()
	c.rid++
	r := c.post(fmt.Sprintf("<body xmlns='%s' rid='%d' to='%s' wait='60' hold='1' ver='1.11' xml:lang='en' "+
		"xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh' content='text/xml; charset=utf-8' %s/>", boshNS, c.rid, c.dom, extra))
	require.Equal(c.t, 200, r.status, r.body)
	c.sid = bodyAttr(r.body, "sid")
	require.NotEmpty(c.t, c.sid, r.body)
	return r.body
}

// until posts empty requests until an answer matches re (the server may
// answer with an empty body first, when its wait ends).
func (c *boshClient) until(re string) string {
	c.t.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := c.post(c.body("", ""))
		require.Equal(c.t, 200, r.status, r.body)
		if rx.MatchString(r.body) {
			return r.body
		}
		require.NotEqual(c.t, "terminate", bodyAttr(r.body, "type"), r.body)
	}
	c.t.Fatalf("no response matching %s", re)
	return ""
}

// send posts payload and returns the answer, which may hold what the
// server says back.
func (c *boshClient) send(payload string) string {
	c.t.Helper()
	r := c.post(c.body("", payload))
	require.Equal(c.t, 200, r.status, r.body)
	return r.body
}

// login authenticates with PLAIN and binds res.
func (c *boshClient) login(user, pass, res string) {
	c.t.Helper()
	f := c.create("")
	if !strings.Contains(f, "<mechanism>PLAIN</mechanism>") {
		f = c.until("<mechanism>PLAIN</mechanism>")
	}
	got := c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)) + "</auth>")
	if !strings.Contains(got, "<success") {
		got = c.until("<success")
	}
	got = c.post(c.body("xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh' to='"+c.dom+"' xml:lang='en'", "")).body
	if !strings.Contains(got, "urn:ietf:params:xml:ns:xmpp-bind") {
		got = c.until("urn:ietf:params:xml:ns:xmpp-bind")
	}
	got = c.send("<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + res + "</resource></bind></iq>")
	if !strings.Contains(got, "<jid>") {
		got = c.until("<jid>")
	}
	require.Contains(c.t, got, "<jid>"+user+"@"+c.dom+"/"+res+"</jid>")
}

func bodyAttr(body, name string) string {
	i := strings.Index(body, ">")
	if i < 0 {
		return ""
	}
	m := regexp.MustCompile(`\s` + name + `='([^']*)'`).FindStringSubmatch(body[:i])
	if m == nil {
		return ""
	}
	return m[1]
}

// idAt is where the stanza with id is in body (-1: not there).
func idAt(body, id string) int {
	loc := regexp.MustCompile(`id=["']` + regexp.QuoteMeta(id) + `["']`).FindStringIndex(body)
	if loc == nil {
		return -1
	}
	return loc[0]
}

func requireTerminate(t *testing.T, r boshReply, cond string) {
	t.Helper()
	require.Equal(t, 200, r.status, r.body)
	require.Equal(t, "terminate", bodyAttr(r.body, "type"), r.body)
	require.Equal(t, cond, bodyAttr(r.body, "condition"), r.body)
}

// transport returns how user's session with resource res is connected.
func (s *testServer) transport(user, res string) string {
	for _, ss := range s.app.env.Live.Sessions(s.boot.Domain, user) {
		if ss.Resource == res {
			return ss.Transport
		}
	}
	return ""
}

// TestBOSHChat: a BOSH client logs in through the real HTTP listener (SASL
// PLAIN on loopback, stream restart, bind) and exchanges messages with an
// independent client on TCP (go-xmpp); its session is listed as http_bind;
// the client's terminate ends the c2s session.
func TestBOSHChat(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *Config) { c.EjabberdTrustLoopback = true })
	for _, u := range []string{"alice", "bob"} {
		require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username="+u+"&password=pw1"))
	}
	dom := s.boot.Domain
	for _, path := range []string{"/http-bind", "/bosh"} {
		t.Run(path, func(t *testing.T) {
			res := strings.TrimPrefix(path, "/")
			c := s.boshClient(t, path)
			c.login("alice", "pw1", res)
			require.Equal(t, "http_bind", s.transport("alice", res))
			// ejabberd's listing names the connection as ejabberd does.
			status, body := s.do(http.MethodPost, "/api/user_sessions_info", `{"user":"alice","host":"`+dom+`"}`, nil)
			require.Equal(t, 200, status, body)
			require.Contains(t, body, `"connection":"http_bind"`)

			bob := goxmpptest.Login(t, s.c2s, "bob@"+dom, "pw1", goxmpptest.Resource("tcp-"+res))
			defer bob.Close()
			// TCP -> BOSH: a held request carries it.
			poll := c.postAsync(c.body("", ""))
			_, err := bob.Send(goxmpp.Chat{Remote: "alice@" + dom + "/" + res, Type: "chat", Text: "hello over tcp"})
			require.NoError(t, err)
			r := <-poll
			if !strings.Contains(r.body, "hello over tcp") {
				r.body = c.until("hello over tcp")
			}
			require.Regexp(t, `<message xmlns='jabber:client' [^>]*from=["']bob@`+regexp.QuoteMeta(dom)+`/tcp-`+res+`["']`, r.body)

			// BOSH -> TCP; the request stays held, there is nothing to say.
			held := c.postAsync(c.body("", "<message xmlns='jabber:client' to='bob@"+dom+"/tcp-"+res+"' type='chat' id='m1'><body>hello over bosh</body></message>"))
			bob.Expect(t, "alice's message", goxmpptest.Chat("alice@"+dom+"/"+res, "hello over bosh"))

			// The client terminates: the held request and the terminate
			// are answered, and the session is gone.
			requireTerminate(t, c.post(c.body("type='terminate'", "<presence xmlns='jabber:client' type='unavailable'/>")), "")
			requireTerminate(t, <-held, "")
			require.Eventually(t, func() bool { return s.transport("alice", res) == "" }, 10*time.Second, 20*time.Millisecond)
			requireTerminate(t, c.post(c.body("", "")), "item-not-found")
		})
	}
}

// TestBOSHProtocol: XEP-0124's rules through the real listener: the rid
// window with out-of-order requests, a repeated rid answered from the
// buffer, an unknown sid, the inactivity timeout ending the XMPP session,
// stream errors as remote-stream-error, and modHttpBind.
func TestBOSHProtocol(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *Config) { c.BOSHMaxInactivity = 2 * time.Second })
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=alice&password=pw1"))
	dom := s.boot.Domain

	t.Run("creation response", func(t *testing.T) {
		t.Parallel()
		c := s.boshClient(t, "/http-bind")
		f := c.create("")
		for attr, want := range map[string]string{"wait": "60", "hold": "1", "requests": "2", "inactivity": "2",
			"ver": "1.11", "from": dom, "xmpp:version": "1.0"} {
			require.Equal(t, want, bodyAttr(f, attr), attr)
		}
		require.NotEmpty(t, bodyAttr(f, "authid"))
		require.Contains(t, f, "<stream:features xmlns:stream='http://etherx.jabber.org/streams'>")
		require.Contains(t, f, "<mechanism>PLAIN</mechanism>", "PLAIN for a loopback peer without TLS")
		require.NotContains(t, f, "starttls")
	})

	t.Run("out-of-order rids are processed in order", func(t *testing.T) {
		t.Parallel()
		c := s.boshClient(t, "/http-bind")
		c.login("alice", "pw1", "order")
		first := c.body("", "<iq xmlns='jabber:client' type='get' id='first'><ping xmlns='urn:xmpp:ping'/></iq>")
		second := c.body("", "<iq xmlns='jabber:client' type='get' id='second'><ping xmlns='urn:xmpp:ping'/></iq>")
		b := c.postAsync(second)
		time.Sleep(50 * time.Millisecond) // lets the second arrive first; order is proven by the answers either way
		a := c.postAsync(first)
		ra, rb := <-a, <-b
		all := ra.body + rb.body
		for idAt(all, "second") < 0 {
			all += c.until(".")
		}
		require.Less(t, idAt(all, "first"), idAt(all, "second"), all)
		// Beyond the window: item-not-found ends the session.
		c.rid += 5
		requireTerminate(t, c.post(c.body("", "")), "item-not-found")
		require.Eventually(t, func() bool { return s.transport("alice", "order") == "" }, 10*time.Second, 20*time.Millisecond)
	})

	t.Run("a repeated rid gets the same response", func(t *testing.T) {
		t.Parallel()
		c := s.boshClient(t, "/bosh")
		c.login("alice", "pw1", "repeat")
		req := c.body("", "<iq xmlns='jabber:client' type='get' id='p1'><ping xmlns='urn:xmpp:ping'/></iq>")
		r := c.post(req)
		again := c.post(req)
		require.Equal(t, r, again, "the buffered response, byte for byte")
		// The repeat was not processed again: one answer to p1 in all.
		all := r.body + c.send("<iq xmlns='jabber:client' type='get' id='p2'><ping xmlns='urn:xmpp:ping'/></iq>")
		for idAt(all, "p2") < 0 {
			all += c.until(".")
		}
		require.Len(t, regexp.MustCompile(`id=["']p1["']`).FindAllString(all, -1), 1, all)
	})

	t.Run("unknown host, and a host in capitals", func(t *testing.T) {
		t.Parallel()
		c := s.boshClient(t, "/http-bind")
		c.dom = "nosuch.example"
		c.rid++
		requireTerminate(t, c.post(fmt.Sprintf("<body xmlns='%s' rid='%d' to='%s' ver='1.11' wait='60' hold='1'/>", boshNS, c.rid, c.dom)), "host-unknown")
		c = s.boshClient(t, "/http-bind")
		c.dom = strings.ToUpper(dom)
		require.Equal(t, dom, bodyAttr(c.create(""), "from"))
	})

	t.Run("unknown sid", func(t *testing.T) {
		t.Parallel()
		c := s.boshClient(t, "/http-bind")
		c.sid = "0123456789abcdef0123456789abcdef"
		requireTerminate(t, c.post(c.body("", "")), "item-not-found")
	})

	t.Run("inactivity ends the XMPP session", func(t *testing.T) {
		t.Parallel()
		c := s.boshClient(t, "/http-bind")
		c.login("alice", "pw1", "idle")
		require.Equal(t, "http_bind", s.transport("alice", "idle"))
		// No request for longer than inactivity (2 s).
		require.Eventually(t, func() bool { return s.transport("alice", "idle") == "" }, 20*time.Second, 50*time.Millisecond)
		requireTerminate(t, c.post(c.body("", "")), "item-not-found")
	})

	t.Run("stream management resumes over a new BOSH session", func(t *testing.T) {
		t.Parallel()
		tcp := goxmpptest.Login(t, s.c2s, "alice@"+dom, "pw1", goxmpptest.Resource("tcp-sm"))
		c := s.boshClient(t, "/http-bind")
		c.login("alice", "pw1", "sm")
		got := c.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
		if !strings.Contains(got, "<enabled") {
			got = c.until("<enabled")
		}
		m := regexp.MustCompile(`<enabled xmlns='urn:xmpp:sm:3' id='([^']+)' resume='true'`).FindStringSubmatch(got)
		require.NotNil(t, m, got)
		previd := m[1]
		// The client goes away: inactivity (2 s) ends the BOSH session,
		// a lost transport to the c2s session, which hibernates.
		hibernated := func() bool {
			for _, ss := range s.app.env.Live.(live).Server.Sessions(dom, "alice") {
				if ss.Resource == "sm" {
					return ss.Hibernated
				}
			}
			return false
		}
		require.Eventually(t, hibernated, 20*time.Second, 20*time.Millisecond)
		_, err := tcp.Send(goxmpp.Chat{Remote: "alice@" + dom + "/sm", Type: "chat", Text: "while away"})
		require.NoError(t, err)

		r := s.boshClient(t, "/bosh")
		f := r.create("")
		if !strings.Contains(f, "<mechanism>PLAIN</mechanism>") {
			r.until("<mechanism>PLAIN</mechanism>")
		}
		got = r.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
			base64.StdEncoding.EncodeToString([]byte("\x00alice\x00pw1")) + "</auth>")
		if !strings.Contains(got, "<success") {
			r.until("<success")
		}
		got = r.post(r.body("xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh' to='"+dom+"'", "")).body
		if !strings.Contains(got, "urn:xmpp:sm:3") {
			r.until("urn:xmpp:sm:3")
		}
		got = r.send("<resume xmlns='urn:xmpp:sm:3' previd='" + previd + "' h='0'/>")
		for !strings.Contains(got, "while away") {
			got += r.until(".")
		}
		require.Regexp(t, `<resumed xmlns='urn:xmpp:sm:3' previd='`+regexp.QuoteMeta(previd)+`' h='\d+'/>`, got)
		require.False(t, hibernated())
		require.Equal(t, "http_bind", s.transport("alice", "sm"))
	})

	t.Run("a kick is a remote-stream-error", func(t *testing.T) {
		t.Parallel()
		c := s.boshClient(t, "/http-bind")
		c.login("alice", "pw1", "kicked")
		poll := c.postAsync(c.body("", ""))
		require.Eventually(t, func() bool { return s.app.env.Live.Kick(dom, "alice", "kicked", "bye") == 1 },
			10*time.Second, 20*time.Millisecond)
		r := <-poll
		requireTerminate(t, r, "remote-stream-error")
		require.Regexp(t, `<stream:error xmlns:stream='http://etherx.jabber.org/streams'><[a-z-]+ xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`, r.body)
	})

	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		c := s.boshClient(t, "/http-bind")
		c.create("")
		got := c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
			base64.StdEncoding.EncodeToString([]byte("\x00alice\x00nope")) + "</auth>")
		if !strings.Contains(got, "<failure") {
			got = c.until("<failure")
		}
		require.Contains(t, got, "<not-authorized/>")
	})
}

// TestBOSHModHttpBind: with modHttpBind off a domain refuses new BOSH
// sessions (host-unknown) and its running ones end; on again, they work.
func TestBOSHModHttpBind(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=alice&password=pw1"))
	live := s.boshClient(t, "/http-bind")
	live.login("alice", "pw1", "web")
	poll := live.postAsync(live.body("", ""))

	s.setDomainModule(t, "modHttpBind", false)
	r := <-poll
	requireTerminate(t, r, "remote-stream-error")
	require.Contains(t, r.body, "modHttpBind")

	c := s.boshClient(t, "/http-bind")
	c.rid++
	r = c.post(fmt.Sprintf("<body xmlns='%s' rid='%d' to='%s' ver='1.11' wait='60' hold='1'/>", boshNS, c.rid, c.dom))
	requireTerminate(t, r, "host-unknown")

	s.setDomainModule(t, "modHttpBind", true)
	s.boshClient(t, "/bosh").login("alice", "pw1", "again")
}

// TestBOSHCORS: a page on an allowed origin may post (the preflight of
// its text/xml request is answered); another origin's is refused.
func TestBOSHCORS(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *Config) { c.CORSOrigins = []string{"https://shop.example"} })
	for i, tc := range []struct {
		origin string
		status int
	}{
		0: {"https://shop.example", http.StatusNoContent},
		1: {"https://evil.example", http.StatusForbidden},
	} {
		req, err := http.NewRequest(http.MethodOptions, strings.TrimSuffix(s.url, "/")+"/http-bind", nil)
		require.NoError(t, err)
		req.Header.Set("Origin", tc.origin)
		req.Header.Set("Access-Control-Request-Method", "POST")
		req.Header.Set("Access-Control-Request-Headers", "content-type")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, tc.status, resp.StatusCode, "%d", i)
	}
	req, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(s.url, "/")+"/bosh",
		strings.NewReader(fmt.Sprintf("<body xmlns='%s' rid='1' to='%s' ver='1.11' wait='5' hold='1'/>", boshNS, s.boot.Domain)))
	require.NoError(t, err)
	req.Header.Set("Origin", "https://shop.example")
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "https://shop.example", resp.Header.Get("Access-Control-Allow-Origin"))
	require.NotEmpty(t, bodyAttr(string(b), "sid"), string(b))
}

// TestIntegrationConverseBOSH: converse.js in headless Chromium logs in
// over BOSH (Strophe's, from a page on another origin, so through CORS),
// chats with a TCP client, and shows a wrong password's error; the
// session is listed as an http_bind one.
func TestIntegrationConverseBOSH(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	bosh := map[string]any{"bosh_service_url": strings.TrimSuffix(s.url, "/") + "/http-bind"}
	browser := converseChat(t, s, bosh)
	var kinds []string
	for _, ss := range s.app.env.Live.Sessions(s.boot.Domain, "alice") {
		kinds = append(kinds, ss.Transport)
	}
	require.Equal(t, "http_bind", strings.Join(kinds, ","))
	converseWrongPassword(t, s, browser, bosh)
}

// TestBOSHHeldOverHTTPS: on https_addr a session logs in and idles with a
// request held (its connection taken from net/http for the wait); a
// message from a TCP client answers the held request with the CORS
// headers of its origin, over TLS, and the client's next requests reuse
// the same TLS connection.
func TestBOSHHeldOverHTTPS(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *Config) {
		c.HTTPSAddr = "127.0.0.1:0"
		c.CORSOrigins = []string{"https://shop.example"}
	})
	for _, u := range []string{"alice", "bob"} {
		require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username="+u+"&password=pw1"))
	}
	dom := s.boot.Domain
	var dials atomic.Int32
	tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the test's self-signed certificate
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return (&net.Dialer{}).DialContext(ctx, network, addr)
		}}
	t.Cleanup(tr.CloseIdleConnections)
	c := &boshClient{t: t, url: "https://" + s.https + "/http-bind", rid: 7000, dom: dom,
		http: &http.Client{Timeout: 90 * time.Second, Transport: tr}}
	c.login("alice", "pw1", "tls")
	var got []string
	for _, ss := range s.app.env.Live.Sessions(dom, "alice") {
		got = append(got, ss.Transport+" tls="+strconv.FormatBool(ss.TLS))
	}
	require.Equal(t, []string{"http_bind tls=true"}, got)

	bob := goxmpptest.Login(t, s.c2s, "bob@"+dom, "pw1", goxmpptest.Resource("tcp"))
	defer bob.Close()
	for i := range 2 {
		text := fmt.Sprintf("held answer %d", i)
		type answer struct {
			origin, body string
			err          error
		}
		done := make(chan answer, 1)
		go func() {
			rq, err := http.NewRequest(http.MethodPost, c.url, strings.NewReader(c.body("", "")))
			if err != nil {
				done <- answer{err: err}
				return
			}
			rq.Header.Set("Origin", "https://shop.example")
			rq.Header.Set("Content-Type", "text/xml; charset=utf-8")
			resp, err := c.http.Do(rq)
			if err != nil {
				done <- answer{err: err}
				return
			}
			b, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			done <- answer{resp.Header.Get("Access-Control-Allow-Origin"), string(b), err}
		}()
		// Held well past the moment it would be parked, then answered.
		time.Sleep(200 * time.Millisecond)
		_, err := bob.Send(goxmpp.Chat{Remote: "alice@" + dom + "/tls", Type: "chat", Text: text})
		require.NoError(t, err)
		var a answer
		select {
		case a = <-done:
		case <-time.After(60 * time.Second):
			t.Fatal("the held request was not answered")
		}
		require.NoError(t, a.err)
		require.Equal(t, "https://shop.example", a.origin)
		if !strings.Contains(a.body, text) {
			a.body = c.until(text)
		}
		require.Contains(t, a.body, text)
	}
	// Login and polls took one connection for the held requests and one
	// for the requests sent beside them: none was lost to the hand-back.
	require.LessOrEqual(t, dials.Load(), int32(2))
}
