package main

import (
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"
	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// wsClient is an RFC 7395 client written for the tests on gorilla's
// WebSocket client: it sends and reads raw frames, so the tests see the
// server's framing byte for byte. (The browser test uses converse.js.)
type wsClient struct {
	t  *testing.T
	ws *gws.Conn
}

func (s *testServer) wsURL(path string) string {
	return "ws://" + strings.TrimPrefix(strings.TrimSuffix(s.url, "/"), "http://") + path
}

// dialWS opens a WebSocket to path with the xmpp subprotocol.
func (s *testServer) dialWS(t *testing.T, path string, h http.Header) (*wsClient, *http.Response, error) {
	d := gws.Dialer{Subprotocols: []string{"xmpp"}, HandshakeTimeout: 10 * time.Second}
	ws, resp, err := d.Dial(s.wsURL(path), h)
	if err != nil {
		return nil, resp, err
	}
	t.Cleanup(func() { ws.Close() })
	return &wsClient{t: t, ws: ws}, resp, nil
}

func (c *wsClient) send(s string) {
	c.t.Helper()
	require.NoError(c.t, c.ws.WriteMessage(gws.TextMessage, []byte(s)))
}

// read returns the next message; a close frame is "CLOSE <code>".
func (c *wsClient) read() string {
	c.t.Helper()
	c.ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	_, b, err := c.ws.ReadMessage()
	var ce *gws.CloseError
	if errors.As(err, &ce) {
		return "CLOSE " + strconv.Itoa(ce.Code)
	}
	require.NoError(c.t, err)
	return string(b)
}

// expect reads the next message and matches it against re.
func (c *wsClient) expect(re string) string {
	c.t.Helper()
	m := c.read()
	require.Regexp(c.t, regexp.MustCompile(re), m)
	return m
}

// open sends <open/> to domain and reads the server's <open/> and features.
func (c *wsClient) open(domain string) string {
	c.t.Helper()
	c.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='" + domain + "' version='1.0'/>")
	c.expect(`^<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='[^']+' from='` + regexp.QuoteMeta(domain) + `' version='1.0' xml:lang='en'/>$`)
	return c.expect(`^<stream:features xmlns:stream='http://etherx.jabber.org/streams'>.*</stream:features>$`)
}

// login authenticates with PLAIN and binds resource res.
func (c *wsClient) login(domain, user, pass, res string) {
	c.t.Helper()
	c.open(domain)
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
		base64.StdEncoding.EncodeToString([]byte("\x00"+user+"\x00"+pass)) + "</auth>")
	c.expect(`^<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>$`)
	c.open(domain)
	c.send("<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + res + "</resource></bind></iq>")
	c.expect(`^<iq xmlns='jabber:client' type="result" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>` + user + "@" + domain + "/" + res + `</jid></bind></iq>$`)
}

// setDomainModule PUTs moduleConfig.<module>.enabled through the REST
// domains API of the running server.
func (s *testServer) setDomainModule(t *testing.T, module string, on bool) {
	t.Helper()
	status, body := s.do(http.MethodPut, "/api/1.0/xmppdomains/"+s.boot.Domain,
		`{"moduleConfig": {"`+module+`": {"enabled": `+strconv.FormatBool(on)+`}}}`,
		func(r *http.Request) {
			r.SetBasicAuth(s.boot.RESTUser, s.boot.RESTPassword)
			r.Header.Set("Content-Type", "application/json")
		})
	require.Equal(t, 200, status, body)
}

// TestWebSocketHandshake: the handshake needs the xmpp subprotocol (501
// without, as Prosody answers) and an allowed Origin (403 otherwise); a
// client that is no browser sends no Origin.
func TestWebSocketHandshake(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *Config) { c.CORSOrigins = []string{"https://shop.example"} })
	for i, tc := range []struct {
		path, proto, origin string
		status              int
	}{
		0: {"/ws", "xmpp", "", http.StatusSwitchingProtocols},
		1: {"/xmpp-websocket", "xmpp", "", http.StatusSwitchingProtocols},
		2: {"/ws", "", "", http.StatusNotImplemented},
		3: {"/ws", "chat, superchat", "", http.StatusNotImplemented},
		4: {"/ws", "chat, xmpp", "https://shop.example", http.StatusSwitchingProtocols},
		5: {"/ws", "xmpp", "https://evil.example", http.StatusForbidden},
	} {
		d := gws.Dialer{HandshakeTimeout: 10 * time.Second}
		if tc.proto != "" {
			d.Subprotocols = strings.Split(tc.proto, ", ")
		}
		h := http.Header{}
		if tc.origin != "" {
			h.Set("Origin", tc.origin)
		}
		ws, resp, err := d.Dial(s.wsURL(tc.path), h)
		require.NotNil(t, resp, "%d: %v", i, err)
		require.Equal(t, tc.status, resp.StatusCode, "%d", i)
		if err == nil {
			require.Equal(t, "xmpp", ws.Subprotocol(), "%d", i)
			ws.Close()
		}
	}
}

