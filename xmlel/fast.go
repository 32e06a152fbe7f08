package xmlel

import (
	"encoding/xml"
	"unicode/utf8"
)

// ParseFast parses the element b starts with, when it is complete in b and
// written in the plain subset most stanzas are: ASCII names without
// prefixes (xml:lang aside), quoted attribute values and text without
// references, CDATA, comments or processing instructions, and no carriage
// returns (which XML would normalise). Unprefixed names are in defaultNS
// unless an xmlns attribute says otherwise, as in a stream whose header
// declared defaultNS.
//
// It returns the element and its length in bytes. Else el is nil and b
// goes to encoding/xml (Read), as does anything larger than limit (0: no
// limit) or deeper than MaxDepth/2; more is then true when b ended before
// the element did, with nothing outside the subset before that: given more
// bytes, ParseFast may take it.
//
// Whatever it accepts, Read over encoding/xml (Strict) gives the same tree
// for (FuzzParseFast checks this); encoding/xml, reading byte by byte with
// an interface call each, cost a third of the server's CPU per 1:1 message.
func ParseFast(b []byte, defaultNS string, limit int) (el *Element, n int, more bool) {
	cut := limit > 0 && len(b) > limit
	if cut {
		b = b[:limit]
	}
	p := fastParser{b: b}
	if el = p.element(defaultNS, 1); el == nil {
		return nil, 0, p.short && !cut
	}
	return el, p.i, false
}

// fastParser reads b from i. short is set when it stopped because b
// ended (every such stop sets it, and parsing stops at the first failure).
type fastParser struct {
	b     []byte
	i     int
	short bool
}

// has reports whether b holds byte k, noting when it does not.
func (p *fastParser) has(k int) bool {
	if k < len(p.b) {
		return true
	}
	p.short = true
	return false
}

const maxFastDepth = MaxDepth / 2

// element parses the element at p.i; nil when it cannot.
func (p *fastParser) element(ns string, depth int) *Element {
	if depth > maxFastDepth || !p.has(p.i) || p.b[p.i] != '<' {
		return nil
	}
	p.i++
	name, ok := p.name()
	if !ok || name == "xmlns" {
		return nil
	}
	e := &Element{}
	// Attributes: a name, '=' and a quoted value, each after white space.
	for {
		sp := p.space()
		if !p.has(p.i) {
			return nil
		}
		c := p.b[p.i]
		if c == '>' || c == '/' {
			break
		}
		if !sp {
			return nil
		}
		aname, ok := p.name()
		if !ok {
			if p.short {
				return nil
			}
			// xml:lang is the one prefixed name taken (others: Read).
			rest := p.b[p.i:]
			if len(rest) < 8 {
				p.short = string(rest) == "xml:lang"[:len(rest)]
				return nil
			}
			if string(rest[:8]) != "xml:lang" {
				return nil
			}
			aname = "xml:lang"
			p.i += 8
		}
		p.space()
		if !p.has(p.i) || p.b[p.i] != '=' {
			return nil
		}
		p.i++
		p.space()
		v, ok := p.value()
		if !ok {
			return nil
		}
		switch aname {
		case "xmlns":
			ns = v
		case "xml:lang":
			e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Space: XMLNS, Local: "lang"}, Value: v})
		default:
			if e.Attr == nil {
				// Room for the usual to, type, id and the from routing adds.
				e.Attr = make([]xml.Attr, 0, 4)
			}
			e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Local: aname}, Value: v})
		}
	}
	e.Name = xml.Name{Space: ns, Local: name}
	if p.b[p.i] == '/' {
		if !p.has(p.i+1) || p.b[p.i+1] != '>' {
			return nil
		}
		p.i += 2
		return e
	}
	p.i++ // '>'
	for {
		start := p.i
		if !p.text() {
			return nil
		}
		if p.i > start {
			e.Children = append(e.Children, string(p.b[start:p.i]))
		}
		if !p.has(p.i + 1) {
			return nil
		}
		if p.b[p.i+1] == '/' {
			p.i += 2
			end, ok := p.nameBytes()
			if !ok || string(end) != name {
				return nil
			}
			p.space()
			if !p.has(p.i) || p.b[p.i] != '>' {
				return nil
			}
			p.i++
			return e
		}
		child := p.element(ns, depth+1)
		if child == nil {
			return nil
		}
		e.Children = append(e.Children, child)
	}
}

