package xmlel

import (
	"encoding/xml"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, parent, want string }{
		0: {`<message xmlns="jabber:client" to="a@b" xml:lang="en"><body>1 &lt; 2 &amp; "q"</body></message>`, "jabber:client",
			`<message to="a@b" xml:lang="en"><body>1 &lt; 2 &amp; &quot;q&quot;</body></message>`},
		1: {`<iq xmlns="jabber:client"><query xmlns="jabber:iq:roster"><item jid="x"/></query></iq>`, "",
			`<iq xmlns="jabber:client"><query xmlns="jabber:iq:roster"><item jid="x"/></query></iq>`},
		2: {`<a xmlns="urn:a" xmlns:p="urn:p" p:attr="v"><p:b/></a>`, "urn:a",
			`<a xmlns:ns1="urn:p" ns1:attr="v"><b xmlns="urn:p"/></a>`},
		3: {`<stream:x xmlns:stream="http://etherx.jabber.org/streams"/>`, "",
			`<x xmlns="http://etherx.jabber.org/streams"/>`},
	}
	for i, tt := range tests {
		el, err := Parse([]byte(tt.in))
		require.NoError(t, err, "row %d", i)
		require.Equal(t, tt.want, string(el.Bytes(tt.parent)), "row %d", i)
		again, err := Parse(el.Bytes(""))
		require.NoError(t, err, "row %d", i)
		require.Equal(t, el.String(), again.String(), "row %d: stable", i)
	}
}

// TestBadLocalName: encoding/xml checks a prefixed name as a whole, so
// "p:0" passes it; written without its prefix the local part "0" is no
// name, and a stanza carrying it would break the stream it is routed to.
// It is a syntax error, as the streams' not-well-formed needs.
func TestBadLocalName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in  string
		bad bool
	}{
		{`<a xmlns:p="urn:p"><p:0/></a>`, true},
		{`<p:0 xmlns:p="urn:p"/>`, true},
		{`<a xmlns:p="urn:p"><b p:-x="v"/></a>`, true},
		{`<a><u:0b xmlns="x"/></a>`, true},            // unbound prefix
		{"<a xmlns:p='urn:p'><p:\u0301x/></a>", true}, // a combining mark first
		{`<a xmlns:p="urn:p"><p:_x p:y.z="v"/></a>`, false},
		{"<a xmlns:p='urn:p'><p:\u00e9t\u00e9/></a>", false},
	}
	for i, tt := range tests {
		el, err := Parse([]byte(tt.in))
		var syn *xml.SyntaxError
		require.Equal(t, tt.bad, errors.As(err, &syn), "row %d: %v", i, err)
		if tt.bad {
			require.Contains(t, syn.Msg, "after a prefix", "row %d: encoding/xml alone lets it through", i)
		} else {
			require.NoError(t, err, "row %d", i)
			_, err := Parse(el.Bytes(""))
			require.NoError(t, err, "row %d: its output parses", i)
		}
	}
}

func TestAccessors(t *testing.T) {
	t.Parallel()
	el := New("jabber:client", "presence", "to", "a@b", "type", "")
	require.Equal(t, "a@b", el.Get("to"))
	require.Empty(t, el.Get("type"))
	el.Set("to", "").Set("from", "c@d").Text("jabber:client", "status", "hi")
	require.Empty(t, el.Get("to"))
	require.Equal(t, "hi", el.ChildText("jabber:client", "status"))
	cp := el.Copy()
	cp.Set("from", "x@y")
	require.Equal(t, "c@d", el.Get("from"))
	require.Equal(t, `<presence from="c@d"><status>hi</status></presence>`, string(el.Bytes("jabber:client")))
}

// FuzzParse: whatever parses must serialise to something that parses to the same.
func FuzzParse(f *testing.F) {
	f.Add([]byte(`<message xmlns="jabber:client" to="a@b"><body>x</body></message>`))
	f.Add([]byte(`<a xmlns:p="urn:p" p:x="1" xml:lang="en"><p:b>&amp;</p:b></a>`))
	f.Fuzz(func(t *testing.T, in []byte) {
		el, err := Parse(in)
		if err != nil {
			return
		}
		again, err := Parse(el.Bytes(""))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", el.Bytes(""), err)
		}
		if again.String() != el.String() {
			t.Fatalf("unstable: %q vs %q", again.String(), el.String())
		}
		// Every '<' of the output opens a tag (text escapes it); inside
		// tags a parser turns a literal tab or newline of an attribute
		// value into a space, so none may be there.
		for _, tag := range strings.Split(el.String(), "<")[1:] {
			tag, _, _ = strings.Cut(tag, ">")
			if strings.ContainsAny(tag, "\t\n\r") {
				t.Fatalf("literal whitespace in the tag %q of %q", tag, el.String())
			}
		}
	})
}
