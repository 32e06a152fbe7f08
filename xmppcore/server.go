// Package xmppcore is xmppgate's embedded client-to-server XMPP server
// (RFC 6120, RFC 6121) for the users the store provisions.
//
// It builds on mellium.im/xmpp's jid and stream packages, with its own stream
// negotiator (STARTTLS, SASL from stored SCRAM keys, resource binding) and its
// own read loop, router and IM logic; see ../shared/specs/mellium-server.md
// for why mellium's stock server negotiation and Session.Serve are not used.
//
// Tiers, lowest first: xmlel (element trees), saslsrv (SASL mechanisms),
// modcfg (per-domain moduleConfig), then this package: listener and
// negotiation (c2s.go), sessions and router (router.go), IM core
// (presence.go, roster.go, message.go) and the switchable modules (modules.go).
package xmppcore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
	"github.com/xmppgate/xmppgate/xmppcore/extauth"
	"github.com/xmppgate/xmppgate/xmppcore/extdisco"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/s2s"
	"github.com/xmppgate/xmppgate/xmppcore/upload"
)

// The listeners' default addresses (issue 3: XMPPGATE_C2S_ADDR, XMPPGATE_C2STLS_ADDR).
const (
	DefaultC2SAddr    = "0.0.0.0:5222"
	DefaultC2STLSAddr = ":5223"
)

