package xmppcore

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/s2s"
)

// Federation defaults (Config's S2S fields).
const (
	DefaultS2SAddr = ":5269"
	// defaultS2SConnect bounds resolving, connecting and authenticating an
	// outgoing stream; stanzas queued meanwhile bounce with
	// remote-server-timeout after it.
	defaultS2SConnect = 30 * time.Second
	// defaultS2SIdle closes an outgoing stream unused for so long.
	defaultS2SIdle = 10 * time.Minute
	// s2sQueueMax bounds the stanzas queued per domain pair while its
	// stream is being set up; more bounce at once.
	s2sQueueMax = 1000
)

// federation is the s2s side of the server: the listener's streams, the
// pool of outgoing streams per (local, remote) domain pair, and the dialback
// secret.
type federation struct {
	s      *Server
	log    *zap.Logger
	secret []byte
	dialer *s2s.Dialer
	// roots verify peers' certificates for SASL EXTERNAL.
	roots     *x509.CertPool
	serverTLS *tls.Config
	// certs are the per-domain certificates by domain (nil: none).
	certMu sync.Mutex
	certs  map[string]*tls.Certificate

	mu   sync.Mutex
	outs map[s2s.Pair]*outPair
	ins  map[*s2s.In]struct{}
	// perIP counts incoming streams by peer address.
	perIP map[string]int

	inCount, outCount atomic.Int64

	// contacts are the remote resources interested in local users' PEP
	// nodes, by full JID (s2s_pep.go).
	contactMu sync.Mutex
	contacts  map[string]*remoteContact
}

// outPair is the outgoing stream of one domain pair, or its setting up.
type outPair struct {
	pair     s2s.Pair
	out      *s2s.Out         // nil while connecting
	queue    []*xmlel.Element // waiting for the stream
	lastUsed time.Time
}

// s2sSecret reads the dialback secret from DataDir/s2s_secret, creating it
// (32 random bytes, hex) on first start, so keys stay valid across restarts
// and every node sharing the data dir agrees on them.
func s2sSecret(dir string) ([]byte, error) {
	if dir == "" {
		b := make([]byte, 32)
		rand.Read(b)
		return b, nil
	}
	p := filepath.Join(dir, "s2s_secret")
	if b, err := os.ReadFile(p); err == nil && len(strings.TrimSpace(string(b))) >= 32 {
		return []byte(strings.TrimSpace(string(b))), nil
	}
	b := make([]byte, 32)
	rand.Read(b)
	sec := hex.EncodeToString(b)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p, []byte(sec+"\n"), 0o600); err != nil {
		return nil, err
	}
	return []byte(sec), nil
}

func (s *Server) startFederation(ctx context.Context) error {
	if s.cfg.S2SAddr == "" && s.cfg.S2STLSAddr == "" {
		return nil
	}
	secret, err := s2sSecret(s.cfg.DataDir)
	if err != nil {
		return fmt.Errorf("xmppcore: s2s secret: %w", err)
	}
	f := &federation{s: s, log: s.cfg.Logger.Named("xmpp.s2s"), secret: secret,
		outs: map[s2s.Pair]*outPair{}, ins: map[*s2s.In]struct{}{}, perIP: map[string]int{}, roots: s.cfg.S2SRoots,
		certs: map[string]*tls.Certificate{}, contacts: map[string]*remoteContact{}}
	if f.roots == nil {
		if f.roots, err = x509.SystemCertPool(); err != nil {
			f.roots = x509.NewCertPool()
		}
	}
	f.serverTLS = s.tls.Clone()
	f.serverTLS.ClientAuth = tls.RequestClientCert
	own := f.serverTLS.GetCertificate // the listener's (ACME, live reload)
	f.serverTLS.GetCertificate = func(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
		if c := f.certFor(hello.ServerName); c != nil {
			return c, nil
		}
		if own != nil {
			return own(hello)
		}
		return nil, nil // Certificates
	}
	f.dialer = &s2s.Dialer{TLS: f.clientTLS, Secret: secret, Options: f.opts(), External: f.PeerVerified, Bidi: true}
	// Set before any stream exists: routing reads it without the lock.
	s.mu.Lock()
	s.fed = f
	s.mu.Unlock()
	for i, addr := range []string{s.cfg.S2SAddr, s.cfg.S2STLSAddr} {
		if addr == "" {
			continue
		}
		var lc net.ListenConfig
		l, err := lc.Listen(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("xmppcore: listen %s: %w", addr, err)
		}
		s.mu.Lock()
		s.listeners = append(s.listeners, l)
		s.s2sAddrs[i] = l.Addr()
		s.mu.Unlock()
		f.log.Info("listening", zap.String("addr", l.Addr().String()), zap.Bool("direct_tls", i == 1))
		s.wg.Add(1)
		s.accepting.Add(1) // ListenersUp counts every listener, s2s too
		go f.accept(l, i == 1)
	}
	s.wg.Add(1)
	go f.reap()
	return nil
}

