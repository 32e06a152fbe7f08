package main

import (
	"context"
	"fmt"
	"log"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/xmppgate/xmppgate/internal/peer"

	"github.com/xmppgate/xmppgate/bench/benchproc"
	"github.com/xmppgate/xmppgate/bench/peers/xmppload"
)

// rows are the figures of the table.
type rows struct {
	provEj, provEjP50, provEjP99, provEjCPU *row
	provOne, provOneCPU                     *row // register with one SCRAM family
	provDH, provDHP50, provDHP99            *row
	login, loginP50, loginP99, loginCPU     *row
	msg, msgP50, msgP99, msgCPU             *row
	mam, mamCPU                             *row
	mem                                     *row
	batch                                   *row
	muc                                     mucRows
	web                                     webRows
}

func newRows(c config) rows {
	return rows{
		provEj:    newRow(fmt.Sprintf("provisioning: accounts/s, `POST /api/register` (xmppgate: its ejabberd dialect), c=%d", c.provC), +1, 6),
		provEjP50: newRow("… register latency p50, ms", -1, 0),
		provEjP99: newRow("… register latency p99, ms", -1, 0),
		provEjCPU: newRow("… server CPU per account, ms", -1, 0),
		provOne: newRow(fmt.Sprintf("provisioning: accounts/s, `POST /api/register` with `scram_hashes: sha1` (xmppgate derives one SCRAM family, "+
			"as ejabberd's default `auth_scram_hash: sha` and Prosody's `internal_hashed` do; vs ejabberd's register), c=%d", c.provC), +1, 6),
		provOneCPU: newRow("… server CPU per account, ms", -1, 0),
		provDH:     newRow("provisioning: accounts/s, xmppgate DreamHost `jabber-add_user` until `services-progress` says success (vs ejabberd's register)", +1, 5),
		provDHP50:  newRow("… add_user acknowledgement p50, ms", 0, 0),
		provDHP99:  newRow("… add_user acknowledgement p99, ms", 0, 0),
		login:      newRow(fmt.Sprintf("XMPP logins/s (STARTTLS + SCRAM-SHA-1 + bind + presence), %d users, c=%d", c.loginN, c.loginC), +1, 2),
		loginP50:   newRow("… login latency p50, ms", -1, 0),
		loginP99:   newRow("… login latency p99, ms", -1, 0),
		loginCPU:   newRow("… server CPU per login, ms", -1, 0),
		msg:        newRow(fmt.Sprintf("1:1 messages/s delivered, %d pairs, %s", c.pairs, c.msgDur), +1, 1.5),
		msgP50:     newRow("… message latency p50, ms", -1, 0),
		msgP99:     newRow("… message latency p99, ms", -1, 0),
		msgCPU:     newRow("… server CPU per message, µs", -1, 0),
		mam: newRow(fmt.Sprintf("1:1 messages/s delivered with the archive on for every user (XEP-0313: ejabberd and "+
			"Prosody mod_mam, xmppgate modMam), %d pairs, %s", c.pairs, c.msgDur), +1, 25),
		mamCPU: newRow("… server CPU per archived message, µs", -1, 0),
		mem:    newRow(fmt.Sprintf("RSS per idle authenticated TLS session, KiB (%d sessions)", c.idleN), -1, 0.5),
		batch:  newRow(fmt.Sprintf("batch apply: one batch of %d queued status changes (DreamHost deactivate/reactivate), s", c.batchN), 0, 0),
		muc:    newMUCRows(c),
		web:    newWebRows(c),
	}
}

// list is the table's rows: those of the phases that ran and measured or
// noted something.
func (r rows) list(c config) []*row {
	all := []*row{r.provEj, r.provEjP50, r.provEjP99, r.provEjCPU, r.provOne, r.provOneCPU, r.provDH, r.provDHP50, r.provDHP99,
		r.login, r.loginP50, r.loginP99, r.loginCPU, r.msg, r.msgP50, r.msgP99, r.msgCPU, r.mam, r.mamCPU, r.mem, r.batch}
	if c.phase("muc") {
		all = append(all, r.muc.list()...)
	}
	if c.phase("web") {
		all = append(all, r.web.list()...)
	}
	var out []*row
	for _, x := range all {
		if len(x.Vals) > 0 || len(x.Note) > 0 {
			out = append(out, x)
		}
	}
	return out
}