// TestWebSocketStream: RFC 7395 framing through the real listener, from
// login to <close/> both ways, with stream errors before the close and the
// session listed as a websocket one.
func TestWebSocketStream(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *Config) { c.EjabberdTrustLoopback = true })
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=alice&password=pw1"))
	dom := s.boot.Domain

	t.Run("login, message to self, close from the client", func(t *testing.T) {
		t.Parallel()
		c, _, err := s.dialWS(t, "/ws", nil)
		require.NoError(t, err)
		f := c.open(dom)
		require.Contains(t, f, "<mechanism>PLAIN</mechanism>", "PLAIN is offered to a loopback peer without TLS")
		require.NotContains(t, f, "starttls")
		c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
			base64.StdEncoding.EncodeToString([]byte("\x00alice\x00pw1")) + "</auth>")
		c.expect(`^<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>$`)
		f = c.open(dom)
		require.Contains(t, f, "<bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/>")
		c.send("<iq xmlns='jabber:client' type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>web</resource></bind></iq>")
		c.expect(`^<iq xmlns='jabber:client' type="result" id="b1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>alice@` + dom + `/web</jid></bind></iq>$`)

		var info string
		for _, ss := range s.app.env.Live.Sessions(dom, "alice") {
			if ss.Resource == "web" {
				info = ss.Transport
			}
		}
		require.Equal(t, "websocket", info)
		// ejabberd's listing names the connection as ejabberd does.
		status, body := s.do(http.MethodPost, "/api/user_sessions_info", `{"user":"alice","host":"`+dom+`"}`, nil)
		require.Equal(t, 200, status, body)
		require.Contains(t, body, `"connection":"websocket"`)

		c.send("<message xmlns='jabber:client' to='alice@" + dom + "/web' type='chat' id='m1'><body>hi me</body></message>")
		c.expect(`^<message xmlns='jabber:client' .*<body>hi me</body>.*</message>$`)
		c.send("<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>")
		c.expect(`^<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>$`)
		require.Equal(t, "CLOSE 1000", c.read())
	})

	t.Run("wrong password", func(t *testing.T) {
		t.Parallel()
		c, _, err := s.dialWS(t, "/ws", nil)
		require.NoError(t, err)
		c.open(dom)
		c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
			base64.StdEncoding.EncodeToString([]byte("\x00alice\x00nope")) + "</auth>")
		c.expect(`^<failure xmlns='urn:ietf:params:xml:ns:xmpp-sasl'><not-authorized/></failure>$`)
	})

	t.Run("oversized stanza: policy-violation, close, close frame", func(t *testing.T) {
		t.Parallel()
		c, _, err := s.dialWS(t, "/ws", nil)
		require.NoError(t, err)
		c.login(dom, "alice", "pw1", "big")
		c.send("<message xmlns='jabber:client' to='alice@" + dom + "'><body>" + strings.Repeat("x", 300<<10) + "</body></message>")
		c.expect(`^<stream:error xmlns:stream='http://etherx.jabber.org/streams'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text .*</stream:error>$`)
		c.expect(`^<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>$`)
		require.Equal(t, "CLOSE 1000", c.read())
	})

	t.Run("a stream header instead of <open/>", func(t *testing.T) {
		t.Parallel()
		c, _, err := s.dialWS(t, "/ws", nil)
		require.NoError(t, err)
		c.send("<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='" + dom + "' version='1.0'>")
		c.expect(`^<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' id='[^']+' version='1.0' xml:lang='en'/>$`)
		c.expect(`^<stream:error xmlns:stream='http://etherx.jabber.org/streams'><invalid-namespace `)
		c.expect(`^<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>$`)
		require.Equal(t, "CLOSE 1000", c.read())
	})

	t.Run("kick: the server closes", func(t *testing.T) {
		t.Parallel()
		c, _, err := s.dialWS(t, "/ws", nil)
		require.NoError(t, err)
		c.login(dom, "alice", "pw1", "kicked")
		require.Equal(t, 1, s.app.env.Live.Kick(dom, "alice", "kicked", "bye"))
		c.expect(`^<stream:error xmlns:stream='http://etherx.jabber.org/streams'>`)
		c.expect(`^<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>$`)
		require.Equal(t, "CLOSE 1000", c.read())
	})
}

