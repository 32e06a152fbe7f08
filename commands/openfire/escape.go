package openfire

import (
	"strings"
	"unicode"
)

// EscapeNode applies XEP-0106 JID escaping to a localpart as Openfire's
// JID.escapeNode does: the characters JIDs forbid become \XX, whitespace
// becomes \20, and a backslash becomes \5c only where it would otherwise
// read as an escape sequence.
func EscapeNode(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\22`)
		case r == '&':
			b.WriteString(`\26`)
		case r == '\'':
			b.WriteString(`\27`)
		case r == '/':
			b.WriteString(`\2f`)
		case r == ':':
			b.WriteString(`\3a`)
		case r == '<':
			b.WriteString(`\3c`)
		case r == '>':
			b.WriteString(`\3e`)
		case r == '@':
			b.WriteString(`\40`)
		case r == '\\':
			if isEscape(s[i+1:]) {
				b.WriteString(`\5c`)
			} else {
				b.WriteByte('\\')
			}
		case javaWhitespace(r):
			b.WriteString(`\20`)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// isEscape reports whether s starts with the hex pair of an XEP-0106 escape.
func isEscape(s string) bool {
	if len(s) < 2 {
		return false
	}
	switch s[:2] {
	case "20", "22", "26", "27", "2f", "3a", "3c", "3e", "40", "5c":
		return true
	}
	return false
}

// javaWhitespace is Java's Character.isWhitespace: Unicode space separators
// other than the no-break spaces, and the ASCII controls \t \n \v \f \r and
// U+001C to U+001F.
func javaWhitespace(r rune) bool {
	switch {
	case r == '\t', r == '\n', r == '\v', r == '\f', r == '\r', r >= 0x1c && r <= 0x1f:
		return true
	case r == 0xa0, r == 0x2007, r == 0x202f:
		return false
	}
	return unicode.In(r, unicode.Zs, unicode.Zl, unicode.Zp)
}
