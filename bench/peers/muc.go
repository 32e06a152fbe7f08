package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/xmppgate/xmppgate/bench/benchproc"
	"github.com/xmppgate/xmppgate/bench/peers/xmppload"
)

// mucConfig is the group chat workload of issue 14, with the defaults and
// variable names of ../shared/peers/env.sh (MUC_N, MUC_DUR, ...).
type mucConfig struct {
	n       int           // occupants of the fan-out room
	dur     time.Duration // sending time per fan-out run
	window  int           // messages in flight per sender
	rooms   int           // new rooms of a join run, one joiner each
	joinC   int           // join concurrency
	memN    int           // sessions of the memory-per-occupant run
	host    string        // the service's host; empty: conference.<domain>
	warmup  time.Duration // fan-out sending before the counted window
	ownCopy bool          // count the sender's reflected copy as a delivery
	timeout time.Duration // per join
}

func (m *mucConfig) flags() {
	flag.IntVar(&m.n, "muc-n", envInt("MUC_N", 100), "occupants of the fan-out room ($MUC_N)")
	flag.DurationVar(&m.dur, "muc-dur", envDuration("MUC_DUR", 10*time.Second), "groupchat sending time per run, after 1 s of warm-up ($MUC_DUR)")
	flag.IntVar(&m.window, "muc-window", envInt("MUC_WINDOW", 1), "groupchat messages in flight per sender; a slot frees when every occupant has the message ($MUC_WINDOW)")
	flag.IntVar(&m.rooms, "muc-rooms", envInt("MUC_ROOMS", 1000), "new rooms per join run, one joiner (account) each ($MUC_ROOMS)")
	flag.IntVar(&m.joinC, "muc-join-c", envInt("MUC_JOIN_C", 50), "join concurrency ($MUC_JOIN_C)")
	flag.IntVar(&m.memN, "muc-mem-n", envInt("MUC_MEM_N", 1000), "idle sessions of the memory-per-occupant run, in rooms of -muc-n occupants ($MUC_MEM_N)")
	flag.StringVar(&m.host, "muc-service", envString("MUC_SERVICE", ""), "MUC service host (default conference.<domain>; $MUC_SERVICE)")
	flag.DurationVar(&m.warmup, "muc-warmup", time.Second, "fan-out sending before the counted window (0: count from the first send)")
	flag.BoolVar(&m.ownCopy, "muc-own-copy", true, "count the copy the room reflects to the sender as a delivery")
	m.timeout = 30 * time.Second
}

func (m mucConfig) spec(dur time.Duration) xmppload.FanoutSpec {
	return xmppload.FanoutSpec{Window: m.window, Warmup: m.warmup, Dur: dur, OwnCopy: m.ownCopy}
}

func (m mucConfig) service(domain string) string {
	if m.host != "" {
		return m.host
	}
	return "conference." + domain
}

// mucRows are the group chat figures; they join the table only when the
// muc phase runs.
type mucRows struct {
	fan, fanSent, fanP50, fanP99, fanCPU, fanBad *row
	join, joinP50, joinP99, joinCPU              *row
	mem                                          *row
}

func newMUCRows(c config) mucRows {
	m := c.muc
	return mucRows{
		fan: newRow(fmt.Sprintf("MUC fan-out: groupchat deliveries/s, one room of %d occupants each sending for %s, ≤ %d in flight "+
			"per sender (each message at each occupant once, the sender's reflected copy %s)", m.n, m.dur, m.window,
			map[bool]string{true: "included", false: "not counted"}[m.ownCopy]), +1, 3),
		fanSent: newRow("… groupchat messages sent/s", 0, 0),
		fanP50:  newRow("… delivery latency p50, ms", -1, 0),
		fanP99:  newRow("… delivery latency p99, ms (issue 14: < 100 ms)", -1, 0),
		fanCPU:  newRow("… server CPU per delivery, µs", -1, 0),
		fanBad:  newRow("… error stanzas + deliveries missing 10 s after the senders stopped", 0, 0),
		join: newRow(fmt.Sprintf("MUC joins/s: %d new rooms, one joiner each, c=%d (presence until the status-110 self-presence, "+
			"then the instant-room form of the new room answered)", m.rooms, m.joinC), +1, 5),
		joinP50: newRow("… join latency p50, ms (presence until the self-presence)", -1, 0),
		joinP99: newRow("… join latency p99, ms", -1, 0),
		joinCPU: newRow("… server CPU per join (room creation included), ms", -1, 0),
		mem: newRow(fmt.Sprintf("RSS per idle MUC occupant beyond its session, KiB (%d sessions joining rooms of %d)", m.memN, m.n),
			-1, 0),
	}
}

