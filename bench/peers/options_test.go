package main

import (
	"net"
	"strconv"
	"testing"
)

func TestPhases(t *testing.T) {
	c := config{phases: "prov, xmpp,muc"}
	for name, want := range map[string]bool{"prov": true, "xmpp": true, "muc": true, "mam": false, "batch": false, "mu": false} {
		if c.phase(name) != want {
			t.Errorf("phase(%q) = %v, want %v", name, !want, want)
		}
	}
	t.Setenv("PEERS_MUC", "1")
	if c := (config{phases: defaultPhases()}); !c.phase("muc") || !c.phase("batch") {
		t.Errorf("PEERS_MUC=1: default phases %q", defaultPhases())
	}
	t.Setenv("PEERS_MUC", "")
	if c := (config{phases: defaultPhases()}); c.phase("muc") || c.phase("web") {
		t.Errorf("default phases %q include muc or web", defaultPhases())
	}
	t.Setenv("PEERS_WEB", "1")
	if c := (config{phases: defaultPhases()}); !c.phase("web") || c.phase("muc") || !c.phase("xmpp") {
		t.Errorf("PEERS_WEB=1: default phases %q", defaultPhases())
	}
}

func TestParsePorts(t *testing.T) {
	for _, bad := range []string{"27100", "27100-27101", "80-200", "a-b", "27199-27100", "60000-70000"} {
		if _, err := parsePorts(bad); err == nil {
			t.Errorf("parsePorts(%q) accepted", bad)
		}
	}
	if r, err := parsePorts(""); r != nil || err != nil {
		t.Errorf("empty range: %v, %v", r, err)
	}
}

// Ports come from the range, skip one in use, and wrap around.
func TestPortRange(t *testing.T) {
	// A range below Linux's ephemeral ports (32768-60999), where other
	// tests' connections do not take ports from under the draws.
	var ln net.Listener
	var lo int
	for base := 21000; base < 32000 && ln == nil; base += 100 {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(base+3))
		if err == nil {
			ln, lo = l, base
		}
	}
	if ln == nil {
		t.Skip("no port free below the ephemeral range")
	}
	defer ln.Close()
	busy := lo + 3
	r, err := parsePorts(strconv.Itoa(lo) + "-" + strconv.Itoa(lo+7))
	if err != nil {
		t.Fatal(err)
	}
	b := &bench{ports: r}
	seen := map[int]bool{}
	for range 14 {
		p, err := b.port()
		if err != nil {
			t.Fatal(err)
		}
		if p == busy || p < lo || p > lo+7 {
			t.Fatalf("port %d (range %d-%d, busy %d)", p, lo, lo+7, busy)
		}
		seen[p] = true
	}
	if len(seen) < 6 {
		t.Errorf("only %d distinct ports in 14 draws", len(seen))
	}
}
