package commands

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The roster template files of push_roster and push_roster_all: one Erlang
// term, read by ejabberd with file:consult/1 and matched as {ok, [Roster]},
// a list of {User, Server, Group, Nick} tuples. mod_admin_extra documents
// two spellings, binaries (<<"user1">>, <<"Workers"/utf8>>) and strings
// ("user1"), and turns each field into a binary with iolist_to_binary.
// This parser reads exactly that subset: the list, 4-tuples, double-quoted
// strings with Erlang's escapes, binaries of one string segment (optionally
// /utf8) or empty, % comments, and the full stop. Anything else is an error.
// The file is UTF-8; every field becomes UTF-8 text whether or not it says
// /utf8 (ejabberd would store latin-1 bytes for a plain binary, which no
// client could read).

// rosterEntry is one tuple of a template file.
type rosterEntry struct {
	User, Server, Group, Nick string
}

// maxRosterEntries bounds a template (push_roster_all is quadratic in it).
const maxRosterEntries = 10000

// parseRosterFile parses a template file.
func parseRosterFile(src []byte) ([]rosterEntry, error) {
	if !utf8.Valid(src) {
		return nil, errors.New("the file is not UTF-8")
	}
	p := &termParser{s: string(src)}
	out, err := p.list()
	if err != nil {
		return nil, err
	}
	if err := p.expect('.'); err != nil {
		return nil, err
	}
	// A full stop must end the term: Erlang reads "]." then a layout
	// character or the end of the file.
	if p.i < len(p.s) && !isLayout(p.s[p.i]) && p.s[p.i] != '%' {
		return nil, p.errorf("a space or the end of the file after '.'")
	}
	p.skip()
	if p.i != len(p.s) {
		return nil, p.errorf("the end of the file (the file must hold exactly one term)")
	}
	return out, nil
}

type termParser struct {
	s string
	i int
}

func (p *termParser) errorf(want string) error {
	line := 1 + strings.Count(p.s[:p.i], "\n")
	if p.i >= len(p.s) {
		return fmt.Errorf("line %d: expected %s, found the end of the file", line, want)
	}
	r, _ := utf8.DecodeRuneInString(p.s[p.i:])
	return fmt.Errorf("line %d: expected %s, found %q", line, want, r)
}

func isLayout(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'
}

// skip passes layout and % comments.
func (p *termParser) skip() {
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case isLayout(c):
			p.i++
		case c == '%':
			for p.i < len(p.s) && p.s[p.i] != '\n' {
				p.i++
			}
		default:
			return
		}
	}
}

// peek is the next significant byte (0 at the end).
func (p *termParser) peek() byte {
	p.skip()
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *termParser) expect(c byte) error {
	if p.peek() != c {
		return p.errorf(strconv.QuoteRune(rune(c)))
	}
	p.i++
	return nil
}

func (p *termParser) list() ([]rosterEntry, error) {
	if err := p.expect('['); err != nil {
		return nil, err
	}
	out := []rosterEntry{}
	if p.peek() == ']' {
		p.i++
		return out, nil
	}
	for {
		e, err := p.tuple()
		if err != nil {
			return nil, err
		}
		if len(out) == maxRosterEntries {
			return nil, fmt.Errorf("more than %d tuples", maxRosterEntries)
		}
		out = append(out, e)
		switch p.peek() {
		case ',':
			p.i++
		case ']':
			p.i++
			return out, nil
		default:
			return nil, p.errorf("',' or ']'")
		}
	}
}

func (p *termParser) tuple() (rosterEntry, error) {
	if err := p.expect('{'); err != nil {
		return rosterEntry{}, err
	}
	var f [4]string
	for n := range f {
		if n > 0 {
			if err := p.expect(','); err != nil {
				return rosterEntry{}, err
			}
		}
		s, err := p.text()
		if err != nil {
			return rosterEntry{}, err
		}
		f[n] = s
	}
	if err := p.expect('}'); err != nil {
		return rosterEntry{}, err
	}
	return rosterEntry{User: f[0], Server: f[1], Group: f[2], Nick: f[3]}, nil
}

