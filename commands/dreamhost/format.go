package dreamhost

import (
	"bytes"
	"encoding/json"
	"html"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xmppgate/xmppgate/commands"
)

// Envelope is one DreamHost reply before encoding: result is success or
// error, data a scalar string or a table, and an optional reason.
type Envelope struct {
	OK     bool
	Scalar string          // error code, or a scalar success value
	Table  *commands.Table // success table (nil for scalars and errors)
	Reason string
	// TabDetail shows Reason after a TAB on the tab format's code line, as
	// DreamHost did for slow_down_bucko and invalid_<arg> specifics.
	TabDetail bool
}

func (e Envelope) result() string {
	if e.OK {
		return "success"
	}
	return "error"
}

// Format is one of the seven output formats.
type Format string

// The formats; Tab is the default and the answer to an unknown one.
const (
	Tab  Format = "tab"
	JSON Format = "json"
	XML  Format = "xml"
	Perl Format = "perl"
	PHP  Format = "php"
	YAML Format = "yaml"
	HTML Format = "html"
)

// ParseFormat maps a format parameter (case-insensitive) to a Format.
func ParseFormat(s string) Format {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case JSON, XML, Perl, PHP, YAML, HTML:
		return f
	}
	return Tab
}

// Every encoder writes invalid UTF-8 as one U+FFFD per bad run, so all
// formats show the same text for the same value.

// ContentType is the Content-Type sent with format f.
func (f Format) ContentType() string {
	switch f {
	case JSON:
		return "application/json; charset=utf-8"
	case XML:
		return "text/xml; charset=utf-8"
	case HTML:
		return "text/html; charset=utf-8"
	}
	return "text/plain; charset=utf-8"
}

// Encode renders e in format f.
func Encode(f Format, e Envelope) []byte {
	switch f {
	case JSON:
		return encodeJSON(e)
	case XML:
		return encodeXML(e)
	case Perl:
		return encodePerl(e)
	case PHP:
		return encodePHP(e)
	case YAML:
		return encodeYAML(e)
	case HTML:
		return encodeHTML(e)
	}
	return encodeTab(e)
}

// cellStrings returns a cell as a list of strings and whether it is a list.
func cellStrings(c any) ([]string, bool) {
	switch v := c.(type) {
	case []string:
		return v, true
	case string:
		return []string{v}, false
	}
	return []string{""}, false
}

// tabSafe drops what the tab format cannot carry: TAB and line breaks.
var tabSafe = strings.NewReplacer("\t", " ", "\r\n", " ", "\n", " ", "\r", " ")

func encodeTab(e Envelope) []byte {
	var b bytes.Buffer
	b.WriteString(e.result())
	b.WriteByte('\n')
	if e.Table == nil {
		b.WriteString(tabSafe.Replace(e.Scalar))
		if e.TabDetail && e.Reason != "" {
			b.WriteByte('\t')
			b.WriteString(tabSafe.Replace(e.Reason))
		}
		b.WriteByte('\n')
		return b.Bytes()
	}
	b.WriteString(strings.Join(e.Table.Columns, "\t"))
	b.WriteByte('\n')
	for _, row := range e.Table.Rows {
		for i, c := range row {
			if i > 0 {
				b.WriteByte('\t')
			}
			vs, _ := cellStrings(c)
			b.WriteString(tabSafe.Replace(strings.Join(vs, ",")))
		}
		b.WriteByte('\n')
	}
	return b.Bytes()
}

func jsonString(b *bytes.Buffer, s string) {
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(strings.ToValidUTF8(s, "\uFFFD")) // a string always encodes
	b.Write(bytes.TrimSuffix(out.Bytes(), []byte("\n")))
}

func encodeJSON(e Envelope) []byte {
	var b bytes.Buffer
	b.WriteString(`{"data":`)
	if e.Table == nil {
		jsonString(&b, e.Scalar)
	} else {
		b.WriteByte('[')
		for i, row := range e.Table.Rows {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteByte('{')
			for j, c := range row {
				if j > 0 {
					b.WriteByte(',')
				}
				jsonString(&b, e.Table.Columns[j])
				b.WriteByte(':')
				vs, list := cellStrings(c)
				if !list {
					jsonString(&b, vs[0])
					continue
				}
				b.WriteByte('[')
				for k, v := range vs {
					if k > 0 {
						b.WriteByte(',')
					}
					jsonString(&b, v)
				}
				b.WriteByte(']')
			}
			b.WriteByte('}')
		}
		b.WriteByte(']')
	}
	if e.Reason != "" {
		b.WriteString(`,"reason":`)
		jsonString(&b, e.Reason)
	}
	b.WriteString(`,"result":`)
	jsonString(&b, e.result())
	b.WriteByte('}')
	return b.Bytes()
}

