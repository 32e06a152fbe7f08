package s2s

import (
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/xmppgate/xmppgate/xmlel"
)

func TestKey(t *testing.T) {
	t.Parallel()
	// XEP-0185 section 4's example.
	const want = "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643"
	if got := Key([]byte("s3cr3tf0rd14lb4ck"), "xmpp.example.com", "example.org", "D60000229F"); got != want {
		t.Fatalf("Key = %s, want %s", got, want)
	}
	if !KeyValid([]byte("s3cr3tf0rd14lb4ck"), "xmpp.example.com", "example.org", "D60000229F", " "+want+"\n") {
		t.Fatal("KeyValid refused the right key")
	}
	for i, c := range []struct{ recv, orig, id string }{
		0: {"example.org", "example.com", "D60000229F"},
		1: {"example.net", "example.org", "D60000229F"},
		2: {"example.net", "example.com", "D60000229G"},
	} {
		if KeyValid([]byte("s3cr3tf0rd14lb4ck"), c.recv, c.orig, c.id, want) {
			t.Errorf("%d: key accepted for another stream", i)
		}
	}
}

func startOf(t *testing.T, s string) xml.StartElement {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(s))
	for {
		tok, err := d.Token()
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := tok.(xml.StartElement); ok {
			return st
		}
	}
}

func TestParseHeader(t *testing.T) {
	t.Parallel()
	const pfx = "<stream:stream xmlns:stream='http://etherx.jabber.org/streams' "
	for i, c := range []struct {
		in   string
		want Header
		err  error
	}{
		0: {in: pfx + "xmlns='jabber:server' xmlns:db='jabber:server:dialback' to='a.example' from='b.example' version='1.0' id='x'>",
			want: Header{To: "a.example", From: "b.example", ID: "x", Version: "1.0", NS: NSServer, Dialback: true}},
		1: {in: pfx + "xmlns='jabber:client' to='a.example' version='1.0'>", err: ErrNamespace},
		2: {in: pfx + "xmlns='jabber:server' to='a.example'>", err: ErrVersion},
		3: {in: pfx + "xmlns='jabber:server' to='u@a.example' version='1.0'>", err: ErrBadAddressTo},
		4: {in: pfx + "xmlns='jabber:server' to='a.example' from='b.example/r' version='1.0'>", err: ErrBadAddressFr},
		5: {in: "<stream xmlns='jabber:server' version='1.0'>", err: ErrNotStream},
		6: {in: pfx + "xmlns='jabber:server' to='A.example' version='1.0'>", err: ErrBadAddressTo},
	} {
		h, err := ParseHeader(startOf(t, c.in))
		if !errors.Is(err, c.err) {
			t.Errorf("%d: err %v, want %v", i, err, c.err)
			continue
		}
		if c.err == nil && h != c.want {
			t.Errorf("%d: %+v, want %+v", i, h, c.want)
		}
	}
}

func TestParseDialback(t *testing.T) {
	t.Parallel()
	const ns = " xmlns='jabber:server:dialback'"
	for i, c := range []struct {
		in   string
		want Dialback
		ok   bool
	}{
		0: {"<result" + ns + " from='b.example' to='a.example'>abc</result>", Dialback{From: "b.example", To: "a.example", Key: "abc"}, true},
		1: {"<verify" + ns + " from='b.example' to='a.example' id='i1'>abc</verify>", Dialback{Verify: true, From: "b.example", To: "a.example", ID: "i1", Key: "abc"}, true},
		2: {"<verify" + ns + " from='b.example' to='a.example' id='i1' type='valid'/>", Dialback{Verify: true, From: "b.example", To: "a.example", ID: "i1", Type: "valid"}, true},
		3: {"<verify" + ns + " from='b.example' to='a.example'>abc</verify>", Dialback{}, false},
		4: {"<result" + ns + " from='b.example' to='a.example'/>", Dialback{}, false},
		5: {"<result" + ns + " to='a.example'>k</result>", Dialback{}, false},
		6: {"<result" + ns + " from='b.example' to='a.example' type='maybe'/>", Dialback{}, false},
		7: {"<result xmlns='jabber:server' from='b.example' to='a.example'>k</result>", Dialback{}, false},
		8: {"<other" + ns + " from='b.example' to='a.example'>k</other>", Dialback{}, false},
	} {
		el, err := xmlel.Parse([]byte(c.in))
		if err != nil {
			t.Fatal(err)
		}
		d, err := ParseDialback(el)
		if (err == nil) != c.ok {
			t.Errorf("%d: err %v, want ok=%v", i, err, c.ok)
			continue
		}
		if c.ok && d != c.want {
			t.Errorf("%d: %+v, want %+v", i, d, c.want)
		}
		if c.ok {
			// The element round-trips.
			back, err := ParseDialback(d.Element())
			if err != nil || back != d {
				t.Errorf("%d: round trip %+v, %v", i, back, err)
			}
		}
	}
}

