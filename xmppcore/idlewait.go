package xmppcore

import (
	"bufio"
	"crypto/tls"
	"errors"
	"io"
	"os"
	"sync"
	"time"
)

// An idle session is mostly its read goroutine's stack. Reading a stanza
// (TLS record, XML decoder, element tree) grows that stack to 8 KiB, and a
// goroutine blocked inside that read keeps it. So when nothing is there to
// read, the goroutine hands the session to a fresh one (errHandOff,
// session in c2s.go) and ends; the fresh one, with the runtime's smallest
// stack, waits for the socket in a shallow frame, then reads on (growing
// its stack only while it works). Under load the next stanza is mostly
// there already, and nothing is handed off.

// idleGrace is how long a session that has just worked waits for its
// next stanza on the goroutine it has before handing off. A client in a
// conversation (a join's presence, then the new room's form; a sender
// whose next message follows the last one's delivery) mostly answers
// within it, and each hand-off avoided spares the fresh goroutine's stack
// growing back (runtime.copystack was a tenth of the server's CPU in a
// profile of joins into new rooms); a session that stays idle parks this
// much later, which costs nothing measurable.
const idleGrace = 5 * time.Millisecond

// errHandOff ends a read loop that is about to wait: session continues it
// on a fresh goroutine.
var errHandOff = errors.New("xmppcore: idle, continue on a fresh goroutine")

// idleWait returns once input is there to read: bytes buffered in the
// reader, plaintext TLS decrypted ahead, or the socket readable (data,
// EOF or an error, which the read that follows reports). Whitespace
// keepalives between stanzas are consumed here, so they do not leave the
// XML decoder blocked mid-text either. It returns an error only when the
// idle timeout expires while waiting.
func (c *conn) idleWait() error {
	c.br.acquire()
	for {
		if c.br.Buffered() == 0 {
			if err := c.awaitInput(); err != nil {
				return err
			}
		}
		b, err := c.br.Peek(1)
		if err != nil {
			return nil // the read that follows reports it
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			c.br.ReadByte()
			c.lim.reset()
		default:
			return nil
		}
	}
}

// awaitInput waits until the transport has input, without reading it. It
// returns at once when the wait cannot be done shallowly (a transport
// other than TLS over a socket or an inputWaiter).
func (c *conn) awaitInput() error {
	if w, ok := c.lim.conn.(inputWaiter); ok {
		return c.awaitQueued(w)
	}
	tc, ok := c.lim.conn.(*tls.Conn)
	if !ok {
		return nil
	}
	if c.fresh {
		// The goroutine before found nothing to read and armed the idle
		// deadline: only the wait is left, kept shallow.
		c.fresh = false
		err := waitReadable(tc.NetConn())
		if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
			// Idle for too long: a lost transport, as when a read times
			// out (end maps it to connection-timeout; a resumable session
			// hibernates).
			c.lim.err = err
			return err
		}
		return nil
	}
	// TLS may hold plaintext it decrypted ahead of what was asked for; the
	// socket would not signal it. A read with a short deadline takes it, or
	// what arrives within idleGrace, or times out without touching the
	// stream (crypto/tls keeps timeouts non-fatal, a partial record stays
	// buffered).
	c.lim.set = time.Now() // keeps limitReader from moving the deadline
	tc.SetReadDeadline(c.lim.set.Add(idleGrace))
	_, err := c.br.Peek(1)
	c.lim.set, c.lim.err = time.Time{}, nil // the next read re-arms the idle deadline
	if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
		tc.SetReadDeadline(time.Time{})
		return nil
	}
	var deadline time.Time
	if c.lim.idle > 0 {
		deadline = time.Now().Add(c.lim.idle)
	}
	tc.SetReadDeadline(deadline)
	if ready, ok := readable(tc.NetConn()); ok && !ready {
		releaseTLSBuffers(tc) // nothing buffered: tlsidle.go
		return errHandOff
	}
	return nil // input is there (or this platform cannot tell): read it
}

// handsOff reports whether the session's goroutine ends when it goes
// idle (awaitInput's errHandOff): a TLS socket where it can be peeked, or
// an inputWaiter.
func (c *conn) handsOff() bool {
	switch c.lim.conn.(type) {
	case *tls.Conn:
		return peekable
	case inputWaiter:
		return true
	}
	return false
}

// park hands the session, idle with nothing buffered, to the idle poller;
// false means its goroutine must wait instead.
func (c *conn) park() bool {
	tc, ok := c.lim.conn.(*tls.Conn)
	if !ok {
		return false
	}
	c.br.release() // before: once parked, the session may already run elsewhere
	return idle.park(c, tc)
}

// readBuf is a session's buffered reader, as its XML decoder reads it. The
// bufio.Reader under it (512 bytes and its header, 0.6 KiB) goes back to a
// pool while the session is parked with nothing buffered; idleWait takes
// one again before reading.
type readBuf struct {
	*bufio.Reader
	src io.Reader
}

var readerPool = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 512) }}

func newReadBuf(src io.Reader) *readBuf {
	r := &readBuf{src: src}
	r.acquire()
	return r
}

func (r *readBuf) acquire() {
	if r.Reader == nil {
		br := readerPool.Get().(*bufio.Reader)
		br.Reset(r.src)
		r.Reader = br
	}
}

func (r *readBuf) release() {
	if r.Reader != nil && r.Buffered() == 0 {
		r.Reset(nil)
		readerPool.Put(r.Reader)
		r.Reader = nil
	}
}

// inputWaiter is a transport whose input is queued in memory (a BOSH
// session, xmppcore/bosh) and that can wait for it without reading.
type inputWaiter interface {
	// InputReady reports whether a Read would return at once.
	InputReady() bool
	// WaitInput blocks until InputReady, honouring the read deadline
	// (os.ErrDeadlineExceeded once it passed).
	WaitInput() error
}

// awaitQueued is awaitInput for an inputWaiter: the same hand-off to a
// fresh goroutine as for TLS, with the idle deadline armed here.
func (c *conn) awaitQueued(w inputWaiter) error {
	if c.fresh {
		c.fresh = false
		if err := w.WaitInput(); err != nil {
			c.lim.err = err
			return err
		}
		return nil
	}
	if w.InputReady() {
		return nil
	}
	if c.lim.idle > 0 {
		c.lim.conn.SetReadDeadline(time.Now().Add(c.lim.idle))
	}
	return errHandOff
}