// meter reads the client's and a server's CPU over an interval.
type meter struct {
	pid          int
	t0           time.Time
	srv0, client time.Duration
}

func startMeter(pid int) meter {
	return meter{pid: pid, t0: time.Now(), srv0: cpuTime(pid), client: selfCPU()}
}

// stop returns the server's CPU time and the client's CPU as % of one core.
func (m meter) stop() (server time.Duration, clientPct float64) {
	wall := time.Since(m.t0)
	return cpuTime(m.pid) - m.srv0, 100 * float64(selfCPU()-m.client) / float64(wall)
}

// xmppServer is what the XMPP phases need of a server.
type xmppServer interface {
	Name() string
	C2SAddr() string
	PID() int
	Start(ctx context.Context) error
	Stop()
}

func (b *bench) accounts(s xmppServer, from, n int) []xmppload.Account {
	a := make([]xmppload.Account, n)
	for i := range a {
		a[i] = xmppload.Account{Addr: s.C2SAddr(), Domain: b.cfg.domain, User: "u" + strconv.Itoa(from+i), Password: b.cfg.password}
	}
	return a
}

func (b *bench) userNames() []string {
	n := make([]string, b.cfg.users)
	for i := range n {
		n[i] = "u" + strconv.Itoa(i)
	}
	return n
}

const (
	loginTimeout = 30 * time.Second
	// idleWait bounds the wait for a server to calm down between runs.
	idleWait = 3 * time.Second
)

// xmppPhases measures memory, logins and messages on a running server.
// Memory first: each of its runs restarts the server, and its logins fill
// the client's SCRAM cache for every account, so the timed login runs do no
// PBKDF2 on the client.
func (b *bench) xmppPhases(ctx context.Context, s xmppServer) error {
	if !b.cfg.phase("xmpp") {
		return nil
	}
	name := s.Name()
	cache := xmppload.NewScramCache()
	for run := range b.cfg.runs {
		if err := b.memoryRun(ctx, s, cache, run); err != nil {
			return err
		}
	}
	for run := range b.cfg.runs {
		if err := ctx.Err(); err != nil {
			return err
		}
		waitIdle(ctx, s.PID(), idleWait)
		m := startMeter(s.PID())
		res := xmppload.LoginAll(ctx, b.accounts(s, 0, b.cfg.loginN), b.cfg.loginC, cache, loginTimeout)
		srvCPU, cli := m.stop()
		xmppload.CloseAll(res.Conns)
		if res.Errors > 0 {
			return fmt.Errorf("%d of %d logins failed, first: %v", res.Errors, b.cfg.loginN, res.First)
		}
		rate := float64(b.cfg.loginN) / res.Elapsed.Seconds()
		b.rows.login.add(name, rate)
		b.rows.login.Client[name] = append(b.rows.login.Client[name], cli)
		b.rows.loginP50.add(name, ms(benchproc.Percentile(res.Lat, 0.5)))
		b.rows.loginP99.add(name, ms(benchproc.Percentile(res.Lat, 0.99)))
		b.rows.loginCPU.add(name, ms(srvCPU)/float64(b.cfg.loginN))
		log.Printf("%s logins run %d: %.0f/s, p50 %v, p99 %v, server CPU %v/login, client CPU %.0f%%", name, run+1, rate,
			benchproc.Percentile(res.Lat, 0.5).Round(time.Millisecond), benchproc.Percentile(res.Lat, 0.99).Round(time.Millisecond),
			(srvCPU / time.Duration(b.cfg.loginN)).Round(10*time.Microsecond), cli)
	}
	return b.messageRuns(ctx, s, b.rows.msg, b.rows.msgP50, b.rows.msgP99, b.rows.msgCPU)
}

// messageRuns measures 1:1 messages delivered per second into rate (and
// the latencies and server CPU per message into the rows not nil).
func (b *bench) messageRuns(ctx context.Context, s xmppServer, rate, p50, p99, cpu *row) error {
	cache := xmppload.NewScramCache()
	return b.messageRunsWith(ctx, s, rate, p50, p99, cpu, b.accounts(s, 0, 2*b.cfg.pairs),
		func(a xmppload.Account) (*xmppload.Conn, error) { return xmppload.Login(a, cache, loginTimeout) })
}

