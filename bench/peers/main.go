// Command peers is `make bench-peers`: the side-by-side benchmark of issue 6.
// It installs ejabberd and Prosody from Debian's packages if missing (their
// system services never run), starts ejabberd 23.01, Prosody 0.12 and
// xmppgate one after the other on loopback ports with throw-away configs and
// data directories, drives each with the same client code (HTTP provisioning
// here, XMPP in ./xmppload), stops everything it started — also on error or
// Ctrl-C — and prints one table: each figure as the median (min–max) of the
// runs, with the ratio xmppgate / best peer and the targets. The table, with
// the machine's description, goes on top of bench/RESULTS.md.
//
// Needs root (the peers run as their own system users). Settings of the
// peers come from the anchor measurements in ../shared/peers.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/xmppgate/xmppgate/internal/peer"
)

// benchMarker is in the name of our run directory, hence in the command
// line of every server we start (never mistaken for a packaged daemon).
const benchMarker = peer.RunDirMarker + "peers-"

type config struct {
	bin         string
	runs        int
	provN       int
	provC       int
	users       int
	loginN      int
	loginC      int
	pairs       int
	msgDur      time.Duration
	window      int
	idleN       int
	idleSettle  time.Duration
	batchN      int
	clientProcs int
	only        string
	results     string
	profileDir  string
	profileSec  int
	timeout     time.Duration
	keep        bool
	domain      string
	password    string
	certKind    string
	companion   string
	phases      string
	runDir      string // parent of the run directory
	ports       string // "lo-hi": every port we choose comes from there
	muc         mucConfig
	web         webConfig
}

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", "bin/xmppgate", "xmppgate binary (make bench-peers builds it)")
	flag.IntVar(&c.runs, "runs", 3, "runs of every figure (the table shows the median and the range)")
	flag.IntVar(&c.provN, "prov-n", 700, "accounts created per provisioning run (the runs also create the XMPP test users)")
	flag.IntVar(&c.provC, "prov-c", 16, "HTTP concurrency of provisioning")
	flag.IntVar(&c.loginN, "login-n", 1000, "logins per login run")
	flag.IntVar(&c.loginC, "login-c", 50, "login concurrency (also used to open the idle and chat sessions)")
	flag.IntVar(&c.pairs, "pairs", 100, "sender/receiver pairs of the chat test")
	flag.DurationVar(&c.msgDur, "msg-dur", 10*time.Second, "measured time of each chat run (after 1 s of warm-up)")
	flag.IntVar(&c.window, "msg-window", 16, "messages in flight per pair")
	flag.IntVar(&c.idleN, "idle-n", 2000, "idle sessions of the memory test")
	flag.DurationVar(&c.idleSettle, "idle-settle", 3*time.Second, "pause before each RSS reading")
	flag.IntVar(&c.batchN, "batch-n", 10000, "changes in xmppgate's batch-apply run")
	flag.IntVar(&c.clientProcs, "client-procs", envInt("CLIENT_PROCS", 1), "GOMAXPROCS of this load client (1 leaves the other core to the server; $CLIENT_PROCS)")
	flag.StringVar(&c.only, "only", "xmppgate,ejabberd,prosody", "servers to measure")
	flag.StringVar(&c.results, "results", "bench/RESULTS.md", "file the table is added to (empty: print only)")
	flag.StringVar(&c.profileDir, "profile", "", "if set, after its runs xmppgate serves pprof and a CPU profile of each phase is written here")
	flag.IntVar(&c.profileSec, "profile-sec", 6, "seconds of each CPU profile")
	flag.DurationVar(&c.timeout, "timeout", 14*time.Minute, "abort (and clean up) after this long")
	flag.StringVar(&c.certKind, "cert", "rsa", "key of the servers' shared certificate: rsa (RSA-2048, as the anchors) or ecdsa (P-256)")
	flag.StringVar(&c.companion, "companion", "off", "xmppgate's tls_ecdsa_companion with -cert rsa: off (the shared certificate alone, as the peers), auto (an ECDSA companion beside it; the table says so)")
	flag.BoolVar(&c.keep, "keep", false, "keep the run directory (configs, logs, data) for inspection")
	flag.StringVar(&c.phases, "phases", defaultPhases(), "phases to run: "+strings.Join(allPhases, ",")+
		" (muc is in the default with PEERS_MUC=1, web with PEERS_WEB=1)")
	flag.StringVar(&c.runDir, "run-dir", os.Getenv("PEERS_RUN"), "parent of the throw-away run directory (default: $PEERS_RUN, else the system's temporary directory)")
	flag.StringVar(&c.ports, "ports", os.Getenv("PEERS_PORTS"), "loopback port range lo-hi for the servers' listeners (default: $PEERS_PORTS, else any free port)")
	c.muc.flags()
	c.web.flags()
	flag.Parse()
	if c.companion != "off" && c.companion != "auto" {
		log.Fatalf("bench-peers: -companion %q: want off or auto", c.companion)
	}
	c.users = max(c.loginN, 2*c.pairs, c.idleN)
	if c.phase("muc") {
		c.users = max(c.users, c.muc.n, c.muc.rooms, c.muc.memN)
		// The MUC runs take ~5 min per peer on an idle machine (Prosody's
		// joins ~1 min each), three times that on a busy one.
		explicit := false
		flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "timeout" })
		if !explicit {
			c.timeout += 30 * time.Minute
		}
	}
	if c.phase("web") {
		c.users = max(c.users, c.web.n)
		// 3 × 2 runs of 10,000 web logins per server: Prosody's alone take
		// ~10 min on an idle machine.
		explicit := false
		flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "timeout" })
		if !explicit {
			c.timeout += 40 * time.Minute
		}
	}
	c.domain, c.password = "bench.local", "benchpass"
	log.SetFlags(log.Ltime)
	runtime.GOMAXPROCS(c.clientProcs)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	b := &bench{cfg: c, mucOK: map[string]bool{}, mucLoad: map[string][]float64{}}
	err := b.run(ctx)
	b.cleanup()
	if err != nil {
		log.Printf("bench-peers: %v", err)
		os.Exit(1)
	}
}