// S2SAddr is the bound s2s listener address (nil when federation is off).
func (s *Server) S2SAddr() net.Addr {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.s2sAddrs[0]
}

// S2STLSAddr is the bound direct TLS s2s listener address (nil when off).
func (s *Server) S2STLSAddr() net.Addr {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.s2sAddrs[1]
}

func (f *federation) opts() s2s.Options {
	return s2s.Options{MaxStanza: f.s.cfg.MaxStanza, Negotiation: f.s.cfg.S2SNegotiationTimeout,
		StanzaRate: f.s.cfg.S2SStanzaRate, StanzaBurst: f.s.cfg.S2SStanzaBurst, FloodGrace: f.s.cfg.S2SFloodGrace}
}

func (f *federation) clientTLS(local, remote string) *tls.Config {
	// Dialback, not the certificate, authenticates the peer here: a
	// certificate that does not verify (self-signed, private CA) is
	// accepted and the domain is proven by dialing back.
	return &tls.Config{ServerName: remote, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			// The certificate local would be served with on our listener.
			if c, err := f.serverTLS.GetCertificate(&tls.ClientHelloInfo{ServerName: local}); c != nil && err == nil {
				return c, nil
			}
			if len(f.s.tls.Certificates) > 0 {
				return &f.s.tls.Certificates[0], nil
			}
			return &tls.Certificate{}, nil // none: the peer may still accept dialback
		}}
}

// certFor returns the certificate of one hosted domain from
// DataDir/tls/domains/<domain>.crt and .key, read at first use, or nil
// when there is none (the server's default certificate serves it then).
func (f *federation) certFor(domain string) *tls.Certificate {
	if domain == "" || f.s.cfg.DataDir == "" || strings.ContainsAny(domain, "/\\") || strings.HasPrefix(domain, ".") {
		return nil
	}
	if _, ok := f.s.hosted(domain); !ok {
		if _, _, ok := f.s.serviceAt(domain); !ok {
			return nil
		}
	}
	f.certMu.Lock()
	defer f.certMu.Unlock()
	if c, ok := f.certs[domain]; ok {
		return c
	}
	dir := filepath.Join(f.s.cfg.DataDir, "tls", "domains")
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, domain+".crt"), filepath.Join(dir, domain+".key"))
	var c *tls.Certificate
	if err == nil {
		c = &pair
	} else if !errors.Is(err, os.ErrNotExist) {
		f.log.Warn("domain certificate", zap.String("domain", domain), zap.Error(err))
	}
	f.certs[domain] = c
	return c
}

