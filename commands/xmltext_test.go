package commands

import (
	"encoding/xml"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEscapeXML(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct{ in, text, attr string }{
		0: {"Sales", "Sales", "Sales"},
		1: {`a&b<c>"d'`, `a&amp;b&lt;c&gt;"d'`, `a&amp;b&lt;c&gt;&quot;d'`},
		2: {"\x00\x01", "\uFFFD\uFFFD", "\uFFFD\uFFFD"},
		3: {"tab\there\r\n", "tab\there\r\n", "tab\there\r\n"},
		4: {"a\xff\xfeb", "a\uFFFDb", "a\uFFFDb"},
		5: {"\uFFFE\uFFFF", "\uFFFD\uFFFD", "\uFFFD\uFFFD"},
	} {
		require.Equal(t, tc.text, EscapeXMLText(tc.in), "row %d", i)
		require.Equal(t, tc.attr, EscapeXMLAttr(tc.in), "row %d", i)
	}
}

// FuzzEscapeXML: any text, escaped, parses as element text and as an
// attribute value, and text XML can hold comes back as it was.
func FuzzEscapeXML(f *testing.F) {
	f.Add(`a&b<c>"d'`)
	f.Add("\x00\xff\uFFFE]]>")
	f.Fuzz(func(t *testing.T, s string) {
		var v struct {
			A    string `xml:"a,attr"`
			Text string `xml:",chardata"`
		}
		doc := `<x a="` + EscapeXMLAttr(s) + `">` + EscapeXMLText(s) + `</x>`
		require.NoError(t, xml.Unmarshal([]byte(doc), &v), "%q", doc)
		if s == strings.ToValidUTF8(s, "") && !strings.ContainsFunc(s, func(r rune) bool {
			return r < 0x20 && r != '\t' && r != '\n' || r == 0xFFFE || r == 0xFFFF
		}) {
			require.Equal(t, s, v.Text) // CR is read as LF, so it is left out here
		}
	})
}
