package xmppcore_test

import (
	"bytes"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/xmppcore"
)

// framedPipe is a framed transport as ServeFramed's contract describes it:
// Read yields in, then io.EOF (the client closed the WebSocket); each
// Write is recorded as one message.
type framedPipe struct {
	in     *bytes.Reader
	mu     sync.Mutex
	out    [][]byte
	closed chan struct{}
	once   sync.Once
}

func newFramedPipe(in []byte) *framedPipe {
	return &framedPipe{in: bytes.NewReader(in), closed: make(chan struct{})}
}

func (p *framedPipe) Read(b []byte) (int, error) {
	select {
	case <-p.closed:
		return 0, net.ErrClosed
	default:
	}
	return p.in.Read(b)
}

func (p *framedPipe) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.out = append(p.out, bytes.Clone(b))
	return len(b), nil
}

func (p *framedPipe) Close() error {
	p.once.Do(func() { close(p.closed) })
	return nil
}

func (p *framedPipe) messages() [][]byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out
}

func (p *framedPipe) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 5280}
}
func (p *framedPipe) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 40000}
}
func (p *framedPipe) SetDeadline(time.Time) error      { return nil }
func (p *framedPipe) SetReadDeadline(time.Time) error  { return nil }
func (p *framedPipe) SetWriteDeadline(time.Time) error { return nil }

const framedOpen = "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='" + domain + "' version='1.0'/>"

// framedSeeds are real RFC 7395 client traffic and garbage around it.
var framedSeeds = []string{
	framedOpen,
	framedOpen + "<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
	framedOpen + "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
		base64.StdEncoding.EncodeToString([]byte("\x00"+fuzzUser+"\x00"+fuzzPass)) + "</auth>" + framedOpen +
		"<iq xmlns='jabber:client' type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>" +
		"<message xmlns='jabber:client' to='" + watchUser + "@" + domain + "'><body>hi</body></message>" +
		"<enable xmlns='urn:xmpp:sm:3' resume='true'/><r xmlns='urn:xmpp:sm:3'/>" +
		"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>",
	"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='nowhere.test' version='1.0'/>",
	"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='" + domain + "'>",
	"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='" + domain + "' version='2.0'/>",
	"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='" + domain + "' version='1.0'>",
	framedOpen + "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='" + domain + "' version='1.0'/>",
	framedOpen + "<message>no namespace</message>",
	framedOpen + "</open>",
	"",
	"<",
}

// FuzzFramedStream feeds random RFC 7395 streams to a session over
// ServeFramed: no panic or internal error, the session closes its
// transport, every message it writes is one well-formed element, the
// first is <open/>, and after a stream error the last is <close/>.
func FuzzFramedStream(f *testing.F) {
	s := newFuzzC2S(f)
	for _, seed := range framedSeeds {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p := newFramedPipe(in)
		require.NoError(t, s.b.srv.ServeFramed(p, xmppcore.Framed{Kind: xmppcore.TransportWebSocket, InsecureOK: true}))
		select {
		case <-p.closed:
		case <-time.After(10 * time.Second):
			p.Close()
			t.Fatalf("the session did not close its transport; it wrote %q", p.messages())
		}
		msgs := p.messages()
		all := bytes.Join(msgs, nil)
		s.noInternalErrors(t, all)
		streamError := false
		for i, m := range msgs {
			name := oneElement(t, m)
			if i == 0 {
				require.Equal(t, "open", name, "%q", msgs)
			}
			streamError = streamError || name == "stream:error"
		}
		if streamError {
			require.True(t, strings.HasPrefix(string(msgs[len(msgs)-1]), "<close "), "%q", msgs)
		}
		s.serving(t)
	})
}

// oneElement checks that m is exactly one well-formed element and
// returns its name (prefix:local as written, via the namespace).
func oneElement(t *testing.T, m []byte) string {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(m))
	dec.Strict = true
	depth, roots := 0, 0
	name := ""
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "not well-formed: %q", m)
		switch el := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				name = el.Name.Local
				if el.Name.Space == "http://etherx.jabber.org/streams" {
					name = "stream:" + name
				}
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			require.False(t, depth == 0 && len(bytes.TrimSpace(el)) > 0, "text outside the element: %q", m)
		}
	}
	require.Equal(t, 1, roots, "one element per message: %q", m)
	require.Equal(t, 0, depth, "%q", m)
	return name
}