// TestWebSocketModHttpBind: moduleConfig.modHttpBind switches WebSocket
// per domain, live: off, an <open/> to the domain gets host-unknown and a
// running WebSocket session is closed; TCP clients are not touched.
func TestWebSocketModHttpBind(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=alice&password=pw1"))
	dom := s.boot.Domain

	live, _, err := s.dialWS(t, "/ws", nil)
	require.NoError(t, err)
	live.login(dom, "alice", "pw1", "web")
	tcp, err := s.xmppLogin("alice@"+dom, "pw1", "SCRAM-SHA-256")
	require.NoError(t, err)

	s.setDomainModule(t, "modHttpBind", false)
	live.expect(`^<stream:error xmlns:stream='http://etherx.jabber.org/streams'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>web chat \(modHttpBind\) was switched off`)
	live.expect(`^<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>$`)

	c, _, err := s.dialWS(t, "/ws", nil)
	require.NoError(t, err)
	c.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='" + dom + "' version='1.0'/>")
	c.expect(`^<open `)
	c.expect(`<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>`)
	c.expect(`^<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>$`)
	select {
	case <-tcp.Done():
		t.Fatal("switching web chat off closed a TCP session")
	default:
	}

	s.setDomainModule(t, "modHttpBind", true)
	c2, _, err := s.dialWS(t, "/ws", nil)
	require.NoError(t, err)
	c2.login(dom, "alice", "pw1", "again")
}

// TestWebSocketSessionFeatures: stream management, carbons and CSI are
// the session's, not the transport's: a WebSocket session resumes after
// its connection dropped (the messages it missed sent again), gets carbons
// of its account's TCP session, and still gets chat messages while
// inactive. With SM each stanza and its <r/> are messages of their own.
func TestWebSocketSessionFeatures(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=alice&password=pw1"))
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=bob&password=pw2"))
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=carol&password=pw3"))
	dom := s.boot.Domain
	bob := goxmpptest.Login(t, s.c2s, "bob@"+dom, "pw2", goxmpptest.Resource("tcp"))

	t.Run("stream management resumes over a new WebSocket", func(t *testing.T) {
		t.Parallel()
		c, _, err := s.dialWS(t, "/ws", nil)
		require.NoError(t, err)
		c.login(dom, "alice", "pw1", "sm")
		c.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
		m := regexp.MustCompile(`^<enabled xmlns='urn:xmpp:sm:3' id='([^']+)' resume='true'`).FindStringSubmatch(c.read())
		require.NotNil(t, m)
		previd := m[1]

		_, err = bob.Send(goxmpp.Chat{Remote: "alice@" + dom + "/sm", Type: "chat", Text: "one"})
		require.NoError(t, err)
		c.expect(`^<message xmlns='jabber:client' .*<body>one</body>`)
		c.expect(`^<r xmlns='urn:xmpp:sm:3'/>$`)
		// The connection drops without <close/>: the session hibernates.
		c.ws.UnderlyingConn().Close()
		require.Eventually(t, func() bool {
			for _, ss := range s.app.env.Live.(live).Server.Sessions(dom, "alice") {
				if ss.Resource == "sm" {
					return ss.Hibernated
				}
			}
			return false
		}, 20*time.Second, 20*time.Millisecond)
		_, err = bob.Send(goxmpp.Chat{Remote: "alice@" + dom + "/sm", Type: "chat", Text: "two"})
		require.NoError(t, err)

		r, _, err := s.dialWS(t, "/ws", nil)
		require.NoError(t, err)
		r.open(dom)
		r.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
			base64.StdEncoding.EncodeToString([]byte("\x00alice\x00pw1")) + "</auth>")
		r.expect(`^<success `)
		r.open(dom)
		r.send("<resume xmlns='urn:xmpp:sm:3' previd='" + previd + "' h='1'/>")
		r.expect(`^<resumed xmlns='urn:xmpp:sm:3' previd='` + regexp.QuoteMeta(previd) + `' h='\d+'/>$`)
		r.expect(`^<message xmlns='jabber:client' .*<body>two</body>`)
		r.expect(`^<r xmlns='urn:xmpp:sm:3'/>$`)
		var kinds []string
		for _, ss := range s.app.env.Live.(live).Server.Sessions(dom, "alice") {
			if ss.Resource == "sm" {
				kinds = append(kinds, ss.Transport)
				require.False(t, ss.Hibernated)
			}
		}
		require.Equal(t, []string{"websocket"}, kinds)
	})

	t.Run("carbons and CSI", func(t *testing.T) {
		t.Parallel()
		c, _, err := s.dialWS(t, "/ws", nil)
		require.NoError(t, err)
		c.login(dom, "carol", "pw3", "carbons")
		c.send("<iq xmlns='jabber:client' type='set' id='c1'><enable xmlns='urn:xmpp:carbons:2'/></iq>")
		c.expect(`^<iq xmlns='jabber:client' .*id="c1"`)
		tcp := goxmpptest.Login(t, s.c2s, "carol@"+dom, "pw3", goxmpptest.Resource("desk"))
		_, err = tcp.Send(goxmpp.Chat{Remote: "bob@" + dom, Type: "chat", Text: "from the desk"})
		require.NoError(t, err)
		c.expect(`^<message xmlns='jabber:client' .*<sent xmlns="urn:xmpp:carbons:2">.*from the desk`)

		c.send("<inactive xmlns='urn:xmpp:csi:0'/>")
		_, err = bob.Send(goxmpp.Chat{Remote: "carol@" + dom + "/carbons", Type: "chat", Text: "while inactive"})
		require.NoError(t, err)
		c.expect(`^<message xmlns='jabber:client' .*<body>while inactive</body>`)
		c.send("<active xmlns='urn:xmpp:csi:0'/>")
	})
}

