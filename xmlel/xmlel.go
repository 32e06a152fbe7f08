// Package xmlel is the minimal XML element tree stanzas are kept in
// (RFC 6120 section 4.8: namespaced elements inside a stream).
//
// A stanza is read once from the stream into an Element, inspected and
// rewritten in place (to/from), serialised once, and the same bytes are fanned
// out to every recipient.
package xmlel

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// XMLNS is the namespace encoding/xml gives the reserved "xml" prefix.
const XMLNS = "http://www.w3.org/XML/1998/namespace"

// Element is an XML element with its namespace in Name.Space. Children holds
// *Element and string (character data) values.
type Element struct {
	Name     xml.Name
	Attr     []xml.Attr
	Children []any
}

// New returns an element in namespace ns with attributes given as name,value pairs.
func New(ns, local string, attrs ...string) *Element {
	e := &Element{Name: xml.Name{Space: ns, Local: local}}
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] != "" {
			e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Local: attrs[i]}, Value: attrs[i+1]})
		}
	}
	return e
}

// Add appends children and returns e.
func (e *Element) Add(children ...any) *Element {
	for _, c := range children {
		switch c := c.(type) {
		case nil:
		case *Element:
			if c != nil {
				e.Children = append(e.Children, c)
			}
		case string:
			if c != "" {
				e.Children = append(e.Children, c)
			}
		}
	}
	return e
}

// Text adds a child element holding text and returns e.
func (e *Element) Text(ns, local, text string) *Element {
	return e.Add(New(ns, local).Add(text))
}

// Get returns the value of the un-namespaced attribute name.
func (e *Element) Get(name string) string {
	for _, a := range e.Attr {
		if a.Name.Local == name && a.Name.Space == "" {
			return a.Value
		}
	}
	return ""
}

// Lang returns xml:lang.
func (e *Element) Lang() string {
	for _, a := range e.Attr {
		if a.Name.Local == "lang" && a.Name.Space == XMLNS {
			return a.Value
		}
	}
	return ""
}

// Set sets (or, for an empty value, removes) the un-namespaced attribute name.
func (e *Element) Set(name, value string) *Element {
	for i, a := range e.Attr {
		if a.Name.Local == name && a.Name.Space == "" {
			if value == "" {
				e.Attr = append(e.Attr[:i], e.Attr[i+1:]...)
			} else {
				e.Attr[i].Value = value
			}
			return e
		}
	}
	if value != "" {
		e.Attr = append(e.Attr, xml.Attr{Name: xml.Name{Local: name}, Value: value})
	}
	return e
}

// Child returns the first child element named local in namespace ns ("" = any).
func (e *Element) Child(ns, local string) *Element {
	for _, c := range e.Children {
		if c, ok := c.(*Element); ok && c.Name.Local == local && (ns == "" || c.Name.Space == ns) {
			return c
		}
	}
	return nil
}

// Elements returns the child elements.
func (e *Element) Elements() []*Element {
	var out []*Element
	for _, c := range e.Children {
		if c, ok := c.(*Element); ok {
			out = append(out, c)
		}
	}
	return out
}

// First returns the first child element, or nil.
func (e *Element) First() *Element {
	for _, c := range e.Children {
		if c, ok := c.(*Element); ok {
			return c
		}
	}
	return nil
}

// InnerText returns the concatenated character data directly inside e.
func (e *Element) InnerText() string {
	var b strings.Builder
	for _, c := range e.Children {
		if s, ok := c.(string); ok {
			b.WriteString(s)
		}
	}
	return b.String()
}

// ChildText returns the text of the first child named local in ns.
func (e *Element) ChildText(ns, local string) string {
	if c := e.Child(ns, local); c != nil {
		return c.InnerText()
	}
	return ""
}

// Copy returns a deep copy.
func (e *Element) Copy() *Element {
	c := &Element{Name: e.Name, Attr: append([]xml.Attr(nil), e.Attr...), Children: make([]any, len(e.Children))}
	for i, ch := range e.Children {
		if el, ok := ch.(*Element); ok {
			c.Children[i] = el.Copy()
		} else {
			c.Children[i] = ch
		}
	}
	return c
}

// ErrTooLarge is returned by Read when an element exceeds the size limit.
var ErrTooLarge = errors.New("xmlel: element too large")

// ErrTooDeep is returned by Read for elements nested too deeply.
var ErrTooDeep = errors.New("xmlel: element nested too deeply")

// MaxDepth bounds nesting inside one element.
const MaxDepth = 64

// Read reads the rest of the element whose start was just returned by d.
// start is the decoder's offset before start was read; limit bounds the
// element's size in bytes (0: none).
func Read(d *xml.Decoder, start xml.StartElement, startOff int64, limit int) (*Element, error) {
	root, err := fromStart(d, start)
	if err != nil {
		return nil, err
	}
	stack := []*Element{root}
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if limit > 0 && d.InputOffset()-startOff > int64(limit) {
			return nil, ErrTooLarge
		}
		top := stack[len(stack)-1]
		switch t := tok.(type) {
		case xml.StartElement:
			if len(stack) >= MaxDepth {
				return nil, ErrTooDeep
			}
			el, err := fromStart(d, t)
			if err != nil {
				return nil, err
			}
			top.Children = append(top.Children, el)
			stack = append(stack, el)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
			if len(stack) == 0 {
				return root, nil
			}
		case xml.CharData:
			if n := len(top.Children); n > 0 {
				if s, ok := top.Children[n-1].(string); ok {
					top.Children[n-1] = s + string(t)
					continue
				}
			}
			top.Children = append(top.Children, string(t))
		}
	}
}