type fakeResolver map[string][]*net.SRV

func (f fakeResolver) LookupSRV(_ context.Context, service, proto, name string) (string, []*net.SRV, error) {
	recs, ok := f["_"+service+"._"+proto+"."+name]
	if !ok {
		return "", nil, &net.DNSError{Err: "no such host", Name: name, IsNotFound: true}
	}
	return "", recs, nil
}

func TestTargets(t *testing.T) {
	t.Parallel()
	r := fakeResolver{
		"_xmpp-server._tcp.srv.example": {
			{Target: "b.srv.example.", Port: 5270, Priority: 10, Weight: 5},
			{Target: "a.srv.example.", Port: 5269, Priority: 5, Weight: 0},
			{Target: "c.srv.example.", Port: 5271, Priority: 10, Weight: 50},
		},
		"_xmpps-server._tcp.srv.example": {
			{Target: "tls.srv.example.", Port: 5223, Priority: 10, Weight: 5},
		},
		"_xmpp-server._tcp.none.example": {{Target: ".", Port: 0}},
	}
	routes := map[string]string{"static.example": "127.0.0.1:15269", "bare.example": "10.0.0.1", "srv.example": "", "srvx.example": "[::1]:5299"}
	delete(routes, "srv.example")
	for i, c := range []struct {
		domain string
		want   []Target
	}{
		0: {"static.example", []Target{{Addr: "127.0.0.1:15269"}}},
		1: {"bare.example", []Target{{Addr: "10.0.0.1:5269"}}},
		2: {"srv.example", []Target{
			{Addr: "a.srv.example:5269"},
			{Addr: "c.srv.example:5271"},
			{Addr: "tls.srv.example:5223", DirectTLS: true},
			{Addr: "b.srv.example:5270"},
		}},
		3: {"plain.example", []Target{{Addr: "plain.example:5269"}}},
		4: {"none.example", nil},
		5: {"srvx.example", []Target{{Addr: "[::1]:5299"}}},
	} {
		got := Targets(context.Background(), r, routes, c.domain)
		if len(got) != len(c.want) {
			t.Errorf("%d: %v, want %v", i, got, c.want)
			continue
		}
		for j := range got {
			if got[j] != c.want[j] {
				t.Errorf("%d: %v, want %v", i, got, c.want)
				break
			}
		}
	}
}

// TestDrain: a stream we close politely still hands over what the peer
// sent before it read our closing tag, and ends with the peer's own.
func TestDrain(t *testing.T) {
	t.Parallel()
	ours, theirs := net.Pipe()
	defer theirs.Close()
	s := newStream(ours, 0)
	peer := make(chan error, 1)
	go func() {
		_, err := theirs.Write([]byte("<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' to='a.example' from='b.example' version='1.0' id='x'>"))
		if err != nil {
			peer <- err
			return
		}
		buf := make([]byte, len("</stream:stream>"))
		if _, err := io.ReadFull(theirs, buf); err != nil || string(buf) != "</stream:stream>" {
			peer <- fmt.Errorf("read %q, %v; want our closing tag", buf, err)
			return
		}
		// Written after our close: in flight when we closed.
		_, err = theirs.Write([]byte("<message from='u@b.example' to='v@a.example'><body>late</body></message></stream:stream>"))
		peer <- err
	}()
	if _, err := s.readHeader(); err != nil {
		t.Fatal(err)
	}
	s.drain()
	el, err := s.next()
	if err != nil || el.Name.Local != "message" || el.ChildText(NSServer, "body") != "late" {
		t.Fatalf("next after drain = %v, %v; want the late message", el, err)
	}
	if _, err := s.next(); !errors.Is(err, errStreamEnd) {
		t.Fatalf("then %v, want the peer's closing tag", err)
	}
	if err := <-peer; err != nil {
		t.Fatal(err)
	}
	if err := s.write([]byte("<message/>")); err == nil {
		t.Fatal("a drained stream took a write")
	}
}
