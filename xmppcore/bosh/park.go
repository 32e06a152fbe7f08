package bosh

import (
	"bytes"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/xmppgate/xmppgate/xmppcore"
)

// A request held the way net/http holds it costs its connection's
// goroutine (its stack grown through the router and the request's
// processing, 8 KiB), the goroutine net/http reads ahead on to notice a
// closed connection, the connection's 4 KiB read and write buffers and
// the response's 2 KiB one: more than half of what an idle BOSH session
// costs (heap and goroutine profiles in bench/peers -profile). So on a
// listener made with Manager.Listen, a request that has to wait takes its
// connection from net/http (Hijack), which drops all of that, and waits as
// a timer and this parkedReq. The answer is written by hand (what write
// would have written, with the headers set before, e.g. CORS), and the
// connection goes back to the server through the listener's Accept, where
// net/http reads its next request as on any new connection.
//
// What a held request's connection no longer has is a reader; instead
// xmppcore.WatchReadable (epoll, no goroutine) tells when the client drops
// it, and the request is abandoned as net/http's read-ahead would have
// had it. Where that is not available (not Linux), a dropped connection
// is noticed when the answer is written, at the latest after the
// session's wait.

// parkedReq is a held request whose connection was hijacked.
type parkedReq struct {
	m     *Manager
	req   *request
	nc    net.Conn
	l     *listener
	hdr   http.Header
	close bool // the client asked for the connection to close, or it cannot go back
	timer *time.Timer
	// counted: in Manager.parked (the request waited parked).
	counted bool
	// unwatch ends xmppcore.WatchReadable's watch of nc.
	unwatch func() bool
}

// parkGrace is how long a request waits on its connection's goroutine
// before that connection is hijacked.
const parkGrace = 10 * time.Millisecond

// hijackWrite bounds writing a held request's answer.
const hijackWrite = 30 * time.Second

// Listen returns ln for srv to serve (srv.Serve): held BOSH requests that
// srv receives on it wait without their connection's goroutine and
// buffers. Close the returned listener (srv.Shutdown does) to close ln.
func (m *Manager) Listen(srv *http.Server, ln net.Listener) net.Listener {
	l := &listener{Listener: ln, in: make(chan accepted), back: make(chan net.Conn), done: make(chan struct{})}
	go l.pump()
	m.mu.Lock()
	if m.listeners == nil {
		m.listeners = map[*http.Server]*listener{}
	}
	m.listeners[srv] = l
	m.mu.Unlock()
	return l
}

// park answers req if that takes no longer than parkGrace, else hijacks
// r's connection to hold it (see above); false: net/http holds it (HTTP/2,
// a server not made with Listen, a request asking to close its
// connection, one queued for its rid's turn).
func (m *Manager) park(w http.ResponseWriter, r *http.Request, s *Session, req *request) bool {
	if r.ProtoMajor != 1 || r.ProtoMinor < 1 || r.Close {
		return false
	}
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	m.mu.Lock()
	l := m.listeners[srv]
	m.mu.Unlock()
	if l == nil {
		return false
	}
	// Most answers come within moments (a login step, a reply in a
	// conversation): those are written as usual, sparing the hijack and
	// the connection's return.
	g := time.NewTimer(parkGrace)
	select {
	case <-req.done:
		g.Stop()
		write(w, req.resp)
		return true
	case <-g.C:
	}
	s.mu.Lock()
	// Only a held request: its wait starts now, while one queued for its
	// rid's turn stays with net/http (rare: requests out of order).
	held := slices.Contains(s.held, req)
	s.mu.Unlock()
	if !held {
		return false
	}
	// A hijacked connection goes back as it is: a body not read to its
	// end (Parse reads to EOF) would be taken for the next request.
	if n, _ := io.CopyN(io.Discard, r.Body, 1); n > 0 {
		return false
	}
	hdr := w.Header().Clone()
	if hdr == nil {
		hdr = http.Header{}
	}
	nc, brw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return false
	}
	if tc, ok := nc.(*tls.Conn); ok {
		// Nothing reads it until the answer: crypto/tls's read buffers
		// (the handshake's and the request's records) need not stay.
		xmppcore.ReleaseTLSBuffers(tc)
	}
	p := &parkedReq{m: m, req: req, nc: nc, l: l, hdr: hdr,
		// Bytes read ahead (a pipelined request) cannot go back into the
		// connection: it is answered and closed. Browsers do not pipeline.
		close: brw.Reader.Buffered() > 0}
	s.mu.Lock()
	if req.answered {
		s.mu.Unlock()
		go p.finish()
		return true
	}
	p.timer = time.AfterFunc(s.wait, func() { s.timeout(req) })
	// What net/http's read-ahead did: a client that drops the connection
	// (or, against HTTP/1.1 usage, sends more) gets its request answered
	// at once, so the inactivity clock starts.
	if stop, ok := xmppcore.WatchReadable(nc, func() { s.abandon(req) }); ok {
		p.unwatch = stop
	}
	req.parked = p
	m.parked.Add(1)
	p.counted = true
	s.mu.Unlock()
	return true
}