// xmlText escapes character data (what XML cannot carry becomes
// U+FFFD).
var xmlText = commands.EscapeXMLText

func encodeXML(e Envelope) []byte {
	var b bytes.Buffer
	b.WriteString("<dreamhost>\n")
	if e.Table == nil {
		b.WriteString("  <data>" + xmlText(e.Scalar) + "</data>\n")
	} else {
		for _, row := range e.Table.Rows {
			b.WriteString("  <data>\n")
			for j, c := range row {
				col := e.Table.Columns[j]
				vs, list := cellStrings(c)
				if !list {
					b.WriteString("    <" + col + ">" + xmlText(vs[0]) + "</" + col + ">\n")
					continue
				}
				for _, v := range vs {
					b.WriteString("    <" + col + ">" + xmlText(v) + "</" + col + ">\n")
				}
			}
			b.WriteString("  </data>\n")
		}
	}
	if e.Reason != "" {
		b.WriteString("  <reason>" + xmlText(e.Reason) + "</reason>\n")
	}
	b.WriteString("  <result>" + e.result() + "</result>\n</dreamhost>\n")
	return b.Bytes()
}

// perlString quotes s for Perl's single-quoted strings: only \ and ' are
// special there, so nothing in the value can interpolate when eval'ed.
func perlString(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func encodePerl(e Envelope) []byte {
	var b bytes.Buffer
	b.WriteString("$result = {\n  'data' => ")
	if e.Table == nil {
		b.WriteString(perlString(e.Scalar))
	} else if len(e.Table.Rows) == 0 {
		b.WriteString("[]")
	} else {
		b.WriteString("[\n")
		for i, row := range e.Table.Rows {
			b.WriteString("    {\n")
			for j, c := range row {
				b.WriteString("      " + perlString(e.Table.Columns[j]) + " => ")
				vs, list := cellStrings(c)
				switch {
				case !list:
					b.WriteString(perlString(vs[0]))
				case len(vs) == 0:
					b.WriteString("[]")
				default:
					b.WriteString("[\n")
					for k, v := range vs {
						b.WriteString("        " + perlString(v))
						if k < len(vs)-1 {
							b.WriteByte(',')
						}
						b.WriteByte('\n')
					}
					b.WriteString("      ]")
				}
				if j < len(row)-1 {
					b.WriteByte(',')
				}
				b.WriteByte('\n')
			}
			b.WriteString("    }")
			if i < len(e.Table.Rows)-1 {
				b.WriteByte(',')
			}
			b.WriteByte('\n')
		}
		b.WriteString("  ]")
	}
	b.WriteString(",\n")
	if e.Reason != "" {
		b.WriteString("  'reason' => " + perlString(e.Reason) + ",\n")
	}
	b.WriteString("  'result' => " + perlString(e.result()) + "\n};\n")
	return b.Bytes()
}

// phpString is PHP serialize() of a string: the length counts bytes.
func phpString(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return "s:" + strconv.Itoa(len(s)) + ":\"" + s + "\";"
}

func encodePHP(e Envelope) []byte {
	var b bytes.Buffer
	n := 2
	if e.Reason != "" {
		n = 3
	}
	b.WriteString("a:" + strconv.Itoa(n) + ":{" + phpString("data"))
	if e.Table == nil {
		b.WriteString(phpString(e.Scalar))
	} else {
		b.WriteString("a:" + strconv.Itoa(len(e.Table.Rows)) + ":{")
		for i, row := range e.Table.Rows {
			b.WriteString("i:" + strconv.Itoa(i) + ";a:" + strconv.Itoa(len(row)) + ":{")
			for j, c := range row {
				b.WriteString(phpString(e.Table.Columns[j]))
				vs, list := cellStrings(c)
				if !list {
					b.WriteString(phpString(vs[0]))
					continue
				}
				b.WriteString("a:" + strconv.Itoa(len(vs)) + ":{")
				for k, v := range vs {
					b.WriteString("i:" + strconv.Itoa(k) + ";" + phpString(v))
				}
				b.WriteByte('}')
			}
			b.WriteByte('}')
		}
		b.WriteByte('}')
	}
	if e.Reason != "" {
		b.WriteString(phpString("reason") + phpString(e.Reason))
	}
	b.WriteString(phpString("result") + phpString(e.result()) + "}")
	return b.Bytes()
}

var yamlReserved = map[string]bool{
	"y": true, "n": true, "yes": true, "no": true, "true": true, "false": true, "on": true, "off": true,
	"null": true, "~": true,
}

// yamlQuotable tells whether r may stand as itself inside single
// quotes: YAML's printable set less what parsers treat as a line break.
// NEL, U+2028 and U+2029 are breaks to libyaml and its ports (YAML 1.1), so
// a single-quoted scalar folds them and drops the spaces before them.
func yamlQuotable(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xA0:
		return false
	case r == 0x2028, r == 0x2029, r == 0xFEFF, r == 0xFFFE, r == 0xFFFF:
		return false
	}
	return true
}

