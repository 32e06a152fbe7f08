// Package batch benchmarks the queue worker on one huge batch: what a
// hosting panel's bulk import queues (mostly jabber-add_user, some
// password changes, removals and roster items), applied at once while a
// client polls services-progress through the real DreamHost handler.
//
//	go test ./bench/batch -run '^$' -bench . -benchtime 1x -timeout 30m
//
// BATCH_N sets the number of changes (default 100,000); BATCH_STORES picks
// sqlite, postgres or both (default both; postgres needs Debian's
// PostgreSQL, see internal/pgtest). Each store runs twice: "derive" with
// the SCRAM key derivation of every password in the batch, as the worker
// does it, and "prederived" with the derivation replaced by a ready
// credential, which is the apply itself (transactions, statements, JSON,
// effects) without the PBKDF2 floor; "ahead" runs the worker's deriver
// while the batch is queued (the realistic flow: queue, the deriver
// catches up, apply), so the apply finds the keys stored. BATCH_MODES
// picks among the three (default all). BATCH_CPUPROFILE=file writes a CPU
// profile of the apply alone (the Flush, not the fill), one file per store
// and mode (file with "-sqlite-prederived" etc. before its extension).
package batch

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"runtime/trace"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/dreamhost"
	"github.com/xmppgate/xmppgate/internal/pgtest"
	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
	"github.com/xmppgate/xmppgate/store/sealbox"
)

var (
	pg     *pgtest.Cluster
	pgSkip string
)

// TestMain starts PostgreSQL only for a benchmark run: `go test ./...`
// runs no benchmark here and should not pay for a cluster.
func TestMain(m *testing.M) {
	flag.Parse()
	if b := flag.Lookup("test.bench"); b == nil || b.Value.String() == "" || !strings.Contains(stores(), "postgres") {
		os.Exit(m.Run())
	}
	pgtest.Main(m, &pg, &pgSkip)
}

func stores() string {
	if s := os.Getenv("BATCH_STORES"); s != "" {
		return s
	}
	return "sqlite,postgres"
}

func modes() string {
	if s := os.Getenv("BATCH_MODES"); s != "" {
		return s
	}
	return "prederived,derive,ahead"
}

func batchN() int {
	if n, err := strconv.Atoi(os.Getenv("BATCH_N")); err == nil && n > 0 {
		return n
	}
	return 100000
}

// mix is the share of each kind of change, in percent: a bulk import is
// mostly new users.
var mix = []struct {
	kind string
	pct  int
}{{"add_user", 85}, {"change_password", 5}, {"remove_user", 5}, {"add_rosteritem", 5}}

// rig is one store with the whole registry, a worker and the DreamHost
// handler on loopback.
type rig struct {
	ctx      context.Context
	st       *store.Store
	env      *commands.Env
	reg      *commands.Registry
	acc      int64
	dom      store.Domain
	key      string
	url      string
	appliers map[string]queue.Applier
	took     atomic.Int64 // the batch's transaction time (Options.Applied)
}

func newRig(tb testing.TB, location string) *rig {
	ctx := context.Background()
	st, err := store.Open(ctx, location, store.Options{})
	require.NoError(tb, err)
	tb.Cleanup(func() { st.Close() })
	sealKey := make([]byte, 32)
	_, _ = rand.Read(sealKey)
	box, err := sealbox.New(sealKey)
	require.NoError(tb, err)
	r := &rig{ctx: ctx, st: st, reg: commands.MustNew(commands.All()...)}
	r.env = &commands.Env{Store: st, Box: box}
	r.appliers = r.reg.Appliers(r.env)
	acc, err := commands.CreateAccount(ctx, r.env, "panel", 0, false)
	require.NoError(tb, err)
	r.acc = acc.ID
	r.dom, err = commands.CreateDomain(ctx, r.env, "bulk.example", acc.ID)
	require.NoError(tb, err)
	r.key, _, err = commands.CreateKey(ctx, r.env, commands.KeySpec{Account: acc.ID, Cmds: []string{"*"}})
	require.NoError(tb, err)
	srv := httptest.NewServer(dreamhost.New(r.reg, r.env, dreamhost.Config{}))
	tb.Cleanup(srv.Close)
	r.url = srv.URL + "/"
	return r
}

