package bosh

import (
	"bytes"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore"
)

// nsFraming is RFC 7395's framing namespace, which xmppcore.ServeFramed
// reads and writes; BOSH's restart and terminate are turned into it.
const nsFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// XMPP opens BOSH sessions as c2s sessions of an xmppcore.Server: the same
// session a TCP or WebSocket client gets, with BOSH's framing.
type XMPP struct {
	Server *xmppcore.Server
	// InsecureOK says whether a request that did not come over TLS may
	// authenticate (websocket_insecure_ok covers BOSH too); nil:
	// loopback peers only.
	InsecureOK func(r *http.Request) bool
}

// Open checks the domain (hosted, enabled, modHttpBind on) so that a
// refused session gets BOSH's host-unknown rather than a stream error,
// then starts the c2s session with the creation request's to and
// xmpp:version as its <open/>.
func (x XMPP) Open(s *Session, b *Body, r *http.Request) (Stream, error) {
	j, err := jid.Parse(b.To)
	if err != nil || j.Localpart() != "" || j.Resourcepart() != "" || !x.Server.WebDomain(j.Domainpart()) {
		return nil, &Error{Cond: HostUnknown, Text: b.To}
	}
	insecure := x.InsecureOK
	if insecure == nil {
		insecure = loopback
	}
	c := &framedConn{s: s, to: b.To, wake: make(chan struct{}, 1), remote: remoteAddr(r.RemoteAddr)}
	version := b.XMPPVersion
	if version == "" {
		version = "1.0" // XEP-0206 clients all send it; an old one means 1.0 too
	}
	c.open(version)
	f := xmppcore.Framed{Kind: xmppcore.TransportBOSH, TLS: r.TLS != nil, InsecureOK: insecure(r)}
	if err := x.Server.ServeFramed(c, f); err != nil {
		return nil, &Error{Cond: SystemShutdown, Text: err.Error()}
	}
	return c, nil
}

func loopback(r *http.Request) bool {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	return err == nil && ap.Addr().IsLoopback()
}

func remoteAddr(s string) net.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return nil
}

// framedConn is a BOSH session as the net.Conn xmppcore.ServeFramed reads
// and writes: the client's payloads one after the other (a restart an
// <open/>, a termination a <close/>), and each element the session
// writes queued for the client's requests.
type framedConn struct {
	s      *Session
	to     string
	remote net.Addr

	mu sync.Mutex
	in bytes.Buffer
	// eof: the HTTP side ended without the client closing the stream (a
	// lost transport to the session); closed: Close was called.
	eof, closed bool
	// rdl is the read deadline; idle is the idle timeout it was set
	// with (SetReadDeadline), which every client request moves on, as a
	// WebSocket pong does. A deadline set with SetDeadline (negotiation)
	// does not move.
	rdl  time.Time
	idle time.Duration
	wake chan struct{}
	// parked wakes the session while it waits with no goroutine of its
	// own (ParkInput); parkTimer calls it at the read deadline.
	parked    func()
	parkTimer *time.Timer
}

func (c *framedConn) open(version string) {
	c.in.WriteString("<open xmlns='" + nsFraming + "' version='")
	xml.EscapeText(&c.in, []byte(version))
	c.in.WriteString("' to='")
	xml.EscapeText(&c.in, []byte(c.to))
	c.in.WriteString("'/>")
}

func (c *framedConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
	c.unpark()
}

// readyLocked is InputReady with c.mu held.
func (c *framedConn) readyLocked() bool { return c.in.Len() > 0 || c.closed || c.eof }

func (c *framedConn) expiredLocked() bool { return !c.rdl.IsZero() && !time.Now().Before(c.rdl) }

// ParkInput lets the session wait with no goroutine (xmppcore's
// inputParker): an idle BOSH session is then its state alone, woken by
// the request that brings it input or by its read deadline.
func (c *framedConn) ParkInput(wake func()) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.readyLocked() || c.expiredLocked() {
		return false
	}
	c.parked = wake
	c.armParkLocked()
	return true
}

// armParkLocked sets the timer that wakes a parked session at its read
// deadline (one timer per session, reused).
func (c *framedConn) armParkLocked() {
	switch {
	case c.rdl.IsZero():
		if c.parkTimer != nil {
			c.parkTimer.Stop()
		}
	case c.parkTimer == nil:
		c.parkTimer = time.AfterFunc(time.Until(c.rdl), c.unpark)
	default:
		c.parkTimer.Reset(time.Until(c.rdl))
	}
}

// unpark wakes a parked session once it has input or its deadline passed;
// a deadline that only moved re-arms the timer.
func (c *framedConn) unpark() {
	c.mu.Lock()
	wake := c.parked
	if wake == nil {
		c.mu.Unlock()
		return
	}
	if !c.readyLocked() && !c.expiredLocked() {
		c.armParkLocked()
		c.mu.Unlock()
		return
	}
	c.parked = nil
	if c.parkTimer != nil {
		c.parkTimer.Stop()
	}
	c.mu.Unlock()
	wake()
}

