// Command storefill measures what a big store costs the operations that
// must not notice it (issue 17, part 1): on an empty store and on one with
// a million users (1,000 domains of 1,000 users in 100 accounts), the same
// server binary answers
//
//   - POST /api/register (ejabberd API) at concurrency 16,
//   - XMPP logins (STARTTLS + SCRAM-SHA-1 + bind, go-xmpp) at concurrency 50,
//   - jabber-list_users of an account with one 10,000-user domain,
//   - jabber-add_user (DreamHost API) acknowledgements at concurrency 16,
//
// each with the server's CPU time per operation (from /proc, comparable on a
// loaded machine) beside its rate and latency (which need a quiet one), and
// the database file size per user.
//
//	go run ./bench/storefill [-bin bin/xmppgate] [-users 1000000] [-d 5s]
package main

import (
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/bench/benchproc"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

var (
	bin      = flag.String("bin", "bin/xmppgate", "xmppgate binary")
	users    = flag.Int("users", 1_000_000, "users in the filled store")
	domains  = flag.Int("domains", 1000, "domains they are spread over")
	accounts = flag.Int("accounts", 100, "accounts owning those domains")
	listN    = flag.Int("list", 10_000, "users of the listed account's domain (both stores)")
	conc     = flag.Int("c", 16, "concurrency of add_user and register")
	dur      = flag.Duration("d", 5*time.Second, "duration of add_user and register")
	logins   = flag.Int("logins", 1000, "XMPP logins")
	lists    = flag.Int("lists", 20, "jabber-list_users calls")
)

const listDomain = "list.bench"

// figure is one measured operation.
type figure struct {
	name     string
	n        int
	rate     float64 // per second (needs a quiet machine)
	p50, p99 time.Duration
	cpu      time.Duration // server CPU per operation
}

func main() {
	flag.Parse()
	empty := run(0)
	filled := run(*users)
	fmt.Printf("storefill: %d users (%d domains, %d accounts) against an empty store; the listed account has one %d-user domain\n",
		*users, *domains, *accounts, *listN)
	fmt.Printf("%-28s %12s %12s %8s %12s %12s %14s %14s %8s\n", "operation", "empty /s", "filled /s", "ratio",
		"empty p50", "filled p50", "empty CPU/op", "filled CPU/op", "ratio")
	for i := range empty.figs {
		e, f := empty.figs[i], filled.figs[i]
		fmt.Printf("%-28s %12.0f %12.0f %7.0f%% %12v %12v %14v %14v %7.0f%%\n", e.name, e.rate, f.rate, 100*f.rate/e.rate,
			e.p50.Round(10*time.Microsecond), f.p50.Round(10*time.Microsecond),
			e.cpu.Round(time.Microsecond), f.cpu.Round(time.Microsecond), 100*float64(f.cpu)/float64(max(e.cpu, 1)))
	}
	fmt.Printf("database: empty %.1f MiB, filled %.1f MiB: %.0f bytes per user (users, SCRAM-SHA-1 and -256 keys, indexes)\n",
		float64(empty.dbBytes)/(1<<20), float64(filled.dbBytes)/(1<<20), float64(filled.dbBytes-empty.dbBytes)/float64(max(*users, 1)))
	fmt.Printf("fill: %d users inserted in %v (through the store API, one transaction per domain)\n", *users, filled.fill.Round(time.Second))
	fmt.Println("rates and latencies need a quiet machine; CPU per operation and sizes hold on a loaded one")
}

type result struct {
	figs    []figure
	dbBytes int64
	fill    time.Duration
}

// run measures on a fresh data directory holding n users besides the
// listed domain.
func run(n int) result {
	data, err := os.MkdirTemp("", "xmppgate-storefill")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(data)
	// A first start makes the bootstrap account, key and admin.
	p, err := benchproc.Start(*bin, data, nil, "XMPPGATE_LOG_LEVEL=warn")
	if err != nil {
		log.Fatal(err)
	}
	boot := p.Boot
	p.Stop()
	t0 := time.Now()
	fill(filepath.Join(data, "xmppgate.db"), boot.Domain, n)
	var r result
	r.fill = time.Since(t0)
	c2s := freeAddr()
	p, err = benchproc.Start(*bin, data, nil, "XMPPGATE_LOG_LEVEL=warn", "XMPPGATE_C2S_ADDR="+c2s)
	if err != nil {
		log.Fatal(err)
	}
	r.figs = []figure{
		timed(p, "POST /api/register", *conc, *dur, func(i int) error { return p.Register(client, "r"+strconv.Itoa(i), "benchpass") }),
		counted(p, "XMPP login", 50, *logins, func(i int) error { return login(c2s, i) }),
		counted(p, fmt.Sprintf("jabber-list_users (%d)", *listN), 1, *lists, func(int) error { return dreamhost(p, url.Values{"cmd": {"jabber-list_users"}}) }),
		// Last: the batch these acknowledge is applied afterwards (SCRAM
		// derivations), which would weigh on whatever came next.
		timed(p, "jabber-add_user ack", *conc, *dur, func(i int) error {
			return dreamhost(p, url.Values{"cmd": {"jabber-add_user"}, "domain": {boot.Domain}, "username": {"a" + strconv.Itoa(i)}, "password": {"pw-" + strconv.Itoa(i)}})
		}),
	}
	p.Stop() // the last connection's close checkpoints the WAL into the file
	for _, f := range []string{"xmppgate.db", "xmppgate.db-wal"} {
		if fi, err := os.Stat(filepath.Join(data, f)); err == nil {
			r.dbBytes += fi.Size()
		}
	}
	return r
}

// fill adds the listed domain (listN users, to the bootstrap account) and
// n users over new domains and accounts, with one shared credential.
func fill(path, bootDomain string, n int) {
	ctx := context.Background()
	st, err := store.Open(ctx, path, store.Options{Synchronous: "NORMAL"})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	cred, err := credential.New("pw")
	if err != nil {
		log.Fatal(err)
	}
	bd, err := st.DomainByFQDN(ctx, bootDomain)
	if err != nil {
		log.Fatal(err)
	}
	must(st.Write(ctx, func(tx *store.Tx) error {
		d, err := tx.InsertDomain(ctx, bd.AccountID, listDomain)
		if err != nil {
			return err
		}
		return benchproc.InsertUsers(ctx, tx, d.ID, *listN, cred)
	}))
	if n == 0 {
		return
	}
	perDomain := n / *domains
	var accts []int64
	must(st.Write(ctx, func(tx *store.Tx) error {
		for a := range *accounts {
			acc, err := tx.InsertAccount(ctx, "fill"+strconv.Itoa(a), 0)
			if err != nil {
				return err
			}
			accts = append(accts, acc.ID)
		}
		return nil
	}))
	for d := range *domains {
		must(st.Write(ctx, func(tx *store.Tx) error {
			dom, err := tx.InsertDomain(ctx, accts[d%len(accts)], "d"+strconv.Itoa(d)+".fill")
			if err != nil {
				return err
			}
			return benchproc.InsertUsers(ctx, tx, dom.ID, perDomain, cred)
		}))
	}
}

func must(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func dreamhost(p *benchproc.Proc, v url.Values) error {
	v.Set("key", p.Boot.Key)
	resp, err := client.PostForm("http://"+p.Addr+"/", v)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(string(body), "success\n") {
		return fmt.Errorf("%s: %.200q", v.Get("cmd"), body)
	}
	return nil
}

func login(addr string, i int) error {
	o := goxmpp.Options{
		Host: addr, User: "u" + strconv.Itoa(i) + "@" + listDomain, Password: "pw", Resource: "bench",
		NoTLS: true, StartTLS: true, TLSConfig: &tls.Config{InsecureSkipVerify: true, ServerName: listDomain},
		Mechanism: "SCRAM-SHA-1", NoPLAIN: true, DialTimeout: 30 * time.Second,
	}
	c, err := o.NewClient()
	if err != nil {
		return err
	}
	return c.Close()
}

// timed runs f at concurrency c for d.
func timed(p *benchproc.Proc, name string, c int, d time.Duration, f func(i int) error) figure {
	var next atomic.Int64
	deadline := time.Now().Add(d)
	return measure(p, name, c, func() (int, bool) {
		if time.Now().After(deadline) {
			return 0, false
		}
		return int(next.Add(1)), true
	}, f)
}

// counted runs f(0..n-1) at concurrency c.
func counted(p *benchproc.Proc, name string, c, n int, f func(i int) error) figure {
	var next atomic.Int64
	return measure(p, name, c, func() (int, bool) {
		i := int(next.Add(1)) - 1
		return i, i < n
	}, f)
}

func measure(p *benchproc.Proc, name string, c int, next func() (int, bool), f func(i int) error) figure {
	var (
		mu  sync.Mutex
		lat []time.Duration
		wg  sync.WaitGroup
	)
	start, cpu0 := time.Now(), p.CPU()
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for {
				i, ok := next()
				if !ok {
					break
				}
				t0 := time.Now()
				if err := f(i); err != nil {
					log.Fatalf("%s: %v", name, err)
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), p.CPU()-cpu0
	n := max(len(lat), 1)
	return figure{name: name, n: len(lat), rate: float64(len(lat)) / elapsed.Seconds(),
		p50: benchproc.Percentile(lat, 0.5), p99: benchproc.Percentile(lat, 0.99), cpu: cpu / time.Duration(n)}
}
