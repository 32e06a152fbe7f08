// Package certs obtains and renews the XMPP listeners' certificates from an
// ACME CA (Let's Encrypt by default) with certmagic: one certificate per
// domain of the store, by the HTTP-01 challenge answered on its own
// listener (acme_http_addr, :80 by default), kept under the data directory.
//
// A domain added through any dialect is covered without a restart twice
// over: the next sync (every SyncEvery) starts managing it, and a client
// that connects first makes the handshake obtain it (certmagic's on-demand
// issuance, allowed only for domains of the store).
//
// TLS-ALPN-01 is disabled: the CA would validate it on port 443, which the
// XMPP server does not serve, and each failed validation counts against the
// CA's rate limits.
package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/caddyserver/certmagic"
	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/store"
)

// SyncEvery is how often the domains of the store are compared with the
// managed ones.
const SyncEvery = time.Minute

// Options configure a Manager.
type Options struct {
	// Dir holds the ACME account and the certificates (DATA/acme).
	Dir string
	// CA is the ACME directory URL (default Let's Encrypt's production).
	CA string
	// CARoots, if set, are the roots the CA's HTTPS is verified with (a
	// private CA); nil: the system's.
	CARoots *x509.CertPool
	// Email is the ACME account's contact (optional, recommended).
	Email string
	// HTTPAddr is where the HTTP-01 challenges are answered (default :80).
	HTTPAddr string
	Logger   *zap.Logger
}

// Manager manages the certificates of the store's domains.
type Manager struct {
	st     *store.Store
	log    *zap.Logger
	cfg    *certmagic.Config
	issuer *certmagic.ACMEIssuer
	cache  *certmagic.Cache
	dir    string
	ln     net.Listener
	srv    *http.Server

	mu      sync.Mutex
	managed map[string]bool // domains handed to certmagic
	stop    chan struct{}
	done    chan struct{}
}

// New binds the challenge listener and prepares the manager; Start begins
// serving and syncing.
func New(st *store.Store, o Options) (*Manager, error) {
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	if o.CA == "" {
		o.CA = certmagic.LetsEncryptProductionCA
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = ":80"
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", o.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("certs: acme_http_addr: %w", err)
	}
	host, portText, _ := net.SplitHostPort(ln.Addr().String())
	port, _ := strconv.Atoi(portText)
	m := &Manager{st: st, log: o.Logger, dir: o.Dir, ln: ln, managed: map[string]bool{},
		stop: make(chan struct{}), done: make(chan struct{})}
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert: func(certmagic.Certificate) (*certmagic.Config, error) { return m.cfg, nil },
		Logger:           o.Logger.Named("cache"),
	})
	m.cfg = certmagic.New(m.cache, certmagic.Config{
		Storage:  &certmagic.FileStorage{Path: o.Dir},
		OnDemand: &certmagic.OnDemandConfig{DecisionFunc: m.allowed},
		Logger:   o.Logger,
	})
	if host == "0.0.0.0" || host == "::" {
		host = ""
	}
	m.issuer = certmagic.NewACMEIssuer(m.cfg, certmagic.ACMEIssuer{
		CA: o.CA, Email: o.Email, Agreed: true, TrustedRoots: o.CARoots,
		DisableTLSALPNChallenge: true,
		// certmagic's own challenge server would bind this address; it is
		// ours already, so certmagic leaves the answers to m.srv, which
		// reads them from the same storage.
		ListenHost: host, AltHTTPPort: port,
		Logger: o.Logger.Named("acme"),
	})
	m.cfg.Issuers = []certmagic.Issuer{m.issuer}
	m.srv = &http.Server{Handler: m.issuer.HTTPChallengeHandler(http.NotFoundHandler()),
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute, IdleTimeout: time.Minute,
		ErrorLog: zap.NewStdLog(o.Logger.Named("http"))}
	return m, nil
}

// Addr is the challenge listener's address.
func (m *Manager) Addr() net.Addr { return m.ln.Addr() }

