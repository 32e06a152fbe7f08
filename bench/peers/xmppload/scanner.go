// Package xmppload is the XMPP load client of the side-by-side benchmark: a
// deliberately small client (standard library only, no XML parser) that
// drives ejabberd, Prosody and xmppgate alike, so that its own CPU cost is
// low and the same for every server. It logs in with STARTTLS + SCRAM-SHA-1
// + resource binding + initial presence, sends and counts 1:1 messages, and
// holds idle sessions.
package xmppload

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
)

// ErrStreamClosed is returned by Next when the server closed the stream.
var ErrStreamClosed = errors.New("xmppload: stream closed by the server")

// scanner splits an XMPP stream into its top-level elements (stanzas,
// features, SASL and TLS negotiation elements) without parsing them: the
// benchmark only needs to know which element arrived and read an attribute or
// a short text now and then. It understands just enough XML for what
// servers send: tags with quoted attributes (which may contain '>'), text,
// the XML declaration and comments.
type scanner struct {
	r     *bufio.Reader
	depth int // 0 before the stream header, 1 at stanza level, >1 inside one
	buf   []byte
	tag   []byte
}

func newScanner(r *bufio.Reader) *scanner { return &scanner{r: r} }

// restart forgets the stream header: after STARTTLS and after SASL success
// the server opens a new stream.
func (s *scanner) restart(r *bufio.Reader) {
	s.r, s.depth = r, 0
}

// readTag reads one tag after its '<' into s.tag (without the brackets).
func (s *scanner) readTag() error {
	s.tag = s.tag[:0]
	var quote byte
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			return err
		}
		switch {
		case quote != 0:
			if b == quote {
				quote = 0
			}
		case b == '"' || b == '\'':
			quote = b
		case b == '>':
			// Comments may hold '>' too; read until "-->".
			if bytes.HasPrefix(s.tag, []byte("!--")) && !bytes.HasSuffix(s.tag, []byte("--")) {
				break
			}
			return nil
		}
		s.tag = append(s.tag, b)
	}
}

// Next returns the next top-level element, raw. The slice is valid until the
// next call.
func (s *scanner) Next() ([]byte, error) {
	s.buf = s.buf[:0]
	for {
		b, err := s.r.ReadByte()
		if err != nil {
			return nil, err
		}
		if b != '<' {
			if s.depth > 1 {
				s.buf = append(s.buf, b)
			}
			continue
		}
		if err := s.readTag(); err != nil {
			return nil, err
		}
		t := s.tag
		switch {
		case len(t) == 0:
			return nil, errors.New("xmppload: empty tag <>")
		case t[0] == '?' || t[0] == '!':
			continue // declaration or comment
		case t[0] == '/': // end tag
			if s.depth <= 1 {
				return nil, ErrStreamClosed
			}
			s.buf = append(append(append(s.buf, '<'), t...), '>')
			s.depth--
			if s.depth == 1 {
				return s.buf, nil
			}
		default: // start tag
			if s.depth == 0 {
				// A BOSH response's <body/> wraps its elements as the
				// stream header does.
				if !bytes.HasPrefix(t, []byte("stream:stream")) && !bytes.HasPrefix(t, []byte("body")) {
					return nil, fmt.Errorf("xmppload: expected a stream header, got <%s>", t)
				}
				s.depth = 1
				if t[len(t)-1] == '/' { // an empty BOSH body
					return nil, ErrStreamClosed
				}
				continue
			}
			s.buf = append(append(append(s.buf, '<'), t...), '>')
			if t[len(t)-1] == '/' {
				if s.depth == 1 {
					return s.buf, nil
				}
				continue
			}
			s.depth++
		}
	}
}

// name returns an element's qualified name.
func name(el []byte) string {
	end := bytes.IndexAny(el, " \t\r\n/>")
	if end < 0 {
		return ""
	}
	return string(el[1:end])
}

// attr returns attribute a of the element's start tag ("" if absent).
func attr(el []byte, a string) string {
	end := startTagEnd(el)
	head := el[:end]
	for _, q := range []string{"'", "\""} {
		key := []byte(" " + a + "=" + q)
		if i := bytes.Index(head, key); i >= 0 {
			rest := head[i+len(key):]
			if j := bytes.IndexByte(rest, q[0]); j >= 0 {
				return string(rest[:j])
			}
		}
	}
	return ""
}

// startTagEnd returns the index just past the first tag's '>' (respecting
// quotes).
func startTagEnd(el []byte) int {
	var quote byte
	for i, b := range el {
		switch {
		case quote != 0:
			if b == quote {
				quote = 0
			}
		case b == '"' || b == '\'':
			quote = b
		case b == '>':
			return i + 1
		}
	}
	return len(el)
}

// text returns the text of the first <child ...>text</child> in el, or "".
func text(el []byte, child string) string {
	i := bytes.Index(el, []byte("<"+child))
	if i < 0 {
		return ""
	}
	rest := el[i:]
	s := startTagEnd(rest)
	if s >= 2 && rest[s-2] == '/' {
		return ""
	}
	rest = rest[s:]
	j := bytes.IndexByte(rest, '<')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// ElementReader splits any XMPP-framed stream (such as Prosody's admin
// socket) into top-level elements.
type ElementReader struct{ s *scanner }

func NewElementReader(r *bufio.Reader) *ElementReader { return &ElementReader{newScanner(r)} }

// Next returns the next top-level element, valid until the next call.
func (e *ElementReader) Next() ([]byte, error) { return e.s.Next() }