// name reads an ASCII name without a prefix.
func (p *fastParser) name() (string, bool) {
	b, ok := p.nameBytes()
	if !ok {
		return "", false
	}
	return intern(b), true
}

// intern returns b as a string, without a copy for the names and values
// stanzas mostly use.
func intern(b []byte) string {
	switch string(b) {
	case "message":
		return "message"
	case "presence":
		return "presence"
	case "iq":
		return "iq"
	case "body":
		return "body"
	case "type":
		return "type"
	case "to":
		return "to"
	case "from":
		return "from"
	case "id":
		return "id"
	case "xmlns":
		return "xmlns"
	case "thread":
		return "thread"
	case "subject":
		return "subject"
	case "show":
		return "show"
	case "status":
		return "status"
	case "priority":
		return "priority"
	case "query":
		return "query"
	case "chat":
		return "chat"
	case "get":
		return "get"
	case "set":
		return "set"
	case "result":
		return "result"
	case "normal":
		return "normal"
	case "jabber:client":
		return "jabber:client"
	}
	return string(b)
}

// nameBytes reads an ASCII name without a prefix.
func (p *fastParser) nameBytes() ([]byte, bool) {
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case '0' <= c && c <= '9', c == '-', c == '.':
			if p.i == start {
				return nil, false
			}
		default:
			if p.i == start || c == ':' || c >= utf8.RuneSelf {
				p.i = start
				return nil, false
			}
			return p.b[start:p.i], true
		}
		p.i++
	}
	p.i = start
	p.short = true
	return nil, false
}

// space skips white space and reports whether there was any. A carriage
// return is not taken: XML normalises line ends, and Read does that.
func (p *fastParser) space() bool {
	start := p.i
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n':
			p.i++
		default:
			return p.i > start
		}
	}
	return p.i > start
}

// value reads a quoted attribute value.
func (p *fastParser) value() (string, bool) {
	if !p.has(p.i) {
		return "", false
	}
	q := p.b[p.i]
	if q != '\'' && q != '"' {
		return "", false
	}
	p.i++
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == q:
			v := intern(p.b[start:p.i])
			p.i++
			return v, true
		case c == '<' || c == '&':
			return "", false
		}
		if !p.char() {
			return "", false
		}
	}
	p.short = true
	return "", false
}

// text reads character data up to the next '<'.
func (p *fastParser) text() bool {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case '<':
			return true
		case '&':
			return false
		case ']':
			// "]]>" may not appear in text; a ']' the input ends near
			// is decided with more of it.
			switch {
			case p.i+2 < len(p.b):
				if p.b[p.i+1] == ']' && p.b[p.i+2] == '>' {
					return false
				}
			case p.i+1 < len(p.b) && p.b[p.i+1] != ']':
			default:
				p.short = true
				return false
			}
		}
		if !p.char() {
			return false
		}
	}
	p.short = true
	return false
}

// char steps over one character XML allows (a carriage return aside).
func (p *fastParser) char() bool {
	c := p.b[p.i]
	if c < utf8.RuneSelf {
		if c < 0x20 && c != '\t' && c != '\n' {
			return false
		}
		p.i++
		return true
	}
	if !utf8.FullRune(p.b[p.i:]) {
		p.short = true
		return false
	}
	r, size := utf8.DecodeRune(p.b[p.i:])
	if r == utf8.RuneError || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF) || r == 0xFFFE || r == 0xFFFF {
		return false
	}
	p.i += size
	return true
}
