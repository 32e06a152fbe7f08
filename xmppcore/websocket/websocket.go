// Package websocket implements RFC 7395: XMPP over WebSocket, as an HTTP
// handler that hands each connection to xmppcore.Server.ServeFramed. It
// only frames: one XMPP element per WebSocket text message each way,
// keepalive pings, and the close frame after the stream's <close/>.
//
// gorilla/websocket is used rather than coder/websocket: it needs no
// goroutine per connection (coder/websocket keeps one for context
// handling), takes a fixed small read buffer and a write buffer pool, so
// an idle session holds a few hundred bytes of buffers, and its blocking
// Read/Write fit the net.Conn that ServeFramed reads from.
package websocket

import (
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	gws "github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/xmppcore"
)

// Protocol is the WebSocket subprotocol of RFC 7395.
const Protocol = "xmpp"

// Paths are where the handler is mounted: ejabberd's and Prosody's.
var Paths = []string{"/ws", "/xmpp-websocket"}

// Handler upgrades requests to XMPP WebSocket sessions.
type Handler struct {
	Server *xmppcore.Server
	// InsecureOK says whether a request that did not come over TLS may
	// authenticate (websocket_insecure_ok; nil: loopback peers only).
	InsecureOK func(r *http.Request) bool
	// CheckOrigin says whether a page of the request's Origin may connect
	// (browsers apply no CORS to WebSockets); nil allows any.
	CheckOrigin func(r *http.Request) bool
	// PingInterval is how often an idle connection is pinged (default
	// 60 s, ejabberd's websocket_ping_interval); the pongs keep a session
	// that only listens from its idle timeout.
	PingInterval time.Duration
	// IdleTimeout is the session's idle timeout, moved on by each pong
	// (xmppcore.Config.IdleTimeout; default 10 minutes).
	IdleTimeout time.Duration
	Log         *zap.Logger
}

// writeBuffers are shared by all connections: a buffer is held only while
// a message is written, not by every idle session.
var writeBuffers sync.Pool

// ServeHTTP answers a plain GET with a short note and refuses, as Prosody
// does, a handshake that does not offer the xmpp subprotocol (501) or comes
// from a page whose origin is not allowed (403).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	log := h.Log
	if log == nil {
		log = zap.NewNop()
	}
	if !gws.IsWebSocketUpgrade(r) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "XMPP over WebSocket (RFC 7395): connect with a WebSocket client, subprotocol xmpp.\n")
		return
	}
	if !offers(r, Protocol) {
		http.Error(w, "the WebSocket subprotocol xmpp is required", http.StatusNotImplemented)
		return
	}
	if h.CheckOrigin != nil && !h.CheckOrigin(r) {
		log.Debug("websocket origin refused", zap.String("origin", r.Header.Get("Origin")))
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	up := gws.Upgrader{
		// 512: the session's own reader buffers ahead; a bigger buffer
		// would stay with every idle connection.
		ReadBufferSize: 512, WriteBufferSize: 2048, WriteBufferPool: &writeBuffers,
		Subprotocols: []string{Protocol},
		CheckOrigin:  func(*http.Request) bool { return true }, // checked above
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			http.Error(w, reason.Error(), status)
		},
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered the request
	}
	insecure := h.InsecureOK
	if insecure == nil {
		insecure = Loopback
	}
	c := newConn(ws, h.PingInterval, h.IdleTimeout)
	f := xmppcore.Framed{Kind: xmppcore.TransportWebSocket, TLS: r.TLS != nil, InsecureOK: insecure(r)}
	if err := h.Server.ServeFramed(c, f); err != nil {
		log.Debug("websocket session refused", zap.Error(err))
	}
}

// Loopback reports whether the request comes from this host.
func Loopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// offers reports whether the handshake lists protocol among its
// Sec-WebSocket-Protocol values.
func offers(r *http.Request, protocol string) bool {
	for _, p := range gws.Subprotocols(r) {
		if p == protocol {
			return true
		}
	}
	return false
}

// conn is a WebSocket as the net.Conn ServeFramed reads: the messages'
// payloads one after the other, each Write one text message.
type conn struct {
	ws  *gws.Conn
	cur io.Reader // the message being read; nil between messages
	// wmu serialises writes with their deadline, a plain field in
	// gorilla: the session sets it from more than one goroutine (its
	// negotiation deadline, and a kick's stream error).
	wmu sync.Mutex

	ping     *time.Timer
	interval time.Duration
	idle     time.Duration
	once     sync.Once
}

func newConn(ws *gws.Conn, interval, idle time.Duration) *conn {
	if interval <= 0 {
		interval = 60 * time.Second
	}
	if idle <= 0 {
		idle = 10 * time.Minute
	}
	c := &conn{ws: ws, interval: interval, idle: idle}
	ws.SetPongHandler(func(string) error {
		// A client that answers pings is there, even if it says nothing.
		return ws.SetReadDeadline(time.Now().Add(c.idle))
	})
	c.ping = time.AfterFunc(interval, c.keepalive)
	return c
}

func (c *conn) keepalive() {
	// WriteControl may run beside the session's writes (gorilla allows
	// it); a failure means the peer is gone, and the read then fails.
	if err := c.ws.WriteControl(gws.PingMessage, nil, time.Now().Add(10*time.Second)); err != nil {
		return
	}
	c.ping.Reset(c.interval)
}

// Read returns message payloads as one stream. RFC 7395 asks for text
// frames; a binary one is read the same, as Prosody does. A close frame
// or a broken connection is io.EOF or the network error: a lost
// transport to the session.
func (c *conn) Read(p []byte) (int, error) {
	for {
		if c.cur == nil {
			_, r, err := c.ws.NextReader()
			if err != nil {
				var ce *gws.CloseError
				if errors.As(err, &ce) {
					return 0, io.EOF
				}
				return 0, err
			}
			c.cur = r
		}
		n, err := c.cur.Read(p)
		if errors.Is(err, io.EOF) {
			c.cur = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

// Write sends p, one element, as one text message.
func (c *conn) Write(p []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(gws.TextMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close sends the close frame (normal closure: the session wrote its
// <close/> or a stream error before) and closes the connection.
func (c *conn) Close() error {
	var err error
	c.once.Do(func() {
		c.ping.Stop()
		c.ws.WriteControl(gws.CloseMessage, gws.FormatCloseMessage(gws.CloseNormalClosure, ""),
			time.Now().Add(time.Second))
		err = c.ws.Close()
	})
	return err
}

func (c *conn) LocalAddr() net.Addr               { return c.ws.LocalAddr() }
func (c *conn) RemoteAddr() net.Addr              { return c.ws.RemoteAddr() }
func (c *conn) SetReadDeadline(t time.Time) error { return c.ws.SetReadDeadline(t) }
func (c *conn) SetWriteDeadline(t time.Time) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.SetWriteDeadline(t)
}

func (c *conn) SetDeadline(t time.Time) error {
	c.SetWriteDeadline(t)
	return c.ws.SetReadDeadline(t)
}

var _ net.Conn = (*conn)(nil)