// Config configures the server; other zero values get the documented defaults.
type Config struct {
	// C2SAddr is the STARTTLS listener (DefaultC2SAddr in the program's
	// configuration); "" disables it.
	C2SAddr string
	// C2STLSAddr is the direct TLS listener of XEP-0368 (DefaultC2STLSAddr);
	// "" disables it.
	C2STLSAddr string
	// CertFile and KeyFile name a PEM certificate and key. If empty, a
	// self-signed ECDSA P-256 certificate covering every domain in the store
	// (and localhost) is generated into DataDir/tls/ on first start.
	CertFile, KeyFile string
	DataDir           string
	// MaxStanza bounds one stanza in bytes (default 256 KiB).
	MaxStanza int
	// SCRAM are the SCRAM families new passwords get keys for (config
	// scram_hashes; zero is both): streams offer only those mechanisms,
	// and a PLAIN login completes only those.
	SCRAM credential.Families
	// IdleTimeout closes a stream that sent nothing, not even whitespace, for
	// this long with <connection-timeout/> (default 10 minutes).
	IdleTimeout time.Duration
	// NegotiationTimeout bounds the time from connect to resource binding (default 60s).
	NegotiationTimeout time.Duration
	// AuthFailures is how many failed authentications one IP address may have
	// per AuthFailWindow before further attempts are refused (default 20 per minute).
	AuthFailures   int
	AuthFailWindow time.Duration
	// OfflineLimit caps stored offline messages per user (default 500).
	OfflineLimit int
	// SMResumeTimeout is how long a session with XEP-0198 resumption
	// enabled waits for its client after losing the connection (default
	// 300s, ejabberd's and Prosody's; the client may ask for less).
	SMResumeTimeout time.Duration
	// SMAckTimeout is how long a session with stream management waits for
	// the answer to its <r/> before it takes the connection as lost and
	// hibernates (default 60s, ejabberd's ack_timeout).
	SMAckTimeout time.Duration
	// ExtAuthTimeout bounds one external password check of a restapi or
	// pop3 domain (default 5s); a remote that does not answer in time
	// refuses the login (docs/extauth.md).
	ExtAuthTimeout time.Duration
	// Logger gets named child loggers per component ("xmpp.c2s", ...).
	Logger *zap.Logger
	// Upload is the HTTP side of XEP-0363 (the program mounts it on its
	// HTTP listener); nil: no upload service is offered.
	Upload *upload.Service
	// ExternalServices are the STUN/TURN servers announced by XEP-0215.
	ExternalServices []extdisco.Service
	// TLSConfig, if set, replaces the certificate handling above (tests).
	TLSConfig *tls.Config

	// S2SAddr is the server-to-server listener (DefaultS2SAddr in the
	// program's configuration); "" disables federation altogether.
	S2SAddr string
	// S2STLSAddr is the direct TLS (XEP-0368) s2s listener; "" disables it.
	S2STLSAddr string
	// S2SRoutes maps remote domains to host:port, bypassing DNS (private
	// networks, tests).
	S2SRoutes map[string]string
	// S2SBlocklist are remote domains (and their subdomains) refused both ways.
	S2SBlocklist []string
	// S2SResolver replaces net.DefaultResolver for SRV lookups (tests).
	S2SResolver s2s.Resolver
	// S2SConnectTimeout bounds setting up an outgoing stream (default 30s).
	S2SConnectTimeout time.Duration
	// S2SIdleTimeout closes outgoing streams unused for so long (default 10 min).
	S2SIdleTimeout time.Duration
	// S2SNegotiationTimeout cuts off an incoming stream that has not
	// authenticated a domain pair in time (default 60s).
	S2SNegotiationTimeout time.Duration
	// S2SMaxPerIP caps the incoming streams from one address (default 20).
	S2SMaxPerIP int
	// S2SMaxPerDomain caps the incoming streams authenticated for one
	// remote domain (default 10).
	S2SMaxPerDomain int
	// S2SStanzaRate and S2SStanzaBurst bound the stanzas per second of an
	// incoming stream (defaults 10000/s, burst 50000): above, reading is
	// slowed; a peer still above after S2SFloodGrace (default 30s) floods
	// and its stream is cut with policy-violation.
	S2SStanzaRate  float64
	S2SStanzaBurst int
	S2SFloodGrace  time.Duration
	// S2SRoots verify peers' certificates for SASL EXTERNAL (XEP-0178);
	// nil: the system's roots.
	S2SRoots *x509.CertPool
	// GetCertificate, if set, picks the certificate of a handshake by its
	// server name (ACME certificates per domain); when it returns nil the
	// listeners' own certificate (files or self-signed) is used.
	GetCertificate func(*tls.ClientHelloInfo) (*tls.Certificate, error)
	// ECDSACertFile and ECDSAKeyFile name a second, ECDSA certificate
	// served beside an RSA CertFile to the clients that support it
	// (tlskeys.go); ECDSACompanion (CompanionOff, CompanionAuto,
	// CompanionOn) has one generated instead. SessionTickets is
	// TicketsPersist (default), TicketsMemory or TicketsOff.
	ECDSACertFile, ECDSAKeyFile string
	ECDSACompanion              string
	SessionTickets              string

	// Cluster reaches the other nodes sharing the store (package
	// cluster); nil: this node runs alone.
	Cluster Cluster
}

func (c *Config) defaults() {
	if c.MaxStanza <= 0 {
		c.MaxStanza = 256 << 10
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 10 * time.Minute
	}
	if c.NegotiationTimeout <= 0 {
		c.NegotiationTimeout = 60 * time.Second
	}
	if c.AuthFailures <= 0 {
		c.AuthFailures = 20
	}
	if c.AuthFailWindow <= 0 {
		c.AuthFailWindow = time.Minute
	}
	if c.OfflineLimit <= 0 {
		c.OfflineLimit = 500
	}
	if c.SMResumeTimeout <= 0 {
		c.SMResumeTimeout = 300 * time.Second
	}
	if c.SMAckTimeout <= 0 {
		c.SMAckTimeout = 60 * time.Second
	}
	if c.Logger == nil {
		c.Logger = zap.NewNop()
	}
	if c.S2SConnectTimeout <= 0 {
		c.S2SConnectTimeout = defaultS2SConnect
	}
	if c.S2SIdleTimeout <= 0 {
		c.S2SIdleTimeout = defaultS2SIdle
	}
	if c.S2SMaxPerIP <= 0 {
		c.S2SMaxPerIP = 20
	}
	if c.S2SMaxPerDomain <= 0 {
		c.S2SMaxPerDomain = 10
	}
}