func (r mucRows) list() []*row {
	return []*row{r.fan, r.fanSent, r.fanP50, r.fanP99, r.fanCPU, r.fanBad, r.join, r.joinP50, r.joinP99, r.joinCPU, r.mem}
}

// mucPhases measures group chat on a running server: fan-out, then joins,
// then memory per occupant (which restarts the server). A server without a
// MUC service at the configured host (disco#info does not announce the
// protocol) is skipped with a note, not failed: xmppgate gains its service
// with issue 14.
func (b *bench) mucPhases(ctx context.Context, s xmppServer) error {
	if !b.cfg.phase("muc") {
		return nil
	}
	name := s.Name()
	svc := b.cfg.muc.service(b.cfg.domain)
	cache := xmppload.NewScramCache()
	if err := b.checkMUC(ctx, s, cache, svc); err != nil {
		if !errors.Is(err, xmppload.ErrNoMUC) {
			return err
		}
		b.note("%s: no group chat service at %s, the MUC phases were skipped (%v).", name, svc, err)
		for _, r := range b.rows.muc.list() {
			r.Note[name] = "no MUC service"
		}
		return nil
	}
	b.mucOK[name] = true
	for run := range b.cfg.runs {
		if err := b.fanoutRun(ctx, s, cache, svc, run); err != nil {
			return fmt.Errorf("MUC fan-out run %d: %w", run+1, err)
		}
	}
	for run := range b.cfg.runs {
		if err := b.joinRun(ctx, s, cache, svc, run); err != nil {
			return fmt.Errorf("MUC join run %d: %w", run+1, err)
		}
	}
	for run := range b.cfg.runs {
		if err := b.occupantMemoryRun(ctx, s, cache, svc, run); err != nil {
			return fmt.Errorf("MUC memory run %d: %w", run+1, err)
		}
	}
	return nil
}

func (b *bench) checkMUC(ctx context.Context, s xmppServer, cache *xmppload.ScramCache, svc string) error {
	res := xmppload.LoginAll(ctx, b.accounts(s, 0, 1), 1, cache, mucLoginTimeout)
	defer xmppload.CloseAll(res.Conns)
	if res.Errors > 0 {
		return fmt.Errorf("login for the MUC disco check: %v", res.First)
	}
	return res.Conns[0].MUCService(svc, 10*time.Second)
}

// occupants logs in n sessions from account u<from> (untimed) and joins
// them to rooms[i] (untimed).
func (b *bench) occupants(ctx context.Context, s xmppServer, cache *xmppload.ScramCache, from int, rooms []string) ([]*xmppload.Conn, error) {
	res := xmppload.LoginAll(ctx, b.accounts(s, from, len(rooms)), b.cfg.loginC, cache, mucLoginTimeout)
	if res.Errors > 0 {
		xmppload.CloseAll(res.Conns)
		return nil, fmt.Errorf("occupant logins: %d failed, first: %v", res.Errors, res.First)
	}
	jr := xmppload.JoinAll(ctx, res.Conns, rooms, b.cfg.muc.joinC, b.cfg.muc.timeout)
	if jr.Errors > 0 {
		xmppload.CloseAll(res.Conns)
		return nil, fmt.Errorf("joins: %d of %d failed, first: %v", jr.Errors, len(rooms), jr.First)
	}
	return res.Conns, nil
}

// mucIdleWait bounds the wait for a server to calm down before a MUC run:
// longer than between other runs, because the previous run's sessions
// leaving their rooms keep a server busy for a while (Prosody: tens of
// seconds after 1,000 rooms, during which its logins time out).
const mucIdleWait = 90 * time.Second

// mucLoginTimeout bounds the untimed logins of the MUC runs: on a machine
// shared with other work, a peer still tearing down the previous run's
// 1,000 rooms answered logins after more than loginTimeout.
const mucLoginTimeout = 2 * time.Minute

// runTag keeps room names of different invocations and runs apart (a
// room left over from an earlier run would have history and occupants).
var runTag = strconv.FormatInt(time.Now().Unix()%100000, 36)

