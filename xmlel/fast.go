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
// declared defaultNS. It returns the element and its length in bytes, with
// ok true; ok false says nothing about b, which then goes to encoding/xml
// (Read), as does anything larger than limit (0: no limit) or deeper than
// MaxDepth/2.
//
// Whatever it accepts, Read over encoding/xml (Strict) gives the same tree
// for (FuzzParseFast checks this); encoding/xml, reading byte by byte with
// an interface call each, cost a third of the server's CPU per 1:1 message.
func ParseFast(b []byte, defaultNS string, limit int) (el *Element, n int, ok bool) {
	if limit > 0 && len(b) > limit {
		b = b[:limit]
	}
	p := fastParser{b: b}
	el = p.element(defaultNS, 1)
	if el == nil {
		return nil, 0, false
	}
	return el, p.i, true
}

type fastParser struct {
	b []byte
	i int
}

const maxFastDepth = MaxDepth / 2

// element parses the element at p.i; nil when it cannot.
func (p *fastParser) element(ns string, depth int) *Element {
	if depth > maxFastDepth || p.i >= len(p.b) || p.b[p.i] != '<' {
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
		if p.i >= len(p.b) {
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
			// xml:lang is the one prefixed name taken (others: Read).
			if p.i+8 <= len(p.b) && string(p.b[p.i:p.i+8]) == "xml:lang" {
				aname, ok = "xml:lang", true
				p.i += 8
			}
			if !ok {
				return nil
			}
		}
		p.space()
		if p.i >= len(p.b) || p.b[p.i] != '=' {
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
			e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Local: aname}, Value: v})
		}
	}
	e.Name = xml.Name{Space: ns, Local: name}
	if p.b[p.i] == '/' {
		if p.i+1 >= len(p.b) || p.b[p.i+1] != '>' {
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
		if p.i+1 >= len(p.b) {
			return nil
		}
		if p.b[p.i+1] == '/' {
			p.i += 2
			end, ok := p.name()
			if !ok || end != name {
				return nil
			}
			p.space()
			if p.i >= len(p.b) || p.b[p.i] != '>' {
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
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', c == '_':
		case '0' <= c && c <= '9', c == '-', c == '.':
			if p.i == start {
				return "", false
			}
		default:
			if p.i == start || c == ':' || c >= utf8.RuneSelf {
				p.i = start
				return "", false
			}
			return string(p.b[start:p.i]), true
		}
		p.i++
	}
	p.i = start
	return "", false
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
	if p.i >= len(p.b) {
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
			v := string(p.b[start:p.i])
			p.i++
			return v, true
		case c == '<' || c == '&':
			return "", false
		}
		if !p.char() {
			return "", false
		}
	}
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
			if p.i+2 < len(p.b) && p.b[p.i+1] == ']' && p.b[p.i+2] == '>' {
				return false
			}
		}
		if !p.char() {
			return false
		}
	}
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
	r, size := utf8.DecodeRune(p.b[p.i:])
	if r == utf8.RuneError || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF) || r == 0xFFFE || r == 0xFFFF {
		return false
	}
	p.i += size
	return true
}