// Receive implements Stream.
func (c *framedConn) Receive(els []*xmlel.Element) {
	c.mu.Lock()
	for _, el := range els {
		el.WriteTo(&c.in, "")
	}
	if c.idle > 0 {
		c.rdl = time.Now().Add(c.idle)
	}
	c.mu.Unlock()
	c.signal()
}

// Restart implements Stream.
func (c *framedConn) Restart() {
	c.mu.Lock()
	c.open("1.0")
	c.mu.Unlock()
	c.signal()
}

// End implements Stream: a client's termination closes the stream, any
// other end is a lost transport (a session with stream management waits
// for its resumption).
func (c *framedConn) End(byClient bool) {
	c.mu.Lock()
	if byClient {
		c.in.WriteString("<close xmlns='" + nsFraming + "'/>")
	} else {
		c.eof = true
	}
	c.mu.Unlock()
	c.signal()
}

func (c *framedConn) Read(p []byte) (int, error) {
	if err := c.WaitInput(); err != nil {
		return 0, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.in.Len() > 0:
		n, _ := c.in.Read(p)
		if c.in.Len() == 0 {
			c.in = bytes.Buffer{} // an idle session keeps no buffer
		}
		return n, nil
	case c.closed:
		return 0, net.ErrClosed
	}
	return 0, io.EOF
}

// InputReady reports whether a Read would return at once (xmppcore's idle
// wait: with nothing to read, the session parks with ParkInput, or where
// it cannot, a fresh goroutine with a small stack waits in WaitInput).
func (c *framedConn) InputReady() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.readyLocked()
}

// WaitInput blocks until InputReady, or fails with
// os.ErrDeadlineExceeded (a net.Error that times out, as a socket's) once
// the read deadline passed.
func (c *framedConn) WaitInput() error {
	for {
		c.mu.Lock()
		ready := c.readyLocked()
		dl := c.rdl
		c.mu.Unlock()
		if ready {
			return nil
		}
		if dl.IsZero() {
			<-c.wake
			continue
		}
		d := time.Until(dl)
		if d <= 0 {
			return os.ErrDeadlineExceeded
		}
		t := time.NewTimer(d)
		select {
		case <-c.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// Write takes one element of the session: its <open/> gives the stream's
// id and domain to the next response, a stream error or <close/> ends the
// BOSH session (XEP-0206: remote-stream-error carrying the error), the
// rest goes to the client as it is.
func (c *framedConn) Write(p []byte) (int, error) {
	switch {
	case bytes.HasPrefix(p, []byte("<open ")):
		from, id := openAttrs(p)
		c.s.StreamOpened(from, id)
		return len(p), nil
	case bytes.HasPrefix(p, []byte("<close ")):
		c.s.Terminate("", nil)
		return len(p), nil
	case bytes.HasPrefix(p, []byte("<stream:error")):
		c.s.Terminate(RemoteStreamError, p)
		return len(p), nil
	}
	if err := c.s.Write(p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func openAttrs(p []byte) (from, id string) {
	tok, err := xml.NewDecoder(bytes.NewReader(p)).Token()
	if st, ok := tok.(xml.StartElement); ok && err == nil {
		for _, a := range st.Attr {
			switch a.Name.Local {
			case "from":
				from = a.Value
			case "id":
				id = a.Value
			}
		}
	}
	return from, id
}

// Close is the session's end of the transport: if the session did not
// end the BOSH side itself (with <close/> or a stream error), it lost it
// (e.g. a write failed), and the client is told.
func (c *framedConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.signal()
	c.s.Terminate(RemoteConnectionFailed, nil)
	return nil
}

func (c *framedConn) LocalAddr() net.Addr  { return nil }
func (c *framedConn) RemoteAddr() net.Addr { return c.remote }

func (c *framedConn) SetDeadline(t time.Time) error {
	c.setReadDeadline(t, false)
	return nil
}

func (c *framedConn) SetReadDeadline(t time.Time) error {
	c.setReadDeadline(t, true)
	return nil
}

func (c *framedConn) setReadDeadline(t time.Time, idle bool) {
	c.mu.Lock()
	c.rdl, c.idle = t, 0
	if idle && !t.IsZero() {
		c.idle = time.Until(t)
	}
	c.mu.Unlock()
	c.signal()
}

// SetWriteDeadline is a no-op: a write only queues (bounded by
// Config.MaxPending).
func (c *framedConn) SetWriteDeadline(time.Time) error { return nil }

var (
	_ net.Conn = (*framedConn)(nil)
	_ Stream   = (*framedConn)(nil)
)
