// Command bosh benchmarks XMPP over BOSH (XEP-0124/0206) on bin/xmppgate's
// HTTP listener: resident memory per idle authenticated BOSH session. An
// idle BOSH client keeps one request held by the server (hold=1), which
// is answered after the session's wait and at once sent again, so each
// session costs the server its BOSH state, its c2s session and one held
// HTTP request on a keep-alive connection. The server is the real binary
// in its own process (bench/benchproc), so its memory is measured alone;
// the clients are bench/peers/xmppload's BOSH sessions in this one (the
// client bench-peers drives ejabberd and Prosody with).
//
//	go run ./bench/bosh -bin bin/xmppgate [-idle 10000] [-conc 50]
//
// 10,000 idle sessions need 20,000 file descriptors in this process and
// the server's: raise `ulimit -n` first (the program tries to).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/xmppgate/xmppgate/bench/benchproc"
	"github.com/xmppgate/xmppgate/bench/peers/xmppload"
)

func main() {
	bin := flag.String("bin", "bin/xmppgate", "the xmppgate binary")
	idle := flag.Int("idle", 10000, "idle sessions")
	conc := flag.Int("conc", 50, "concurrent logins")
	settle := flag.Duration("settle", 5*time.Second, "wait before measuring")
	pprof := flag.String("pprof", "", "the server's pprof_addr, to profile it while the sessions are held (with -keep)")
	keep := flag.Duration("keep", 0, "hold the sessions this long after measuring")
	flag.Parse()
	benchproc.RaiseNoFile()

	dir, domain, err := benchproc.DataDir(*bin, *idle)
	defer os.RemoveAll(dir)
	if err != nil {
		log.Fatal(err)
	}

	p, err := benchproc.Start(*bin, dir, nil, "XMPPGATE_LOG_LEVEL=error", "XMPPGATE_PPROF_ADDR="+*pprof)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Stop()
	hc := xmppload.NewBOSHClient(*idle)
	url := "http://" + p.Addr + "/http-bind"
	before, _ := benchproc.RSSKiB(p.PID())
	start := time.Now()
	conns := login(hc, url, domain, *idle, *conc)
	log.Printf("%d BOSH sessions logged in in %s", *idle, time.Since(start).Round(time.Millisecond))
	wait := xmppload.HoldAll(conns)
	time.Sleep(*settle) // every session now has its request held; let the server settle
	after, _ := benchproc.RSSKiB(p.PID())
	fmt.Printf("memory: %.1f KiB RSS per idle authenticated BOSH session (%d sessions, one held request each, http:// on loopback)\n",
		(after-before)/float64(*idle), *idle)
	time.Sleep(*keep)
	xmppload.CloseAll(conns)
	if err := wait.Wait(); err != nil {
		log.Print(err)
	}
}

// login opens BOSH sessions as u0..u(n-1) with conc workers.
func login(hc *http.Client, url, domain string, n, conc int) []*xmppload.Conn {
	accts := make([]xmppload.Account, n)
	for i := range accts {
		accts[i] = xmppload.Account{URL: url, Domain: domain, User: "u" + strconv.Itoa(i), Password: "pw"}
	}
	cache := xmppload.NewScramCache()
	res := xmppload.LoginAllWith(context.Background(), accts, conc, func(a xmppload.Account) (*xmppload.Conn, error) {
		return xmppload.LoginBOSH(hc, a, 60*time.Second, cache, time.Minute)
	})
	if res.Errors > 0 {
		log.Fatalf("%d of %d logins failed, first: %v", res.Errors, n, res.First)
	}
	return res.Conns
}