func (f *federation) accept(l net.Listener, direct bool) {
	defer f.s.wg.Done()
	defer f.s.accepting.Add(-1)
	for {
		nc, err := l.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return
		}
		ip := ""
		if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
			ip = a.IP.String()
		}
		opts := f.opts()
		opts.DirectTLS, opts.OfferBidi = direct, true
		in := s2s.NewIn(nc, f, opts)
		f.s.mu.RLock()
		closing := f.s.closing
		f.s.mu.RUnlock()
		f.mu.Lock()
		if closing || f.perIP[ip] >= f.s.cfg.S2SMaxPerIP {
			f.mu.Unlock()
			if !closing {
				in.Close(s2s.CondPolicyViolation, "too many streams from your address")
			} else {
				nc.Close()
			}
			continue
		}
		f.perIP[ip]++
		f.ins[in] = struct{}{}
		f.mu.Unlock()
		f.inCount.Add(1)
		f.s.wg.Add(1)
		go func() {
			defer f.s.wg.Done()
			err := in.Serve(f.s.ctx)
			if err != nil {
				f.log.Debug("incoming stream ended", zap.String("ip", ip), zap.Error(err))
			}
			f.mu.Lock()
			delete(f.ins, in)
			if f.perIP[ip]--; f.perIP[ip] <= 0 {
				delete(f.perIP, ip)
			}
			f.mu.Unlock()
			f.inCount.Add(-1)
		}()
	}
}

// reap closes outgoing streams idle for longer than S2SIdleTimeout.
func (f *federation) reap() {
	defer f.s.wg.Done()
	idle := f.s.cfg.S2SIdleTimeout
	t := time.NewTicker(max(idle/4, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-f.s.ctx.Done():
			return
		case <-t.C:
		}
		var old []*s2s.Out
		f.mu.Lock()
		for p, op := range f.outs {
			if op.out != nil && time.Since(op.lastUsed) > idle {
				old = append(old, op.out)
				delete(f.outs, p)
			}
		}
		f.mu.Unlock()
		for _, o := range old {
			o.Close("", "")
		}
	}
}

// shutdown closes every s2s stream.
func (f *federation) shutdown() { f.stop(nil, s2s.CondSystemShutdown, "") }

// ---- s2s.Host ----

// Allow is the federation policy of a hosted domain towards a remote one.
func (f *federation) Allow(local, remote string) error {
	d, ok := f.s.hosted(local)
	if !ok {
		if _, sd, ok := f.s.serviceAt(local); ok {
			d = sd
		} else {
			return &s2s.Error{Cond: s2s.CondHostUnknown, Text: "no such host"}
		}
	}
	if remote == "" {
		if !d.Federation && !d.OrgFederation {
			return &s2s.Error{Cond: s2s.CondPolicyViolation, Text: "federation is disabled for " + local}
		}
		return nil
	}
	if f.blocked(remote) {
		return &s2s.Error{Cond: s2s.CondPolicyViolation, Text: "your domain is blocked here"}
	}
	if _, ok := f.s.hosted(remote); ok {
		return &s2s.Error{Cond: s2s.CondPolicyViolation, Text: remote + " is hosted here"}
	}
	switch {
	case d.Federation:
		return nil
	case d.OrgFederation && f.sameAccount(d.FQDN, remote):
		return nil
	}
	return &s2s.Error{Cond: s2s.CondPolicyViolation, Text: "federation is disabled for " + local}
}

// sameAccount: remote (or the domain it is a subdomain of) belongs in the
// store to the account owning local, i.e. it is a domain of the same
// organization served by another server.
func (f *federation) sameAccount(local, remote string) bool {
	ctx := context.Background()
	ld, err := f.s.st.DomainByFQDN(ctx, local)
	if err != nil {
		return false
	}
	for d := remote; d != ""; {
		if rd, err := f.s.st.DomainByFQDN(ctx, d); err == nil {
			return rd.AccountID == ld.AccountID
		}
		_, rest, ok := strings.Cut(d, ".")
		if !ok || !strings.Contains(rest, ".") {
			break
		}
		d = rest
	}
	return false
}

// blocked: remote or a domain it is a subdomain of is on S2SBlocklist.
func (f *federation) blocked(remote string) bool {
	for _, b := range f.s.cfg.S2SBlocklist {
		if remote == b || strings.HasSuffix(remote, "."+b) {
			return true
		}
	}
	return false
}

// Admit caps the incoming streams authenticated for one remote domain
// (S2SMaxPerDomain): a well-behaved server needs one per domain pair.
func (f *federation) Admit(remote string) error {
	n := 0
	f.mu.Lock()
	for in := range f.ins {
		if slices.ContainsFunc(in.Pairs(), func(p s2s.Pair) bool { return p.Remote == remote }) {
			n++
		}
	}
	f.mu.Unlock()
	if n >= f.s.cfg.S2SMaxPerDomain {
		return &s2s.Error{Cond: s2s.CondPolicyViolation, Text: "too many streams from your domain"}
	}
	return nil
}