// messageRunsWith is messageRuns with the pairs' accounts and their login
// (over TCP, WebSocket, ...).
func (b *bench) messageRunsWith(ctx context.Context, s xmppServer, rate, p50, p99, cpu *row, accts []xmppload.Account,
	login func(xmppload.Account) (*xmppload.Conn, error)) error {
	name := s.Name()
	for run := range b.cfg.runs {
		if err := ctx.Err(); err != nil {
			return err
		}
		waitIdle(ctx, s.PID(), idleWait)
		res := xmppload.LoginAllWith(ctx, accts, b.cfg.loginC, login)
		if res.Errors > 0 {
			xmppload.CloseAll(res.Conns)
			return fmt.Errorf("chat logins: %d failed, first: %v", res.Errors, res.First)
		}
		var m meter
		var srvCPU time.Duration
		var cli float64
		mr, err := xmppload.Messages(res.Conns, b.cfg.window, b.cfg.msgDur, func(end bool) {
			if !end {
				m = startMeter(s.PID())
			} else {
				srvCPU, cli = m.stop()
			}
		})
		if err != nil {
			return fmt.Errorf("chat run %d: %w", run+1, err)
		}
		r := float64(mr.Received) / mr.Window.Seconds()
		rate.add(name, r)
		rate.Client[name] = append(rate.Client[name], cli)
		if p50 != nil {
			p50.add(name, ms(benchproc.Percentile(mr.Lat, 0.5)))
			p99.add(name, ms(benchproc.Percentile(mr.Lat, 0.99)))
		}
		if mr.Received > 0 {
			cpu.add(name, float64(srvCPU.Microseconds())/float64(mr.Received))
		}
		via := ""
		if accts[0].URL != "" {
			via = " over " + accts[0].URL
		}
		log.Printf("%s chat run %d%s: %.0f messages/s (%d sent), p50 %v, p99 %v, client CPU %.0f%%", name, run+1, via, r, mr.Sent,
			benchproc.Percentile(mr.Lat, 0.5).Round(time.Millisecond), benchproc.Percentile(mr.Lat, 0.99).Round(time.Millisecond), cli)
	}
	return nil
}

// archiveRuns restarts the server with its archive on for every user
// (setMAM), measures messages again, and leaves the archive on.
func (b *bench) archiveRuns(ctx context.Context, s xmppServer, setMAM func(bool) error) error {
	if !b.cfg.phase("mam") {
		return nil
	}
	s.Stop()
	if err := setMAM(true); err != nil {
		return err
	}
	if err := s.Start(ctx); err != nil {
		return err
	}
	log.Printf("%s restarted with the archive on (pid %d)", s.Name(), s.PID())
	return b.messageRuns(ctx, s, b.rows.mam, nil, nil, b.rows.mamCPU)
}

// memoryRun restarts the server, logs 100 sessions in and out (code paths
// loaded), reads VmRSS, holds idleN authenticated sessions, reads it again:
// KiB per session = delta / sessions.
func (b *bench) memoryRun(ctx context.Context, s xmppServer, cache *xmppload.ScramCache, run int) error {
	name := s.Name()
	s.Stop()
	if err := s.Start(ctx); err != nil {
		return fmt.Errorf("restart for the memory run: %w", err)
	}
	warm := xmppload.LoginAll(ctx, b.accounts(s, 0, min(100, b.cfg.idleN)), b.cfg.loginC, cache, loginTimeout)
	xmppload.CloseAll(warm.Conns)
	if warm.Errors > 0 {
		return fmt.Errorf("warm-up logins: %d failed, first: %v", warm.Errors, warm.First)
	}
	before, err := b.settledRSS(ctx, s.PID(), idleWait)
	if err != nil {
		return err
	}
	m := startMeter(s.PID())
	res := xmppload.LoginAll(ctx, b.accounts(s, 0, b.cfg.idleN), b.cfg.loginC, cache, loginTimeout)
	_, cli := m.stop()
	defer xmppload.CloseAll(res.Conns)
	if res.Errors > 0 {
		return fmt.Errorf("idle logins: %d of %d failed, first: %v", res.Errors, b.cfg.idleN, res.First)
	}
	after, err := b.settledRSS(ctx, s.PID(), idleWait)
	if err != nil {
		return err
	}
	b.snapshot(ctx, s, fmt.Sprintf("idle-%d", run+1))
	kib := (after - before) / float64(b.cfg.idleN)
	b.rows.mem.add(name, kib)
	b.rows.mem.Client[name] = append(b.rows.mem.Client[name], cli)
	log.Printf("%s memory run %d: RSS %.0f → %.0f KiB, %.1f KiB/session", name, run+1, before, after, kib)
	return nil
}