// worker returns a worker over the registry's appliers, with every
// Prepare that derives SCRAM keys replaced by a ready credential when
// prederived is set.
func (r *rig) worker(prederived bool) *queue.Worker {
	apps := map[string]queue.Applier{}
	ready, err := credential.New("bench-password")
	if err != nil {
		panic(err)
	}
	for name, a := range r.appliers {
		if prederived && a.Prepare != nil {
			a.Prepare = func(ctx context.Context, w *queue.Work) error { w.Prepared = ready; return nil }
		}
		apps[name] = a
	}
	par, _ := strconv.Atoi(os.Getenv("BATCH_PARALLEL"))
	return queue.NewWorker(r.st, apps, nil, queue.Options{Parallel: par, Applied: func(_ store.BatchStatus, _ int, took time.Duration) {
		r.took.Store(int64(took))
	}})
}

// call runs command name as the account's panel would, queueing its change.
func (r *rig) call(dialect commands.Dialect, name string, args commands.Values) (string, error) {
	def := r.reg.Defs()
	var d *commands.Def
	for _, x := range def {
		if x.Name == name {
			d = x
		}
	}
	if d == nil {
		return "", fmt.Errorf("no command %s", name)
	}
	args["domain"] = r.dom
	c := &commands.Call{Def: d, Env: r.env, Reg: r.reg, Args: args,
		Caller: commands.Caller{Dialect: dialect, Account: r.acc, Accounts: []int64{r.acc}, Actor: "bench"}}
	res, err := c.Run(r.ctx)
	if err != nil {
		return "", err
	}
	rc, ok := res.(commands.Receipt)
	if !ok {
		return "", fmt.Errorf("%s answered %v, not a receipt", name, res)
	}
	return rc.Token, nil
}

// parallel runs f(0..n-1) on 16 goroutines, as concurrent panel requests.
func parallel(n int, f func(i int) error) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

// fill queues n changes in the mix into the account's waiting batch and
// returns its token. The users the non-add changes act on are created
// (and activated) first, in a batch of their own.
func (r *rig) fill(tb testing.TB, n int) string {
	counts := map[string]int{}
	for _, m := range mix {
		counts[m.kind] = n * m.pct / 100
	}
	counts["add_user"] += n - counts["add_user"] - counts["change_password"] - counts["remove_user"] - counts["add_rosteritem"]
	old := counts["change_password"] + counts["remove_user"]
	require.NoError(tb, parallel(old, func(i int) error {
		_, err := r.call(commands.DreamHost, "add_user", commands.Values{"username": fmt.Sprintf("old%d", i), "password": "old-pw"})
		return err
	}))
	if old > 0 {
		_, err := r.worker(true).RunOnce(r.ctx)
		require.NoError(tb, err)
	}
	var token atomic.Value
	kinds := make([]string, 0, n)
	for _, m := range mix {
		for i := 0; i < counts[m.kind]; i++ {
			kinds = append(kinds, m.kind)
		}
	}
	// Interleaved, as a panel's import is: the kinds in a fixed shuffle.
	perm := make([]int, n)
	for i := range perm {
		perm[i] = (i * 7919) % n
	}
	if n%7919 == 0 {
		for i := range perm {
			perm[i] = i
		}
	}
	var seq [4]atomic.Int64
	require.NoError(tb, parallel(n, func(i int) error {
		kind := kinds[perm[i]]
		var tok string
		var err error
		switch kind {
		case "add_user":
			k := seq[0].Add(1)
			tok, err = r.call(commands.DreamHost, "add_user", commands.Values{"username": fmt.Sprintf("new%d", k), "password": fmt.Sprintf("pw-%d", k)})
		case "change_password":
			k := seq[1].Add(1) - 1
			tok, err = r.call(commands.Ejabberd, "change_password", commands.Values{"username": fmt.Sprintf("old%d", k), "password": fmt.Sprintf("new-pw-%d", k)})
		case "remove_user":
			k := seq[2].Add(1) - 1 + int64(counts["change_password"])
			tok, err = r.call(commands.DreamHost, "remove_user", commands.Values{"username": fmt.Sprintf("old%d", k)})
		case "add_rosteritem":
			// Roster items of the users whose password changes: they stay.
			k := seq[3].Add(1) - 1
			owner := k % int64(max(counts["change_password"], 1))
			tok, err = r.call(commands.Ejabberd, "add_rosteritem", commands.Values{"username": fmt.Sprintf("old%d", owner),
				"contact_user": fmt.Sprintf("contact%d", k), "contact_host": "elsewhere.example", "subscription": "both", "name": "", "groups": "Imported"})
		}
		if err != nil {
			return fmt.Errorf("%s: %w", kind, err)
		}
		token.Store(tok)
		return nil
	}))
	return token.Load().(string)
}

