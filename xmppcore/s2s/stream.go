package s2s

import (
	"bufio"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xmppgate/xmppgate/xmlel"
)

// Error is a stream error to send (RFC 6120 section 4.9.3); Cond is the
// condition's element name.
type Error struct {
	Cond, Text string
}

func (e *Error) Error() string {
	if e.Text == "" {
		return "s2s: stream error " + e.Cond
	}
	return "s2s: stream error " + e.Cond + ": " + e.Text
}

// Stream error conditions used here.
const (
	CondBadFormat        = "bad-format"
	CondHostUnknown      = "host-unknown"
	CondImproperAddress  = "improper-addressing"
	CondInvalidNamespace = "invalid-namespace"
	CondNotAuthorized    = "not-authorized"
	CondNotWellFormed    = "not-well-formed"
	CondPolicyViolation  = "policy-violation"
	CondConnTimeout      = "connection-timeout"
	CondRemoteConnFailed = "remote-connection-failed"
	CondSystemShutdown   = "system-shutdown"
	CondUnsupportedStype = "unsupported-stanza-type"
	CondUnsupportedVer   = "unsupported-version"
	CondInternal         = "internal-server-error"
	CondUndefined        = "undefined-condition"
)

// PeerError is a stream error the peer sent.
type PeerError struct{ Cond, Text string }

func (e *PeerError) Error() string { return "s2s: peer sent stream error " + e.Cond + " " + e.Text }

// errStreamEnd: the peer closed its stream.
var errStreamEnd = fmt.Errorf("s2s: stream closed by the peer: %w", io.EOF)

// ErrTooLarge: a stanza exceeded the size limit.
var ErrTooLarge = errors.New("s2s: stanza too large")

// limitReader bounds what one stanza may make the decoder read.
type limitReader struct {
	r      io.Reader
	n, max int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, ErrTooLarge
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	return n, err
}

// stream is one server stream's transport, shared by the incoming and
// outgoing sides.
type stream struct {
	maxStanza int
	// idle is the read deadline per read once authenticated (0: none); set
	// by the goroutine that finishes dialback while the reader runs.
	idle atomic.Int64
	// drainBy, once set (Unix ns), is the read deadline of a stream we
	// closed politely (drain).
	drainBy atomic.Int64

	// reader side, one goroutine
	lim *limitReader
	br  *bufio.Reader
	dec *xml.Decoder

	wmu    sync.Mutex
	nc     net.Conn
	secure bool
	closed bool
	// headerSent: our stream header is out, so a stream error needs none.
	headerSent bool
	failOnce   sync.Once
	state      *tls.ConnectionState
}

func newStream(nc net.Conn, maxStanza int) *stream {
	if maxStanza <= 0 {
		maxStanza = 256 << 10
	}
	s := &stream{nc: nc, maxStanza: maxStanza}
	s.resetReader()
	return s
}

func newID() string {
	b := make([]byte, 15)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func (s *stream) resetReader() {
	max := int64(2*s.maxStanza + 8192)
	s.lim = &limitReader{r: s.nc, n: max, max: max}
	s.br = bufio.NewReaderSize(s.lim, 1024)
	s.restart()
}

func (s *stream) restart() {
	s.dec = xml.NewDecoder(s.br)
	s.dec.Strict = true
}

// write sends raw bytes; a failed write closes the connection.
func (s *stream) write(b []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	s.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := s.nc.Write(b); err != nil {
		s.closed = true
		s.nc.Close()
		return err
	}
	return nil
}

// header writes our stream header.
func (s *stream) header(from, to, id string) error {
	var b strings.Builder
	b.WriteString("<?xml version='1.0'?><stream:stream xmlns='" + NSServer + "' xmlns:stream='" + NSStream +
		"' xmlns:db='" + NSDialback + "'")
	for _, a := range [][2]string{{"from", from}, {"to", to}, {"id", id}} {
		if a[1] != "" {
			b.WriteString(" " + a[0] + "='")
			xml.EscapeText(&b, []byte(a[1]))
			b.WriteString("'")
		}
	}
	b.WriteString(" version='1.0'>")
	s.wmu.Lock()
	s.headerSent = true
	s.wmu.Unlock()
	return s.write([]byte(b.String()))
}

// readHeader reads the peer's stream header.
func (s *stream) readHeader() (Header, error) {
	for {
		tok, err := s.dec.Token()
		if err != nil {
			return Header{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			h, err := ParseHeader(t)
			switch {
			case err == nil:
				return h, nil
			case errors.Is(err, ErrNotStream), errors.Is(err, ErrNamespace):
				return h, &Error{CondInvalidNamespace, err.Error()}
			case errors.Is(err, ErrVersion):
				return h, &Error{CondUnsupportedVer, err.Error()}
			default:
				return h, &Error{CondImproperAddress, err.Error()}
			}
		case xml.ProcInst:
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				return Header{}, &Error{CondNotWellFormed, ""}
			}
		default:
			return Header{}, &Error{CondNotWellFormed, ""}
		}
	}
}

// next returns the next top-level element, skipping whitespace keepalives;
// a <stream:error/> from the peer comes back as *PeerError.
func (s *stream) next() (*xmlel.Element, error) {
	for {
		if by := s.drainBy.Load(); by != 0 {
			s.nc.SetReadDeadline(time.Unix(0, by))
		} else if idle := time.Duration(s.idle.Load()); idle > 0 {
			s.nc.SetReadDeadline(time.Now().Add(idle))
		}
		off := s.dec.InputOffset()
		tok, err := s.dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if strings.TrimSpace(string(t)) != "" {
				return nil, &Error{CondBadFormat, "text between elements"}
			}
			s.lim.n = s.lim.max
		case xml.StartElement:
			el, err := xmlel.Read(s.dec, t, off, s.maxStanza)
			s.lim.n = s.lim.max
			if err != nil {
				return nil, err
			}
			if el.Name.Space == NSStream && el.Name.Local == "error" {
				pe := &PeerError{Cond: CondUndefined}
				for _, k := range el.Elements() {
					if k.Name.Space == NSStreams && k.Name.Local != "text" {
						pe.Cond = k.Name.Local
					}
				}
				pe.Text = el.ChildText(NSStreams, "text")
				return nil, pe
			}
			return el, nil
		case xml.EndElement:
			return nil, errStreamEnd
		default:
			return nil, &Error{CondNotWellFormed, ""}
		}
	}
}