// provRuns is the number of provisioning runs (none without the prov
// phase).
func (b *bench) provRuns() int {
	if !b.cfg.phase("prov") {
		return 0
	}
	return b.cfg.runs
}

// topUpUsers registers the XMPP test users u<i> the provisioning runs did
// not create.
func (b *bench) topUpUsers(ctx context.Context, register func(string) error) error {
	from := b.provRuns() * b.cfg.provN
	if from >= b.cfg.users {
		return nil
	}
	res := runHTTP(ctx, b.cfg.users-from, b.cfg.provC, func(i int) error { return register("u" + strconv.Itoa(from+i)) })
	if res.Errors > 0 {
		return fmt.Errorf("creating the XMPP test users: %d failed, first: %v", res.Errors, res.First)
	}
	return nil
}

// provRun records one provisioning run in rate/p50/p99 rows.
func (b *bench) provRun(server string, rate, p50, p99 *row, res loadResult, elapsed time.Duration, cli float64) error {
	if res.Errors > 0 {
		return fmt.Errorf("%d of %d provisioning requests failed, first: %v", res.Errors, res.N, res.First)
	}
	r := float64(res.N) / elapsed.Seconds()
	rate.add(server, r)
	rate.Client[server] = append(rate.Client[server], cli)
	p50.add(server, ms(benchproc.Percentile(res.Lat, 0.5)))
	p99.add(server, ms(benchproc.Percentile(res.Lat, 0.99)))
	return nil
}

// registerOneFamily measures register again with xmppgate restarted under
// scram_hashes: sha1, the one family ejabberd and Prosody derive by
// default, so that the ratio compares the same work per account; the users
// go under names of their own (o<run>-<i>), apart from the XMPP tests'.
func (b *bench) registerOneFamily(ctx context.Context, x *xmppgate, register func(string) error) error {
	if !b.cfg.phase("prov") {
		return nil
	}
	x.Stop()
	x.scram = "sha1"
	defer func() { x.scram = "" }()
	if err := x.Start(ctx); err != nil {
		return err
	}
	for run := range b.provRuns() {
		waitIdle(ctx, x.PID(), idleWait)
		m := startMeter(x.PID())
		res := runHTTP(ctx, b.cfg.provN, b.cfg.provC, func(i int) error { return register(fmt.Sprintf("o%d-%d", run, i)) })
		srv, cli := m.stop()
		if res.Errors > 0 {
			return fmt.Errorf("%d of %d register requests failed, first: %v", res.Errors, res.N, res.First)
		}
		r := float64(res.N) / res.Elapsed.Seconds()
		b.rows.provOne.add(srvOurs, r)
		b.rows.provOne.Client[srvOurs] = append(b.rows.provOne.Client[srvOurs], cli)
		b.rows.provOneCPU.add(srvOurs, ms(srv)/float64(res.N))
		log.Printf("xmppgate register (scram_hashes sha1) run %d: %.0f accounts/s", run+1, r)
	}
	x.Stop()
	x.scram = ""
	return x.Start(ctx)
}

// benchAPIPermissions lets the load client provision from loopback without
// credentials, as the anchor measurements did.
const benchAPIPermissions = `  "bench provisioning from loopback, no auth":
    from:
      - mod_http_api
    who:
      ip: 127.0.0.1/8
    what:
      - register
      - unregister
      - check_account
      - registered_users
      - connected_users_number
      - status
`

