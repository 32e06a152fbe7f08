package xmppcore

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
)

// nsFraming is RFC 7395's framing namespace: <open/> and <close/>.
const nsFraming = "urn:ietf:params:xml:ns:xmpp-framing"

// Transport kinds, as ejabberd prints them in connected_users_info and
// user_sessions_info (SessionInfo.Transport).
const (
	TransportTCP       = "c2s"
	TransportWebSocket = "websocket"
	TransportBOSH      = "http_bind"
)

// Framed says how a message-framed transport (RFC 7395 WebSocket, XEP-0206
// BOSH) reaches ServeFramed.
type Framed struct {
	// Kind names the transport in session listings (TransportWebSocket,
	// TransportBOSH).
	Kind string
	// TLS: the transport is encrypted (wss://, https://).
	TLS bool
	// InsecureOK allows authentication without TLS (a loopback peer, or
	// websocket_insecure_ok). Without TLS and without it, the stream ends
	// with <policy-violation/> after <open/>: STARTTLS has no meaning on a
	// framed transport.
	InsecureOK bool
}

// ServeFramed runs a c2s session over nc, a transport framed the way RFC
// 7395 frames a WebSocket. It is the same session as a TCP client's
// (negotiation, SASL, binding, stream management, CSI, carbons, the
// router); only the framing differs. It returns at once; the session runs
// on its own goroutines until nc is closed, the client closes its stream
// or the server shuts down. An error means the server is shutting down and
// nc was closed.
//
// The contract nc must keep (a WebSocket keeps it per message, a BOSH
// session by unwrapping and wrapping <body/>):
//
//   - Read returns the client's elements as one byte stream, in order:
//     <open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='domain'
//     version='1.0'/> begins the stream and begins it again after SASL
//     (BOSH's xmpp:restart='true' is turned into such an <open/>), then
//     stanzas and nonzas with their namespace declared; <close
//     xmlns='urn:ietf:params:xml:ns:xmpp-framing'/> ends it (BOSH's
//     type='terminate'). Whitespace between elements is ignored. Any
//     error (io.EOF included) is a lost transport: a session with
//     resumable stream management hibernates, as on TCP.
//   - Write gets exactly one complete top-level element per call, never
//     concurrently: first the server's <open/>, then <stream:features> and
//     <stream:error> with the stream prefix declared on them, stanzas
//     carrying xmlns='jabber:client', and last <close/>. A failed Write
//     closes the session's transport.
//   - SetReadDeadline arms the idle timeout (a read that times out must
//     return a net.Error whose Timeout() is true); SetWriteDeadline bounds
//     one Write. SetDeadline bounds negotiation.
//   - Close may come at any time from any goroutine and must unblock Read.
//     After <close/> or a stream error the session closes nc itself.
//   - RemoteAddr gives the client's address for listings and the
//     authentication failure limit (a *net.TCPAddr, or host:port text).
func (s *Server) ServeFramed(nc net.Conn, f Framed) error {
	c := newConn(s, nc, false)
	c.framed, c.kind, c.tlsOn = true, f.Kind, f.TLS
	c.secure = f.TLS || f.InsecureOK
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		nc.Close()
		return errors.New("xmppcore: server shutting down")
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.mu.Unlock()
	go c.serve()
	return nil
}

// streamOpen is the stream-level element that opens stream:features and
// stream:error: on a framed transport each is a document of its own, so it
// declares the stream prefix itself.
func (c *conn) streamOpen(local string) string {
	if c.framed {
		return "<stream:" + local + " xmlns:stream='" + nsStream + "'>"
	}
	return "<stream:" + local + ">"
}

// streamClose is what ends our side of the stream.
func (c *conn) streamClose() string {
	if c.framed {
		return "<close xmlns='" + nsFraming + "'/>"
	}
	return "</stream:stream>"
}

// flushLocked writes what b holds as one write and empties b; c.wmu is
// held. It is for stream-level output (header, stream error, close), which
// ignores write errors: the connection is closed right after anyway.
func (c *conn) flushLocked(b *strings.Builder, d time.Duration) {
	if b.Len() == 0 {
		return
	}
	c.writeHeldLocked(nil)
	c.nc.SetWriteDeadline(time.Now().Add(d))
	c.nc.Write([]byte(b.String()))
	b.Reset()
}

