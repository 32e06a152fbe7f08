package xmlel

import (
	"bytes"
	"encoding/xml"
	"reflect"
	"testing"

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

func TestParseFast(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		// fast: ParseFast takes it (else it leaves it to encoding/xml).
		fast bool
	}{
		{"chat message", `<message type='chat' to='bob@example.test' id="a1"><body>t=1;xxx</body></message>`, true},
		{"empty element and spaces", "<presence ><show\t>away</show><x xmlns='vcard-temp:x:update' /><c\nxmlns=\"http://jabber.org/protocol/caps\" ver='v'/></presence >", true},
		{"xml:lang and inherited namespace", `<message xml:lang='en'><x xmlns='urn:x'><y a='1'/>text</x><body>héllo 😀</body></message>`, true},
		{"white space between children", "<iq type='get' id='1'>\n <query xmlns='jabber:iq:roster'/>\n</iq>", true},
		{"empty default namespace", `<message><x xmlns=''/></message>`, true},
		{"followed by the next stanza", `<message><body>a</body></message><message/>`, true},
		{"entity", `<message><body>a &amp; b</body></message>`, false},
		{"character reference", `<message><body>&#65;</body></message>`, false},
		{"prefixed element", `<message><p:x xmlns:p='urn:p'/></message>`, false},
		{"other xml: attribute", `<message xml:space='preserve'/>`, false},
		{"carriage return", "<message>\r\n</message>", false},
		{"CDATA", `<message><body><![CDATA[x]]></body></message>`, false},
		{"comment", `<message><!-- c --></message>`, false},
		{"incomplete", `<message><body>a</body>`, false},
		{"incomplete tag", `<message to='a`, false},
		{"mismatched end", `<message><body>a</bod></message>`, false},
		{"unquoted attribute", `<message to=a/>`, false},
		{"no space between attributes", `<message a='1'b='2'/>`, false},
		{"less-than in attribute", `<message to='<'/>`, false},
		{"control character", "<message>\x01</message>", false},
		{"invalid UTF-8", "<message>\xff</message>", false},
		{"name starting with a digit", `<1message/>`, false},
		{"element named xmlns", `<xmlns/>`, false},
		{"end of stream", `</stream:stream>`, false},
		{"CDATA end in text", `<message>]]></message>`, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			el, n, ok := ParseFast([]byte(tt.in), "jabber:client", 0)
			require.Equal(t, tt.fast, ok)
			if !ok {
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
	_, _, ok := ParseFast(in, "jabber:client", len(in))
	require.True(t, ok, "exactly the limit")
	_, _, ok = ParseFast(in, "jabber:client", len(in)-1)
	require.False(t, ok, "over the limit: Read reports it")
	deep := bytes.Repeat([]byte("<a>"), maxFastDepth+1)
	deep = append(deep, bytes.Repeat([]byte("</a>"), maxFastDepth+1)...)
	_, _, ok = ParseFast(deep, "jabber:client", 0)
	require.False(t, ok, "too deep for the fast path")
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
		el, n, ok := ParseFast(in, "jabber:client", 0)
		if !ok {
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