func (b *bench) runEjabberd(ctx context.Context) error {
	t := time.Now()
	var err error
	ec := peer.EjabberdConfig{Dir: filepath.Join(b.dir, "ejabberd"), Node: "ejabberd-bench@localhost",
		Hosts: []string{b.cfg.domain}, Cert: b.cert, APIPermissions: benchAPIPermissions, Web: b.cfg.phase("web")}
	if b.ports != nil {
		for _, p := range []*int{&ec.C2SPort, &ec.HTTPPort, &ec.DistPort} {
			if *p, err = b.port(); err != nil {
				return err
			}
		}
		// Another session's bench may run a node too: names apart as well.
		ec.Node = "ejabberd-bench-" + strconv.Itoa(ec.DistPort) + "@localhost"
	}
	e, err := peer.NewEjabberd(ec)
	if err != nil {
		return err
	}
	b.started(e.Stop) // before Start: a Ctrl-C during it must stop the node too
	if err := e.Start(ctx); err != nil {
		return err
	}
	log.Printf("ejabberd up (pid %d, c2s %s) in %s", e.PID(), e.C2SAddr(), time.Since(t).Round(100*time.Millisecond))
	register := func(name string) error {
		return ejabberdRegister(e.API(), b.cfg.domain, name, b.cfg.password, [2]string{})
	}
	// The provisioning runs create the XMPP tests' users u0, u1, ...; what
	// they leave missing is registered afterwards, untimed.
	for run := range b.provRuns() {
		waitIdle(ctx, e.PID(), idleWait)
		m := startMeter(e.PID())
		res := runHTTP(ctx, b.cfg.provN, b.cfg.provC, func(i int) error { return register("u" + strconv.Itoa(run*b.cfg.provN+i)) })
		srv, cli := m.stop()
		if err := b.provRun(srvEjabberd, b.rows.provEj, b.rows.provEjP50, b.rows.provEjP99, res, res.Elapsed, cli); err != nil {
			return err
		}
		b.rows.provDH.add(srvEjabberd, float64(res.N)/res.Elapsed.Seconds())
		b.rows.provOne.add(srvEjabberd, float64(res.N)/res.Elapsed.Seconds())
		b.rows.provEjCPU.add(srvEjabberd, ms(srv)/float64(res.N))
		b.rows.provOneCPU.add(srvEjabberd, ms(srv)/float64(res.N))
		log.Printf("ejabberd register run %d: %.0f accounts/s", run+1, float64(res.N)/res.Elapsed.Seconds())
	}
	if err := b.topUpUsers(ctx, register); err != nil {
		return err
	}
	if err := b.xmppPhases(ctx, e); err != nil {
		return err
	}
	if err := b.webPhases(ctx, e); err != nil {
		return err
	}
	if err := b.mucPhases(ctx, e); err != nil {
		return err
	}
	if err := b.archiveRuns(ctx, e, e.SetMAM); err != nil {
		return err
	}
	e.Stop()
	log.Printf("ejabberd done in %s", time.Since(t).Round(time.Second))
	return nil
}

func (b *bench) runProsody(ctx context.Context) error {
	t := time.Now()
	muc := ""
	if b.cfg.phase("muc") {
		muc = b.cfg.muc.service(b.cfg.domain)
	}
	p, err := newProsody(b.dir, b.cfg.domain, muc, b.cfg.phase("web"), b.cert, b.port)
	if err != nil {
		return err
	}
	b.started(p.Stop)
	if err := p.Start(ctx); err != nil {
		return err
	}
	log.Printf("Prosody up (pid %d, c2s %s)", p.PID(), p.C2SAddr())
	if b.cfg.phase("prov") {
		for _, r := range []*row{b.rows.provEj, b.rows.provOne, b.rows.provDH} {
			r.Note[srvProsody] = "no HTTP admin API"
		}
	}
	if err := p.CreateUsers(ctx, b.userNames(), b.cfg.password); err != nil {
		return fmt.Errorf("creating the XMPP test users: %w", err)
	}
	log.Printf("Prosody: %d test users created through mod_admin_shell", b.cfg.users)
	if err := b.xmppPhases(ctx, p); err != nil {
		return err
	}
	if err := b.webPhases(ctx, p); err != nil {
		return err
	}
	if err := b.mucPhases(ctx, p); err != nil {
		return err
	}
	if err := b.archiveRuns(ctx, p, p.setMAM); err != nil {
		return err
	}
	p.Stop()
	log.Printf("Prosody done in %s", time.Since(t).Round(time.Second))
	return nil
}

