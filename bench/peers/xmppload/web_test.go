package xmppload

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	gws "github.com/gorilla/websocket"
)

func TestBOSHBody(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, raw string
		els       []string
		sid, err  string
	}{
		{"session creation with features (ejabberd's double quotes)",
			`<body xmlns="http://jabber.org/protocol/httpbind" sid="abc" wait="60" hold="1" xmlns:stream="http://etherx.jabber.org/streams">` +
				`<stream:features><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features></body>`,
			[]string{`<stream:features><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>SCRAM-SHA-1</mechanism></mechanisms></stream:features>`},
			"abc", ""},
		{"XML declaration and two stanzas",
			"<?xml version='1.0'?>\n<body xmlns='http://jabber.org/protocol/httpbind'><message xmlns='jabber:client'><body>hi</body></message><presence xmlns='jabber:client'/></body>",
			[]string{"<message xmlns='jabber:client'><body>hi</body></message>", "<presence xmlns='jabber:client'/>"}, "", ""},
		{"empty answer to a held request", "<body xmlns='http://jabber.org/protocol/httpbind'/>", nil, "", ""},
		{"terminated", "<body xmlns='http://jabber.org/protocol/httpbind' type='terminate' condition='item-not-found'/>", nil, "",
			`condition "item-not-found"`},
		{"not a body", "<html>502</html>", nil, "", "not a <body/>"},
		{"truncated stanza", "<body xmlns='x'><message><body>h", nil, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			els, sid, err := BOSHBody([]byte(tc.raw))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if sid != tc.sid || len(els) != len(tc.els) {
				t.Fatalf("sid %q, %d elements %q; want %q, %q", sid, len(els), els, tc.sid, tc.els)
			}
			for i := range els {
				if string(els[i]) != tc.els[i] {
					t.Errorf("element %d = %s, want %s", i, els[i], tc.els[i])
				}
			}
		})
	}
}

// BOSHBody reads what a server answered: it must return or fail, never
// panic or hang.
func FuzzBOSHBody(f *testing.F) {
	for _, s := range []string{
		"<body xmlns='http://jabber.org/protocol/httpbind' sid='s'><stream:features/></body>",
		"<body/>", "<body type='terminate'/>", "<?xml version='1.0'?><body><a x='>'/><!-- -> --></body>", "<body><a>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		els, _, err := BOSHBody(raw)
		if err != nil && len(els) > 0 {
			t.Errorf("elements with an error: %q, %v", els, err)
		}
	})
}

// RFC 7395 framing as the servers send it: the <open/> and whitespace
// keep-alives are skipped, <close/> ends the stream.
func TestWSWireFraming(t *testing.T) {
	t.Parallel()
	up := gws.Upgrader{Subprotocols: []string{"xmpp"}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for _, m := range []string{"<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' from='x' version='1.0'/>", " ",
			"<stream:features xmlns:stream='http://etherx.jabber.org/streams'><bind/></stream:features>",
			"<close xmlns='urn:ietf:params:xml:ns:xmpp-framing'/>"} {
			if c.WriteMessage(gws.TextMessage, []byte(m)) != nil {
				return
			}
		}
		c.ReadMessage() // until the client goes
	}))
	defer srv.Close()
	ws, _, err := wsDialer.Dial("ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	w := &wsWire{ws: ws}
	defer w.abort()
	w.setDeadline(time.Now().Add(30 * time.Second))
	el, err := w.next()
	if err != nil || name(el) != "stream:features" {
		t.Fatalf("next() = %s, %v; want the features", el, err)
	}
	if _, err := w.next(); !errors.Is(err, ErrStreamClosed) {
		t.Errorf("after <close/>: %v, want ErrStreamClosed", err)
	}
}