// Start serves the challenges and syncs the managed domains with the
// store now and every SyncEvery, until Stop.
func (m *Manager) Start(ctx context.Context) {
	go func() {
		if err := m.srv.Serve(m.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("acme challenge listener", zap.Error(err))
		}
	}()
	go func() {
		defer close(m.done)
		t := time.NewTicker(SyncEvery)
		defer t.Stop()
		for {
			if err := m.Sync(ctx); err != nil {
				m.log.Warn("acme sync", zap.Error(err))
			}
			select {
			case <-t.C:
			case <-m.stop:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
}

// Stop ends the sync, the challenge listener and certmagic's renewals.
func (m *Manager) Stop() {
	close(m.stop)
	<-m.done
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m.srv.Shutdown(sctx) //nolint:errcheck // nothing left to do with the error
	m.cache.Stop()
}

// Eligible reports whether a domain can have a publicly trusted
// certificate (not localhost, an IP address or an internal name).
func Eligible(domain string) bool { return certmagic.SubjectQualifiesForPublicCert(domain) }

// domains lists the store's domains that can have a certificate.
func (m *Manager) domains(ctx context.Context) ([]string, error) {
	ds, err := m.st.Domains(ctx, nil)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, d := range ds {
		if Eligible(d.FQDN) {
			out = append(out, d.FQDN)
		}
	}
	return out, nil
}

// Sync starts managing (obtaining, then renewing) the store's domains
// not managed yet. A removed domain's certificate is left to expire.
func (m *Manager) Sync(ctx context.Context) error {
	ds, err := m.domains(ctx)
	if err != nil {
		return err
	}
	m.mu.Lock()
	var add []string
	for _, d := range ds {
		if !m.managed[d] {
			m.managed[d] = true
			add = append(add, d)
		}
	}
	m.mu.Unlock()
	if len(add) == 0 {
		return nil
	}
	m.log.Info("acme: managing certificates", zap.Strings("domains", add))
	return m.cfg.ManageAsync(context.WithoutCancel(ctx), add)
}

// allowed is the on-demand decision: only domains of the store.
func (m *Manager) allowed(ctx context.Context, name string) error {
	if !Eligible(name) {
		return fmt.Errorf("certs: %q cannot have a public certificate", name)
	}
	if _, err := m.st.DomainByFQDN(ctx, name); err != nil {
		return fmt.Errorf("certs: %q is not a domain of this server: %w", name, err)
	}
	return nil
}

// GetCertificate answers a TLS handshake for a domain of the store with
// its ACME certificate (obtaining it first if needed), and with nil for
// any other name, so the listener's own certificate is used.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	name := hello.ServerName
	if name == "" || !Eligible(name) {
		return nil, nil
	}
	if err := m.allowed(hello.Context(), name); err != nil {
		return nil, nil
	}
	c, err := m.cfg.GetCertificate(hello)
	if err != nil {
		m.log.Warn("acme: no certificate, serving the listener's own", zap.String("domain", name), zap.Error(err))
		return nil, nil
	}
	return c, nil
}

// Cert describes one stored certificate (ejabberd's list_certificates).
type Cert struct {
	Domain string
	// File is the certificate's PEM file.
	File string
	// Used: the domain is still a domain of the store.
	Used     bool
	NotAfter time.Time
}

// List returns the stored certificates, sorted by domain.
func (m *Manager) List(ctx context.Context) ([]Cert, error) {
	key := m.issuer.IssuerKey()
	entries, err := os.ReadDir(filepath.Join(m.dir, filepath.FromSlash(certmagic.StorageKeys.CertsPrefix(key))))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	live, err := m.domains(ctx)
	if err != nil {
		return nil, err
	}
	var out []Cert
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		d := e.Name()
		file := filepath.Join(m.dir, filepath.FromSlash(certmagic.StorageKeys.SiteCert(key, d)))
		raw, err := os.ReadFile(file)
		if err != nil {
			continue // a domain whose issuance has not finished
		}
		c := Cert{Domain: d, File: file, Used: slices.Contains(live, d)}
		if leaf, err := firstCert(raw); err == nil {
			c.NotAfter = leaf.NotAfter
		}
		out = append(out, c)
	}
	slices.SortFunc(out, func(a, b Cert) int { return strings.Compare(a.Domain, b.Domain) })
	return out, nil
}

// Request obtains the certificates of domains (all the store's when
// domains is empty) that are missing or due for renewal, and waits for
// them.
func (m *Manager) Request(ctx context.Context, domains []string) error {
	if len(domains) == 0 {
		all, err := m.domains(ctx)
		if err != nil {
			return err
		}
		domains = all
	}
	for _, d := range domains {
		if err := m.allowed(ctx, d); err != nil {
			return err
		}
	}
	m.mu.Lock()
	for _, d := range domains {
		m.managed[d] = true
	}
	m.mu.Unlock()
	return m.cfg.ManageSync(ctx, domains)
}

// Revoke revokes the certificate stored in file (a File of List) and
// deletes it; the domain gets a new one at its next handshake or sync.
func (m *Manager) Revoke(ctx context.Context, file string) error {
	certs, err := m.List(ctx)
	if err != nil {
		return err
	}
	for _, c := range certs {
		if c.File != file {
			continue
		}
		if err := m.cfg.RevokeCert(ctx, c.Domain, 0, false); err != nil {
			return err
		}
		// Out of the handshakes' cache too: the next one obtains anew.
		m.cache.RemoveManaged([]certmagic.SubjectIssuer{{Subject: c.Domain, IssuerKey: m.issuer.IssuerKey()}})
		m.mu.Lock()
		delete(m.managed, c.Domain)
		m.mu.Unlock()
		return nil
	}
	return fmt.Errorf("%w: no certificate file %q", ErrUnknownFile, file)
}

// ErrUnknownFile: Revoke was given a file that is no stored certificate.
var ErrUnknownFile = errors.New("certs: unknown certificate")

func firstCert(raw []byte) (*x509.Certificate, error) {
	for {
		var b *pem.Block
		b, raw = pem.Decode(raw)
		if b == nil {
			return nil, errors.New("certs: no certificate in PEM")
		}
		if b.Type == "CERTIFICATE" {
			return x509.ParseCertificate(b.Bytes)
		}
	}
}
