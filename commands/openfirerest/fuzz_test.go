package openfirerest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
)

// FuzzParseBody is the request entity reader: any body under any content
// type is read or refused without a panic, and an XML property entity's
// attributes come back as its fields.
func FuzzParseBody(f *testing.F) {
	for _, s := range []struct{ ct, body string }{
		{"application/xml", `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><property key="xmpp.pep.enabled" value="false"/>`},
		{"application/xml", `<message><body>Your message</body></message>`},
		{"application/json", `{"key":"xmpp.domain","value":"a.example"}`},
		{"application/json", `{"body":"hi","groups":{"group":["a","b"]}}`},
		{"", `<user><username>a</username><properties><property key="k" value="v"/></properties></user>`},
		{"text/plain", `x`},
		{"application/xml", `<a b="1" b="2"><c/></a><d/>`},
	} {
		f.Add(s.ct, []byte(s.body))
	}
	f.Fuzz(func(t *testing.T, ct string, body []byte) {
		got, err := parseBody(ct, body)
		if err != nil {
			require.Nil(t, got)
			return
		}
		var root struct {
			XMLName xml.Name
			Attrs   []xml.Attr `xml:",any,attr"`
		}
		if isXML(ct) && xml.Unmarshal(body, &root) == nil {
			for _, a := range root.Attrs {
				require.Contains(t, got, a.Name.Local)
			}
		}
	})
}

// FuzzRender is the answer writer: for any cell text the XML body of the
// system entities parses and gives the text back (or U+FFFD for what XML
// cannot hold), and the JSON body is valid JSON.
func FuzzRender(f *testing.F) {
	f.Add("xmpp.domain", "a&b<c>\"d'", "On the train")
	f.Add("\x00\x01", "\xff\uFFFE", "tab\there\r\n")
	f.Add("]]>", "<!--", "&amp;")
	f.Fuzz(func(t *testing.T, key, value, text string) {
		for _, tb := range []commands.Table{
			{Columns: commands.OpenfirePropertyList.Result.Columns, Rows: [][]any{{key, value}, {value, key}}},
			{Columns: commands.OpenfireSecurityLog.Result.Columns, Rows: [][]any{{int64(1), key, int64(2), value, text, text}}},
		} {
			for _, item := range []bool{false, true} {
				out := renderXML(tb, item)
				dec := xml.NewDecoder(bytes.NewReader(out))
				for {
					_, err := dec.Token()
					if err == io.EOF {
						break
					}
					require.NoError(t, err, "%q", out)
				}
				require.True(t, json.Valid(renderJSON(tb, item)), "%q", renderJSON(tb, item))
			}
		}
	})
}
