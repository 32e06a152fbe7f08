// Package metrics exposes xmppgate's Prometheus metrics: request counts and
// latencies per dialect and command (told by the dialects through
// commands.RequestObserver), queue and store figures, and the XMPP server's
// sessions, logins and stanzas, read when scraped.
//
// Every server has its own prometheus.Registry, never the global default,
// so tests can run several servers in one process.
//
// Labels are bounded: a command label is a command of the registry or
// "unknown" (a request naming anything else), a result is one of a
// dialect's fixed codes, and no label carries a user name or an address.
package metrics

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore"
)

const namespace = "xmppgate"

// MaxDomainSeries bounds the sessions gauge: past this many domains with
// sessions, the smallest are summed under the domain "_other".
const MaxDomainSeries = 500

// OtherDomain is the domain label of the sessions of domains past
// MaxDomainSeries.
const OtherDomain = "_other"

// UnknownCommand is the command label of a request naming no command of
// the registry (a typo or a probe must not create a series).
const UnknownCommand = "unknown"

// Live is what the metrics read from the XMPP server when scraped.
type Live interface {
	Sessions(domain, username string) []xmppcore.SessionInfo
	Counters() *xmppcore.Counters
	// S2SCounts are the federation streams (incoming, outgoing).
	S2SCounts() (in, out int)
}

// Commands tells which command names a dialect knows (commands.Registry).
type Commands interface {
	Lookup(d commands.Dialect, wire string) (*commands.Def, bool)
}

// Metrics holds the registry and the instruments fed by events.
type Metrics struct {
	// Registry is what /metrics serves.
	Registry *prometheus.Registry

	cmds     Commands
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	batches  *prometheus.HistogramVec
	storeOps *prometheus.HistogramVec
	// writeObs and commitObs are resolved once: the store's observer runs
	// on every write and should not look a label up each time.
	writeObs, commitObs prometheus.Observer
}

// New registers the instruments, the Go runtime and process collectors,
// and a collector reading st and live (nil: no XMPP figures) when scraped.
func New(cmds Commands, st *store.Store, live Live, log *zap.Logger) *Metrics {
	if log == nil {
		log = zap.NewNop()
	}
	reg := prometheus.NewRegistry()
	m := &Metrics{
		Registry: reg,
		cmds:     cmds,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "requests_total",
			Help: "Provisioning API requests answered, by dialect, command and result (success or the dialect's error code).",
		}, []string{"dialect", "command", "result"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Name: "request_duration_seconds",
			Help:    "Time to answer a provisioning API request, by dialect and command.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9), // 0.5 ms .. 33 s
		}, []string{"dialect", "command"}),
		batches: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "queue", Name: "batch_apply_duration_seconds",
			Help:    "Time the worker took to apply one batch in its transaction, by final status.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 9),
		}, []string{"status"}),
		storeOps: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "store", Name: "operation_duration_seconds",
			Help:    "Store write latency by kind: write (a caller's write until durable) and commit (one group commit).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9), // 0.1 ms .. 6.5 s
		}, []string{"op"}),
	}
	m.writeObs = m.storeOps.WithLabelValues(store.OpWrite)
	m.commitObs = m.storeOps.WithLabelValues(store.OpCommit)
	reg.MustRegister(m.requests, m.latency, m.batches, m.storeOps,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&scraped{st: st, live: live, log: log})
	return m
}

// ObserveRequest counts one dialect request (commands.RequestObserver).
func (m *Metrics) ObserveRequest(l commands.RequestLine, took time.Duration) {
	cmd := l.Command
	if _, ok := m.cmds.Lookup(l.Dialect, cmd); !ok {
		cmd = UnknownCommand
	}
	m.requests.WithLabelValues(string(l.Dialect), cmd, l.Result).Inc()
	m.latency.WithLabelValues(string(l.Dialect), cmd).Observe(took.Seconds())
}

// BatchApplied observes one final batch (queue.Options.Applied).
func (m *Metrics) BatchApplied(status store.BatchStatus, _ int, took time.Duration) {
	m.batches.WithLabelValues(string(status)).Observe(took.Seconds())
}

// StoreOp observes one store operation (store.Observer).
func (m *Metrics) StoreOp(op string, took time.Duration) {
	switch op {
	case store.OpWrite:
		m.writeObs.Observe(took.Seconds())
	case store.OpCommit:
		m.commitObs.Observe(took.Seconds())
	}
}

var _ commands.RequestObserver = (*Metrics)(nil)

// scraped reads the figures that are state, not events, at scrape time.
type scraped struct {
	st   *store.Store
	live Live
	log  *zap.Logger
}

