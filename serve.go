package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof" // served only on pprof_addr, when set
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/cluster"
	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/console"
	"github.com/xmppgate/xmppgate/commands/dreamhost"
	"github.com/xmppgate/xmppgate/commands/ejabberd"
	"github.com/xmppgate/xmppgate/commands/openfire"
	"github.com/xmppgate/xmppgate/commands/openfirerest"
	"github.com/xmppgate/xmppgate/commands/rest"
	"github.com/xmppgate/xmppgate/metrics"
	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore"
	"github.com/xmppgate/xmppgate/xmppcore/bosh"
	"github.com/xmppgate/xmppgate/xmppcore/upload"
	"github.com/xmppgate/xmppgate/xmppcore/websocket"
)

// served tells tests where a running server listens.
type served struct {
	HTTP, C2S, C2STLS net.Addr
	// OpenfireHTTP is the second listener (nil unless openfire_http_addr is set).
	OpenfireHTTP net.Addr
	// HTTPS is the TLS HTTP listener (nil unless https_addr is set).
	HTTPS net.Addr
	// Metrics is the metrics_addr listener (nil unless set).
	Metrics net.Addr
	// ACMEHTTP is the HTTP-01 challenge listener (nil unless acme is on).
	ACMEHTTP net.Addr
	App      *app
	XMPP     *xmppcore.Server
	// Recovered is closed once the worker applied what a previous run
	// left behind (serving starts before that).
	Recovered <-chan struct{}
}

// lockData takes an exclusive lock on the data directory: one server per
// directory, so one worker applies its queue.
func lockData(dir string) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return nil, fmt.Errorf("data directory %s is in use by another xmppgate serve", dir)
	}
	return f, nil
}