func (b *bench) runXmppgate(ctx context.Context) error {
	t := time.Now()
	pprofAddr := ""
	if b.cfg.profileDir != "" {
		port, err := b.port()
		if err != nil {
			return err
		}
		pprofAddr = "127.0.0.1:" + strconv.Itoa(port)
	}
	// The worker ticks every second (cron's shortest period), so a DreamHost
	// change waits at most a second before its batch starts.
	x, err := newXmppgate(b.cfg.bin, b.sub("xmppgate"), b.cfg.domain, b.cert, "@every 1s", pprofAddr, b.port)
	if err != nil {
		return err
	}
	if b.cfg.certKind == "rsa" {
		x.companion = b.cfg.companion
	}
	if err := x.Start(ctx); err != nil {
		x.Stop()
		return err
	}
	b.started(x.Stop)
	log.Printf("xmppgate up (pid %d, http %s, c2s %s)", x.PID(), x.HTTP(), x.C2SAddr())
	if st, err := os.Stat(b.cfg.bin); err == nil && b.cfg.bin != "bin/xmppgate" {
		b.note("xmppgate binary: %s (built %s).", b.cfg.bin, st.ModTime().UTC().Format("2006-01-02 15:04 UTC"))
	}
	boot := x.Boot()
	auth := [2]string{boot.AdminJID, boot.AdminPassword}
	register := func(name string) error {
		return ejabberdRegister(x.HTTP()+"/api", b.cfg.domain, name, b.cfg.password, auth)
	}
	for run := range b.provRuns() {
		waitIdle(ctx, x.PID(), idleWait)
		m := startMeter(x.PID())
		res := runHTTP(ctx, b.cfg.provN, b.cfg.provC, func(i int) error { return register("u" + strconv.Itoa(run*b.cfg.provN+i)) })
		srv, cli := m.stop()
		if err := b.provRun(srvOurs, b.rows.provEj, b.rows.provEjP50, b.rows.provEjP99, res, res.Elapsed, cli); err != nil {
			return err
		}
		b.rows.provEjCPU.add(srvOurs, ms(srv)/float64(res.N))
		log.Printf("xmppgate register run %d: %.0f accounts/s", run+1, float64(res.N)/res.Elapsed.Seconds())
	}
	if err := b.topUpUsers(ctx, register); err != nil {
		return err
	}
	if err := b.registerOneFamily(ctx, x, register); err != nil {
		return err
	}
	for run := range b.provRuns() {
		waitIdle(ctx, x.PID(), idleWait)
		elapsed, res, cli, err := b.dreamhostRun(ctx, x, boot, run)
		if err != nil {
			return err
		}
		if err := b.provRun(srvOurs, b.rows.provDH, b.rows.provDHP50, b.rows.provDHP99, res, elapsed, cli); err != nil {
			return err
		}
		log.Printf("xmppgate DreamHost add_user run %d: %.0f accounts/s until applied (requests done after %v)", run+1,
			float64(res.N)/elapsed.Seconds(), res.Elapsed.Round(time.Millisecond))
	}
	// The peers' plain figures have no archive: neither have ours.
	x.Stop()
	if err := x.setMAM(false); err != nil {
		return err
	}
	if err := x.Start(ctx); err != nil {
		return err
	}
	if err := b.xmppPhases(ctx, x); err != nil {
		return err
	}
	if err := b.webPhases(ctx, x); err != nil {
		return err
	}
	if err := b.mucPhases(ctx, x); err != nil {
		return err
	}
	if b.cfg.profileDir != "" {
		// Profiled before the archive goes on: the MUC profiles belong to
		// the archive-off set-up of the measured runs.
		if err := b.profile(ctx, x, pprofAddr); err != nil {
			return err
		}
	}
	if err := b.archiveRuns(ctx, x, x.setMAM); err != nil {
		return err
	}
	x.Stop()
	if b.cfg.phase("batch") {
		if err := b.batchRuns(ctx); err != nil {
			return err
		}
	}
	log.Printf("xmppgate done in %s", time.Since(t).Round(time.Second))
	return nil
}