func (b *bench) fanoutRun(ctx context.Context, s xmppServer, cache *xmppload.ScramCache, svc string, run int) error {
	name, m := s.Name(), b.cfg.muc
	waitIdle(ctx, s.PID(), mucIdleWait)
	room := fmt.Sprintf("fan-%s-%d@%s", runTag, run, svc)
	rooms := make([]string, m.n)
	for i := range rooms {
		rooms[i] = room
	}
	conns, err := b.occupants(ctx, s, cache, 0, rooms)
	if err != nil {
		return err
	}
	// The joins' presence broadcast (n² stanzas) is over before the window.
	waitIdle(ctx, s.PID(), mucIdleWait)
	var mt meter
	var srvCPU time.Duration
	var cli float64
	fr, err := xmppload.Fanout(conns, room, m.spec(m.dur), func(end bool) {
		if !end {
			mt = startMeter(s.PID())
		} else {
			srvCPU, cli = mt.stop()
		}
	})
	if err != nil {
		return err
	}
	b.noteLoad(name)
	r := b.rows.muc
	rate := float64(fr.Received) / fr.Window.Seconds()
	r.fan.add(name, rate)
	r.fan.Client[name] = append(r.fan.Client[name], cli)
	r.fanSent.add(name, float64(fr.Sent)/fr.Window.Seconds())
	p50, p99 := benchproc.Percentile(fr.Lat, 0.5), benchproc.Percentile(fr.Lat, 0.99)
	r.fanP50.add(name, ms(p50))
	r.fanP99.add(name, ms(p99))
	if fr.Received > 0 {
		r.fanCPU.add(name, float64(srvCPU.Nanoseconds())/1e3/float64(fr.Received))
	}
	r.fanBad.add(name, float64(fr.Errors+fr.Undelivered))
	log.Printf("%s MUC fan-out run %d: %.0f deliveries/s (%.0f sent/s, %.1f deliveries per message sent), p50 %v, p99 %v, "+
		"server CPU %.1f µs/delivery (%.0f%%), client CPU %.0f%%, errors %d, undelivered %d, load %s", name, run+1, rate,
		float64(fr.Sent)/fr.Window.Seconds(), float64(fr.Received)/max(1, float64(fr.Sent)), p50.Round(time.Millisecond),
		p99.Round(time.Millisecond), float64(srvCPU.Nanoseconds())/1e3/max(1, float64(fr.Received)),
		100*srvCPU.Seconds()/fr.Window.Seconds(), cli, fr.Errors, fr.Undelivered, loadavg())
	return nil
}

func (b *bench) joinRun(ctx context.Context, s xmppServer, cache *xmppload.ScramCache, svc string, run int) error {
	name, m := s.Name(), b.cfg.muc
	waitIdle(ctx, s.PID(), mucIdleWait)
	res := xmppload.LoginAll(ctx, b.accounts(s, 0, m.rooms), b.cfg.loginC, cache, mucLoginTimeout)
	defer xmppload.CloseAll(res.Conns)
	if res.Errors > 0 {
		return fmt.Errorf("joiner logins: %d failed, first: %v", res.Errors, res.First)
	}
	rooms := make([]string, m.rooms)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("join-%s-%d-%d@%s", runTag, run, i, svc)
	}
	waitIdle(ctx, s.PID(), mucIdleWait)
	mt := startMeter(s.PID())
	jr := xmppload.JoinAll(ctx, res.Conns, rooms, m.joinC, m.timeout)
	srvCPU, cli := mt.stop()
	if jr.Errors > 0 {
		return fmt.Errorf("%d of %d joins failed, first: %v", jr.Errors, m.rooms, jr.First)
	}
	lat := make([]time.Duration, len(jr.Infos))
	created := 0
	var readyMax time.Duration
	for i, ji := range jr.Infos {
		lat[i] = ji.Joined
		readyMax = max(readyMax, ji.Ready)
		if ji.Created {
			created++
		}
	}
	if created != m.rooms {
		b.note("%s MUC join run %d: only %d of %d joins created their room (status 201).", name, run+1, created, m.rooms)
	}
	b.noteLoad(name)
	r := b.rows.muc
	rate := float64(m.rooms) / jr.Elapsed.Seconds()
	r.join.add(name, rate)
	r.join.Client[name] = append(r.join.Client[name], cli)
	p50, p99 := benchproc.Percentile(lat, 0.5), benchproc.Percentile(lat, 0.99)
	r.joinP50.add(name, ms(p50))
	r.joinP99.add(name, ms(p99))
	r.joinCPU.add(name, ms(srvCPU)/float64(m.rooms))
	log.Printf("%s MUC join run %d: %.0f joins/s, p50 %v, p99 %v (longest until unlocked %v), %d rooms created, "+
		"server CPU %.2f ms/join, client CPU %.0f%%, load %s", name, run+1, rate, p50.Round(100*time.Microsecond),
		p99.Round(100*time.Microsecond), readyMax.Round(time.Millisecond), created, ms(srvCPU)/float64(m.rooms), cli, loadavg())
	return nil
}