func (f *federation) Secret() []byte { return f.secret }

// ServerTLS is the c2s configuration asking for (not requiring) a client
// certificate, checked after the handshake for SASL EXTERNAL.
func (f *federation) ServerTLS() *tls.Config { return f.serverTLS }

// PeerVerified: the peer's certificate chains to S2SRoots (the system's
// roots by default) and is valid for domain.
func (f *federation) PeerVerified(domain string, cs *tls.ConnectionState) bool {
	if cs == nil || len(cs.PeerCertificates) == 0 {
		return false
	}
	inter := x509.NewCertPool()
	for _, c := range cs.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: f.roots, Intermediates: inter, DNSName: domain,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	return err == nil
}

func (f *federation) Verify(ctx context.Context, local, remote, id, key string) (bool, error) {
	targets := s2s.Targets(ctx, f.resolver(), f.s.cfg.S2SRoutes, remote)
	return f.dialer.Verify(ctx, local, remote, id, key, targets)
}

func (f *federation) resolver() s2s.Resolver {
	if f.s.cfg.S2SResolver != nil {
		return f.s.cfg.S2SResolver
	}
	return net.DefaultResolver
}

// Deliver takes a stanza from an authenticated incoming stream into the
// router, in jabber:client like every stanza inside.
func (f *federation) Deliver(st *xmlel.Element) {
	renameNS(st, s2s.NSServer, nsClient)
	from, err1 := jid.Parse(st.Get("from"))
	to, err2 := jid.Parse(st.Get("to"))
	if err1 != nil || err2 != nil {
		if st.Get("type") != "error" && err1 == nil {
			f.send(iqError(st, "", "", errJIDMalformed), to, from)
		}
		return
	}
	st.Set("from", from.String())
	st.Set("to", to.String())
	defer func() {
		if p := recover(); p != nil {
			f.log.Error("panic routing a remote stanza", zap.Any("panic", p), zap.Stack("stack"))
		}
	}()
	f.s.fromRemote(st, from, to)
}

// renameNS moves el and its descendants from namespace from to namespace
// to (jabber:server inside a server stream, jabber:client inside).
func renameNS(el *xmlel.Element, from, to string) {
	if el.Name.Space == from {
		el.Name.Space = to
	}
	for _, c := range el.Children {
		if k, ok := c.(*xmlel.Element); ok {
			renameNS(k, from, to)
		}
	}
}

// ---- outgoing ----

// remote reports whether domain is served elsewhere (not hosted here, not
// one of our services) and federation is running.
func (s *Server) remote(domain string) bool {
	if s.fed == nil || domain == "" {
		return false
	}
	if _, ok := s.hosted(domain); ok {
		return false
	}
	if _, _, ok := s.serviceAt(domain); ok {
		return false
	}
	return true
}

// routeRemote sends a stanza to a JID served elsewhere; false when to is
// not remote (the caller then treats it as before federation existed).
func (s *Server) routeRemote(st *xmlel.Element, from, to jid.JID) bool {
	if !s.remote(to.Domainpart()) {
		return false
	}
	s.fed.send(st, from, to)
	return true
}

// send routes a stanza from one of our JIDs to a remote one: on the pair's
// stream, queued while it is set up, or bounced.
func (f *federation) send(st *xmlel.Element, from, to jid.JID) {
	local, remote := from.Domainpart(), to.Domainpart()
	if err := f.Allow(local, remote); err != nil {
		f.s.bounce(st, errFederationOff)
		return
	}
	p := s2s.Pair{Local: local, Remote: remote}
	f.mu.Lock()
	op := f.outs[p]
	if op != nil && op.out != nil {
		op.lastUsed = time.Now()
		o := op.out
		f.mu.Unlock()
		if o.Send(wireS2S(st)) == nil {
			return
		}
		f.mu.Lock()
		if f.outs[p] == op {
			delete(f.outs, p)
		}
		op = nil
	}
	if op == nil {
		if in := f.bidiIn(p); in != nil {
			f.mu.Unlock()
			if in.Send(wireS2S(st)) == nil {
				return
			}
			f.mu.Lock()
			op = f.outs[p] // set meanwhile by another sender, or still nil
		}
	}
	if op == nil {
		op = &outPair{pair: p, lastUsed: time.Now()}
		f.outs[p] = op
		f.s.wg.Add(1)
		go f.connect(op)
	}
	if len(op.queue) >= s2sQueueMax {
		f.mu.Unlock()
		f.s.bounce(st, errRemoteTimeout)
		return
	}
	op.queue = append(op.queue, st.Copy())
	f.mu.Unlock()
}