// bench is one invocation: what it started (to stop it) and what it measured.
type bench struct {
	cfg      config
	dir      string
	cert     peer.Cert
	stops    []func()
	rows     rows
	notes    []string
	machine  string
	began    time.Time
	profiles []string
	ports    *portRange
	mucOK    map[string]bool      // servers whose MUC service answered disco
	mucLoad  map[string][]float64 // load average during each server's MUC runs
}

// started registers how to stop something just started; cleanup runs these
// in reverse order.
func (b *bench) started(stop func()) func() {
	done := false
	f := func() {
		if !done {
			done = true
			stop()
		}
	}
	b.stops = append(b.stops, f)
	return f
}

func (b *bench) cleanup() {
	for i := len(b.stops) - 1; i >= 0; i-- {
		b.stops[i]()
	}
	b.stops = nil
}

func (b *bench) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	log.Print(s)
	b.notes = append(b.notes, s)
}

func (b *bench) run(ctx context.Context) error {
	var err error
	if os.Geteuid() != 0 {
		return errors.New("run as root: the peers are installed with apt-get and run as their own system users")
	}
	if _, err := os.Stat(b.cfg.bin); err != nil {
		return fmt.Errorf("%s: %w (make bench-peers builds it)", b.cfg.bin, err)
	}
	b.began = time.Now()
	// Go raises its own open-files limit but restores the old one in
	// children; setting it explicitly makes the servers inherit it.
	var rl syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl) == nil {
		rl.Cur = rl.Max
		syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl)
	}
	want := map[string]bool{}
	for _, s := range strings.Split(strings.ToLower(b.cfg.only), ",") {
		want[strings.TrimSpace(s)] = true
	}
	if want["ejabberd"] || want["prosody"] {
		t := time.Now()
		if err := peer.Ensure(ctx, "ejabberd", "prosody"); err != nil {
			return err
		}
		if d := time.Since(t); d > time.Second {
			log.Printf("packages installed in %s", d.Round(time.Second))
		}
	}
	if b.ports, err = parsePorts(b.cfg.ports); err != nil {
		return err
	}
	if b.cfg.runDir != "" {
		if err := os.MkdirAll(b.cfg.runDir, 0o755); err != nil {
			return err
		}
	}
	dir, err := os.MkdirTemp(b.cfg.runDir, benchMarker)
	if err != nil {
		return err
	}
	b.dir = dir
	if !b.cfg.keep {
		b.started(func() { os.RemoveAll(dir) })
	} else {
		log.Printf("run directory %s is kept", dir)
	}
	if err := os.Chmod(dir, 0o755); err != nil { // the peers' users must reach their subdirectories
		return err
	}
	if b.cfg.runDir != "" {
		os.Chmod(b.cfg.runDir, 0o755)
	}
	if b.cert, err = peer.MakeCert(dir, b.cfg.domain, b.cfg.certKind); err != nil {
		return err
	}
	b.machine = machine()
	b.rows = newRows(b.cfg)
	// A server that fails ends the measurement, but what was measured so far
	// is still reported, marked incomplete.
	var failed error
	for _, srv := range []struct {
		name string
		run  func(context.Context) error
	}{{"ejabberd", b.runEjabberd}, {"prosody", b.runProsody}, {"xmppgate", b.runXmppgate}} {
		if !want[srv.name] {
			continue
		}
		if err := srv.run(ctx); err != nil {
			failed = fmt.Errorf("%s: %w", srv.name, err)
			b.note("INCOMPLETE: the run stopped with an error: %v", failed)
			break
		}
	}
	elapsed := time.Since(b.began).Round(time.Second)
	out := b.report(elapsed)
	fmt.Print(out)
	if b.cfg.results != "" {
		if err := prependResults(b.cfg.results, out); err != nil {
			return err
		}
		log.Printf("table added to %s", b.cfg.results)
	}
	return failed
}

