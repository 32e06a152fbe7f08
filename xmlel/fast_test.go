package xmlel

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
)

const fastStream = `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`

// viaDecoder reads the first stanza of in as a c2s stream does: after a
// header that declares jabber:client, with encoding/xml in Strict mode.
func viaDecoder(in []byte, limit int) (*Element, int64, error) {
	d := xml.NewDecoder(bytes.NewReader(append([]byte(fastStream), in...)))
	d.Strict = true
	if _, err := d.Token(); err != nil {
		return nil, 0, err
	}
	off := d.InputOffset()
	tok, err := d.Token()
	if err != nil {
		return nil, 0, err
	}
	start, ok := tok.(xml.StartElement)
	if !ok {
		return nil, 0, errNotStart
	}
	el, err := Read(d, start, off, limit)
	return el, d.InputOffset() - off, err
}

var errNotStart = xml.UnmarshalError("not a start element")

// isEOFSyntax: encoding/xml's error for input that ends inside a tag, or
// inside a character.
func isEOFSyntax(err error, in []byte) bool {
	var se *xml.SyntaxError
	if !errors.As(err, &se) {
		return false
	}
	last := len(in) - 1 // where the last character starts
	for last > 0 && len(in)-last < utf8.UTFMax && in[last]&0xC0 == 0x80 {
		last--
	}
	cut := last >= 0 && !utf8.FullRune(in[last:])
	return se.Msg == "unexpected EOF" || (se.Msg == "invalid UTF-8" && cut)
}

func TestParseFast(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		// fast: ParseFast takes it (else it leaves it to encoding/xml);
		// more: it would, given more bytes.
		fast, more bool
	}{
		{"chat message", `<message type='chat' to='bob@example.test' id="a1"><body>t=1;xxx</body></message>`, true, false},
		{"empty element and spaces", "<presence ><show\t>away</show><x xmlns='vcard-temp:x:update' /><c\nxmlns=\"http://jabber.org/protocol/caps\" ver='v'/></presence >", true, false},
		{"xml:lang and inherited namespace", `<message xml:lang='en'><x xmlns='urn:x'><y a='1'/>text</x><body>héllo 😀</body></message>`, true, false},
		{"white space between children", "<iq type='get' id='1'>\n <query xmlns='jabber:iq:roster'/>\n</iq>", true, false},
		{"empty default namespace", `<message><x xmlns=''/></message>`, true, false},
		{"followed by the next stanza", `<message><body>a</body></message><message/>`, true, false},
		{"entity", `<message><body>a &amp; b</body></message>`, false, false},
		{"character reference", `<message><body>&#65;</body></message>`, false, false},
		{"prefixed element", `<message><p:x xmlns:p='urn:p'/></message>`, false, false},
		{"other xml: attribute", `<message xml:space='preserve'/>`, false, false},
		{"carriage return", "<message>\r\n</message>", false, false},
		{"CDATA", `<message><body><![CDATA[x]]></body></message>`, false, false},
		{"comment", `<message><!-- c --></message>`, false, false},
		{"incomplete", `<message><body>a</body>`, false, true},
		{"incomplete tag", `<message to='a`, false, true},
		{"incomplete name", `<mess`, false, true},
		{"incomplete end tag", `<message></mess`, false, true},
		{"incomplete xml:lang", `<message xml:la`, false, true},
		{"incomplete character", "<message>\xc3", false, true},
		{"incomplete empty tag", `<message/`, false, true},
		{"incomplete, then outside the subset", `<message>&amp;<bo`, false, false},
		{"mismatched end", `<message><body>a</bod></message>`, false, false},
		{"unquoted attribute", `<message to=a/>`, false, false},
		{"no space between attributes", `<message a='1'b='2'/>`, false, false},
		{"less-than in attribute", `<message to='<'/>`, false, false},
		{"control character", "<message>\x01</message>", false, false},
		{"invalid UTF-8", "<message>\xff</message>", false, false},
		{"name starting with a digit", `<1message/>`, false, false},
		{"element named xmlns", `<xmlns/>`, false, false},
		{"end of stream", `</stream:stream>`, false, false},
		{"CDATA end in text", `<message>]]></message>`, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			el, n, more := ParseFast([]byte(tt.in), "jabber:client", 0)
			require.Equal(t, tt.fast, el != nil)
			require.Equal(t, tt.more, more)
			if el == nil {
				return
			}
			want, wn, err := viaDecoder([]byte(tt.in), 0)
			require.NoError(t, err)
			require.Equal(t, int(wn), n, "length")
			require.Equal(t, want, el)
		})
	}
}

func TestParseFastLimits(t *testing.T) {
	t.Parallel()
	in := []byte(`<message><body>0123456789</body></message>`)
	el, _, _ := ParseFast(in, "jabber:client", len(in))
	require.NotNil(t, el, "exactly the limit")
	el, _, more := ParseFast(in, "jabber:client", len(in)-1)
	require.Nil(t, el, "over the limit: Read reports it")
	require.False(t, more, "over the limit")
	deep := bytes.Repeat([]byte("<a>"), maxFastDepth+1)
	deep = append(deep, bytes.Repeat([]byte("</a>"), maxFastDepth+1)...)
	el, _, more = ParseFast(deep, "jabber:client", 0)
	require.Nil(t, el, "too deep for the fast path")
	require.False(t, more, "too deep")
}

// FuzzParseFast: whatever ParseFast takes, encoding/xml reads without
// error to the same tree and length.
func FuzzParseFast(f *testing.F) {
	f.Add([]byte(`<message type='chat' to='bob@example.test'><body>t=1;xx</body></message>`))
	f.Add([]byte(`<presence xml:lang='en'><x xmlns='urn:x' a="1"/> <show>away</show></presence>`))
	f.Add([]byte("<iq type='get' id='1'>\n <query xmlns='jabber:iq:roster'/>\n</iq><message/>"))
	f.Add([]byte(`<message><body>a &amp; b</body></message>`))
	f.Add([]byte("<a>\xc3\xa9\xf0\x9f\x98\x80</a>"))
	f.Fuzz(func(t *testing.T, in []byte) {
		el, n, more := ParseFast(in, "jabber:client", 0)
		if el == nil {
			// more: a prefix of an element ParseFast may take, so no
			// error of encoding/xml before the input ends.
			if more {
				if _, _, err := viaDecoder(in, 0); err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !isEOFSyntax(err, in) {
					t.Fatalf("more for %q, encoding/xml: %v", in, err)
				}
			}
			return
		}
		want, wn, err := viaDecoder(in, 0)
		if err != nil {
			t.Fatalf("ParseFast took %q, encoding/xml: %v", in, err)
		}
		if int(wn) != n {
			t.Fatalf("%q: length %d, encoding/xml %d", in, n, wn)
		}
		if !reflect.DeepEqual(el, want) {
			t.Fatalf("%q: %#v, encoding/xml %#v", in, el, want)
		}
	})
}
