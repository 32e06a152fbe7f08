// Command xmpp benchmarks xmppcore, the embedded XMPP server, the way issue 3
// asks: logins per second (STARTTLS + SCRAM-SHA-1 + bind + initial presence),
// 1:1 chat messages per second across connected pairs, and resident memory
// per idle authenticated TLS session. The server runs in a child process (a
// re-exec of this program with -serve) so its memory is measured alone; the
// load comes from one go-xmpp client process.
//
//	go run ./bench/xmpp [-users 1000] [-conc 50] [-pairs 100] [-dur 10s] [-idle 2000] [-sm]
//
// -sm enables XEP-0198 stream management with resumption on every idle
// session of the memory phase (the go-xmpp client cannot answer acks, so
// the message phase stays without it; xmppcore's BenchmarkMessageSM prices
// stream management on the message path).
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/bench/benchproc"
	"github.com/xmppgate/xmppgate/internal/peer"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
	"github.com/xmppgate/xmppgate/xmppcore"
)

const domain = "bench.test"

func main() {
	serve := flag.String("serve", "", "internal: run the server on this data dir")
	users := flag.Int("users", 1000, "logins in the login phase")
	conc := flag.Int("conc", 50, "concurrent logins")
	pairs := flag.Int("pairs", 100, "connected pairs in the message phase")
	dur := flag.Duration("dur", 10*time.Second, "length of the message phase")
	idle := flag.Int("idle", 2000, "idle sessions in the memory phase")
	phases := flag.String("phases", "logins,messages,memory", "which phases to run")
	sm := flag.Bool("sm", false, "enable stream management (with resumption) on the idle sessions of the memory phase")
	mam := flag.String("mam", "off,on", "the message phase once per archive setting: modMam off and/or on for every user")
	cpuprofile := flag.String("cpuprofile", "", "write the load client's CPU profile here")
	rsaCert := flag.Bool("rsa", false, "serve a self-signed RSA-2048 certificate (as make bench-peers does) instead of the default ECDSA one")
	companion := flag.String("companion", "off", "with -rsa: tls_ecdsa_companion (off, auto, on)")
	resume := flag.Bool("resume", false, "login phase: clients keep a TLS session cache; a first pass fills it, the second is measured")
	step := flag.Int("step", 1000, "scale phase: sessions added per step")
	flag.Parse()
	if *cpuprofile != "" {
		w, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(w)
		defer pprof.StopCPUProfile()
	}
	if *serve != "" {
		runServer(*serve)
		return
	}
	dir, err := os.MkdirTemp("", "xmppbench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	n := max(*users, 2**pairs, *idle)
	prepare(dir, n)
	if *rsaCert {
		// The self-signed RSA-2048 certificate make bench-peers gives all three servers.
		cert, err := peer.MakeCert(dir, domain, "rsa")
		if err != nil {
			log.Fatal(err)
		}
		os.Setenv("XMPPBENCH_CERT", cert.Cert)
		os.Setenv("XMPPBENCH_KEY", cert.Key)
		os.Setenv("XMPPBENCH_COMPANION", *companion)
	}
	if *resume {
		clientTLS.ClientSessionCache = tls.NewLRUClientSessionCache(*users)
	}

	if strings.Contains(*phases, "logins") {
		srv := start(dir)
		if *resume {
			for _, c := range connectN(srv.addr, 0, *users, *conc) {
				c.Close()
			}
		}
		cpu0 := cpuTime(srv.cmd.Process.Pid)
		rate := loginPhase(srv.addr, *users, *conc)
		cpu := cpuTime(srv.cmd.Process.Pid) - cpu0
		srv.stop()
		fmt.Printf("logins: %d in %.2fs = %.0f logins/s (concurrency %d), server CPU %.2f ms per login (%s)\n", *users,
			float64(*users)/rate, rate, *conc, float64(cpu.Microseconds())/1000/float64(*users), certDesc(*rsaCert, *companion, *resume))
	}
	if strings.Contains(*phases, "messages") {
		for _, mode := range strings.Split(*mam, ",") {
			setArchive(dir, mode == "on")
			srv := start(dir)
			msgs, cpu := messagePhase(srv, *pairs, *dur)
			srv.stop()
			fmt.Printf("messages (archive %s): %.0f delivered/s across %d pairs for %s, server CPU %.1f µs per message\n",
				mode, msgs, *pairs, *dur, cpu)
		}
		setArchive(dir, true)
	}
	if strings.Contains(*phases, "scale") {
		setArchive(dir, false) // the messages among the pairs, as bench-peers' chat: not archived
		srv := start(dir)
		scalePhase(srv, *idle, *step, *conc, *pairs, *dur)
		srv.stop()
		setArchive(dir, true)
	}
	if strings.Contains(*phases, "memory") {
		srv := start(dir)
		kib := memoryPhase(srv, *idle, *conc, *sm)
		srv.stop()
		with := ""
		if *sm {
			with = " with stream management"
		}
		fmt.Printf("memory: %.1f KiB RSS per idle authenticated TLS session%s (%d sessions)\n", kib, with, *idle)
	}
}

// prepare creates the users u0..u(n-1) with password "pw" (one derivation,
// shared: the server's cost does not depend on it).
func prepare(dir string, n int) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "x.db"), store.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	cred, err := credential.New("pw")
	if err != nil {
		log.Fatal(err)
	}
	err = st.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.InsertAccount(ctx, "bench", 0)
		if err != nil {
			return err
		}
		d, err := tx.InsertDomain(ctx, a.ID, domain)
		if err != nil {
			return err
		}
		return benchproc.InsertUsers(ctx, tx, d.ID, n, cred)
	})
	if err != nil {
		log.Fatal(err)
	}
}