// report is the section for RESULTS.md (and stdout).
func (b *bench) report(elapsed time.Duration) string {
	web := ""
	if b.cfg.phase("web") {
		web = fmt.Sprintf("; %d idle WebSocket and %d idle BOSH sessions", b.cfg.web.n, b.cfg.web.n)
	}
	var s strings.Builder
	fmt.Fprintf(&s, "## %s\n\n", b.began.UTC().Format("2006-01-02 15:04 UTC"))
	s.WriteString(b.machine)
	fmt.Fprintf(&s, "\nWorkload: %d runs per figure (median, range in parentheses); provisioning %d accounts per run at "+
		"concurrency %d; %d logins at concurrency %d; %d pairs for %s, ≤ %d in flight per pair; %d idle sessions; "+
		"batch of %d changes%s. Load client GOMAXPROCS=%d on the same cores. Phases: %s. Whole run: %s.\n\n",
		b.cfg.runs, b.cfg.provN, b.cfg.provC, b.cfg.loginN, b.cfg.loginC, b.cfg.pairs, b.cfg.msgDur, b.cfg.window,
		b.cfg.idleN, b.cfg.batchN, web, b.cfg.clientProcs, b.cfg.phases, elapsed)
	s.WriteString(markdown(b.rows.list(b.cfg)))
	if on, off := median(b.rows.mam.Vals[srvOurs]), median(b.rows.msg.Vals[srvOurs]); on > 0 && off > 0 {
		b.notes = append(b.notes, fmt.Sprintf("xmppgate with the archive on delivers %.2f× its archive-off figure "+
			"(issue 13's target: at least 0.5×); server CPU per message %.1f → %.1f µs.", on/off,
			median(b.rows.msgCPU.Vals[srvOurs]), median(b.rows.mamCPU.Vals[srvOurs])))
	}
	s.WriteString("\nNotes:\n")
	for _, n := range append([]string{
		"Load average at the end: " + strings.Join(strings.Fields(readTrim("/proc/loadavg"))[:3], " ") + ".",
		"Prosody 0.12 ships no HTTP admin API: its test users are created through mod_admin_shell on its admin socket, " +
			"so the provisioning targets compare with ejabberd only.",
		"One self-signed " + map[string]string{"rsa": "RSA-2048", "ecdsa": "ECDSA P-256"}[b.cfg.certKind] + " certificate for all three servers; the client offers X25519 only, no session resumption, " +
			"and caches SCRAM salted passwords (no PBKDF2 on the client in timed runs).",
		"Server CPU per operation (from /proc/<pid>/stat) is the figure least disturbed by other load on the machine.",
	}, append(b.companionNotes(), append(append(b.mucNotes(), b.webNotes()...), b.notes...)...)...) {
		s.WriteString("- " + n + "\n")
	}
	for _, p := range b.profiles {
		s.WriteString("\n" + p)
	}
	s.WriteString("\n")
	return s.String()
}

// sub returns a fresh directory under the run directory.
func (b *bench) sub(name string) string { return filepath.Join(b.dir, name) }

// companionNotes says when xmppgate served an ECDSA companion beside the
// shared RSA certificate: its login figures are then not like for like
// with the peers', which serve the RSA certificate alone.
func (b *bench) companionNotes() []string {
	if b.cfg.certKind != "rsa" || b.cfg.companion == "off" {
		return nil
	}
	return []string{"xmppgate ran with `tls_ecdsa_companion: " + b.cfg.companion + "`: beside the shared RSA-2048 certificate it serves a generated " +
		"ECDSA P-256 companion to clients that offer ECDSA (this load client does); ejabberd and Prosody serve the RSA certificate alone (docs/tls.md)."}
}
