package main

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"time"

	"github.com/gorilla/mux"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/metrics"
	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore"
)

// Operational routes: Prometheus metrics and the probes of load balancers,
// systemd and Kubernetes.
const (
	pathMetrics = "/metrics"
	pathHealthz = "/healthz"
	pathReadyz  = "/readyz"
)

// readyTicks is how many worker schedule intervals may pass without a
// tick before the server is not ready.
const readyTicks = 3

// probeTimeout bounds the store check of one /readyz.
const probeTimeout = 5 * time.Second

// ops serves the operational routes of one server.
type ops struct {
	metrics *metrics.Metrics
	st      *store.Store
	xs      *xmppcore.Server
	worker  *queue.Worker
	log     *zap.Logger
	now     func() time.Time
}

// mount adds the routes to r. On the main HTTP listener (loopbackMetrics)
// /metrics answers loopback peers only: that listener carries the
// provisioning APIs and may face the Internet, and the figures name the
// domains and the traffic. metrics_addr is where a remote scraper is let
// in; the probes are open everywhere, as load balancers need.
func (o *ops) mount(r *mux.Router, loopbackMetrics bool) {
	var h http.Handler = promhttp.HandlerFor(o.metrics.Registry, promhttp.HandlerOpts{
		ErrorLog: zap.NewStdLog(o.log), ErrorHandling: promhttp.ContinueOnError, Registry: o.metrics.Registry})
	if loopbackMetrics {
		h = loopbackOnly(h)
	}
	r.Path(pathMetrics).Methods(http.MethodGet, http.MethodHead).Handler(h)
	r.Path(pathHealthz).Methods(http.MethodGet, http.MethodHead).HandlerFunc(o.healthz)
	r.Path(pathReadyz).Methods(http.MethodGet, http.MethodHead).HandlerFunc(o.readyz)
}

func loopbackOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ap, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !ap.Addr().Unmap().IsLoopback() {
			http.Error(w, "metrics are served to loopback only on this listener; set metrics_addr for remote scrapers", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// healthBody is the JSON of /healthz and /readyz.
type healthBody struct {
	Status string `json:"status"` // "ok" or "unavailable"
	// Failed names the failing checks, in Checks' order.
	Failed []string `json:"failed,omitempty"`
	// Checks is each check's "ok" or its error.
	Checks  map[string]string `json:"checks,omitempty"`
	Version string            `json:"version,omitempty"`
}

// healthz says the process serves HTTP: it checks nothing else, so a
// supervisor restarts the process only when it is wedged.
func (o *ops) healthz(w http.ResponseWriter, _ *http.Request) {
	writeHealth(w, http.StatusOK, healthBody{Status: "ok", Version: readBuildInfo().Version})
}

// Readiness checks, in the order they are run and reported.
const (
	checkStore     = "store"
	checkListeners = "listeners"
	checkWorker    = "worker"
)

// readyz says whether the server can do its work: the store takes a write,
// the XMPP listeners accept, and the worker's schedule ticks. The HTTP
// listener answering this is its own check.
func (o *ops) readyz(w http.ResponseWriter, r *http.Request) {
	body := healthBody{Status: "ok", Checks: map[string]string{}}
	check := func(name string, err error) {
		if err != nil {
			body.Status = "unavailable"
			body.Failed = append(body.Failed, name)
			body.Checks[name] = err.Error()
			return
		}
		body.Checks[name] = "ok"
	}
	ctx, cancel := context.WithTimeout(r.Context(), probeTimeout)
	defer cancel()
	check(checkStore, o.st.Probe(ctx))
	var lerr error
	if !o.xs.ListenersUp() {
		lerr = errors.New("XMPP listeners are not accepting connections")
	}
	check(checkListeners, lerr)
	check(checkWorker, o.worker.Ticking(o.now(), readyTicks))
	status := http.StatusOK
	if len(body.Failed) > 0 {
		status = http.StatusServiceUnavailable
		o.log.Warn("not ready", zap.Strings("failed", body.Failed), zap.Any("checks", body.Checks))
	}
	writeHealth(w, status, body)
}

func writeHealth(w http.ResponseWriter, status int, body healthBody) {
	b, _ := json.Marshal(body)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// listen serves the operational routes alone on addr (metrics_addr); it
// returns the bound address and the function that stops it.
func (o *ops) listen(addr string, errc chan<- error) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	r := mux.NewRouter()
	o.mount(r, false)
	return ln.Addr(), serveBeside(httpServer(r, o.log), ln, errc), nil
}