// text is a string or a binary.
func (p *termParser) text() (string, error) {
	switch p.peek() {
	case '"':
		return p.str()
	case '<':
		return p.binary()
	}
	return "", p.errorf("a string or a binary")
}

// binary is <<>>, <<"...">> or <<"..."/utf8>>.
func (p *termParser) binary() (string, error) {
	if !strings.HasPrefix(p.s[p.i:], "<<") {
		return "", p.errorf("'<<'")
	}
	p.i += 2
	if p.peek() == '>' {
		if !strings.HasPrefix(p.s[p.i:], ">>") {
			return "", p.errorf("'>>'")
		}
		p.i += 2
		return "", nil
	}
	if p.peek() != '"' {
		return "", p.errorf("a string in the binary")
	}
	s, err := p.str()
	if err != nil {
		return "", err
	}
	if p.peek() == '/' {
		p.i++
		p.skip()
		if !strings.HasPrefix(p.s[p.i:], "utf8") {
			return "", p.errorf("utf8 after '/'")
		}
		p.i += 4
	}
	p.skip()
	if !strings.HasPrefix(p.s[p.i:], ">>") {
		return "", p.errorf("'>>'")
	}
	p.i += 2
	return s, nil
}

// str is a double-quoted string with Erlang's escapes.
func (p *termParser) str() (string, error) {
	p.i++ // the opening quote
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			return "", p.errorf("the closing '\"'")
		}
		r, size := utf8.DecodeRuneInString(p.s[p.i:])
		switch r {
		case '"':
			p.i++
			return b.String(), nil
		case '\\':
			p.i++
			e, err := p.escape()
			if err != nil {
				return "", err
			}
			b.WriteRune(e)
		default:
			p.i += size
			b.WriteRune(r)
		}
	}
}

// escapeChars are Erlang's one-letter escapes.
var escapeChars = map[byte]rune{'b': '\b', 'd': 0x7f, 'e': 0x1b, 'f': '\f', 'n': '\n', 'r': '\r', 's': ' ', 't': '\t', 'v': '\v'}

// escape reads what follows a backslash.
func (p *termParser) escape() (rune, error) {
	if p.i >= len(p.s) {
		return 0, p.errorf("an escape")
	}
	c := p.s[p.i]
	switch {
	case c >= '0' && c <= '7': // up to three octal digits
		n := 0
		for k := 0; k < 3 && p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '7'; k++ {
			n = n*8 + int(p.s[p.i]-'0')
			p.i++
		}
		return rune(n), nil
	case c == 'x': // \xHH or \x{H...}
		p.i++
		digits, n := "", 2
		if p.i < len(p.s) && p.s[p.i] == '{' {
			end := strings.IndexByte(p.s[p.i:], '}')
			if end < 2 {
				return 0, p.errorf("hex digits and '}'")
			}
			digits, n = p.s[p.i+1:p.i+end], end+1
		} else if p.i+2 <= len(p.s) {
			digits = p.s[p.i : p.i+2]
		}
		v, err := strconv.ParseUint(digits, 16, 32)
		if err != nil || v > utf8.MaxRune || v >= 0xd800 && v <= 0xdfff {
			return 0, p.errorf("a valid hexadecimal character code")
		}
		p.i += n
		return rune(v), nil
	case c == '^':
		p.i++
		if p.i >= len(p.s) || !(p.s[p.i] >= '@' && p.s[p.i] <= '_' || p.s[p.i] >= 'a' && p.s[p.i] <= 'z') {
			return 0, p.errorf("a control character letter")
		}
		r := rune(p.s[p.i] & 0x1f)
		p.i++
		return r, nil
	}
	if e, ok := escapeChars[c]; ok {
		p.i++
		return e, nil
	}
	// Any other character stands for itself (\" \\ \').
	r, size := utf8.DecodeRuneInString(p.s[p.i:])
	p.i += size
	return r, nil
}
