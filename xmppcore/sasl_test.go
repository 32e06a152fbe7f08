package xmppcore_test

import (
	"bufio"
	"crypto/tls"
	"encoding/base64"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
)

// tlsScript talks raw XML over direct TLS: each step writes send and reads
// until want appears in what the server sent since the previous step.
type step struct{ send, want string }

func tlsScript(t *testing.T, addr string, steps []step) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, ServerName: domain})
	require.NoError(t, err)
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReader(conn)
	var all strings.Builder
	for i, s := range steps {
		_, err := io.WriteString(conn, s.send)
		require.NoError(t, err)
		var got strings.Builder
		for !strings.Contains(got.String(), s.want) {
			b, err := r.ReadByte()
			require.NoError(t, err, "step %d: want %q, got %q", i, s.want, got.String())
			got.WriteByte(b)
		}
		all.WriteString(got.String())
	}
	return all.String()
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestSASLNegotiation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw", store.StatusActive)
	const sasl = "urn:ietf:params:xml:ns:xmpp-sasl"
	auth := func(mech, data string) string {
		return "<auth xmlns='" + sasl + "' mechanism='" + mech + "'>" + data + "</auth>"
	}
	tests := []struct {
		name  string
		steps []step
	}{
		0: {"empty initial response gets an empty challenge", []step{
			{header, "</stream:features>"},
			{auth("PLAIN", ""), "<challenge xmlns='" + sasl + "'/>"},
			{"<response xmlns='" + sasl + "'>" + b64("\x00alice\x00pw") + "</response>", "<success"},
			{header, "<bind "},
			{"<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>", "alice@" + domain + "/raw</jid>"},
		}},
		1: {"three failures end the stream", []step{
			{header, "<mechanism>SCRAM-SHA-1</mechanism>"},
			{auth("PLAIN", b64("\x00alice\x00nope")), "<not-authorized/></failure>"},
			{auth("SCRAM-SHA-256-PLUS", b64("p=tls-exporter,,n=alice,r=x")), "<invalid-mechanism/></failure>"},
			{auth("PLAIN", b64("\x00alice\x00nope")), "<not-authorized/></failure>"},
			{"\n", "<policy-violation"},
		}},
		2: {"abort", []step{
			{header, "</stream:features>"},
			{auth("SCRAM-SHA-1", b64("n,,n=alice,r=abc")), "</challenge>"},
			{"<abort xmlns='" + sasl + "'/>", "<aborted/>"},
			{auth("PLAIN", "="), "<malformed-request/>"},
		}},
		3: {"stanza before authentication", []step{
			{header, "</stream:features>"},
			{"<message to='bob@" + domain + "'><body>hi</body></message>", "<not-authorized"},
		}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := tlsScript(t, b.c2stls, tt.steps)
			require.NotContains(t, out, "PLUS</mechanism>", "row %d: -PLUS is never offered", i)
		})
	}
}
