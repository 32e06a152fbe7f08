package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xmppgate/xmppgate/internal/peer"
)

// The phase groups -phases selects from: provisioning over HTTP; logins,
// 1:1 messages and idle memory; 1:1 messages with the archive on;
// xmppgate's batch apply; group chat (fan-out, joins, memory per occupant);
// web chat (idle WebSocket and BOSH sessions, chat over WebSocket).
var allPhases = []string{"prov", "xmpp", "mam", "batch", "muc", "web"}

// defaultPhases is every group but muc and web, which PEERS_MUC=1 and
// PEERS_WEB=1 add (as ../shared/peers' scripts switch their MUC set-up).
func defaultPhases() string {
	p := "prov,xmpp,mam,batch"
	if os.Getenv("PEERS_MUC") == "1" {
		p += ",muc"
	}
	if os.Getenv("PEERS_WEB") == "1" {
		p += ",web"
	}
	return p
}

func (c config) phase(name string) bool {
	for _, p := range strings.Split(c.phases, ",") {
		if strings.TrimSpace(p) == name {
			return true
		}
	}
	return false
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	v := os.Getenv(name)
	if d, err := time.ParseDuration(v); err == nil {
		return d
	}
	if n, err := strconv.Atoi(v); err == nil { // plain seconds
		return time.Duration(n) * time.Second
	}
	return def
}

func envString(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// portRange hands out loopback ports from lo..hi that nobody listens on,
// so that several benchmark sessions on one machine can be kept apart; an
// empty range falls back to any free port.
type portRange struct {
	mu     sync.Mutex
	lo, hi int
	next   int
}

func parsePorts(s string) (*portRange, error) {
	if s == "" {
		return nil, nil
	}
	a, b, ok := strings.Cut(s, "-")
	lo, err1 := strconv.Atoi(strings.TrimSpace(a))
	hi, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || lo < 1024 || hi > 65535 || hi < lo+7 {
		return nil, fmt.Errorf("port range %q: want lo-hi with at least 8 ports above 1023", s)
	}
	return &portRange{lo: lo, hi: hi, next: lo}, nil
}

// port returns a port nobody listens on: from the range (round robin, so a
// restarted server gets other ports than those still in TIME_WAIT), or any.
func (b *bench) port() (int, error) {
	r := b.ports
	if r == nil {
		return peer.FreePort()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for range r.hi - r.lo + 1 {
		p := r.next
		r.next++
		if r.next > r.hi {
			r.next = r.lo
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		ln.Close()
		return p, nil
	}
	return 0, fmt.Errorf("no free port in %d-%d", r.lo, r.hi)
}