// setArchive switches XEP-0313 archiving (modMam) for the bench domain.
func setArchive(dir string, on bool) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "x.db"), store.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer st.Close()
	d, err := st.DomainByFQDN(ctx, domain)
	if err != nil {
		log.Fatal(err)
	}
	settings := fmt.Sprintf(`{"moduleConfig":{"modMam":{"enabled":%t}}}`, on)
	if err := st.Write(ctx, func(tx *store.Tx) error { return tx.SetDomainSettings(ctx, d.ID, []byte(settings)) }); err != nil {
		log.Fatal(err)
	}
}

func runServer(dir string) {
	if r, err := strconv.Atoi(os.Getenv("XMPPBENCH_SERVER_MEMPROFILERATE")); err == nil {
		runtime.MemProfileRate = r // 1: every allocation, for an exact per-session breakdown
	}
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(dir, "x.db"), store.Options{})
	if err != nil {
		log.Fatal(err)
	}
	cfg := xmppcore.Config{C2SAddr: "127.0.0.1:0", C2STLSAddr: "", DataDir: dir}
	if c := os.Getenv("XMPPBENCH_CERT"); c != "" {
		cfg.CertFile, cfg.KeyFile = c, os.Getenv("XMPPBENCH_KEY")
		cfg.ECDSACompanion = os.Getenv("XMPPBENCH_COMPANION")
	}
	srv, err := xmppcore.New(cfg, st)
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		log.Fatal(err)
	}
	if f := os.Getenv("XMPPBENCH_SERVER_CPUPROFILE"); f != "" {
		w, err := os.Create(f)
		if err != nil {
			log.Fatal(err)
		}
		pprof.StartCPUProfile(w)
		defer pprof.StopCPUProfile()
	}
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGUSR1) // before ADDR: the parent signals at once
	a, _ := srv.Addrs()
	fmt.Println("ADDR", a.String())
	for s := range sig {
		if s == syscall.SIGUSR1 {
			debug.FreeOSMemory()
			debug.FreeOSMemory() // a second cycle lets idle goroutine stacks shrink again
			if f := os.Getenv("XMPPBENCH_SERVER_HEAPPROFILE"); f != "" {
				if w, err := os.Create(f); err == nil {
					pprof.WriteHeapProfile(w)
					w.Close()
				}
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			fmt.Fprintf(os.Stderr, "server: heap in use %d KiB, stacks %d KiB, goroutines %d\n",
				ms.HeapInuse>>10, ms.StackInuse>>10, runtime.NumGoroutine())
			fmt.Println("FREED")
			continue
		}
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		srv.Shutdown(ctx)
		cancel()
		st.Close()
		return
	}
}

type child struct {
	cmd  *exec.Cmd
	addr string
	out  *bufio.Scanner
}

func start(dir string) *child {
	cmd := exec.Command(os.Args[0], "-serve", dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		log.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if a, ok := strings.CutPrefix(sc.Text(), "ADDR "); ok {
			return &child{cmd: cmd, addr: a, out: sc}
		}
	}
	log.Fatal("server did not start")
	return nil
}

func (c *child) stop() {
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.cmd.Wait()
}

// rss returns the child's resident set in KiB, after asking it to give
// freed memory back to the OS.
func (c *child) rss() float64 {
	c.cmd.Process.Signal(syscall.SIGUSR1)
	for c.out.Scan() {
		if c.out.Text() == "FREED" {
			break
		}
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		log.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
			return f
		}
	}
	return 0
}

// clientTLS is every client's TLS configuration (one session cache with
// -resume).
var clientTLS = &tls.Config{InsecureSkipVerify: true, ServerName: domain}