// bidiIn is an incoming XEP-0288 stream on which p's stanzas may go
// (p.Remote authenticated on it towards p.Local), nil if none; f.mu is
// held. A peer that asked for one opens no stream of its own for our
// answers, so using its stream spares us one too.
func (f *federation) bidiIn(p s2s.Pair) *s2s.In {
	for in := range f.ins {
		if in.CanSend(p.Local, p.Remote) {
			return in
		}
	}
	return nil
}

// wireS2S serialises a stanza for a server stream.
func wireS2S(st *xmlel.Element) []byte {
	c := st.Copy()
	renameNS(c, nsClient, s2s.NSServer)
	return c.Bytes(s2s.NSServer)
}

// connect sets up the outgoing stream of op, then sends its queue; on
// failure the queue bounces.
func (f *federation) connect(op *outPair) {
	defer f.s.wg.Done()
	ctx, cancel := context.WithTimeout(f.s.ctx, f.s.cfg.S2SConnectTimeout)
	defer cancel()
	targets := s2s.Targets(ctx, f.resolver(), f.s.cfg.S2SRoutes, op.pair.Remote)
	out, err := f.dialer.Dial(ctx, op.pair.Local, op.pair.Remote, targets)
	f.mu.Lock()
	q := op.queue
	op.queue = nil
	if err != nil {
		if f.outs[op.pair] == op {
			delete(f.outs, op.pair)
		}
		f.mu.Unlock()
		f.log.Info("outgoing stream failed", zap.String("local", op.pair.Local), zap.String("remote", op.pair.Remote), zap.Error(err))
		cond := errRemoteNotFound
		if errors.Is(err, context.DeadlineExceeded) {
			cond = errRemoteTimeout
		}
		for _, st := range q {
			f.s.bounce(st, cond)
		}
		return
	}
	op.out = out
	op.lastUsed = time.Now()
	f.mu.Unlock()
	f.outCount.Add(1)
	f.log.Info("outgoing stream up", zap.String("local", op.pair.Local), zap.String("remote", op.pair.Remote),
		zap.String("addr", out.Addr.String()), zap.Bool("sasl_external", out.External))
	for _, st := range q {
		out.Send(wireS2S(st))
	}
	// Stanzas queued while the queue was being sent.
	f.mu.Lock()
	q = op.queue
	op.queue = nil
	f.mu.Unlock()
	for _, st := range q {
		out.Send(wireS2S(st))
	}
	f.s.wg.Add(1)
	go func() {
		defer f.s.wg.Done()
		out.Run(f.Deliver)
		f.outCount.Add(-1)
		f.mu.Lock()
		if f.outs[op.pair] == op {
			delete(f.outs, op.pair)
		}
		f.mu.Unlock()
	}()
}

// ---- admin interface (ejabberd's s2s commands) ----

// S2SCounts returns the numbers of incoming and outgoing s2s streams.
func (s *Server) S2SCounts() (in, out int) {
	if s.fed == nil {
		return 0, 0
	}
	return int(s.fed.inCount.Load()), int(s.fed.outCount.Load())
}