// finish writes the answer and hands the connection back to the server.
func (p *parkedReq) finish() {
	if p.counted {
		p.m.parked.Add(-1)
	}
	if p.timer != nil {
		p.timer.Stop()
	}
	if p.unwatch != nil {
		p.unwatch() // before the connection is closed or goes back
	}
	resp := p.req.resp
	h := p.hdr
	if resp.body != nil {
		h.Set("Content-Type", "text/xml; charset=utf-8")
		h.Set("Cache-Control", "no-store")
	} // else a repeat of the rid answers instead, and this request gets an empty 200, as from write
	if resp.status == 0 {
		resp.status = 200
	}
	h.Set("Content-Length", strconv.Itoa(len(resp.body)))
	h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	if p.close {
		h.Set("Connection", "close")
	}
	var b bytes.Buffer
	b.Grow(256 + len(resp.body))
	b.WriteString("HTTP/1.1 " + strconv.Itoa(resp.status) + " " + http.StatusText(resp.status) + "\r\n")
	h.Write(&b)
	b.WriteString("\r\n")
	b.Write(resp.body)
	p.nc.SetWriteDeadline(time.Now().Add(hijackWrite))
	_, err := p.nc.Write(b.Bytes())
	if err != nil || p.close {
		p.nc.Close()
		return
	}
	p.nc.SetDeadline(time.Time{})
	p.l.give(p.nc)
}

// listener is a server's listener that also accepts the connections of
// answered parked requests back.
type listener struct {
	net.Listener
	in   chan accepted
	back chan net.Conn
	once sync.Once
	done chan struct{}
	// err is the listener's last error, returned by every Accept once
	// the pump ended (set before in is closed).
	err error
}

type accepted struct {
	c   net.Conn
	err error
}

// pump accepts from the listener beneath, as Accept cannot wait for it
// and for returning connections at once otherwise.
func (l *listener) pump() {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			if te, ok := err.(interface{ Temporary() bool }); ok && te.Temporary() {
				l.send(accepted{nil, err}) // the server backs off and retries
				continue
			}
			l.err = err
			close(l.in)
			return
		}
		if !l.send(accepted{c, nil}) {
			c.Close()
		}
	}
}

func (l *listener) send(a accepted) bool {
	select {
	case l.in <- a:
		return true
	case <-l.done:
		return false
	}
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case a, ok := <-l.in:
		if !ok {
			return nil, l.err
		}
		return a.c, a.err
	case c := <-l.back:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

// give hands c back to the server; closed once the listener is.
func (l *listener) give(c net.Conn) {
	select {
	case l.back <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *listener) Close() error {
	err := net.ErrClosed
	l.once.Do(func() {
		close(l.done)
		err = l.Listener.Close()
	})
	return err
}