// TestWebSocketTLSAndKeepalive: https_addr serves wss:// with the
// server's certificate (the generated self-signed one here); the session
// is listed as websocket over TLS, and an idle connection is pinged.
func TestWebSocketTLSAndKeepalive(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *Config) {
		c.HTTPSAddr = "127.0.0.1:0"
		c.WebSocketPingInterval = 50 * time.Millisecond
	})
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=alice&password=pw1"))
	dom := s.boot.Domain
	d := gws.Dialer{Subprotocols: []string{"xmpp"}, HandshakeTimeout: 10 * time.Second,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the test's self-signed certificate
	ws, _, err := d.Dial("wss://"+s.https+"/ws", nil)
	require.NoError(t, err)
	t.Cleanup(func() { ws.Close() })
	c := &wsClient{t: t, ws: ws}
	c.login(dom, "alice", "pw1", "wss")
	var got []string
	for _, ss := range s.app.env.Live.Sessions(dom, "alice") {
		got = append(got, ss.Transport+" tls="+strconv.FormatBool(ss.TLS))
	}
	require.Equal(t, []string{"websocket tls=true"}, got)

	pings := make(chan struct{}, 16)
	ws.SetPingHandler(func(data string) error {
		select {
		case pings <- struct{}{}:
		default:
		}
		return ws.WriteControl(gws.PongMessage, []byte(data), time.Now().Add(time.Second))
	})
	msgs := make(chan string, 16)
	go func() {
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(b)
		}
	}()
	for i := 0; i < 2; i++ {
		select {
		case <-pings:
		case <-time.After(20 * time.Second):
			t.Fatal("no keepalive ping")
		}
	}
	c.send("<message xmlns='jabber:client' to='alice@" + dom + "/wss' type='chat'><body>still here</body></message>")
	select {
	case m := <-msgs:
		require.Contains(t, m, "<body>still here</body>")
	case <-time.After(20 * time.Second):
		t.Fatal("the session did not answer after the pings")
	}
}

// TestWebSocketInsecureRule: without TLS, only loopback peers may
// authenticate unless websocket_insecure_ok is on; others get
// policy-violation after <open/> (STARTTLS has no meaning on a WebSocket).
func TestWebSocketInsecureRule(t *testing.T) {
	t.Parallel()
	ip := nonLoopbackIP()
	if ip == "" {
		t.Skip("no non-loopback IPv4 address on this host to connect from")
	}
	for i, tc := range []struct {
		insecureOK bool
		want       string
	}{
		0: {false, `^<stream:error xmlns:stream='http://etherx.jabber.org/streams'><policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/><text xmlns='urn:ietf:params:xml:ns:xmpp-streams' xml:lang='en'>TLS is required`},
		1: {true, `^<stream:features xmlns:stream='http://etherx.jabber.org/streams'><mechanisms .*<mechanism>PLAIN</mechanism>`},
	} {
		s := startServer(t, func(c *Config) { c.HTTPAddr = ip + ":0"; c.WebSocketInsecureOK = tc.insecureOK })
		c, _, err := s.dialWS(t, "/ws", nil)
		require.NoError(t, err, "%d", i)
		c.send("<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='" + s.boot.Domain + "' version='1.0'/>")
		c.expect(`^<open `)
		c.expect(tc.want)
	}
}

func nonLoopbackIP() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP.String()
		}
	}
	return ""
}