// Server is the embedded XMPP server.
type Server struct {
	cfg     Config
	st      *store.Store
	log     *zap.Logger
	c2sLog  *zap.Logger
	tls     *tls.Config
	started time.Time
	limiter *limiter
	domains *modcfg.Cache
	ext     *extauth.Authenticator
	// ctx is cancelled by Shutdown: it ends external checks in flight.
	ctx    context.Context
	cancel context.CancelFunc

	mu        sync.RWMutex
	accounts  map[string]*account // by bare JID
	conns     map[*conn]struct{}
	listeners []net.Listener
	addrs     [2]net.Addr
	closing   bool
	// carbons counts the sessions that enabled carbons (guarded by mu for
	// writes): while it is zero, routing a message costs one atomic load
	// for them.
	carbons atomic.Int64
	// adhoc holds the XEP-0050 executions waiting for their next stage.
	adhoc adhocSessions
	// smIDs are the resumable sessions by XEP-0198 resumption id.
	smIDs map[string]*conn
	// hibernated counts the hibernated sessions: while it is zero, a
	// message pays one atomic load for push notifications.
	hibernated atomic.Int64
	// privacy counts the XEP-0016 lists in force (sessions' active lists,
	// online users' default lists; privacy.go): while it is zero, a
	// delivery pays one atomic load for them.
	privacy atomic.Int64
	// mam is the message archive (archive.go).
	mam *archiver
	pep pepState
	// muc is the XEP-0045 service's rooms (muc.go).
	muc *mucService
	// fed is federation (s2s.go); nil when S2SAddr is empty. Set once in
	// Start, before any stream exists.
	fed      *federation
	s2sAddrs [2]net.Addr // STARTTLS, direct TLS
	// stats are the monitoring counters (stats.go); accepting counts the
	// accept loops still running, for readiness.
	stats     Counters
	accepting atomic.Int32

	// cert is the certificate tls serves (unless Config.TLSConfig is
	// set); ReloadCertificate replaces it.
	cert atomic.Pointer[tls.Certificate]
	// companion is the ECDSA certificate served beside an RSA cert to
	// the clients that support it, or nil (tlskeys.go).
	companion atomic.Pointer[tls.Certificate]

	wg sync.WaitGroup
}

// New prepares a server; nothing listens before Start.
func New(cfg Config, st *store.Store) (*Server, error) {
	if st == nil {
		return nil, errors.New("xmppcore: nil store")
	}
	cfg.defaults()
	s := &Server{
		cfg:      cfg,
		st:       st,
		log:      cfg.Logger.Named("xmpp"),
		c2sLog:   cfg.Logger.Named("xmpp.c2s"),
		started:  time.Now(),
		limiter:  newLimiter(cfg.AuthFailures, cfg.AuthFailWindow),
		domains:  modcfg.NewCache(st, 5*time.Second),
		ext:      &extauth.Authenticator{Timeout: cfg.ExtAuthTimeout},
		accounts: map[string]*account{},
		conns:    map[*conn]struct{}{},
		smIDs:    map[string]*conn{},
		muc:      newMucService(),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	var err error
	if s.mam, err = newArchiver(s); err != nil {
		return nil, fmt.Errorf("xmppcore: archive: %w", err)
	}
	if err := s.mucStart(); err != nil {
		return nil, fmt.Errorf("xmppcore: muc: %w", err)
	}
	return s, nil
}

// Start loads the certificate and opens the listeners; serving continues in
// goroutines until Shutdown.
func (s *Server) Start(ctx context.Context) error {
	if s.cfg.TLSConfig != nil {
		s.tls = s.cfg.TLSConfig.Clone()
	} else {
		pair, err := loadCertificate(ctx, s.cfg, s.st, s.log.Named("tls"))
		if err != nil {
			return err
		}
		s.cert.Store(pair)
		if err := s.loadCompanion(s.cfg, pair); err != nil {
			return err
		}
		// Through GetCertificate, so that ReloadCertificate reaches new
		// handshakes without a restart.
		s.tls = &tls.Config{MinVersion: tls.VersionTLS12,
			GetCertificate: func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) { return s.pickCert(hello), nil }}
	}
	if pick := s.cfg.GetCertificate; pick != nil {
		// A name pick leaves alone (nil, nil) gets the listener's own
		// certificate, whichever way that is served.
		own := s.tls.GetCertificate
		s.tls.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
			c, err := pick(hello)
			if c != nil || err != nil || own == nil {
				return c, err
			}
			return own(hello)
		}
	}
	if err := s.sessionTickets(); err != nil {
		return err
	}
	for i, addr := range []string{s.cfg.C2SAddr, s.cfg.C2STLSAddr} {
		if addr == "" {
			continue
		}
		var lc net.ListenConfig
		l, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			s.closeListeners()
			return fmt.Errorf("xmppcore: listen %s: %w", addr, err)
		}
		s.mu.Lock()
		s.listeners = append(s.listeners, l)
		s.addrs[i] = l.Addr()
		s.mu.Unlock()
		s.c2sLog.Info("listening", zap.String("addr", l.Addr().String()), zap.Bool("direct_tls", i == 1))
		s.wg.Add(1)
		s.accepting.Add(1)
		go s.accept(l, i == 1)
	}
	if err := s.startFederation(ctx); err != nil {
		s.closeListeners()
		return err
	}
	return nil
}

