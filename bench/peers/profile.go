package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/xmppgate/xmppgate/bench/peers/xmppload"
)

// profile captures a CPU profile of xmppgate (its pprof_addr) during each
// phase's workload, repeated for profileSec seconds, and keeps the top of
// each for the report. Runs after the measured runs, so the figures are not
// disturbed by the profiler.
func (b *bench) profile(ctx context.Context, x *xmppgate, pprofAddr string) error {
	if err := os.MkdirAll(b.cfg.profileDir, 0o755); err != nil {
		return err
	}
	boot := x.Boot()
	auth := [2]string{boot.AdminJID, boot.AdminPassword}
	cache := xmppload.NewScramCache()
	var seq atomic.Int64
	// The MUC phases log in (and join) in prep, before the profile starts,
	// so that their profiles show group chat, not TLS handshakes.
	var (
		fanRoom  string
		mucConns []*xmppload.Conn
	)
	defer func() { xmppload.CloseAll(mucConns) }()
	phases := []struct {
		name, group string
		work        func(until time.Time) error
		prep        func() error
	}{
		{"register", "prov", func(until time.Time) error {
			for time.Now().Before(until) {
				res := runHTTP(ctx, 200, b.cfg.provC, func(i int) error {
					return ejabberdRegister(x.HTTP()+"/api", b.cfg.domain, fmt.Sprintf("prof%d", seq.Add(1)), b.cfg.password, auth)
				})
				if res.Errors > 0 {
					return res.First
				}
			}
			return nil
		}, nil},
		{"dreamhost", "prov", func(until time.Time) error {
			for run := 100; time.Now().Before(until); run++ {
				if _, _, _, err := b.dreamhostRun(ctx, x, boot, run); err != nil {
					return err
				}
			}
			return nil
		}, nil},
		{"logins", "xmpp", func(until time.Time) error {
			for time.Now().Before(until) {
				res := xmppload.LoginAll(ctx, b.accounts(x, 0, b.cfg.loginN), b.cfg.loginC, cache, loginTimeout)
				xmppload.CloseAll(res.Conns)
				if res.Errors > 0 {
					return res.First
				}
			}
			return nil
		}, nil},
		{"messages", "xmpp", func(until time.Time) error {
			res := xmppload.LoginAll(ctx, b.accounts(x, 0, 2*b.cfg.pairs), b.cfg.loginC, cache, loginTimeout)
			if res.Errors > 0 {
				return res.First
			}
			_, err := xmppload.Messages(res.Conns, b.cfg.window, time.Until(until), nil)
			return err
		}, nil},
		{"muc_fanout", "muc", func(until time.Time) error {
			sp := b.cfg.muc.spec(time.Until(until))
			sp.Warmup = 0
			_, err := xmppload.Fanout(mucConns, fanRoom, sp, nil)
			mucConns = nil // Fanout ends the sessions
			return err
		}, func() error {
			fanRoom = fmt.Sprintf("prof-fan-%s@%s", runTag, b.cfg.muc.service(b.cfg.domain))
			rooms := make([]string, b.cfg.muc.n)
			for i := range rooms {
				rooms[i] = fanRoom
			}
			var err error
			mucConns, err = b.occupants(ctx, x, cache, 0, rooms)
			return err
		}},
		{"muc_join", "muc", func(until time.Time) error {
			// New rooms until the time is up (a session may sit in many
			// rooms).
			res := xmppload.LoginResult{Conns: mucConns}
			for run := 0; time.Now().Before(until); run++ {
				rooms := make([]string, b.cfg.muc.rooms)
				for i := range rooms {
					rooms[i] = fmt.Sprintf("prof-join-%s-%d-%d@%s", runTag, run, i, b.cfg.muc.service(b.cfg.domain))
				}
				if jr := xmppload.JoinAll(ctx, res.Conns, rooms, b.cfg.muc.joinC, b.cfg.muc.timeout); jr.Errors > 0 {
					return jr.First
				}
			}
			return nil
		}, func() error {
			res := xmppload.LoginAll(ctx, b.accounts(x, 0, b.cfg.muc.rooms), b.cfg.loginC, cache, mucLoginTimeout)
			mucConns = res.Conns
			if res.Errors > 0 {
				return res.First
			}
			waitIdle(ctx, x.PID(), mucIdleWait)
			return nil
		}},
	}
	for _, ph := range phases {
		if !b.cfg.phase(ph.group) || (ph.group == "muc" && !b.mucOK[x.Name()]) {
			continue
		}
		if ph.prep != nil {
			if err := ph.prep(); err != nil {
				return fmt.Errorf("preparing the %s profile: %w", ph.name, err)
			}
		}
		file := filepath.Join(b.cfg.profileDir, ph.name+".pprof")
		errc := make(chan error, 1)
		go func() { errc <- fetchProfile(ctx, pprofAddr, b.cfg.profileSec, file) }()
		time.Sleep(200 * time.Millisecond) // the profile starts first
		if err := ph.work(time.Now().Add(time.Duration(b.cfg.profileSec) * time.Second)); err != nil {
			return fmt.Errorf("profiling %s: %w", ph.name, err)
		}
		if err := <-errc; err != nil {
			return fmt.Errorf("profile %s: %w", ph.name, err)
		}
		top, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=25", b.cfg.bin, file).CombinedOutput()
		if err != nil {
			return fmt.Errorf("go tool pprof: %w: %s", err, top)
		}
		log.Printf("CPU profile of xmppgate during %s: %s\n%s", ph.name, file, top)
		b.profiles = append(b.profiles, fmt.Sprintf("CPU profile of xmppgate during %s (%d s, `%s`):\n\n```\n%s```\n",
			ph.name, b.cfg.profileSec, file, strings.TrimLeft(string(top), "\n")))
	}
	return nil
}

func fetchProfile(ctx context.Context, addr string, sec int, file string) error {
	return fetchURL(ctx, "http://"+addr+"/debug/pprof/profile?"+url.Values{"seconds": {strconv.Itoa(sec)}}.Encode(), file)
}

func fetchURL(ctx context.Context, u, file string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: HTTP %d", u, resp.StatusCode)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// snapshot writes xmppgate's heap and goroutine profiles to the profile
// directory as <tag>-heap.pprof and <tag>-goroutine.txt while a memory run
// holds its sessions (what each idle session keeps); a no-op without
// -profile or for a peer.
func (b *bench) snapshot(ctx context.Context, s xmppServer, tag string) {
	x, ok := s.(*xmppgate)
	if !ok || b.cfg.profileDir == "" || x.pprof == "" {
		return
	}
	if err := os.MkdirAll(b.cfg.profileDir, 0o755); err != nil {
		log.Printf("profile directory: %v", err)
		return
	}
	for _, p := range []struct{ path, file string }{
		{"/debug/pprof/heap?gc=1", tag + "-heap.pprof"},
		{"/debug/pprof/goroutine?debug=1", tag + "-goroutine.txt"},
		{"/debug/pprof/heap?debug=1", tag + "-heap.txt"}, // ends with runtime.MemStats
	} {
		file := filepath.Join(b.cfg.profileDir, p.file)
		if err := fetchURL(ctx, "http://"+x.pprof+p.path, file); err != nil {
			log.Printf("snapshot %s: %v", p.file, err)
			continue
		}
		log.Printf("xmppgate %s: %s", p.file, file)
	}
}