// occupantMemoryRun restarts the server, warms the MUC code paths (a room
// of 10 joined and left), logs memN sessions in and reads VmRSS, joins them
// to rooms of n occupants, lets the server go idle and reads VmRSS again:
// the delta per session is what an idle occupant costs beyond its session
// (the rooms' own state spread over their occupants).
func (b *bench) occupantMemoryRun(ctx context.Context, s xmppServer, cache *xmppload.ScramCache, svc string, run int) error {
	name, m := s.Name(), b.cfg.muc
	s.Stop()
	if err := s.Start(ctx); err != nil {
		return fmt.Errorf("restart: %w", err)
	}
	warm := make([]string, min(10, m.memN))
	for i := range warm {
		warm[i] = fmt.Sprintf("warm-%s-%d@%s", runTag, run, svc)
	}
	conns, err := b.occupants(ctx, s, cache, 0, warm)
	if err != nil {
		return fmt.Errorf("warm-up: %w", err)
	}
	xmppload.CloseAll(conns)
	res := xmppload.LoginAll(ctx, b.accounts(s, 0, m.memN), b.cfg.loginC, cache, mucLoginTimeout)
	defer xmppload.CloseAll(res.Conns)
	if res.Errors > 0 {
		return fmt.Errorf("idle logins: %d failed, first: %v", res.Errors, res.First)
	}
	before, err := b.settledRSS(ctx, s.PID(), mucIdleWait)
	if err != nil {
		return err
	}
	rooms := make([]string, m.memN)
	for i := range rooms {
		rooms[i] = fmt.Sprintf("mem-%s-%d-%d@%s", runTag, run, i/max(1, m.n), svc)
	}
	mt := startMeter(s.PID())
	jr := xmppload.JoinAll(ctx, res.Conns, rooms, m.joinC, m.timeout)
	_, cli := mt.stop()
	if jr.Errors > 0 {
		return fmt.Errorf("joins: %d failed, first: %v", jr.Errors, jr.First)
	}
	after, err := b.settledRSS(ctx, s.PID(), mucIdleWait)
	if err != nil {
		return err
	}
	kib := (after - before) / float64(m.memN)
	b.rows.muc.mem.add(name, kib)
	b.rows.muc.mem.Client[name] = append(b.rows.muc.mem.Client[name], cli)
	log.Printf("%s MUC memory run %d: %d sessions, RSS %.0f → %.0f KiB after joining %d rooms, %.2f KiB per occupant",
		name, run+1, m.memN, before, after, (m.memN+m.n-1)/max(1, m.n), kib)
	return nil
}

// noteLoad remembers the 1-minute load average during a MUC run; the
// report gives their range (other work on the cores moves these figures).
func (b *bench) noteLoad(server string) {
	var l float64
	fmt.Sscanf(readTrim("/proc/loadavg"), "%g", &l)
	b.mucLoad[server] = append(b.mucLoad[server], l)
}

// mucNotes describe the MUC method and the load during its runs.
func (b *bench) mucNotes() []string {
	if !b.cfg.phase("muc") {
		return nil
	}
	m := b.cfg.muc
	own := "its own reflected copy included"
	if !m.ownCopy {
		own = "its own reflected copy not counted"
	}
	out := []string{fmt.Sprintf("MUC at %s, archives off: fan-out counted %s after %s of warm-up, each message at each of the %d occupants "+
		"once (%s); a sender's slot frees when all %d have it. Joins: a new room each, the instant-room owner form "+
		"submitted on status 201 for every server.", m.service(b.cfg.domain), m.dur, m.warmup, m.n, own, m.n)}
	for _, srv := range servers {
		if ls := b.mucLoad[srv]; len(ls) > 0 {
			out = append(out, fmt.Sprintf("Load average (1 min) during %s's MUC runs: %.1f–%.1f on %d cores.", srv,
				slices.Min(ls), slices.Max(ls), runtime.NumCPU()))
		}
	}
	return out
}

func loadavg() string {
	return strings.Join(strings.Fields(readTrim("/proc/loadavg"))[:3], " ")
}