// s2sStreams lists the streams of the local domains ("nil": all; an
// incoming stream counts for the domains it authenticated).
func (f *federation) s2sStreams(domains []string) (ins []*s2s.In, outs []s2s.Pair) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for p, op := range f.outs {
		if op.out != nil && (domains == nil || slices.Contains(domains, p.Local)) {
			outs = append(outs, p)
		}
	}
	for in := range f.ins {
		if domains == nil || slices.ContainsFunc(in.Pairs(), func(p s2s.Pair) bool { return slices.Contains(domains, p.Local) }) {
			ins = append(ins, in)
		}
	}
	return ins, outs
}

// S2SStream describes one s2s stream.
type S2SStream struct {
	Local, Remote string
	Incoming      bool
	// Auth is "sasl-external" or "dialback".
	Auth string
}

// S2SStreams lists the authenticated s2s streams, one row per domain pair.
func (s *Server) S2SStreams() []S2SStream {
	if s.fed == nil {
		return nil
	}
	ins, pairs := s.fed.s2sStreams(nil)
	var out []S2SStream
	s.fed.mu.Lock()
	for _, p := range pairs {
		if op := s.fed.outs[p]; op != nil && op.out != nil {
			out = append(out, S2SStream{Local: p.Local, Remote: p.Remote, Auth: authName(op.out.External)})
		}
	}
	s.fed.mu.Unlock()
	for _, in := range ins {
		for _, p := range in.Pairs() {
			out = append(out, S2SStream{Local: p.Local, Remote: p.Remote, Incoming: true, Auth: authName(in.External() == p.Remote)})
		}
	}
	slices.SortFunc(out, func(a, b S2SStream) int {
		return strings.Compare(fmt.Sprint(a.Incoming, a.Local, a.Remote), fmt.Sprint(b.Incoming, b.Local, b.Remote))
	})
	return out
}

func authName(external bool) string {
	if external {
		return "sasl-external"
	}
	return "dialback"
}

// S2SCountsFor counts the incoming streams authenticated for one of
// domains and the outgoing ones from one of them (nil: every stream).
func (s *Server) S2SCountsFor(domains []string) (in, out int) {
	if s.fed == nil {
		return 0, 0
	}
	if domains == nil {
		return s.S2SCounts()
	}
	ins, outs := s.fed.s2sStreams(domains)
	return len(ins), len(outs)
}

// StopS2SFor closes the s2s streams S2SCountsFor counts; it returns how many.
func (s *Server) StopS2SFor(domains []string) int {
	if s.fed == nil {
		return 0
	}
	// Closed politely, not with a stream error: what the peer wrote
	// before it saw our closing tag is still delivered, not lost.
	return s.fed.stop(domains, "", "")
}

// stop ends the streams of domains (nil: all) with a stream error (cond
// "": politely).
func (f *federation) stop(domains []string, cond, text string) int {
	ins, pairs := f.s2sStreams(domains)
	var outs []*s2s.Out
	f.mu.Lock()
	for _, p := range pairs {
		if op := f.outs[p]; op != nil && op.out != nil {
			outs = append(outs, op.out)
			delete(f.outs, p)
		}
	}
	f.mu.Unlock()
	for _, o := range outs {
		o.Close(cond, text)
	}
	for _, in := range ins {
		in.Close(cond, text)
	}
	return len(outs) + len(ins)
}

// federationChanged applies a domain's changed federation settings to the
// streams running for it: an incoming stream the domain no longer allows
// ends with policy-violation, outgoing ones close.
func (s *Server) federationChanged(fqdn string) {
	f := s.fed
	if f == nil {
		return
	}
	// The policy is read outside f.mu: it may query the store.
	ins, pairs := f.s2sStreams([]string{fqdn})
	var outs []*s2s.Out
	for _, p := range pairs {
		if f.Allow(p.Local, p.Remote) == nil {
			continue
		}
		f.mu.Lock()
		if op := f.outs[p]; op != nil && op.out != nil {
			outs = append(outs, op.out)
			delete(f.outs, p)
		}
		f.mu.Unlock()
	}
	for _, o := range outs {
		o.Close(s2s.CondPolicyViolation, "federation disabled")
	}
	for _, in := range ins {
		in.Revoke(func(p s2s.Pair) error {
			if p.Local != fqdn {
				return nil
			}
			return f.Allow(p.Local, p.Remote)
		})
	}
}
