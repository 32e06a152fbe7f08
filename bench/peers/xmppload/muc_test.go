package xmppload

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestParseFanoutBody(t *testing.T) {
	for _, tc := range []struct {
		in           string
		ns           int64
		sender, slot int
		ok           bool
	}{
		{"t=123;4.0;xxxx", 123, 4, 0, true},
		{"t=9;99.15;x", 9, 99, 15, true},
		{"t=9;99;x", 0, 0, 0, false},
		{"t=9;a.1;x", 0, 0, 0, false},
		{"hello", 0, 0, 0, false},
		{"", 0, 0, 0, false},
		{"t=;1.1;x", 0, 0, 0, false},
	} {
		ns, s, k, ok := parseFanoutBody(tc.in)
		if ok != tc.ok || (ok && (ns != tc.ns || s != tc.sender || k != tc.slot)) {
			t.Errorf("parseFanoutBody(%q) = %d, %d, %d, %v", tc.in, ns, s, k, ok)
		}
	}
}

func TestHasStatus(t *testing.T) {
	el := []byte(`<presence from='r@c/n'><x xmlns='http://jabber.org/protocol/muc#user'><status code="110"/><status code='201'/></x></presence>`)
	if !hasStatus(el, "110") || !hasStatus(el, "201") || hasStatus(el, "100") {
		t.Error("hasStatus misreads the status codes")
	}
}

// fakeRoom is a room in a test: every groupchat message any occupant sends
// goes to every occupant (the sender too), with a subject and a presence
// in between that the client must not count.
type fakeRoom struct {
	mu    sync.Mutex
	conns []net.Conn
	drop  func(from, to int) bool // deliveries the room loses
}

func (f *fakeRoom) serve(i int, c net.Conn) {
	sc := newScanner(bufio.NewReader(io.MultiReader(strings.NewReader("<stream:stream>"), c)))
	for {
		el, err := sc.Next()
		if err != nil {
			return
		}
		body := text(el, "body")
		out := "<presence from='room@muc/x'/><message type='groupchat' from='room@muc/o'><subject/></message>" +
			"<message type='groupchat' from='room@muc/o'><body>" + body + "</body></message>"
		f.mu.Lock()
		for j, o := range f.conns {
			if f.drop != nil && f.drop(i, j) {
				continue
			}
			o.Write([]byte(out))
		}
		f.mu.Unlock()
	}
}

func fakeOccupants(t *testing.T, n int, drop func(from, to int) bool) []*Conn {
	room := &fakeRoom{drop: drop}
	conns := make([]*Conn, n)
	for i := range conns {
		cli, srv := net.Pipe()
		room.conns = append(room.conns, srv)
		conns[i] = &Conn{w: newTCPWire(cli, newScanner(bufio.NewReader(io.MultiReader(strings.NewReader("<stream:stream>"), cli)))), JID: "o@x/b"}
	}
	for i, s := range room.conns {
		go room.serve(i, s)
	}
	t.Cleanup(func() {
		for _, s := range room.conns {
			s.Close()
		}
	})
	return conns
}

// The window and the counting: with one message in flight per sender,
// every message reaches all n occupants before its sender sends the next,
// so deliveries are n (n-1 without the own copy) per message sent, give or
// take the messages in flight at the window's edges; nothing is lost.
func TestFanoutCounts(t *testing.T) {
	const n = 5
	for _, own := range []bool{true, false} {
		conns := fakeOccupants(t, n, nil)
		res, err := Fanout(conns, "room@muc", FanoutSpec{Window: 1, Warmup: 50 * time.Millisecond, Dur: 300 * time.Millisecond, OwnCopy: own}, nil)
		if err != nil {
			t.Fatal(err)
		}
		per := n
		if !own {
			per = n - 1
		}
		if res.Sent == 0 || res.Undelivered != 0 || res.Errors != 0 {
			t.Fatalf("own=%v: %+v", own, res)
		}
		if lo, hi := per*(res.Sent-n), per*(res.Sent+n); res.Received < lo || res.Received > hi {
			t.Errorf("own=%v: %d deliveries for %d sent, want %d..%d", own, res.Received, res.Sent, lo, hi)
		}
		if len(res.Lat) != res.Received {
			t.Errorf("own=%v: %d latencies for %d deliveries", own, len(res.Lat), res.Received)
		}
	}
}

// A delivery the room loses holds its sender's slot: the sender stops and
// the loss shows as undelivered, not as a rate.
func TestFanoutLostDelivery(t *testing.T) {
	conns := fakeOccupants(t, 3, func(from, to int) bool { return from == 0 && to == 2 })
	res, err := Fanout(conns, "room@muc", FanoutSpec{Window: 1, Warmup: 20 * time.Millisecond, Dur: 200 * time.Millisecond, OwnCopy: true, Drain: 300 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Undelivered != 1 {
		t.Errorf("undelivered = %d, want 1 (sender 0's first message never reaches occupant 2)", res.Undelivered)
	}
}

// The join sequence: presence with history off, the self-presence with 110
// and 201, then the instant-room form.
func TestJoinCreatesInstantRoom(t *testing.T) {
	cli, srv := net.Pipe()
	defer srv.Close()
	c := &Conn{w: newTCPWire(cli, newScanner(bufio.NewReader(io.MultiReader(strings.NewReader("<stream:stream>"), cli))))}
	got := make(chan []byte, 2)
	go func() {
		sc := newScanner(bufio.NewReader(io.MultiReader(strings.NewReader("<stream:stream>"), srv)))
		el, err := sc.Next()
		if err != nil {
			return
		}
		got <- bytes.Clone(el)
		srv.Write([]byte(`<presence from='r@c/other'/><presence from='r@c/me'><x xmlns='http://jabber.org/protocol/muc#user'>` +
			`<item affiliation='owner' role='moderator'/><status code='110'/><status code='201'/></x></presence>`))
		if el, err = sc.Next(); err != nil {
			return
		}
		got <- bytes.Clone(el)
		srv.Write([]byte(`<iq type='result' id='` + attr(el, "id") + `' from='r@c'/>`))
	}()
	ji, err := c.Join("r@c", "me", 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !ji.Created || ji.Ready < ji.Joined {
		t.Errorf("join info %+v", ji)
	}
	join, form := <-got, <-got
	if !bytes.Contains(join, []byte("<history maxstanzas='0'/>")) || attr(join, "to") != "r@c/me" {
		t.Errorf("join presence %s", join)
	}
	if attr(form, "type") != "set" || !bytes.Contains(form, []byte("muc#owner")) || !bytes.Contains(form, []byte("type='submit'")) {
		t.Errorf("owner form %s", form)
	}
}
