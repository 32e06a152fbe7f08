package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The web switch serves mod_websocket and mod_bosh on a loopback HTTP port,
// secure enough for SASL; without it Prosody has no HTTP port at all, as in
// the anchor measurements.
func TestProsodyWebConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		httpPort int
		want     []string
		absent   []string
	}{
		{"web", 27301,
			[]string{"http_ports = { 27301 }", `http_interfaces = { "127.0.0.1" }`, "consider_websocket_secure = true",
				"consider_bosh_secure = true", `"posix"; "websocket"; "bosh";`},
			[]string{"http_ports = { }"}},
		{"no web", 0, []string{"http_ports = { }", `"posix";` + "\n}"}, []string{"websocket", "bosh", "http_interfaces"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := &prosody{dir: t.TempDir(), c2sPort: 27300, domain: "bench.local", uid: os.Getuid(), gid: os.Getgid(), httpPort: tc.httpPort}
			if err := p.writeConfig(); err != nil {
				t.Fatal(err)
			}
			raw, err := os.ReadFile(filepath.Join(p.dir, "prosody.cfg.lua"))
			if err != nil {
				t.Fatal(err)
			}
			cfg := string(raw)
			for _, w := range tc.want {
				if !strings.Contains(cfg, w) {
					t.Errorf("config lacks %q:\n%s", w, cfg)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(cfg, a) {
					t.Errorf("config has %q:\n%s", a, cfg)
				}
			}
			if p.WSURL() != "ws://127.0.0.1:27301/xmpp-websocket" && tc.httpPort != 0 {
				t.Errorf("WSURL %s", p.WSURL())
			}
		})
	}
}
