package commands

import (
	"errors"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/secure/precis"
)

// NormalizeLocalpart applies the UsernameCaseMapped profile (RFC 8265) and
// the JID localpart rules of RFC 7622: no "&'/:<>@ and at most 1023 bytes.
func NormalizeLocalpart(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty username")
	}
	u, err := precis.UsernameCaseMapped.String(s)
	if err != nil {
		return "", errors.New("username not allowed by the UsernameCaseMapped profile of RFC 8265")
	}
	if len(u) > 1023 {
		return "", errors.New("username longer than 1023 bytes")
	}
	if strings.ContainsAny(u, "\"&'/:<>@") {
		return "", errors.New("username contains a character JIDs forbid (\"&'/:<>@)")
	}
	return u, nil
}

// NormalizeDomain lower-cases a domain name, drops one trailing dot, maps
// it as RFC 7622 section 3.2 says (A-labels become U-labels, with the
// IDNA mapping mellium's jid package applies, so that a domain provisioned
// here is the one XMPP clients reach) and checks its labels: ASCII letters,
// digits and '-', or non-ASCII letters, marks and digits.
func NormalizeDomain(s string) (string, error) {
	d := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(s)), ".")
	if d == "" || len(d) > 253 || !utf8.ValidString(d) {
		return "", errors.New("not a domain name")
	}
	d, err := idna.Display.ToUnicode(d)
	if err != nil || d == "" || len(d) > 253 {
		return "", errors.New("not a domain name")
	}
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-") {
			return "", errors.New("not a domain name")
		}
		for _, c := range label {
			if c < 0x80 && !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') ||
				c >= 0x80 && !(unicode.IsLetter(c) || unicode.IsDigit(c) || unicode.Is(unicode.M, c)) {
				return "", errors.New("not a domain name")
			}
		}
	}
	return d, nil
}

// ParseBareJID normalises a JID ([localpart@]domain[/resource]) to its bare form.
func ParseBareJID(s string) (string, error) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		if i == len(s)-1 {
			return "", errors.New("empty resource")
		}
		s = s[:i]
	}
	local, domain, hasLocal := strings.Cut(s, "@")
	if !hasLocal {
		local, domain = "", s
	}
	// Surrounding space is not trimmed inside a JID (RFC 7622 refuses it).
	d, err := NormalizeDomain(domain)
	if err != nil || strings.TrimSpace(domain) != domain {
		return "", errors.New("not a JID domainpart")
	}
	if !hasLocal {
		return d, nil
	}
	l, err := NormalizeLocalpart(local)
	if err != nil {
		return "", err
	}
	return l + "@" + d, nil
}

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
