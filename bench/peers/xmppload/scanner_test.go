package xmppload

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestScanner(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stream string
		want   []string
		end    error
	}{
		{"features and a self-closing element",
			"<?xml version='1.0'?><stream:stream xmlns='jabber:client' id='x'><stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features><proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>",
			[]string{"<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>", "<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"},
			io.EOF},
		{"'>' inside attribute values, whitespace and a comment between stanzas",
			`<stream:stream> <message to="a>b" type='chat'><body>t=1;x</body></message>` + "\n<!-- a > b --><presence/></stream:stream>",
			[]string{`<message to="a>b" type='chat'><body>t=1;x</body></message>`, "<presence/>"},
			ErrStreamClosed},
		{"not a stream", "<message/>", nil, errors.New("expected a stream header")},
		{"a BOSH body wraps elements as a stream header does",
			"<body xmlns='http://jabber.org/protocol/httpbind' sid='s1'><stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind/></stream:features><message/></body>",
			[]string{"<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind/></stream:features>", "<message/>"},
			ErrStreamClosed},
		{"an empty BOSH body", "<body xmlns='http://jabber.org/protocol/httpbind' sid='s1'/>", nil, ErrStreamClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newScanner(bufio.NewReader(strings.NewReader(tc.stream)))
			for _, w := range tc.want {
				el, err := s.Next()
				if err != nil || string(el) != w {
					t.Fatalf("Next() = %q, %v; want %q", el, err, w)
				}
			}
			_, err := s.Next()
			if err == nil || !strings.Contains(err.Error(), tc.end.Error()) {
				t.Errorf("at the end: %v, want %v", err, tc.end)
			}
		})
	}
}

func TestHelpers(t *testing.T) {
	el := []byte(`<iq type="result" id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><jid>u0@bench.local/bench</jid></bind></iq>`)
	for _, tc := range []struct{ got, want string }{
		{name(el), "iq"},
		{attr(el, "id"), "b1"},
		{attr(el, "type"), "result"},
		{attr(el, "xmlns"), ""}, // only the first tag's attributes
		{text(el, "jid"), "u0@bench.local/bench"},
		{text([]byte("<success xmlns='x'/>"), "success"), ""},
		{text([]byte("<success xmlns='x'>dj1h</success>"), "success"), "dj1h"},
		{name([]byte("<stream:features>")), "stream:features"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
