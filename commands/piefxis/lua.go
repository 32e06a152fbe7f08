package piefxis

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The subset of Lua that Prosody's util.serialization writes into its data
// files: "return <value>;" (keyval stores, .dat) or "item(<value>);"
// repeated (lists, .list), where a value is a table, a string, a number,
// true, false or nil. Nothing is evaluated.

// Table is a Lua table: keys are string, int64, float64 or bool.
type Table map[any]any

// String returns t[key] if it is a string.
func (t Table) String(key any) string {
	s, _ := t[key].(string)
	return s
}

// Table returns t[key] if it is a table.
func (t Table) Table(key any) Table {
	v, _ := t[key].(Table)
	return v
}

// Int returns t[key] if it is a whole number.
func (t Table) Int(key any) (int64, bool) {
	switch v := t[key].(type) {
	case int64:
		return v, true
	case float64:
		if v == float64(int64(v)) {
			return int64(v), true
		}
	}
	return 0, false
}

// Len is the length of the array part: t[1]..t[n] all present.
func (t Table) Len() int {
	n := 0
	for {
		if _, ok := t[int64(n+1)]; !ok {
			return n
		}
		n++
	}
}

// ParseReturn parses "return <value>;" (a .dat file).
func ParseReturn(src string) (any, error) {
	p := &luaParser{s: src}
	p.space()
	if !p.word("return") {
		return nil, p.fail("expected return")
	}
	v, err := p.value(0)
	if err != nil {
		return nil, err
	}
	p.space()
	p.eat(';')
	p.space()
	if p.i != len(p.s) {
		return nil, p.fail("trailing text")
	}
	return v, nil
}

// ParseItems parses a sequence of "item(<value>);" (a .list file).
func ParseItems(src string) ([]any, error) {
	p := &luaParser{s: src}
	var out []any
	for {
		p.space()
		if p.i == len(p.s) {
			return out, nil
		}
		if !p.word("item") {
			return nil, p.fail("expected item(")
		}
		p.space()
		if !p.eat('(') {
			return nil, p.fail("expected (")
		}
		v, err := p.value(0)
		if err != nil {
			return nil, err
		}
		p.space()
		if !p.eat(')') {
			return nil, p.fail("expected )")
		}
		p.space()
		p.eat(';')
		out = append(out, v)
	}
}

type luaParser struct {
	s string
	i int
}

const maxLuaDepth = 100

func (p *luaParser) fail(msg string) error {
	line := 1 + strings.Count(p.s[:p.i], "\n")
	return fmt.Errorf("lua data, line %d: %s", line, msg)
}

// space skips white space and -- comments.
func (p *luaParser) space() {
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			p.i++
		case strings.HasPrefix(p.s[p.i:], "--"):
			if j := strings.IndexByte(p.s[p.i:], '\n'); j >= 0 {
				p.i += j + 1
			} else {
				p.i = len(p.s)
			}
		default:
			return
		}
	}
}

func (p *luaParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func isNameByte(c byte, first bool) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || !first && c >= '0' && c <= '9'
}

// word consumes the keyword or name w if it stands alone.
func (p *luaParser) word(w string) bool {
	if !strings.HasPrefix(p.s[p.i:], w) {
		return false
	}
	if j := p.i + len(w); j < len(p.s) && isNameByte(p.s[j], false) {
		return false
	}
	p.i += len(w)
	return true
}

func (p *luaParser) value(depth int) (any, error) {
	if depth > maxLuaDepth {
		return nil, p.fail("nested too deeply")
	}
	p.space()
	if p.i >= len(p.s) {
		return nil, p.fail("unexpected end")
	}
	switch c := p.s[p.i]; {
	case c == '{':
		return p.table(depth)
	case c == '"' || c == '\'':
		return p.str()
	case c == '-' || c == '.' || c >= '0' && c <= '9' || c == '(':
		return p.number()
	case p.word("true"):
		return true, nil
	case p.word("false"):
		return false, nil
	case p.word("nil"):
		return nil, nil
	}
	return nil, p.fail("unexpected character")
}