// dreamhostRun queues provN add_user changes through the DreamHost dialect
// and waits until every token they got reports success: the figure covers
// acknowledgement and application (key derivation included).
func (b *bench) dreamhostRun(ctx context.Context, x *xmppgate, boot benchproc.Bootstrap, run int) (time.Duration, loadResult, float64, error) {
	tokens := make([]string, b.cfg.provN)
	m := startMeter(x.PID())
	t0 := time.Now()
	res := runHTTP(ctx, b.cfg.provN, b.cfg.provC, func(i int) error {
		tok, err := dreamhostQueue(x.HTTP(), boot.Key, url.Values{"cmd": {"jabber-add_user"},
			"username": {fmt.Sprintf("d%d_%d", run, i)}, "domain": {b.cfg.domain}, "password": {b.cfg.password}})
		tokens[i] = tok
		return err
	})
	if res.Errors > 0 {
		return 0, res, 0, fmt.Errorf("DreamHost add_user: %d failed, first: %v", res.Errors, res.First)
	}
	seen := map[string]bool{}
	var distinct []string
	for _, t := range tokens {
		if !seen[t] {
			seen[t] = true
			distinct = append(distinct, t)
		}
	}
	if err := waitTokens(ctx, x.HTTP(), boot.Key, distinct, 2*time.Minute); err != nil {
		return 0, res, 0, err
	}
	elapsed := time.Since(t0)
	_, cli := m.stop()
	return elapsed, res, cli, nil
}

// batchRuns measures the worker on a second xmppgate: changes are queued
// through the DreamHost dialect while its schedule never fires (hourly),
// then a restart makes the worker apply the queue as one batch at once; the
// figure is the worker's own "batch applied" duration. The batchN accounts
// the status changes need are created first with the worker ticking every
// second (a single batch of that many key derivations would hold up the
// restart for too long), then each run queues batchN status changes,
// alternately deactivate and reactivate.
func (b *bench) batchRuns(ctx context.Context) error {
	x, err := newXmppgate(b.cfg.bin, b.sub("xmppgate-batch"), b.cfg.domain, b.cert, "@every 1s", "", b.port)
	if err != nil {
		return err
	}
	b.started(x.Stop)
	if err := x.Start(ctx); err != nil {
		return err
	}
	key := x.Boot().Key
	queue := func(cmd string, withPassword bool) ([]string, error) {
		tokens := make([]string, b.cfg.batchN)
		res := runHTTP(ctx, b.cfg.batchN, b.cfg.provC, func(i int) error {
			v := url.Values{"cmd": {cmd}, "username": {fmt.Sprintf("b%05d", i)}, "domain": {b.cfg.domain}}
			if withPassword {
				v.Set("password", b.cfg.password)
			}
			var err error
			tokens[i], err = dreamhostQueue(x.HTTP(), key, v)
			return err
		})
		if res.Errors > 0 {
			return nil, fmt.Errorf("queueing %s: %d failed, first: %v", cmd, res.Errors, res.First)
		}
		return tokens, nil
	}
	tokens, err := queue("jabber-add_user", true)
	if err != nil {
		return err
	}
	seen := map[string]bool{}
	var distinct []string
	for _, t := range tokens {
		if !seen[t] {
			seen[t] = true
			distinct = append(distinct, t)
		}
	}
	if err := waitTokens(ctx, x.HTTP(), key, distinct, 5*time.Minute); err != nil {
		return err
	}
	x.schedule = "@every 1h"
	restart := func() error {
		for len(x.batches) > 0 {
			<-x.batches
		}
		x.Stop()
		return x.Start(ctx)
	}
	if err := restart(); err != nil {
		return err
	}
	for run := range b.cfg.runs {
		cmd := "jabber-deactivate_user"
		if run%2 == 1 {
			cmd = "jabber-reactivate_user"
		}
		if _, err := queue(cmd, false); err != nil {
			return err
		}
		if err := restart(); err != nil {
			return err
		}
		bl, err := x.nextBatch(ctx, 3*time.Minute)
		if err == nil && (bl.Status != "success" || bl.Changes != b.cfg.batchN) {
			err = fmt.Errorf("batch applied %d changes with status %s, want %d, success", bl.Changes, bl.Status, b.cfg.batchN)
		}
		if err != nil {
			return err
		}
		b.rows.batch.add(srvOurs, bl.Duration)
		log.Printf("xmppgate status batch run %d (%s): %d changes in %.3f s", run+1, cmd, bl.Changes, bl.Duration)
	}
	x.Stop()
	return nil
}
