package xmppcore

import (
	"bytes"
	"crypto/tls"
	"sync"
	"time"
	"unsafe"

	"github.com/xmppgate/xmppgate/xmlel"
)

// Write coalescing. A client that sends several messages in one TLS record
// (16 in flight per pair in bench/peers) had each of them delivered with a
// TLS record and a write system call of its own: a fifth of the server's
// CPU per message. While the sender's read loop has more of its input at
// hand, the messages it routes to a plain TLS stream wait in the
// recipient's buffer (conn.wbuf), and go out together before that read
// loop could block: when its reader must go to the socket (limitReader),
// before an iq or presence, and when the loop ends. Nothing waits on a
// peer, only on work this goroutine is already doing, so the delay is the
// time to route what was read in one go.
//
// Order is kept per recipient: every write to a session goes through its
// buffer under wmu, so a write from elsewhere (a presence, a carbon) takes
// what waits along, in front of itself.

// maxHeld is the most a recipient's buffer holds before it is written out
// anyway: one TLS record's worth.
const maxHeld = 16 << 10

// outBatch lists the sessions that hold writes on behalf of one read loop.
// It lives in the loop's limitReader and is used by that loop only.
type outBatch struct {
	dirty []*conn
}

// add notes that t holds writes for this batch.
func (o *outBatch) add(t *conn) {
	if n := len(o.dirty); n > 0 && o.dirty[n-1] == t {
		return
	}
	o.dirty = append(o.dirty, t)
}

// flush writes out what the batch's sessions hold.
func (o *outBatch) flush() {
	if o == nil || len(o.dirty) == 0 {
		return
	}
	for i, t := range o.dirty {
		t.wmu.Lock()
		t.writeHeldLocked(nil)
		t.wmu.Unlock()
		o.dirty[i] = nil
	}
	if cap(o.dirty) > 8 {
		// A burst to many recipients: an idle session keeps no big list.
		o.dirty = nil
	} else {
		o.dirty = o.dirty[:0]
	}
}

// batch is the outBatch of c's read loop, for the stanzas it routes; nil
// before the reader exists.
func (c *conn) batch() *outBatch {
	if c.lim == nil {
		return nil
	}
	return &c.lim.out
}

// sendVia is send for a stanza routed by a read loop: with ob, a write to a
// plain stream may wait for ob.flush.
func (c *conn) sendVia(b []byte, ob *outBatch) {
	if ob == nil {
		c.send(b)
		return
	}
	c.wmu.Lock()
	c.hold = true
	c.sendLocked(b)
	c.hold = false
	held := c.wbuf != nil
	c.wmu.Unlock()
	if held {
		ob.add(c)
	}
}

var wbufPool = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// writeLocked writes b to the transport, after what the session holds;
// while hold is set (sendVia) a plain stream keeps b for later instead.
// c.wmu is held. b is not kept: callers may reuse it.
func (c *conn) writeLocked(b []byte) {
	if c.closed {
		c.dropHeldLocked()
		return
	}
	if c.hold && !c.framed {
		if c.wbuf == nil {
			c.wbuf = wbufPool.Get().(*[]byte)
		}
		*c.wbuf = append(*c.wbuf, b...)
		if len(*c.wbuf) < maxHeld {
			return
		}
		b = nil
	}
	c.writeHeldLocked(b)
}

// writeHeldLocked writes what c holds followed by b (either may be empty)
// in one write; c.wmu is held.
func (c *conn) writeHeldLocked(b []byte) {
	if c.closed {
		c.dropHeldLocked()
		return
	}
	if c.wbuf != nil {
		if len(b) > 0 {
			*c.wbuf = append(*c.wbuf, b...)
		}
		b = *c.wbuf
		defer c.dropHeldLocked()
	}
	if len(b) == 0 {
		return
	}
	var buf *[]byte
	if c.framed {
		b, buf = qualified(b)
	}
	c.nc.SetWriteDeadline(time.Now().Add(writeTimeout))
	if _, err := c.nc.Write(b); err != nil {
		c.closed = true
		c.nc.Close()
	}
	releaseQualified(buf)
}

// dropHeldLocked forgets what c holds: after it was written, or when the
// transport it was meant for is gone (stream management keeps its own copy
// of every stanza for a resumption).
func (c *conn) dropHeldLocked() {
	if c.wbuf == nil {
		return
	}
	if cap(*c.wbuf) <= 64<<10 {
		*c.wbuf = (*c.wbuf)[:0]
		wbufPool.Put(c.wbuf)
	}
	c.wbuf = nil
}

// readAhead reports whether a read from r returns without waiting on the
// socket: crypto/tls holds plaintext it decrypted ahead (the rest of a
// record). Only the connection's reader calls it, as only the reader
// touches that buffer. It answers false where it cannot tell (tlsidle.go's
// layout check failed, or r is no TLS connection), which only costs
// coalescing. A whole record waiting undecrypted does not count: it may be
// no data (an alert, a key update), and the read would go on to the socket.
func readAhead(r any) bool {
	tc, ok := r.(*tls.Conn)
	if !ok || !tlsIdle.ok {
		return false
	}
	input := (*bytes.Reader)(unsafe.Add(unsafe.Pointer(tc), tlsIdle.input))
	return input.Len() > 0
}

// nextFast takes the next stanza straight from the read buffer when
// xmlel.ParseFast can read it; nil leaves it to the decoder. The decoder is
// then between two top-level elements (next returned one, or the stream
// header was read, and idleWait skips white space the same way), so bytes
// taken from under it leave it in step. A stanza cut by the end of the
// buffer is completed from what crypto/tls decrypted ahead, a read that
// neither waits nor fails (a failed read's error would be lost to the
// decoder); else the decoder reads on. A framed transport's elements
// (<close/>, their own namespaces) always go to the decoder.
func (c *conn) nextFast() *xmlel.Element {
	if c.framed || c.br == nil || c.br.Reader == nil {
		return nil
	}
	for {
		b, _ := c.br.Peek(c.br.Buffered())
		if len(b) == 0 || b[0] != '<' {
			return nil
		}
		el, n, more := xmlel.ParseFast(b, nsClient, c.srv.cfg.MaxStanza)
		if el != nil {
			c.br.Discard(n)
			c.lim.reset()
			return el
		}
		if !more || len(b) >= c.br.Size() || c.lim.n <= 0 || !readAhead(c.lim.r) {
			return nil
		}
		if _, err := c.br.Peek(len(b) + 1); err != nil {
			return nil
		}
	}
}