func (p *luaParser) table(depth int) (Table, error) {
	p.i++ // {
	t := Table{}
	next := int64(1)
	for {
		p.space()
		if p.eat('}') {
			return t, nil
		}
		var key, val any
		var err error
		switch {
		case p.eat('['):
			if key, err = p.value(depth + 1); err != nil {
				return nil, err
			}
			if f, ok := key.(float64); ok && f == float64(int64(f)) {
				key = int64(f)
			}
			p.space()
			if !p.eat(']') {
				return nil, p.fail("expected ]")
			}
			p.space()
			if !p.eat('=') {
				return nil, p.fail("expected =")
			}
		case p.i < len(p.s) && isNameByte(p.s[p.i], true) && p.nameAssign():
			j := p.i
			for p.i < len(p.s) && isNameByte(p.s[p.i], false) {
				p.i++
			}
			key = p.s[j:p.i]
			p.space()
			p.eat('=')
		default:
			key = next
			next++
		}
		if val, err = p.value(depth + 1); err != nil {
			return nil, err
		}
		if key == nil {
			return nil, p.fail("nil table key")
		}
		if val != nil {
			t[key] = val
		}
		p.space()
		if !p.eat(',') && !p.eat(';') {
			p.space()
			if !p.eat('}') {
				return nil, p.fail("expected , ; or }")
			}
			return t, nil
		}
	}
}

// nameAssign reports whether a name followed by "=" (not "==") starts here.
func (p *luaParser) nameAssign() bool {
	j := p.i
	for j < len(p.s) && isNameByte(p.s[j], false) {
		j++
	}
	switch p.s[p.i:j] {
	case "true", "false", "nil":
		return false
	}
	for j < len(p.s) && (p.s[j] == ' ' || p.s[j] == '\t' || p.s[j] == '\n' || p.s[j] == '\r') {
		j++
	}
	return j < len(p.s) && p.s[j] == '=' && (j+1 == len(p.s) || p.s[j+1] != '=')
}

func (p *luaParser) number() (any, error) {
	j := p.i
	if p.s[j] == '(' { // (1/0), (-1/0), (0/0): infinities and NaN, never data we import
		return nil, p.fail("not a finite number")
	}
	for p.i < len(p.s) && strings.IndexByte("0123456789abcdefABCDEFxX.+-pP", p.s[p.i]) >= 0 {
		if (p.s[p.i] == '+' || p.s[p.i] == '-') && p.i > j && !strings.ContainsRune("eEpP", rune(p.s[p.i-1])) {
			break
		}
		p.i++
	}
	text := p.s[j:p.i]
	if n, err := strconv.ParseInt(text, 0, 64); err == nil {
		return n, nil
	}
	f, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return nil, p.fail("bad number " + strconv.Quote(text))
	}
	return f, nil
}

// str reads a quoted string with Lua's escapes; the result is bytes, as
// in Lua (Prosody writes every byte above 126 as \ddd).
func (p *luaParser) str() (string, error) {
	q := p.s[p.i]
	p.i++
	var b strings.Builder
	for {
		if p.i >= len(p.s) {
			return "", p.fail("unterminated string")
		}
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), nil
		case c == '\n':
			return "", p.fail("newline in string")
		case c != '\\':
			b.WriteByte(c)
			p.i++
			continue
		}
		p.i++
		if p.i >= len(p.s) {
			return "", p.fail("unterminated string")
		}
		e := p.s[p.i]
		p.i++
		switch e {
		case 'a':
			b.WriteByte('\a')
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n', '\n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'v':
			b.WriteByte('\v')
		case '\\', '"', '\'':
			b.WriteByte(e)
		case 'x':
			if p.i+2 > len(p.s) {
				return "", p.fail("bad \\x escape")
			}
			n, err := strconv.ParseUint(p.s[p.i:p.i+2], 16, 8)
			if err != nil {
				return "", p.fail("bad \\x escape")
			}
			b.WriteByte(byte(n))
			p.i += 2
		case 'z':
			for p.i < len(p.s) && strings.IndexByte(" \t\r\n\f\v", p.s[p.i]) >= 0 {
				p.i++
			}
		case 'u':
			end := strings.IndexByte(p.s[p.i:], '}')
			if !strings.HasPrefix(p.s[p.i:], "{") || end < 0 {
				return "", p.fail("bad \\u escape")
			}
			n, err := strconv.ParseUint(p.s[p.i+1:p.i+end], 16, 31)
			if err != nil || n > utf8.MaxRune {
				return "", p.fail("bad \\u escape")
			}
			b.WriteRune(rune(n))
			p.i += end + 1
		default:
			if e < '0' || e > '9' {
				return "", p.fail("bad escape")
			}
			n := int(e - '0')
			for k := 0; k < 2 && p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9'; k++ {
				n = n*10 + int(p.s[p.i]-'0')
				p.i++
			}
			if n > 255 {
				return "", p.fail("bad decimal escape")
			}
			b.WriteByte(byte(n))
		}
	}
}

var errNotTable = errors.New("not a table")