// Addrs returns the bound addresses (nil for a disabled listener).
func (s *Server) Addrs() (c2s, c2stls net.Addr) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.addrs[0], s.addrs[1]
}

func (s *Server) closeListeners() {
	s.mu.Lock()
	ls := s.listeners
	s.listeners = nil
	s.mu.Unlock()
	for _, l := range ls {
		l.Close()
	}
}

func (s *Server) accept(l net.Listener, direct bool) {
	defer s.wg.Done()
	defer s.accepting.Add(-1)
	var delay time.Duration
	for {
		nc, err := l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return
		}
		delay = 0
		nc = wrapIdle(nc) // an idle session may then wait without a goroutine
		c := newConn(s, nc, direct)
		s.mu.Lock()
		if s.closing {
			s.mu.Unlock()
			nc.Close()
			continue
		}
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go c.serve()
	}
}

// Shutdown stops accepting, closes every stream with <system-shutdown/> and
// waits for the connection goroutines (or ctx).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	s.cancel()
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	s.closeListeners()
	for _, c := range conns {
		c.fail(condSystemShutdown, "server shutting down")
	}
	if s.fed != nil {
		s.fed.shutdown()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); s.mam.close(); s.muc.arch.Close(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// DomainSettingsChanged drops the cached settings of fqdn so a changed
// moduleConfig or enabled flag takes effect at once.
func (s *Server) DomainSettingsChanged(fqdn string) {
	s.domains.Invalidate(fqdn)
	s.mucDomainChanged(fqdn)
	s.federationChanged(fqdn)
	s.webDomainChanged(fqdn)
}

// limiter counts failed authentications per IP address.
type limiter struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	m      map[string]*ipFails
}

type ipFails struct {
	n     int
	reset time.Time
}

func newLimiter(limit int, window time.Duration) *limiter {
	return &limiter{limit: limit, window: window, m: map[string]*ipFails{}}
}

func (l *limiter) blocked(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	f := l.m[ip]
	if f == nil {
		return false
	}
	if time.Now().After(f.reset) {
		delete(l.m, ip)
		return false
	}
	return f.n >= l.limit
}

func (l *limiter) fail(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if len(l.m) > 100000 { // bound memory under a spray of addresses
		for k, f := range l.m {
			if now.After(f.reset) {
				delete(l.m, k)
			}
		}
	}
	f := l.m[ip]
	if f == nil || now.After(f.reset) {
		f = &ipFails{reset: now.Add(l.window)}
		l.m[ip] = f
	}
	f.n++
}
