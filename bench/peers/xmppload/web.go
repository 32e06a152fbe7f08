package xmppload

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	gws "github.com/gorilla/websocket"
)

// Web sessions: XMPP over WebSocket (RFC 7395) and over BOSH (XEP-0124,
// XEP-0206), logged in with the same SCRAM-SHA-1, bind, presence and ping
// as a TCP session (no STARTTLS: plain ws:// and http:// on loopback, which
// every server here accepts as secure enough for SASL).

const (
	nsFraming = "urn:ietf:params:xml:ns:xmpp-framing"
	nsBOSH    = "http://jabber.org/protocol/httpbind"
)

// framedWire is a wire whose stream is opened (and reopened after SASL) by
// a message of its framing instead of a stream header.
type framedWire interface {
	wire
	open(domain string) error
}

// webLogin runs the login over an opened framing; a.URL is the endpoint.
func webLogin(w framedWire, a Account, cache *ScramCache) (*Conn, error) {
	c := &Conn{w: w, ns: " xmlns='jabber:client'"}
	if err := w.open(a.Domain); err != nil {
		return nil, err
	}
	f, err := c.features()
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(f, []byte(">SCRAM-SHA-1<")) {
		return nil, fmt.Errorf("SCRAM-SHA-1 not offered: %.300s", f)
	}
	if err := c.scram(a, cache); err != nil {
		return nil, err
	}
	if err := w.open(a.Domain); err != nil {
		return nil, err
	}
	if f, err = c.features(); err != nil {
		return nil, err
	}
	return c, c.bind(f, a.Domain)
}

// features waits for the stream features (prefixed or not: the framings
// declare the stream namespace on the element itself).
func (c *Conn) features() ([]byte, error) {
	el, err := c.w.next()
	if err != nil {
		return nil, fmt.Errorf("waiting for the stream features: %w", err)
	}
	if n := name(el); n != "stream:features" && n != "features" {
		return nil, fmt.Errorf("expected the stream features, got %.300s", el)
	}
	return el, nil
}

// wsDialer keeps the client's buffers small: 10,000 idle sessions are
// held in this process too.
var wsDialer = gws.Dialer{Subprotocols: []string{"xmpp"}, HandshakeTimeout: 30 * time.Second,
	ReadBufferSize: 1024, WriteBufferSize: 1024}

// LoginWS logs a.User in over the WebSocket endpoint a.URL (ws://…).
func LoginWS(a Account, cache *ScramCache, timeout time.Duration) (*Conn, error) {
	ws, resp, err := wsDialer.Dial(a.URL, nil)
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("%w (HTTP %s)", err, resp.Status)
		}
		return nil, fmt.Errorf("login %s@%s over %s: %w", a.User, a.Domain, a.URL, err)
	}
	w := &wsWire{ws: ws}
	w.setDeadline(time.Now().Add(timeout))
	c, err := webLogin(w, a, cache)
	if err != nil {
		ws.Close()
		return nil, fmt.Errorf("login %s@%s over %s: %w", a.User, a.Domain, a.URL, err)
	}
	w.setDeadline(time.Time{})
	return c, nil
}

// wsWire is RFC 7395: one element per WebSocket message, <open/> and
// <close/> in place of the stream header and its end.
type wsWire struct {
	ws     *gws.Conn
	closed atomic.Bool // by us: Hold's read ends without an error
}

func (w *wsWire) open(domain string) error {
	return w.ws.WriteMessage(gws.TextMessage, []byte("<open xmlns='"+nsFraming+"' to='"+domain+"' version='1.0'/>"))
}

func (w *wsWire) next() ([]byte, error) {
	for {
		_, b, err := w.ws.ReadMessage()
		if err != nil {
			return nil, err
		}
		b = bytes.TrimSpace(b)
		switch {
		case len(b) == 0, bytes.HasPrefix(b, []byte("<open")):
			continue // keep-alive, the server's stream header
		case bytes.HasPrefix(b, []byte("<close")):
			return nil, ErrStreamClosed
		}
		return b, nil
	}
}

