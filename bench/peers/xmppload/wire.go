package xmppload

import (
	"bufio"
	"net"
	"time"
)

// wire is how a session's elements travel: one XML stream over TCP (TLS
// after STARTTLS), or a framing of it over HTTP (WebSocket, BOSH). The
// login, the chat and the MUC code talk to every server through it, so a
// web session is measured with the same client work as a TCP one.
type wire interface {
	// next returns the next top-level element the server sent, valid
	// until the next call; ErrStreamClosed when the server ended the
	// stream.
	next() ([]byte, error)
	// add queues one whole element; flush sends what add queued (TCP: one
	// write, WebSocket: a message per element, BOSH: one request).
	add(el []byte) error
	flush() error
	setDeadline(t time.Time)
	// bye ends the stream politely; abort cuts the transport at once.
	bye() error
	abort() error
}

// tcpWire is XMPP over one TCP connection.
type tcpWire struct {
	nc net.Conn
	sc *scanner
	w  *bufio.Writer // made on first use: idle sessions need none
}

func newTCPWire(nc net.Conn, sc *scanner) *tcpWire { return &tcpWire{nc: nc, sc: sc} }

func (t *tcpWire) next() ([]byte, error) { return t.sc.Next() }

func (t *tcpWire) add(el []byte) error {
	if t.w == nil {
		t.w = bufio.NewWriterSize(t.nc, 8192)
	}
	_, err := t.w.Write(el)
	return err
}

func (t *tcpWire) flush() error {
	if t.w == nil {
		return nil
	}
	return t.w.Flush()
}

func (t *tcpWire) setDeadline(d time.Time) { t.nc.SetDeadline(d) }

func (t *tcpWire) bye() error {
	t.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
	t.nc.Write([]byte("</stream:stream>"))
	return t.nc.Close()
}

func (t *tcpWire) abort() error { return t.nc.Close() }

// send writes whole elements at once.
func (c *Conn) send(els ...string) error {
	for _, el := range els {
		if err := c.w.add([]byte(el)); err != nil {
			return err
		}
	}
	return c.w.flush()
}
