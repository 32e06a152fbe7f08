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
	if c := (config{phases: defaultPhases()}); c.phase("muc") {
		t.Errorf("default phases %q include muc", defaultPhases())
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := ln.Addr().(*net.TCPAddr).Port
	lo := busy - 3
	if lo < 1024 {
		t.Skip("ephemeral port too low for the test")
	}
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