func (w *wsWire) add(el []byte) error { return w.ws.WriteMessage(gws.TextMessage, el) }
func (w *wsWire) flush() error        { return nil }

func (w *wsWire) setDeadline(d time.Time) {
	w.ws.SetReadDeadline(d)
	w.ws.SetWriteDeadline(d)
}

func (w *wsWire) bye() error {
	w.closed.Store(true)
	w.ws.SetWriteDeadline(time.Now().Add(2 * time.Second))
	w.ws.WriteMessage(gws.TextMessage, []byte("<close xmlns='"+nsFraming+"'/>"))
	return w.ws.Close()
}

func (w *wsWire) abort() error {
	w.closed.Store(true)
	return w.ws.Close()
}

// NewBOSHClient is an HTTP client for n BOSH sessions: each keeps a request
// held by the server, hence a connection of its own.
func NewBOSHClient(n int) *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n + 100, DisableCompression: true,
		IdleConnTimeout: 10 * time.Minute}}
}

// LoginBOSH logs a.User in over the BOSH endpoint a.URL (http://…) with
// hold=1 and the given wait; the session's requests go through hc.
func LoginBOSH(hc *http.Client, a Account, wait time.Duration, cache *ScramCache, timeout time.Duration) (*Conn, error) {
	w := &boshWire{hc: hc, url: a.URL, wait: int(wait.Seconds()), rid: rand.Int64N(1 << 40), timeout: timeout}
	w.ctx, w.cancel = context.WithCancel(context.Background())
	c, err := webLogin(w, a, cache)
	if err != nil {
		return nil, fmt.Errorf("login %s@%s over %s: %w", a.User, a.Domain, a.URL, err)
	}
	return c, nil
}

// boshWire is XEP-0124/0206: each flush is one request carrying the queued
// elements; next polls with empty requests until the server has something.
// It is not safe for concurrent use.
type boshWire struct {
	hc      *http.Client
	url     string
	sid     string
	rid     int64
	wait    int
	timeout time.Duration
	out     []byte   // queued elements
	in      [][]byte // received elements not yet returned
	ctx     context.Context
	cancel  context.CancelFunc
	mu      sync.Mutex // Hold against bye
}

// post sends one <body/> with attrs and payload and queues the elements of
// the answer.
func (w *boshWire) post(attrs string, payload []byte) error {
	w.rid++
	var b bytes.Buffer
	fmt.Fprintf(&b, "<body xmlns='%s' rid='%d'", nsBOSH, w.rid)
	if w.sid != "" {
		fmt.Fprintf(&b, " sid='%s'", w.sid)
	}
	b.WriteString(attrs)
	b.WriteString(">")
	b.Write(payload)
	b.WriteString("</body>")
	ctx, cancel := context.WithTimeout(w.ctx, w.timeout+time.Duration(w.wait)*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, &b)
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	resp, err := w.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("BOSH: HTTP %s %.200s", resp.Status, raw)
	}
	els, sid, err := BOSHBody(raw)
	if err != nil {
		return err
	}
	if w.sid == "" {
		if sid == "" {
			return fmt.Errorf("BOSH: no sid in %.300s", raw)
		}
		w.sid = sid
	}
	w.in = append(w.in, els...)
	return nil
}