func serve(ctx context.Context, cfg Config, stdout io.Writer, ready func(served)) error {
	log, level, err := newLogger(cfg.LogLevel)
	if err != nil {
		return err
	}
	defer log.Sync() //nolint:errcheck // stderr sync fails on some terminals
	if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
		return err
	}
	lock, err := lockData(cfg.Data)
	if err != nil {
		return err
	}
	defer lock.Close()
	raiseFileLimit(log)

	a, err := openApp(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer a.Close()
	boot, err := a.bootstrap(ctx, stdout)
	if err != nil {
		return err
	}
	// The ctl secret: `xmppgate ctl` reads it to act as the operator.
	ctlSecret, err := writeCtlSecret(cfg.Data)
	if err != nil {
		return err
	}
	defer removeCtlSecret(cfg.Data, ctlSecret)

	// The HTTP listener is bound first: upload slots name its address.
	ln, err := net.Listen("tcp", cfg.HTTPAddr)
	if err != nil {
		return err
	}
	defer ln.Close()
	files, err := upload.New(a.env.Store, filepath.Join(cfg.Data, "upload"), uploadURL(cfg, ln.Addr()), log.Named("upload"))
	if err != nil {
		return err
	}
	go files.Run(ctx, time.Hour)
	s2sRoots, err := loadS2SRoots(cfg.S2SCAFile)
	if err != nil {
		return err
	}
	acme, err := startACME(ctx, cfg, a, log)
	if err != nil {
		return err
	}
	var getCert func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	var acmeAddr net.Addr
	if acme != nil {
		defer acme.Stop()
		getCert, acmeAddr = acme.GetCertificate, acme.Addr()
	}
	// With nats_url the node routes to the others through NATS; without,
	// it runs alone and xmppcore never looks beyond its own sessions.
	var node *cluster.Node
	var others xmppcore.Cluster
	if cfg.NATSURL != "" {
		if node, err = cluster.Connect(cluster.Options{URL: cfg.NATSURL, Node: cfg.NodeName(), Logger: log,
			Heartbeat: cfg.ClusterHeartbeat, Lease: cfg.ClusterLease}); err != nil {
			return err
		}
		defer node.Close()
		others = node
	}
	xs, err := xmppcore.New(xmppcore.Config{C2SAddr: cfg.C2SAddr, C2STLSAddr: cfg.C2STLSAddr, Cluster: others,
		SCRAM:    cfg.scramFamilies(),
		CertFile: cfg.CertFile, KeyFile: cfg.KeyFile, DataDir: cfg.Data, Logger: log, Upload: files,
		ExternalServices: cfg.ExternalServices, SMResumeTimeout: cfg.SMResumeTimeout, GetCertificate: getCert,
		ECDSACertFile: cfg.CertECDSAFile, ECDSAKeyFile: cfg.KeyECDSAFile,
		ECDSACompanion: cfg.TLSECDSACompanion, SessionTickets: cfg.TLSSessionTickets,
		S2SAddr: cfg.S2SAddr, S2STLSAddr: cfg.S2STLSAddr, S2SRoutes: cfg.S2SRoutes, S2SBlocklist: cfg.S2SBlocklist, S2SRoots: s2sRoots}, a.env.Store)
	if err != nil {
		return err
	}
	if err := xs.Start(ctx); err != nil {
		return err
	}
	if node != nil {
		if err := node.Start(xs); err != nil {
			return err
		}
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := xs.Shutdown(sctx); err != nil {
			log.Error("xmpp shutdown", zap.Error(err))
		}
	}()

	a.env.Live = live{xs}
	met := metrics.New(a.reg, a.env.Store, xs, log.Named("metrics"))
	a.env.Requests = met
	a.env.Store.SetObserver(met.StoreOp)
	defer a.env.Store.SetObserver(nil)
	member, err := joinNodes(ctx, cfg, a, ln.Addr(), xs, log)
	if err != nil {
		return err
	}
	defer member.Close()
	worker := queue.NewWorker(a.env.Store, a.reg.Appliers(a.env), xs, queue.Options{Logger: log.Named("queue.worker"),
		Applied: met.BatchApplied, Parallel: cfg.WorkerParallel, Node: member})
	a.env.Worker = worker
	ctl := newControl(cfg, level, log, worker)
	a.env.Control = ctl
	if err := worker.Start(cfg.WorkerSchedule); err != nil {
		return err
	}
	defer worker.StartDeriver()()
	// Apply what a previous run left behind (batches a crash left running)
	// while already serving: new changes queue behind it in claim order.
	var recovery sync.WaitGroup
	recovery.Add(1)
	recovered := make(chan struct{})
	go func() {
		defer recovery.Done()
		defer close(recovered)
		if _, err := worker.RunOnce(ctx); err != nil && ctx.Err() == nil {
			log.Error("recovering the queue", zap.Error(err))
		}
	}()
	defer func() {
		recovery.Wait()
		worker.Stop()
	}()

	router := mux.NewRouter()
	dh := dreamhost.New(a.reg, a.env, dreamhost.Config{MaxBody: cfg.MaxBody, Limits: cfg.DreamHostLimits})
	// What a reload (reload_config, SIGHUP) applies besides the level and
	// the worker's schedule.
	ctl.certs, ctl.limits = xs.ReloadCertificate, dh.SetLimits
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	stopHUP := make(chan struct{})
	defer func() { signal.Stop(hup); close(stopHUP) }()
	go func() {
		for {
			select {
			case <-hup:
				log.Info("SIGHUP: reloading the configuration")
				if _, err := ctl.ReloadConfig(ctx); err != nil {
					log.Error("SIGHUP: the configuration was not reloaded", zap.Error(err))
				}
			case <-stopHUP:
				return
			}
		}
	}()
	router.Path("/").Methods(http.MethodGet, http.MethodPost).Handler(dh)
	// The Openfire handlers answer other methods themselves, as Openfire
	// does. The legacy query API's exact paths come before the REST prefixes.
	of, ofr := openfire.New(a.reg, a.env), openfirerest.New(a.reg, a.env)
	mountOpenfire := func(r *mux.Router) {
		r.Path(openfire.PathUserService).Handler(of)
		r.Path(openfire.PathRestAPI).Handler(of)
		for _, p := range openfirerest.Prefixes {
			r.PathPrefix(p).Handler(ofr)
		}
	}
	mountOpenfire(router)
	router.PathPrefix(rest.Prefix).Handler(rest.New(a.reg, a.env, rest.Config{ParentDomain: cfg.RESTParentDomain}))
	// After the REST API's /api/1.0/: "/api" alone must reach ejabberd's
	// "Missing command name." answer.
	if cfg.EjabberdTrustLoopback {
		log.Warn("ejabberd_trust_loopback is on: ejabberd API requests without credentials from loopback act as the bootstrap admin",
			zap.String("admin_jid", boot.AdminJID))
	}
	router.PathPrefix("/api").Handler(ejabberd.NewWithOptions(a.reg, a.env, ejabberd.Options{TrustLoopback: cfg.EjabberdTrustLoopback,
		LoopbackAdmin: boot.AdminJID, CtlSecret: ctlSecret, OperatorAccount: boot.Account}))
	router.Path(ejabberd.OAuthTokenPath).Handler(ejabberd.NewOAuth(a.reg, a.env))
	router.PathPrefix(uploadPrefix).Handler(files)
	if cfg.Console {
		con := console.New(a.reg, a.env, console.Options{})
		router.Path(console.Prefix).Handler(con)
		router.PathPrefix(console.Prefix + "/").Handler(con)
	}
	boshH := bosh.New(bosh.XMPP{Server: xs, InsecureOK: func(r *http.Request) bool {
		return cfg.WebSocketInsecureOK || websocket.Loopback(r)
	}}, bosh.Config{Inactivity: cfg.BOSHMaxInactivity, Wait: cfg.BOSHMaxWait, Log: log.Named("bosh")})
	webOrigins := mountWebChat(router, cfg, xs, boshH, log)
	ctl.origins = webOrigins.set
	opsRoutes := &ops{metrics: met, st: a.env.Store, xs: xs, worker: worker, log: log.Named("ops"), now: time.Now}
	opsRoutes.mount(router, true)

	if cfg.PprofAddr != "" {
		go func() {
			// http.DefaultServeMux carries net/http/pprof's handlers only.
			err := http.ListenAndServe(cfg.PprofAddr, http.DefaultServeMux)
			log.Error("pprof listener", zap.Error(err))
		}()
	}

	srv := httpServer(router, log.Named("http"))
	srv.RegisterOnShutdown(boshH.Shutdown) // held BOSH requests end, so Shutdown need not wait out their wait
	// One slot per listener below (main, Openfire, https, metrics), so none
	// blocks once the first error is taken.
	errc := make(chan error, 4)
	go func() { errc <- srv.Serve(boshH.Listen(srv, ln)) }()
	// The second listener serves the Openfire paths only, where legacy
	// scripts point (Openfire's admin console port, 9090).
	var ofAddr net.Addr
	if cfg.OpenfireHTTPAddr != "" {
		ofRouter := mux.NewRouter()
		mountOpenfire(ofRouter)
		ofln, err := net.Listen("tcp", cfg.OpenfireHTTPAddr)
		if err != nil {
			srv.Close()
			return fmt.Errorf("openfire_http_addr: %w", err)
		}
		defer serveBeside(httpServer(ofRouter, log.Named("http.openfire")), ofln, errc)()
		ofAddr = ofln.Addr()
		log.Info("serving openfire", zap.Stringer("http", ofAddr))
	}
	var httpsAddr net.Addr
	if cfg.HTTPSAddr != "" {
		tcfg := xs.TLSConfig()
		tcfg.NextProtos = []string{"http/1.1"} // WebSocket upgrades need HTTP/1.1
		tln, err := tls.Listen("tcp", cfg.HTTPSAddr, tcfg)
		if err != nil {
			srv.Close()
			return fmt.Errorf("https_addr: %w", err)
		}
		tsrv := httpServer(router, log.Named("https"))
		tsrv.RegisterOnShutdown(boshH.Shutdown)
		defer serveBeside(tsrv, boshH.Listen(tsrv, tln), errc)()
		httpsAddr = tln.Addr()
		log.Info("serving https", zap.Stringer("https", httpsAddr))
	}
	var metricsAddr net.Addr
	if cfg.MetricsAddr != "" {
		addr, stop, err := opsRoutes.listen(cfg.MetricsAddr, errc)
		if err != nil {
			srv.Close()
			return fmt.Errorf("metrics_addr: %w", err)
		}
		defer stop()
		metricsAddr = addr
		log.Info("serving metrics", zap.Stringer("metrics", addr))
	}
	c2s, c2stls := xs.Addrs()
	fields := []zap.Field{zap.String("http", ln.Addr().String()), zap.Stringer("c2s", c2s)}
	if c2stls != nil { // no direct-TLS listener: a nil Stringer would log a panic text
		fields = append(fields, zap.Stringer("c2stls", c2stls))
	}
	log.Info("serving", append(fields, zap.String("data", cfg.Data), zap.String("worker_schedule", cfg.WorkerSchedule))...)
	if ready != nil {
		c2s, c2stls := xs.Addrs()
		ready(served{HTTP: ln.Addr(), C2S: c2s, C2STLS: c2stls, App: a, XMPP: xs, OpenfireHTTP: ofAddr, Recovered: recovered,
			HTTPS: httpsAddr, Metrics: metricsAddr, ACMEHTTP: acmeAddr})
	}

	select {
	case <-ctx.Done():
	case <-ctl.done:
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil || !ctl.restarting() {
		return err
	}
	return errRestart
}

// live adapts xmppcore to commands.Live, so commands never imports xmppcore.
type live struct{ *xmppcore.Server }

// Sessions and OnlineCount answer for every node of a cluster, as
// ejabberd's do across its Mnesia cluster (metrics keep this node's).
func (l live) Sessions(domain, username string) []commands.Session {
	in := l.Server.ClusterSessions(domain, username)
	out := make([]commands.Session, len(in))
	for i, s := range in {
		out[i] = commands.Session{JID: s.JID, Domain: s.Domain, Username: s.Username, Resource: s.Resource, IP: s.IP,
			Port: s.Port, Priority: s.Priority, Connected: s.Connected, Status: s.Status, Show: s.Show, TLS: s.TLS, Available: s.Available,
			Transport: s.Transport, LastActive: s.LastActive, Anonymous: s.Anonymous, Node: s.Node, Remote: s.Remote}
	}
	return out
}

func (l live) OnlineCount(domain string) int { return l.Server.ClusterOnlineCount(domain) }

func (l live) RoomOccupants(domain, room string) []commands.RoomOccupant {
	in := l.Server.RoomOccupants(domain, room)
	out := make([]commands.RoomOccupant, len(in))
	for i, o := range in {
		out[i] = commands.RoomOccupant{JID: o.JID, Nick: o.Nick, Role: o.Role, Affiliation: o.Affiliation}
	}
	return out
}

func (l live) RoomHistory(domain, room string) []commands.RoomMessage {
	in := l.Server.RoomHistory(domain, room)
	out := make([]commands.RoomMessage, len(in))
	for i, m := range in {
		out[i] = commands.RoomMessage{Time: m.Time, Nick: m.Nick, Stanza: m.Stanza}
	}
	return out
}

var (
	_ commands.Live      = live{}
	_ commands.LiveRooms = live{}
)

// uploadPrefix is where the HTTP listener serves XEP-0363 files.
const uploadPrefix = "/upload/"

// uploadURL is upload_url, or the HTTP listener's own address (its bound
// port, for ":0"): a host left out of http_addr (":5280") is taken to be
// localhost.
func uploadURL(cfg Config, bound net.Addr) string {
	if cfg.UploadURL != "" {
		return cfg.UploadURL
	}
	host, _, err := net.SplitHostPort(cfg.HTTPAddr)
	_, port, err2 := net.SplitHostPort(bound.String())
	if err != nil || err2 != nil {
		return "http://" + bound.String() + "/upload"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/upload"
}

// loadS2SRoots reads s2s_ca_file (nil: the system's roots).
func loadS2SRoots(file string) (*x509.CertPool, error) {
	if file == "" {
		return nil, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("s2s_ca_file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("s2s_ca_file %s: no PEM certificate", file)
	}
	return pool, nil
}

// httpServer is an HTTP server with the timeouts every listener of ours
// has.
func httpServer(h http.Handler, log *zap.Logger) *http.Server {
	return &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute,
		IdleTimeout: 2 * time.Minute, ErrorLog: zap.NewStdLog(log)}
}

// serveBeside serves srv on ln beside the main listener: its error ends
// serve through errc, and the function returned shuts it down.
func serveBeside(srv *http.Server, ln net.Listener, errc chan<- error) (stop func()) {
	go func() { errc <- srv.Serve(ln) }()
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(sctx) //nolint:errcheck // the main listener's shutdown error is the one reported
	}
}

// joinNodes registers this process in the store's node table under
// cfg.NodeName() (docs/scale-out.md). On SQLite the data directory's lock
// already proves no other process serves the store, so a row a crash
// left behind is taken over at once; on PostgreSQL a live node of the
// same name is refused.
func joinNodes(ctx context.Context, cfg Config, a *app, httpAddr net.Addr, xs *xmppcore.Server, log *zap.Logger) (*queue.Node, error) {
	addrs := map[string]string{"http": httpAddr.String()}
	c2s, c2stls := xs.Addrs()
	if c2s != nil {
		addrs["c2s"] = c2s.String()
	}
	if c2stls != nil {
		addrs["c2stls"] = c2stls.String()
	}
	node, err := queue.JoinNodes(ctx, a.env.Store, queue.NodeOptions{Name: cfg.NodeName(), Addrs: addrs,
		Takeover: !store.IsPostgres(cfg.Store), Logger: log.Named("queue.node")})
	if err != nil {
		return nil, fmt.Errorf("node %s: %w", cfg.NodeName(), err)
	}
	return node, nil
}