var (
	descBatches = prometheus.NewDesc(namespace+"_queue_batches", "Batches in the store by status (waiting ones are the queue depth).",
		[]string{"status"}, nil)
	descDepth   = prometheus.NewDesc(namespace+"_queue_depth", "Batches waiting for or being applied by the worker.", nil, nil)
	descChanges = prometheus.NewDesc(namespace+"_queue_changes", "Changes in the store by status.", []string{"status"}, nil)
	descOffline = prometheus.NewDesc(namespace+"_offline_messages", "Offline messages waiting for their user.", nil, nil)
	descArchive = prometheus.NewDesc(namespace+"_archive_messages", "Archived messages (XEP-0313), of users' archives (user) and rooms' (room).",
		[]string{"kind"}, nil)
	// The domain label is bounded by the operator: domains are what the
	// operator's customers provision through the API, a figure the operator
	// sells, not something an XMPP client or a stranger can grow; only
	// domains with sessions appear, and past MaxDomainSeries they are summed
	// under OtherDomain.
	descSessions = prometheus.NewDesc(namespace+"_xmpp_sessions", "Bound XMPP sessions by domain and transport (c2s, websocket, http_bind).",
		[]string{"domain", "transport"}, nil)
	descLogins  = prometheus.NewDesc(namespace+"_xmpp_logins_total", "SASL authentications by result (ok or failed).", []string{"result"}, nil)
	descStanzas = prometheus.NewDesc(namespace+"_xmpp_stanzas_total", "Stanzas clients sent to be routed, by kind (message, presence, iq).",
		[]string{"kind"}, nil)
	descS2S = prometheus.NewDesc(namespace+"_s2s_streams", "Federation (server-to-server) streams by direction (in, out).",
		[]string{"direction"}, nil)
)

func (s *scraped) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descBatches, descDepth, descChanges, descOffline, descArchive, descSessions, descLogins, descStanzas, descS2S} {
		ch <- d
	}
}

func (s *scraped) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if g, err := s.st.Gauges(ctx); err != nil {
		s.log.Warn("metrics: store figures", zap.Error(err))
		ch <- prometheus.NewInvalidMetric(descDepth, err)
	} else {
		for _, st := range []store.BatchStatus{store.BatchWaiting, store.BatchRunning, store.BatchSuccess, store.BatchFailure} {
			ch <- prometheus.MustNewConstMetric(descBatches, prometheus.GaugeValue, float64(g.Batches[st]), string(st))
		}
		ch <- prometheus.MustNewConstMetric(descDepth, prometheus.GaugeValue, float64(g.Batches[store.BatchWaiting]+g.Batches[store.BatchRunning]))
		for _, st := range []store.ChangeStatus{store.ChangePending, store.ChangeApplied, store.ChangeFailed} {
			ch <- prometheus.MustNewConstMetric(descChanges, prometheus.GaugeValue, float64(g.Changes[st]), string(st))
		}
		ch <- prometheus.MustNewConstMetric(descOffline, prometheus.GaugeValue, float64(g.Offline))
		ch <- prometheus.MustNewConstMetric(descArchive, prometheus.GaugeValue, float64(g.Archive), "user")
		ch <- prometheus.MustNewConstMetric(descArchive, prometheus.GaugeValue, float64(g.MUCArchive), "room")
	}
	if s.live == nil {
		return
	}
	for k, n := range sessionSeries(s.live.Sessions("", "")) {
		ch <- prometheus.MustNewConstMetric(descSessions, prometheus.GaugeValue, float64(n), k.domain, k.transport)
	}
	c := s.live.Counters()
	ch <- prometheus.MustNewConstMetric(descLogins, prometheus.CounterValue, float64(c.LoginsOK.Load()), "ok")
	ch <- prometheus.MustNewConstMetric(descLogins, prometheus.CounterValue, float64(c.LoginsFailed.Load()), "failed")
	ch <- prometheus.MustNewConstMetric(descStanzas, prometheus.CounterValue, float64(c.Messages.Load()), "message")
	ch <- prometheus.MustNewConstMetric(descStanzas, prometheus.CounterValue, float64(c.Presences.Load()), "presence")
	ch <- prometheus.MustNewConstMetric(descStanzas, prometheus.CounterValue, float64(c.IQs.Load()), "iq")
	in, out := s.live.S2SCounts()
	ch <- prometheus.MustNewConstMetric(descS2S, prometheus.GaugeValue, float64(in), "in")
	ch <- prometheus.MustNewConstMetric(descS2S, prometheus.GaugeValue, float64(out), "out")
}

type sessionKey struct{ domain, transport string }

// sessionSeries counts sessions per domain and transport, keeping the
// MaxDomainSeries domains with most sessions and summing the rest.
func sessionSeries(in []xmppcore.SessionInfo) map[sessionKey]int {
	out := map[sessionKey]int{}
	perDomain := map[string]int{}
	for _, s := range in {
		t := s.Transport
		if t == "" {
			t = xmppcore.TransportTCP
		}
		out[sessionKey{s.Domain, t}]++
		perDomain[s.Domain]++
	}
	if len(perDomain) <= MaxDomainSeries {
		return out
	}
	type dn struct {
		d string
		n int
	}
	ranked := make([]dn, 0, len(perDomain))
	for d, n := range perDomain {
		ranked = append(ranked, dn{d, n})
	}
	slices.SortFunc(ranked, func(a, b dn) int {
		if a.n != b.n {
			return b.n - a.n
		}
		return strings.Compare(a.d, b.d)
	})
	keep := map[string]bool{}
	for _, r := range ranked[:MaxDomainSeries] {
		keep[r.d] = true
	}
	folded := map[sessionKey]int{}
	for k, n := range out {
		if !keep[k.domain] {
			k.domain = OtherDomain
		}
		folded[k] += n
	}
	return folded
}