// BOSHBody splits a BOSH response into its elements (copies) and the
// session id it names; a terminating body is an error with its condition.
func BOSHBody(raw []byte) (els [][]byte, sid string, err error) {
	raw = bytes.TrimSpace(raw)
	if !bytes.HasPrefix(raw, []byte("<body")) && !bytes.HasPrefix(raw, []byte("<?xml")) {
		return nil, "", fmt.Errorf("BOSH: not a <body/>: %.200s", raw)
	}
	if i := bytes.Index(raw, []byte("<body")); i >= 0 {
		head := raw[i:]
		if attr(head, "type") == "terminate" {
			return nil, "", fmt.Errorf("BOSH: session terminated (condition %q): %.300s", attr(head, "condition"), raw)
		}
		sid = attr(head, "sid")
	}
	sc := newScanner(bufio.NewReader(bytes.NewReader(raw)))
	for {
		el, err := sc.Next()
		if errors.Is(err, ErrStreamClosed) || errors.Is(err, io.EOF) {
			return els, sid, nil
		}
		if err != nil {
			return nil, "", fmt.Errorf("BOSH: %w", err)
		}
		els = append(els, bytes.Clone(el))
	}
}

// open creates the session (with hold=1) or restarts its stream.
func (w *boshWire) open(domain string) error {
	if w.sid == "" {
		return w.post(" to='"+domain+"' wait='"+strconv.Itoa(w.wait)+"' hold='1' ver='1.11' xml:lang='en'"+
			" xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'", nil)
	}
	return w.post(" to='"+domain+"' xml:lang='en' xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh'", nil)
}

func (w *boshWire) next() ([]byte, error) {
	for len(w.in) == 0 {
		if err := w.post("", nil); err != nil {
			return nil, err
		}
	}
	el := w.in[0]
	w.in = w.in[1:]
	return el, nil
}

func (w *boshWire) add(el []byte) error {
	w.out = append(w.out, el...)
	return nil
}

func (w *boshWire) flush() error {
	out := w.out
	w.out = nil
	return w.post("", out)
}

func (w *boshWire) setDeadline(time.Time) {} // every request has its own timeout

func (w *boshWire) bye() error {
	w.cancel() // a held request of Hold
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ctx, w.cancel = context.WithTimeout(context.Background(), 10*time.Second)
	defer w.cancel()
	return w.post(" type='terminate'", []byte("<presence type='unavailable' xmlns='jabber:client'/>"))
}

func (w *boshWire) abort() error {
	w.cancel()
	return nil
}

// Hold keeps an idle web session alive as a browser's would, until Close
// or until the transport fails (which it returns): over BOSH one empty
// request stays held by the server; over WebSocket the session is read, so
// the server's pings are answered. What the server sends is dropped.
func (c *Conn) Hold() error {
	switch w := c.w.(type) {
	case *boshWire:
		w.mu.Lock()
		defer w.mu.Unlock()
		for w.ctx.Err() == nil {
			w.in = w.in[:0]
			if err := w.post("", nil); err != nil {
				if w.ctx.Err() != nil {
					return nil
				}
				return err
			}
		}
		return nil
	case *wsWire:
		for {
			if _, err := w.next(); err != nil {
				if w.closed.Load() {
					return nil
				}
				return err
			}
		}
	}
	return errors.New("xmppload: Hold is for web sessions")
}

// Holds are the Hold loops of HoldAll.
type Holds struct {
	wg     sync.WaitGroup
	failed atomic.Int64
	once   sync.Once
	first  error
}

// HoldAll runs Hold for every web session.
func HoldAll(conns []*Conn) *Holds {
	h := &Holds{}
	for _, c := range conns {
		if c != nil {
			h.Hold(c)
		}
	}
	return h
}

// Hold runs c.Hold in a loop of its own: called right after each login, a
// session is idle as a client's is from the start (BOSH servers end a
// session without a held request after their inactivity time, 30 s in
// ejabberd, which a long login run exceeds).
func (h *Holds) Hold(c *Conn) {
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if err := c.Hold(); err != nil {
			h.failed.Add(1)
			h.once.Do(func() { h.first = err })
		}
	}()
}

// Failed is the number of sessions whose transport failed so far (the
// server dropped them).
func (h *Holds) Failed() int { return int(h.failed.Load()) }

// Wait waits until every loop ended (after CloseAll) and returns the first
// error.
func (h *Holds) Wait() error {
	h.wg.Wait()
	return h.first
}