// fail sends a stream error and closes the connection.
func (s *stream) fail(cond, text string) {
	s.failOnce.Do(func() {
		s.wmu.Lock()
		if !s.closed {
			var b strings.Builder
			if !s.headerSent {
				b.WriteString("<?xml version='1.0'?><stream:stream xmlns='" + NSServer + "' xmlns:stream='" + NSStream + "' id='" + newID() + "' version='1.0'>")
			}
			b.WriteString("<stream:error><" + cond + " xmlns='" + NSStreams + "'/>")
			if text != "" {
				b.WriteString("<text xmlns='" + NSStreams + "' xml:lang='en'>")
				xml.EscapeText(&b, []byte(text))
				b.WriteString("</text>")
			}
			b.WriteString("</stream:error></stream:stream>")
			s.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
			io.WriteString(s.nc, b.String())
			s.closed = true
		}
		nc := s.nc
		s.wmu.Unlock()
		nc.Close()
	})
}

// close ends the stream politely.
func (s *stream) close() {
	s.wmu.Lock()
	if !s.closed {
		s.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
		io.WriteString(s.nc, "</stream:stream>")
		s.closed = true
	}
	nc := s.nc
	s.wmu.Unlock()
	nc.Close()
}

// drainTime bounds how long a politely closed stream waits for the
// peer's closing tag.
const drainTime = 5 * time.Second

// drain closes the stream politely but leaves the connection to its
// reader (RFC 6120 section 4.4): nothing more is written, and what the
// peer sent before it saw our closing tag is still read and handled until
// its own closing tag, or drainTime, ends the reading. Closing the
// connection at once would lose those stanzas (and reset the
// connection, which can drop our closing tag too).
func (s *stream) drain() {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return
	}
	s.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
	io.WriteString(s.nc, "</stream:stream>")
	s.closed = true
	by := time.Now().Add(drainTime)
	s.drainBy.Store(by.UnixNano()) // next reads keep this deadline
	s.nc.SetReadDeadline(by)
}

// end turns the error that ended a stream into the stream error to send.
func (s *stream) end(err error) {
	var se *Error
	var pe *PeerError
	var syn *xml.SyntaxError
	var ne net.Error
	switch {
	case err == nil:
		s.close()
	case errors.As(err, &se):
		s.fail(se.Cond, se.Text)
	case errors.As(err, &pe):
		s.close()
	case errors.Is(err, ErrTooLarge), errors.Is(err, xmlel.ErrTooLarge):
		s.fail(CondPolicyViolation, fmt.Sprintf("stanza larger than %d bytes", s.maxStanza))
	case errors.Is(err, xmlel.ErrTooDeep):
		s.fail(CondPolicyViolation, "stanza nested too deeply")
	case errors.Is(err, io.EOF):
		s.close()
	case errors.As(err, &ne) && ne.Timeout():
		s.fail(CondConnTimeout, "") // after drain: closes the connection only
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF), strings.HasPrefix(err.Error(), "xml:"):
		s.fail(CondNotWellFormed, "")
	default:
		s.fail(CondUndefined, "")
	}
}

// startTLS swaps the transport for TLS (server side when cfg is a
// server configuration) and resets the reader for the restarted stream.
func (s *stream) startTLS(tc *tls.Conn) error {
	if err := tc.Handshake(); err != nil {
		return err
	}
	st := tc.ConnectionState()
	s.wmu.Lock()
	s.nc, s.secure, s.headerSent, s.state = tc, true, false, &st
	s.wmu.Unlock()
	s.resetReader()
	return nil
}