// fromStart refuses, as a syntax error, a prefixed element or attribute
// name whose local part is no XML name ("p:0"): encoding/xml checks the
// whole name only, and the local part written without its prefix would
// make our output not well-formed for whoever reads it next.
func fromStart(d *xml.Decoder, s xml.StartElement) (*Element, error) {
	if !nameStart(s.Name.Local) {
		return nil, badName(d, s.Name.Local)
	}
	e := &Element{Name: s.Name}
	for _, a := range s.Attr {
		if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
			continue
		}
		if !nameStart(a.Name.Local) {
			return nil, badName(d, a.Name.Local)
		}
		e.Attr = append(e.Attr, a)
	}
	return e, nil
}

func badName(d *xml.Decoder, local string) error {
	line, _ := d.InputPos()
	return &xml.SyntaxError{Msg: "invalid local name after a prefix: " + local, Line: line}
}

// nameStart reports whether local may begin a name as encoding/xml
// reads one. It was read as the part of a name after its prefix, so only
// its first character is in doubt; a name other than ASCII is asked of
// encoding/xml itself (rare, and its tables are not exported).
func nameStart(local string) bool {
	if local == "" {
		return false
	}
	switch c := local[0]; {
	case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_', c == ':':
		return true
	case c < utf8.RuneSelf:
		return false
	}
	r, _ := utf8.DecodeRuneInString(local)
	_, err := xml.NewDecoder(strings.NewReader("<" + string(r) + "/>")).Token()
	return err == nil
}

// Parse parses one element from bytes.
func Parse(b []byte) (*Element, error) {
	d := xml.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := d.Token()
		if err != nil {
			return nil, err
		}
		if s, ok := tok.(xml.StartElement); ok {
			return Read(d, s, 0, 0)
		}
	}
}

// Bytes serialises e; parentNS is the default namespace in force where e is
// written (e.g. "jabber:client" inside a c2s stream), so e omits its xmlns
// when it matches.
func (e *Element) Bytes(parentNS string) []byte {
	var b bytes.Buffer
	b.Grow(256) // one allocation for most stanzas instead of a few growths
	e.WriteTo(&b, parentNS)
	return b.Bytes()
}

// String serialises e with its namespace declared.
func (e *Element) String() string { return string(e.Bytes("")) }

// WriteTo appends the serialisation of e to b.
func (e *Element) WriteTo(b *bytes.Buffer, parentNS string) {
	b.WriteByte('<')
	b.WriteString(e.Name.Local)
	if e.Name.Space != parentNS {
		b.WriteString(` xmlns="`)
		escapeAttr(b, e.Name.Space)
		b.WriteByte('"')
	}
	pfx := 0
	for _, a := range e.Attr {
		b.WriteByte(' ')
		switch a.Name.Space {
		case "":
		case XMLNS:
			b.WriteString("xml:")
		default:
			pfx++
			p := "ns" + string(rune('0'+pfx%10))
			b.WriteString("xmlns:" + p + `="`)
			escapeAttr(b, a.Name.Space)
			b.WriteString(`" ` + p + ":")
		}
		b.WriteString(a.Name.Local)
		b.WriteString(`="`)
		escapeAttr(b, a.Value)
		b.WriteByte('"')
	}
	if len(e.Children) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	for _, c := range e.Children {
		switch c := c.(type) {
		case *Element:
			c.WriteTo(b, e.Name.Space)
		case string:
			escape(b, c)
		}
	}
	b.WriteString("</")
	b.WriteString(e.Name.Local)
	b.WriteByte('>')
}

func escape(b *bytes.Buffer, s string) { escapeIn(b, s, false) }

// escapeAttr escapes an attribute value. A parser replaces a literal tab
// or line feed in an attribute with a space (XML 1.0 3.3.3 attribute-value
// normalisation), so an id or a name holding one would reach the client
// changed: they go as character references.
func escapeAttr(b *bytes.Buffer, s string) { escapeIn(b, s, true) }

// escapes marks the bytes escapeIn may replace: most values hold none and
// are copied whole.
var escapes = [256]bool{'\t': true, '\n': true, '<': true, '>': true, '&': true, '"': true, '\'': true, '\r': true}

func escapeIn(b *bytes.Buffer, s string, attr bool) {
	i := 0
	for i < len(s) && !escapes[s[i]] {
		i++
	}
	if i == len(s) {
		b.WriteString(s)
		return
	}
	last := 0
	for ; i < len(s); i++ {
		var r string
		switch s[i] {
		case '\t', '\n':
			if !attr {
				continue
			}
			r = "&#x9;"
			if s[i] == '\n' {
				r = "&#xA;"
			}
		case '<':
			r = "&lt;"
		case '>':
			r = "&gt;"
		case '&':
			r = "&amp;"
		case '"':
			r = "&quot;"
		case '\'':
			r = "&apos;"
		case '\r':
			r = "&#xD;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(r)
		last = i + 1
	}
	b.WriteString(s[last:])
}