// qualified returns b with xmlns='jabber:client' added to its top-level
// element when that element is unprefixed and declares no default
// namespace: inside a TCP stream the stream header declares it, while each
// framed message is a document of its own (RFC 7395 section 3.3.3). The
// result is b itself when nothing is missing, else a buffer from qualPool
// that the caller gives back with releaseQualified.
func qualified(b []byte) ([]byte, *[]byte) {
	name, attrs, ok := startTag(b)
	if !ok || bytes.IndexByte(b[1:1+name], ':') >= 0 || hasDefaultNS(b[1+name:attrs]) {
		return b, nil
	}
	buf := qualPool.Get().(*[]byte)
	out := append((*buf)[:0], b[:1+name]...)
	out = append(out, " xmlns='"+nsClient+"'"...)
	out = append(out, b[1+name:]...)
	*buf = out
	return out, buf
}

func releaseQualified(buf *[]byte) {
	if buf != nil && cap(*buf) <= 64<<10 {
		qualPool.Put(buf)
	}
}

var qualPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// startTag finds the top-level start tag of b: name is the length of its
// name (after '<'), end the offset of the '>' or "/>" that closes the tag,
// with quoted attribute values skipped.
func startTag(b []byte) (name, end int, ok bool) {
	if len(b) < 2 || b[0] != '<' || b[1] == '?' || b[1] == '!' || b[1] == '/' {
		return 0, 0, false
	}
	i := 1
	for i < len(b) && !isTagSpace(b[i]) && b[i] != '>' && b[i] != '/' {
		i++
	}
	name = i - 1
	var quote byte
	for ; i < len(b); i++ {
		switch ch := b[i]; {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"':
			quote = ch
		case ch == '>' || ch == '/':
			return name, i, name > 0
		}
	}
	return 0, 0, false
}

func isTagSpace(ch byte) bool { return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n' }

// hasDefaultNS reports whether the attributes of a start tag declare a
// default namespace (xmlns=, not xmlns:p=), quoted values skipped.
func hasDefaultNS(attrs []byte) bool {
	var quote byte
	for i := 0; i < len(attrs); i++ {
		ch := attrs[i]
		switch {
		case quote != 0:
			if ch == quote {
				quote = 0
			}
		case ch == '\'' || ch == '"':
			quote = ch
		case isTagSpace(ch) && bytes.HasPrefix(attrs[i+1:], []byte("xmlns")):
			j := i + 6
			for j < len(attrs) && isTagSpace(attrs[j]) {
				j++
			}
			if j < len(attrs) && attrs[j] == '=' {
				return true
			}
		}
	}
	return false
}

// framedOpen checks the client's <open/> (RFC 7395 section 3.4) and reads
// past its end: it is an empty element, a document of its own.
func (c *conn) framedOpen(start xml.StartElement) error {
	if start.Name.Space != nsFraming || start.Name.Local != "open" {
		return streamErr{condInvalidNamespace, "expected <open/> in " + nsFraming}
	}
	if err := c.dec.Skip(); err != nil {
		return err
	}
	c.lim.reset()
	return nil
}

// framingElement answers an element of the framing namespace met between
// stanzas: <close/> ends the stream as </stream:stream> does on TCP; an
// <open/> there is out of place (restarts are read by negotiate).
func (c *conn) framingElement(t xml.StartElement) error {
	if err := c.dec.Skip(); err != nil {
		return err
	}
	c.lim.reset()
	if t.Name.Local == "close" {
		return errStreamEnd
	}
	return streamErr{condBadFormat, "unexpected <" + t.Name.Local + "/>"}
}

// webDomainChanged ends the framed streams of fqdn (negotiating, bound or
// hibernated) once its modHttpBind is off: the switch is live, as the
// REST domains API promises.
func (s *Server) webDomainChanged(fqdn string) {
	d, ok, err := s.domains.Get(context.Background(), fqdn)
	if err != nil || !ok || d.On(modcfg.HTTPBind) {
		return // a removed or disabled domain's sessions are ended elsewhere
	}
	var cut []*conn
	s.mu.RLock()
	for c := range s.conns {
		c.wmu.Lock()
		if c.framed && c.domain().FQDN == fqdn {
			cut = append(cut, c)
		}
		c.wmu.Unlock()
	}
	s.mu.RUnlock()
	for _, c := range cut {
		c.fail(condPolicyViolation, "web chat (modHttpBind) was switched off for this domain")
	}
}

// WebDomain reports whether fqdn is a hosted, enabled domain with its web
// transports on (modHttpBind): XEP-0156 discovery lists them only then.
func (s *Server) WebDomain(fqdn string) bool {
	d, ok := s.hosted(fqdn)
	return ok && d.Enabled && d.On(modcfg.HTTPBind)
}

// TLSConfig is a copy of the certificate configuration the c2s listeners
// use (cert_file/key_file or the generated self-signed one), for the TLS
// HTTP listener; nil before Start.
func (s *Server) TLSConfig() *tls.Config {
	if s.tls == nil {
		return nil
	}
	return s.tls.Clone()
}
