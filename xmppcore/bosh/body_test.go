package bosh

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	t.Parallel()
	const ns = " xmlns='" + NS + "'"
	for i, tc := range map[int]struct {
		in    string
		check func(t *testing.T, b *Body)
		cond  Condition
	}{
		0: {in: "<body rid='1' to='example.com' wait='60' hold='1' ver='1.6' xml:lang='en' content='text/xml; charset=utf-8'" +
			" xmpp:version='1.0' xmlns:xmpp='" + NSXBOSH + "' ack='1'" + ns + "/>",
			check: func(t *testing.T, b *Body) {
				require.Equal(t, &Body{RID: 1, To: "example.com", Wait: 60, Hold: 1, Ver: "1.6", Lang: "en",
					Content: "text/xml; charset=utf-8", XMPPVersion: "1.0", Ack: 1, Pause: -1}, b)
			}},
		1: {in: "<?xml version='1.0'?>\n<body rid='9007199254740991' sid='s' type='terminate'" + ns + "><presence type='unavailable' xmlns='jabber:client'/></body>\n",
			check: func(t *testing.T, b *Body) {
				require.Equal(t, uint64(maxRID), b.RID)
				require.Equal(t, "terminate", b.Type)
				require.Len(t, b.Payload, 1)
				require.Equal(t, `<presence xmlns="jabber:client" type="unavailable"/>`, b.Payload[0].String())
			}},
		// Stanzas without their own xmlns are taken as jabber:client, their children too.
		2: {in: "<body rid='2' sid='s'" + ns + "> <message to='a@b'><body>hi</body></message> <iq type='get' id='1'/></body>",
			check: func(t *testing.T, b *Body) {
				require.Len(t, b.Payload, 2)
				require.Equal(t, `<message xmlns="jabber:client" to="a@b"><body>hi</body></message>`, b.Payload[0].String())
				require.Equal(t, "jabber:client", b.Payload[1].Name.Space)
			}},
		3: {in: "<body rid='3' sid='s' xmpp:restart='true' xmlns:xmpp='" + NSXBOSH + "' pause='30' key='k' newkey='n'" + ns + "/>",
			check: func(t *testing.T, b *Body) {
				require.True(t, b.Restart)
				require.Equal(t, 30, b.Pause)
				require.Equal(t, "k", b.Key)
				require.Equal(t, "n", b.NewKey)
			}},
		4:  {in: "", cond: BadRequest},
		5:  {in: "<body rid='1'/>", cond: BadRequest},                          // wrong namespace
		6:  {in: "<bodyx rid='1'" + ns + "/>", cond: BadRequest},               // wrong element
		7:  {in: "<body" + ns + "/>", cond: BadRequest},                        // no rid
		8:  {in: "<body rid='0'" + ns + "/>", cond: BadRequest},                // rid 0
		9:  {in: "<body rid='9007199254740992'" + ns + "/>", cond: BadRequest}, // above 2^53-1
		10: {in: "<body rid='-1'" + ns + "/>", cond: BadRequest},
		11: {in: "<body rid='1' wait='x'" + ns + "/>", cond: BadRequest},
		12: {in: "<body rid='1'" + ns + ">text</body>", cond: BadRequest},
		13: {in: "<body rid='1'" + ns + "><message>", cond: BadRequest}, // unterminated
		14: {in: "<body rid='1'" + ns + "/><body rid='2'" + ns + "/>", cond: BadRequest},
		15: {in: "<body rid='1'" + ns + "><!-- c --></body>", cond: BadRequest},
		16: {in: "<!DOCTYPE body><body rid='1'" + ns + "/>", cond: BadRequest},
		17: {in: "<body rid='1'" + ns + "><message>" + strings.Repeat("x", 300) + "</message></body>", cond: PolicyViolation},
		18: {in: "<body rid='1' hold='99999999999'" + ns + "/>", cond: BadRequest},
		19: {in: "<body rid='1'" + ns + "><a></b></body>", cond: BadRequest},
	} {
		b, err := Parse(strings.NewReader(tc.in), 256)
		if tc.cond != "" {
			var e *Error
			require.True(t, errors.As(err, &e), "%d: %v", i, err)
			require.Equal(t, tc.cond, e.Cond, "%d: %v", i, err)
			continue
		}
		require.NoError(t, err, "%d", i)
		tc.check(t, b)
	}
}

func TestWriteBody(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	writeBody(&b, []attr{{"sid", "a'b"}, {"skipped", ""}, {"ack", "5"}}, []byte("<x xmlns='y'/>"))
	require.Equal(t, "<body xmlns='"+NS+"' xmlns:xmpp='"+NSXBOSH+"' xmlns:stream='"+nsStream+"' sid='a&#39;b' ack='5'><x xmlns='y'/></body>", b.String())
	// What is written parses back.
	back, err := Parse(strings.NewReader(strings.Replace(b.String(), "<body ", "<body rid='1' ", 1)), 1024)
	require.NoError(t, err)
	require.Equal(t, "a'b", back.SID)
}

func TestLowerVersion(t *testing.T) {
	t.Parallel()
	for i, tc := range map[int][3]string{
		0: {"1.6", "1.11", "1.6"},
		1: {"1.11", "1.6", "1.6"},
		2: {"2.0", "1.11", "1.11"},
		3: {"junk", "1.11", "1.11"},
		4: {"1.11", "1.11", "1.11"},
	} {
		require.Equal(t, tc[2], lowerVersion(tc[0], tc[1]), "%d", i)
	}
}

func FuzzParse(f *testing.F) {
	const ns = " xmlns='" + NS + "'"
	for _, s := range []string{
		"<body rid='1' to='example.com' wait='60' hold='1' ver='1.6' xmpp:version='1.0' xmlns:xmpp='" + NSXBOSH + "'" + ns + "/>",
		"<body rid='2' sid='abc'" + ns + "><message to='a@b' xmlns='jabber:client'><body>hi</body></message></body>",
		"<body rid='3' sid='abc' type='terminate'" + ns + "><presence type='unavailable'/></body>",
		"<body rid='4' sid='abc' pause='60' ack='3' key='k' newkey='n'" + ns + "/>",
		"<?xml version='1.0'?><body rid='5'" + ns + "><a><b><c/></b></a></body>",
		"<body rid='x'/>",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		b, err := Parse(bytes.NewReader(in), 4096)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || (e.Cond != BadRequest && e.Cond != PolicyViolation) {
				t.Fatalf("error %v is not a binding condition", err)
			}
			return
		}
		if b.RID == 0 || b.RID > maxRID {
			t.Fatalf("rid %d accepted", b.RID)
		}
		for _, el := range b.Payload {
			if el.Name.Space == NS {
				t.Fatalf("payload left in the httpbind namespace: %s", el)
			}
		}
	})
}
