// Command ws benchmarks XMPP over WebSocket (RFC 7395) on bin/xmppgate's
// HTTP listener: resident memory per idle authenticated WebSocket session,
// and 1:1 chat messages per second across connected pairs. The server is
// the real binary in its own process (bench/benchproc), so its memory is
// measured alone; the load comes from bench/peers/xmppload's WebSocket
// sessions in this one (open, SCRAM-SHA-1, open, bind, presence, ping), the
// client bench-peers drives ejabberd and Prosody with.
//
//	go run ./bench/ws -bin bin/xmppgate [-idle 10000] [-pairs 100] [-dur 10s] [-phases memory,messages]
//
// 10,000 idle sessions need 20,000 file descriptors in this process and
// the server's: raise `ulimit -n` first (the program tries to).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/xmppgate/xmppgate/bench/benchproc"
	"github.com/xmppgate/xmppgate/bench/peers/xmppload"
)

func main() {
	bin := flag.String("bin", "bin/xmppgate", "the xmppgate binary")
	idle := flag.Int("idle", 10000, "idle sessions in the memory phase")
	pairs := flag.Int("pairs", 100, "connected pairs in the message phase")
	dur := flag.Duration("dur", 10*time.Second, "length of the message phase")
	conc := flag.Int("conc", 50, "concurrent logins")
	phases := flag.String("phases", "memory,messages", "which phases to run")
	flag.Parse()
	benchproc.RaiseNoFile()

	dir, domain, err := benchproc.DataDir(*bin, max(*idle, 2**pairs))
	defer os.RemoveAll(dir)
	if err != nil {
		log.Fatal(err)
	}

	if strings.Contains(*phases, "memory") {
		p, err := benchproc.Start(*bin, dir, nil, "XMPPGATE_LOG_LEVEL=error")
		if err != nil {
			log.Fatal(err)
		}
		before, _ := benchproc.RSSKiB(p.PID())
		conns := connect(p.Addr, domain, *idle, *conc)
		wait := xmppload.HoldAll(conns) // read, as an idle browser does (pings answered)
		time.Sleep(5 * time.Second)     // let the server settle (goroutine hand-offs, scavenger)
		after, _ := benchproc.RSSKiB(p.PID())
		fmt.Printf("memory: %.1f KiB RSS per idle authenticated WebSocket session (%d sessions, ws:// on loopback)\n",
			(after-before)/float64(*idle), *idle)
		xmppload.CloseAll(conns)
		if err := wait.Wait(); err != nil {
			log.Print(err)
		}
		p.Stop()
	}
	if strings.Contains(*phases, "messages") {
		p, err := benchproc.Start(*bin, dir, nil, "XMPPGATE_LOG_LEVEL=error")
		if err != nil {
			log.Fatal(err)
		}
		rate, cpu := messages(p, domain, *pairs, *dur)
		fmt.Printf("messages: %.0f delivered/s across %d WebSocket pairs for %s, server CPU %.1f µs per message\n",
			rate, *pairs, *dur, cpu)
		p.Stop()
	}
}

// connect logs u0..u(n-1) in over WebSocket with conc workers.
func connect(addr, domain string, n, conc int) []*xmppload.Conn {
	accts := make([]xmppload.Account, n)
	for i := range accts {
		accts[i] = xmppload.Account{URL: "ws://" + addr + "/ws", Domain: domain, User: "u" + strconv.Itoa(i), Password: "pw"}
	}
	res := xmppload.LoginAllWith(context.Background(), accts, conc, func(a xmppload.Account) (*xmppload.Conn, error) {
		return xmppload.LoginWS(a, cache, time.Minute)
	})
	if res.Errors > 0 {
		log.Fatalf("%d of %d logins failed, first: %v", res.Errors, n, res.First)
	}
	return res.Conns
}

// cache keeps the SCRAM salted password (every user has the same).
var cache = xmppload.NewScramCache()

// messages runs 1:1 chat across pairs of sessions (≤ 16 messages in flight
// per pair, as bench/peers does) for dur; it returns messages delivered per
// second and the server's CPU time per delivered message in µs.
func messages(p *benchproc.Proc, domain string, pairs int, dur time.Duration) (float64, float64) {
	conns := connect(p.Addr, domain, 2*pairs, 50)
	var cpu0, cpu time.Duration
	res, err := xmppload.Messages(conns, 16, dur, func(end bool) {
		if !end {
			cpu0 = p.CPU()
		} else {
			cpu = p.CPU() - cpu0
		}
	})
	if err != nil {
		log.Fatal(err)
	}
	return float64(res.Received) / res.Window.Seconds(), float64(cpu.Microseconds()) / float64(max(res.Received, 1))
}