// poll asks services-progress for token through the HTTP handler until
// stop is closed, and returns each poll's latency and the last status.
func (r *rig) poll(token string, stop <-chan struct{}) ([]time.Duration, string, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	q := r.url + "?" + url.Values{"key": {r.key}, "cmd": {"services-progress"}, "token": {token}}.Encode()
	var lat []time.Duration
	last := ""
	for {
		select {
		case <-stop:
			return lat, last, nil
		default:
		}
		start := time.Now()
		resp, err := client.Get(q)
		if err != nil {
			return lat, last, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		lat = append(lat, time.Since(start))
		if err != nil {
			return lat, last, err
		}
		if !strings.HasPrefix(string(body), "success") {
			return lat, last, fmt.Errorf("services-progress answered %q", body)
		}
		lines := strings.Split(strings.TrimSpace(string(body)), "\n")
		last = strings.Fields(lines[len(lines)-1])[0]
		// A panel polls in a loop; a short pause keeps the poller from
		// being a CPU load of its own on a 2-core machine.
		time.Sleep(200 * time.Microsecond)
	}
}

// acks queues add_user changes one after the other until stop is closed
// and returns how long each took to be acknowledged: a write waits for
// the writer the batch's transaction holds. It starts once batch is
// claimed, or its first change would join the batch measured.
func (r *rig) acks(batch int64, stop <-chan struct{}) []time.Duration {
	var lat []time.Duration
	for {
		b, err := r.st.Batch(r.ctx, batch)
		if err != nil || b.Status != store.BatchWaiting {
			break
		}
		select {
		case <-stop:
			return lat
		case <-time.After(time.Millisecond):
		}
	}
	for i := 0; ; i++ {
		select {
		case <-stop:
			return lat
		default:
		}
		start := time.Now()
		if _, err := r.call(commands.DreamHost, "add_user", commands.Values{"username": fmt.Sprintf("during%d", i), "password": "pw"}); err != nil {
			return lat
		}
		lat = append(lat, time.Since(start))
		time.Sleep(5 * time.Millisecond)
	}
}

// cpuTime is the CPU time of the process so far: on a machine shared
// with other work, the apply's CPU time moves much less than its wall time
// (it includes the poller's, which is small).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func quantile(l []time.Duration, q float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

func BenchmarkBatchApply(b *testing.B) {
	n := batchN()
	for _, kind := range []string{"sqlite", "postgres"} {
		b.Run(kind, func(b *testing.B) {
			if !strings.Contains(stores(), kind) {
				b.Skip("not in BATCH_STORES")
			}
			if kind == "postgres" && pg == nil {
				b.Skip(pgSkip)
			}
			for _, mode := range []string{"prederived", "derive", "ahead"} {
				b.Run(mode, func(b *testing.B) {
					if !slices.Contains(strings.Split(modes(), ","), mode) {
						b.Skip("not in BATCH_MODES")
					}
					var apply, tx, cpu, fill, fillCPU, catchUp, catchUpCPU time.Duration
					var polls, idle, acks, derivePolls []time.Duration
					for i := 0; i < b.N; i++ {
						b.StopTimer()
						loc := filepath.Join(b.TempDir(), "bench.db")
						if kind == "postgres" {
							loc = pg.NewDB(b, nil)
						}
						r := newRig(b, loc)
						w := r.worker(mode == "prederived")
						stopDeriver := func() {}
						if mode == "ahead" {
							r.env.Worker = w
							stopDeriver = w.StartDeriver()
						}
						start, cpu0 := time.Now(), cpuTime()
						token := r.fill(b, n)
						fill += time.Since(start)
						fillCPU += cpuTime() - cpu0
						batch, err := r.st.BatchByToken(r.ctx, token)
						require.NoError(b, err)
						if mode == "ahead" {
							// The deriver catches up (a synchronous round
							// waits for the background one), polled meanwhile.
							stop := make(chan struct{})
							out := make(chan []time.Duration, 1)
							go func() { lat, _, _ := r.poll(token, stop); out <- lat }()
							start, cpu0 := time.Now(), cpuTime()
							_, err := w.DeriveQueued(r.ctx)
							require.NoError(b, err)
							catchUp += time.Since(start)
							catchUpCPU += cpuTime() - cpu0
							close(stop)
							derivePolls = append(derivePolls, <-out...)
							stopDeriver()
						}
						// As serve.go wires it: services-progress asks the
						// worker, which knows the batches it applies.
						r.env.Worker = w
						// The same polls with nothing applied: what the
						// loaded machine alone does to them.
						stop := make(chan struct{})
						time.AfterFunc(time.Second, func() { close(stop) })
						lat, _, err := r.poll(token, stop)
						require.NoError(b, err)
						idle = append(idle, lat...)
						stop = make(chan struct{})
						type pollOut struct {
							lat  []time.Duration
							last string
							err  error
						}
						out := make(chan pollOut, 1)
						go func() {
							lat, last, err := r.poll(token, stop)
							out <- pollOut{lat, last, err}
						}()
						ackOut := make(chan []time.Duration, 1)
						go func() { ackOut <- r.acks(batch.ID, stop) }()
						stopProfile := startProfile(b, kind, mode)
						b.StartTimer()
						start, cpu0 = time.Now(), cpuTime()
						final, err := w.Flush(r.ctx, batch.ID)
						apply += time.Since(start)
						cpu += cpuTime() - cpu0
						b.StopTimer()
						stopProfile()
						close(stop)
						p := <-out
						acks = append(acks, <-ackOut...)
						require.NoError(b, err)
						require.NoError(b, p.err)
						require.Equal(b, store.BatchSuccess, final.Status, "the batch's changes: see its failed rows")
						tx += time.Duration(r.took.Load())
						polls = append(polls, p.lat...)
						r.check(b, batch.ID, n)
					}
					b.ReportMetric(apply.Seconds()/float64(b.N), "apply-s")
					b.ReportMetric(tx.Seconds()/float64(b.N), "tx-s")
					b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s")
					b.ReportMetric(float64(quantile(idle, 0.99).Microseconds())/1000, "idle-poll-p99-ms")
					b.ReportMetric(float64(len(polls))/float64(b.N), "polls")
					b.ReportMetric(float64(quantile(polls, 0.5).Microseconds())/1000, "poll-p50-ms")
					b.ReportMetric(float64(quantile(polls, 0.99).Microseconds())/1000, "poll-p99-ms")
					b.ReportMetric(float64(quantile(polls, 1).Microseconds())/1000, "poll-max-ms")
					b.ReportMetric(float64(quantile(acks, 0.5).Microseconds())/1000, "ack-p50-ms")
					b.ReportMetric(float64(quantile(acks, 1).Microseconds())/1000, "ack-max-ms")
					// The bulk import's acknowledgements (16 at once,
					// through the registry) and, in "ahead", what the
					// deriver still had to do once they were all in.
					b.ReportMetric(float64(n)*float64(b.N)/fill.Seconds(), "fill-acks/s")
					b.ReportMetric(fillCPU.Seconds()/float64(b.N), "fill-cpu-s")
					if mode == "ahead" {
						b.ReportMetric(catchUp.Seconds()/float64(b.N), "catchup-s")
						b.ReportMetric(catchUpCPU.Seconds()/float64(b.N), "catchup-cpu-s")
						b.ReportMetric(float64(quantile(derivePolls, 0.5).Microseconds())/1000, "catchup-poll-p50-ms")
						b.ReportMetric(float64(quantile(derivePolls, 0.99).Microseconds())/1000, "catchup-poll-p99-ms")
					}
				})
			}
		})
	}
}

// startProfile starts the CPU profile of BATCH_CPUPROFILE for store kind
// in mode, if set, and returns what stops it.
func startProfile(tb testing.TB, kind, mode string) func() {
	stops := []func(){}
	for _, p := range []struct {
		env   string
		start func(io.Writer) error
		stop  func()
	}{{"BATCH_CPUPROFILE", pprof.StartCPUProfile, pprof.StopCPUProfile}, {"BATCH_TRACE", trace.Start, trace.Stop}} {
		path := os.Getenv(p.env)
		if path == "" {
			continue
		}
		ext := filepath.Ext(path)
		f, err := os.Create(strings.TrimSuffix(path, ext) + "-" + kind + "-" + mode + ext)
		require.NoError(tb, err)
		require.NoError(tb, p.start(f))
		stops = append(stops, func() {
			p.stop()
			require.NoError(tb, f.Close())
		})
	}
	return func() {
		for _, stop := range stops {
			stop()
		}
	}
}

// check: after the batch all n of its changes are applied and a new user
// is active.
func (r *rig) check(tb testing.TB, batchID int64, n int) {
	changes, err := r.st.Changes(r.ctx, batchID)
	require.NoError(tb, err)
	require.Len(tb, changes, n)
	for _, c := range changes {
		require.Equal(tb, store.ChangeApplied, c.Status, "change %d (%s): %s", c.ID, c.Command, c.Error)
	}
	u, err := r.st.UserByJID(r.ctx, r.dom.FQDN, "new1")
	if errors.Is(err, store.ErrNotFound) && n < 20 {
		return
	}
	require.NoError(tb, err)
	require.Equal(tb, store.StatusActive, u.Status)
}
