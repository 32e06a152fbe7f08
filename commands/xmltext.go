package commands

import "strings"

// EscapeXMLText escapes character data for the XML bodies front ends write
// by hand (DreamHost's XML format, Openfire's User Service and restAPI):
// &, < and >, quotes and line ends left as they are (as JAXB and Openfire
// write them); what XML 1.0 cannot carry becomes U+FFFD, so that every body
// parses: one per run of invalid UTF-8, and each control character but
// TAB, LF and CR, U+FFFE and U+FFFF.
func EscapeXMLText(s string) string { return escapeXML(s, false) }

// EscapeXMLAttr is EscapeXMLText for an attribute value written in double
// quotes: " too.
func EscapeXMLAttr(s string) string { return escapeXML(s, true) }

func escapeXML(s string, attr bool) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"' && attr:
			b.WriteString("&quot;")
		case r < 0x20 && r != '\t' && r != '\n' && r != '\r', r == 0xFFFE, r == 0xFFFF:
			b.WriteRune('\uFFFD')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
