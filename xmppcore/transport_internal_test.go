package xmppcore

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestQualified(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct{ in, want string }{
		0: {`<message to="a@b"><body>x</body></message>`, `<message xmlns='jabber:client' to="a@b"><body>x</body></message>`},
		1: {`<iq/>`, `<iq xmlns='jabber:client'/>`},
		2: {`<presence>`, `<presence xmlns='jabber:client'>`},
		3: {`<r xmlns='urn:xmpp:sm:3'/>`, `<r xmlns='urn:xmpp:sm:3'/>`},
		4: {`<message xmlns="jabber:client" to="x"/>`, `<message xmlns="jabber:client" to="x"/>`},
		5: {`<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>`, `<stream:features xmlns:stream='http://etherx.jabber.org/streams'/>`},
		// An attribute value that looks like a declaration is not one.
		6:  {`<message id=" xmlns='x'"/>`, `<message xmlns='jabber:client' id=" xmlns='x'"/>`},
		7:  {`<message xmlns:foo='urn:x'/>`, `<message xmlns='jabber:client' xmlns:foo='urn:x'/>`},
		8:  {`<message xmlns = 'urn:y'/>`, `<message xmlns = 'urn:y'/>`},
		9:  {`not xml`, `not xml`},
		10: {`<?xml version='1.0'?>`, `<?xml version='1.0'?>`},
		11: {`<message id='>'/>`, `<message xmlns='jabber:client' id='>'/>`},
	} {
		got, buf := qualified([]byte(tc.in))
		require.Equal(t, tc.want, string(got), "%d", i)
		releaseQualified(buf)
	}
}

// TestWriteAllocs: a stanza written to a TCP stream costs no allocation,
// and neither does one a framed transport needs qualified (pooled buffer).
func TestWriteAllocs(t *testing.T) {
	stanza := []byte(`<message to="a@b" from="c@d/e" type="chat"><body>hello</body></message>`)
	for _, framed := range []bool{false, true} {
		c := &conn{nc: discard{}, framed: framed}
		n := testing.AllocsPerRun(200, func() { c.writeLocked(stanza) })
		require.Zero(t, n, "framed=%v", framed)
	}
}