// yamlScalar writes s plain when YAML 1.1 would read it back as the same
// string, single-quoted when every rune may stand as itself there,
// double-quoted with escapes otherwise.
func yamlScalar(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	plain := s != "" && !yamlReserved[strings.ToLower(s)]
	for i, r := range s {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '_' ||
			i > 0 && (r >= '0' && r <= '9' || r == '.' || r == '-' || r == '@' || r == '/' || r == '+')
		plain = plain && ok
	}
	if plain {
		return s
	}
	printable := utf8.ValidString(s)
	for _, r := range s {
		printable = printable && yamlQuotable(r)
	}
	if printable {
		return "'" + strings.ReplaceAll(s, "'", "''") + "'"
	}
	var b strings.Builder
	b.WriteByte('"')
	for i, r := range s {
		switch {
		case r == utf8.RuneError && !strings.HasPrefix(s[i:], "\uFFFD"):
			b.WriteString(`\uFFFD`)
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xA0):
			b.WriteString(`\x` + strconv.FormatInt(int64(r)|0x100, 16)[1:])
		case !yamlQuotable(r):
			b.WriteString(`\u` + strings.ToUpper(strconv.FormatInt(int64(r)|0x10000, 16)[1:]))
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func encodeYAML(e Envelope) []byte {
	var b bytes.Buffer
	b.WriteString("---\ndata:")
	switch {
	case e.Table == nil:
		b.WriteString(" " + yamlScalar(e.Scalar) + "\n")
	case len(e.Table.Rows) == 0:
		b.WriteString(" []\n")
	default:
		b.WriteByte('\n')
		for _, row := range e.Table.Rows {
			for j, c := range row {
				if j == 0 {
					b.WriteString("  - ")
				} else {
					b.WriteString("    ")
				}
				b.WriteString(e.Table.Columns[j] + ":")
				vs, list := cellStrings(c)
				switch {
				case !list:
					b.WriteString(" " + yamlScalar(vs[0]) + "\n")
				case len(vs) == 0:
					b.WriteString(" []\n")
				default:
					b.WriteByte('\n')
					for _, v := range vs {
						b.WriteString("      - " + yamlScalar(v) + "\n")
					}
				}
			}
		}
	}
	if e.Reason != "" {
		b.WriteString("reason: " + yamlScalar(e.Reason) + "\n")
	}
	b.WriteString("result: " + e.result() + "\n")
	return b.Bytes()
}

func encodeHTML(e Envelope) []byte {
	esc := func(s string) string { return html.EscapeString(strings.ToValidUTF8(s, "\uFFFD")) }
	var b bytes.Buffer
	b.WriteString("<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>DreamHost API: " + e.result() + "</title></head>\n<body>\n")
	b.WriteString("<p class=\"result\">" + e.result() + "</p>\n")
	if e.Table == nil {
		b.WriteString("<p class=\"data\">" + esc(e.Scalar) + "</p>\n")
	} else {
		b.WriteString("<table>\n<tr>")
		for _, c := range e.Table.Columns {
			b.WriteString("<th>" + esc(c) + "</th>")
		}
		b.WriteString("</tr>\n")
		for _, row := range e.Table.Rows {
			b.WriteString("<tr>")
			for _, c := range row {
				vs, _ := cellStrings(c)
				b.WriteString("<td>" + esc(strings.Join(vs, ", ")) + "</td>")
			}
			b.WriteString("</tr>\n")
		}
		b.WriteString("</table>\n")
	}
	if e.Reason != "" {
		b.WriteString("<p class=\"reason\">" + esc(e.Reason) + "</p>\n")
	}
	b.WriteString("</body>\n</html>\n")
	return b.Bytes()
}