func login(addr string, i int) (*goxmpp.Client, error) {
	o := goxmpp.Options{
		Host: addr, User: "u" + strconv.Itoa(i) + "@" + domain, Password: "pw", Resource: "bench",
		NoTLS: true, StartTLS: true, TLSConfig: clientTLS,
		Mechanism: "SCRAM-SHA-1", NoPLAIN: true, DialTimeout: 10 * time.Second,
	}
	return o.NewClient()
}

// connect logs in users [0, n) with conc workers and returns the clients.
func connect(addr string, n, conc int) ([]*goxmpp.Client, time.Duration) {
	t0 := time.Now()
	clients := connectN(addr, 0, n, conc)
	return clients, time.Since(t0)
}

// connectN logs in users [from, from+n) with conc workers.
func connectN(addr string, from, n, conc int) []*goxmpp.Client {
	clients := make([]*goxmpp.Client, n)
	benchproc.Each(n, conc, func(i int) {
		c, err := login(addr, from+i)
		if err != nil {
			log.Fatalf("login u%d: %v", from+i, err)
		}
		clients[i] = c
	})
	return clients
}

func loginPhase(addr string, n, conc int) float64 {
	_, d := connect(addr, n, conc)
	return float64(n) / d.Seconds()
}

// cpuTime is the CPU time (user + system) the process pid has used.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		log.Fatal(err)
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64) // fields 14 and 15 of stat, after pid and comm
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * time.Second / 100 // USER_HZ
}

// messagePhase returns messages delivered per second and the server's CPU
// time per delivered message in µs: the comparable figure when other
// processes share the cores.
func messagePhase(srv *child, pairs int, dur time.Duration) (float64, float64) {
	clients, _ := connect(srv.addr, 2*pairs, 50)
	return exchange(srv, clients, dur)
}

// window is how many messages a sender has in flight, as bench-peers'
// chat (-msg-window): without one, senders fill the sockets' buffers and
// the server's CPU goes to a backlog that is never delivered in time.
const window = 16

// exchange has clients[2k] and clients[2k+1] (users u2k, u2k+1) chat for
// dur, each with at most window messages in flight; it returns messages
// delivered per second and server µs per message.
func exchange(srv *child, clients []*goxmpp.Client, dur time.Duration) (float64, float64) {
	var delivered atomic.Int64
	var counting atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	credits := make([]chan struct{}, len(clients))
	for i := range credits {
		credits[i] = make(chan struct{}, window)
		for range window {
			credits[i] <- struct{}{}
		}
	}
	for i, c := range clients {
		partner := "u" + strconv.Itoa(i^1) + "@" + domain + "/bench"
		go func() { // receiver; ends when the server goes away
			for {
				st, err := c.Recv()
				if err != nil {
					return
				}
				if m, ok := st.(goxmpp.Chat); ok && m.Text != "" {
					select {
					case credits[i^1] <- struct{}{}: // the partner may send another
					default:
					}
					if counting.Load() {
						delivered.Add(1)
					}
				}
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := goxmpp.Chat{Remote: partner, Type: "chat", Text: strings.Repeat("hello, world ", 8)}
			for {
				select {
				case <-stop:
					return
				case <-credits[i]:
				}
				if _, err := c.Send(msg); err != nil {
					return
				}
			}
		}()
	}
	time.Sleep(time.Second) // warm up
	cpu0 := cpuTime(srv.cmd.Process.Pid)
	counting.Store(true)
	time.Sleep(dur)
	counting.Store(false)
	n := delivered.Load()
	cpu := cpuTime(srv.cmd.Process.Pid) - cpu0
	close(stop)
	wg.Wait()
	return float64(n) / dur.Seconds(), float64(cpu.Microseconds()) / float64(max(n, 1))
}

func memoryPhase(srv *child, n, conc int, sm bool) float64 {
	before := warmRSS(srv, conc)
	clients, _ := connect(srv.addr, n, conc)
	if sm {
		for _, c := range clients {
			if _, err := c.SendOrg("<enable xmlns='urn:xmpp:sm:3' resume='true'/>"); err != nil {
				log.Fatal(err)
			}
		}
	}
	time.Sleep(3 * time.Second)
	after := srv.rss()
	_ = clients
	return (after - before) / float64(n)
}

// warmRSS logs 100 sessions in and out, as bench/peers does before its
// memory figure, so that code paths, the store's page cache and the
// runtime's first heap growth are not charged to the sessions measured,
// then returns the server's RSS.
func warmRSS(srv *child, conc int) float64 {
	for _, c := range connectN(srv.addr, 0, 100, conc) {
		c.Close()
	}
	time.Sleep(time.Second) // the server notices the closed streams
	return srv.rss()
}
