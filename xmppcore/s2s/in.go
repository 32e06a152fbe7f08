package s2s

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/xmppgate/xmppgate/xmlel"
)

// Host is what the embedding server gives the streams.
type Host interface {
	// Allow decides whether the hosted domain local federates with remote
	// now; a refusal is a *Error (host-unknown, policy-violation).
	Allow(local, remote string) error
	// Admit is asked before a stream authenticates remote: it refuses
	// (policy-violation) when remote has too many streams already.
	Admit(remote string) error
	// Secret keys the dialback keys (XEP-0185).
	Secret() []byte
	// ServerTLS is the TLS configuration for incoming streams (SNI picks
	// the certificate).
	ServerTLS() *tls.Config
	// Verify asks remote's authoritative server whether key is the one it
	// generated for the stream id (a db:verify on a stream of its own).
	Verify(ctx context.Context, local, remote, id, key string) (bool, error)
	// Deliver routes a stanza received on an authenticated stream; it is
	// in jabber:server and from's domain is the authenticated remote.
	Deliver(st *xmlel.Element)
	// PeerVerified reports whether the peer's TLS certificate chains to a
	// trusted root and names domain (RFC 6120 13.7.1.4): SASL EXTERNAL
	// (XEP-0178) is then offered and accepted for it.
	PeerVerified(domain string, cs *tls.ConnectionState) bool
}

// Options bound a stream.
type Options struct {
	MaxStanza int
	// Negotiation bounds the time from connect to the first authenticated
	// domain pair (default 60s): a peer that never finishes dialback is cut off.
	Negotiation time.Duration
	// Idle closes a stream that sent nothing for this long (default 30 min).
	Idle time.Duration
	// DirectTLS: the listener speaks TLS from the first byte (XEP-0368).
	DirectTLS bool
	// StanzaRate is the sustained number of stanzas per second an incoming
	// stream may carry, StanzaBurst how many above it at once (defaults
	// 10000/s and 50000). Above it the stream is slowed down (reading
	// pauses, TCP pushes back on the peer); one still over it after
	// FloodGrace (default 30s) of slowing floods and is cut off with
	// policy-violation.
	StanzaRate  float64
	StanzaBurst int
	FloodGrace  time.Duration
	// OfferBidi offers XEP-0288 bidirectional streams on incoming streams:
	// a peer that asks may then receive our stanzas for it on its own
	// stream (In.Send) instead of our opening one.
	OfferBidi bool
}

// bucket is a token bucket counting a stream's stanzas (one reader).
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
	// slowSince is when the stream started needing to be slowed down
	// without a break (zero: it is within its rate).
	slowSince time.Time
}

// take counts one stanza and returns how long to pause before reading on.
func (b *bucket) take(now time.Time) time.Duration {
	if b.last.IsZero() {
		b.tokens = b.burst
	} else {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	b.last = now
	b.tokens--
	if b.tokens >= 0 {
		b.slowSince = time.Time{}
		return 0
	}
	if b.slowSince.IsZero() {
		b.slowSince = now
	}
	return time.Duration(-b.tokens / b.rate * float64(time.Second))
}

func (o Options) negotiation() time.Duration {
	if o.Negotiation <= 0 {
		return 60 * time.Second
	}
	return o.Negotiation
}

func (o Options) idleTime() time.Duration {
	if o.Idle <= 0 {
		return 30 * time.Minute
	}
	return o.Idle
}

// bucket is a stream's stanza budget (defaults 10000/s, burst 50000).
func (o Options) bucket() bucket {
	b := bucket{rate: o.StanzaRate, burst: float64(o.StanzaBurst)}
	if b.rate <= 0 {
		b.rate = 10000
	}
	if b.burst <= 0 {
		b.burst = 50000
	}
	return b
}

// throttle counts one stanza: it pauses the reader while the stream is
// over its rate, and says to cut the stream off once it has been over it
// for longer than FloodGrace.
func (o Options) throttle(b *bucket) error {
	now := time.Now()
	if wait := b.take(now); wait > 0 {
		if now.Sub(b.slowSince) > o.floodGrace() {
			return &Error{CondPolicyViolation, "too many stanzas"}
		}
		time.Sleep(wait) // backpressure: the peer's writes wait on TCP
	}
	return nil
}

func (o Options) floodGrace() time.Duration {
	if o.FloodGrace <= 0 {
		return 30 * time.Second
	}
	return o.FloodGrace
}

// Pair is an authenticated (local, remote) domain pair of a stream.
type Pair struct{ Local, Remote string }

// In is one incoming server stream.
type In struct {
	s    *stream
	host Host
	opts Options
	ID   string
	// Addr is the peer's address.
	Addr      net.Addr
	Connected time.Time

	mu    sync.Mutex
	pairs map[Pair]bool
	local string // the header's to, fixed on restarts
	from  string // the header's from after TLS
	// extOK: the peer's certificate verified for from, so SASL EXTERNAL
	// is offered; external is the domain it authenticated (under mu).
	extOK    bool
	external string
	// pending counts dialback verifications running for this stream.
	pending int
	flood   bucket
	// bidi: the peer asked for XEP-0288 (under mu).
	bidi bool
}

// NewIn prepares an incoming stream on an accepted connection.
func NewIn(nc net.Conn, host Host, opts Options) *In {
	in := &In{s: newStream(nc, opts.MaxStanza), host: host, opts: opts, ID: newID(),
		Addr: nc.RemoteAddr(), Connected: time.Now(), pairs: map[Pair]bool{}}
	in.flood = opts.bucket()
	return in
}

// Pairs lists the authenticated domain pairs.
func (in *In) Pairs() []Pair {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]Pair, 0, len(in.pairs))
	for p := range in.pairs {
		out = append(out, p)
	}
	return out
}

// Authenticated reports whether remote may send to local on this stream.
func (in *In) authenticated(local, remote string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.pairs[Pair{local, remote}]
}

// authenticatedRemote: some pair of the stream has remote as its remote.
func (in *In) authenticatedRemote(remote string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	for p := range in.pairs {
		if p.Remote == remote {
			return true
		}
	}
	return false
}

func asStreamError(err error) *Error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	return &Error{CondPolicyViolation, err.Error()}
}

// Bidi reports whether the peer asked for a bidirectional stream.
func (in *In) Bidi() bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.bidi
}

// CanSend reports whether stanzas from local to remote may go on this
// stream: it is bidirectional (XEP-0288) and the pair (local, remote) is
// authenticated on it, so remote's identity was proven to us (by its
// certificate or by dialing back its authoritative server).
func (in *In) CanSend(local, remote string) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.bidi && in.pairs[Pair{local, remote}]
}

// Send writes a serialised stanza (in jabber:server) to the peer of a
// bidirectional stream; the caller checked CanSend.
func (in *In) Send(b []byte) error { return in.s.write(b) }

// Close ends the stream with a stream error (from any goroutine); cond
// "" closes it politely, handling what the peer still sends until it
// closes its side.
func (in *In) Close(cond, text string) {
	if cond == "" {
		in.s.drain()
		return
	}
	in.s.fail(cond, text)
}

// Revoke ends the stream if it carries a pair for which f says no.
func (in *In) Revoke(f func(Pair) error) {
	for _, p := range in.Pairs() {
		if err := f(p); err != nil {
			var se *Error
			if errors.As(err, &se) {
				in.s.fail(se.Cond, se.Text)
			} else {
				in.s.fail(CondPolicyViolation, err.Error())
			}
			return
		}
	}
}

// Serve runs the stream until it ends; the error says why (nil: closed
// by either side without a problem).
func (in *In) Serve(ctx context.Context) error {
	err := in.serve(ctx)
	in.s.end(err)
	if errors.Is(err, errStreamEnd) {
		return nil
	}
	return err
}

func (in *In) serve(ctx context.Context) error {
	in.s.nc.SetDeadline(time.Now().Add(in.opts.negotiation()))
	if in.opts.DirectTLS {
		if err := in.s.startTLS(tls.Server(in.s.nc, in.host.ServerTLS())); err != nil {
			return err
		}
	}
	for {
		h, err := in.s.readHeader()
		if err != nil {
			return err
		}
		if h.To != "" {
			if in.local != "" && h.To != in.local {
				return &Error{CondHostUnknown, "host changed on stream restart"}
			}
			// remote is "" when the peer did not say who it is: then only
			// whether local is hosted and federating is checked.
			if err := in.host.Allow(h.To, h.From); err != nil {
				return err
			}
			in.local = h.To
		}
		if err := in.s.header(in.local, h.From, in.ID); err != nil {
			return err
		}
		if !in.s.secure {
			in.s.write([]byte("<stream:features><starttls xmlns='" + NSTLS + "'><required/></starttls></stream:features>"))
			el, err := in.s.next()
			if err != nil {
				return err
			}
			if el.Name.Space != NSTLS || el.Name.Local != "starttls" {
				return &Error{CondPolicyViolation, "STARTTLS is required"}
			}
			in.s.write([]byte("<proceed xmlns='" + NSTLS + "'/>"))
			if err := in.s.startTLS(tls.Server(in.s.nc, in.host.ServerTLS())); err != nil {
				return err
			}
			continue
		}
		if in.external != "" {
			// Authenticated by SASL EXTERNAL; this is the restarted stream.
			in.s.write([]byte("<stream:features/>"))
			_, err := in.loop(ctx)
			return err
		}
		feats := "<stream:features>"
		in.extOK = h.From != "" && in.host.PeerVerified(h.From, in.s.state)
		if in.extOK {
			feats += "<mechanisms xmlns='" + NSSASL + "'><mechanism>EXTERNAL</mechanism></mechanisms>"
		}
		in.from = h.From
		if in.opts.OfferBidi {
			feats += "<bidi xmlns='" + NSBidiFeature + "'/>"
		}
		in.s.write([]byte(feats + "<dialback xmlns='" + NSDialbackFeature + "'><errors/></dialback></stream:features>"))
		restart, err := in.loop(ctx)
		if err != nil || !restart {
			return err
		}
		in.s.restart()
	}
}

// loop reads the stream's elements; restart is true after a SASL success,
// when the peer opens a new stream.
func (in *In) loop(ctx context.Context) (restart bool, err error) {
	for {
		el, err := in.s.next()
		if err != nil {
			return false, err
		}
		switch el.Name.Space {
		case NSDialback:
			if err := in.dialback(ctx, el); err != nil {
				return false, err
			}
		case NSServer:
			if err := in.stanza(el); err != nil {
				return false, err
			}
		case NSBidi:
			// Asked for before authenticating (XEP-0288 section 2).
			in.mu.Lock()
			ok := in.opts.OfferBidi && el.Name.Local == "bidi" && len(in.pairs) == 0
			in.bidi = in.bidi || ok
			in.mu.Unlock()
			if !ok {
				return false, &Error{CondPolicyViolation, "unexpected bidi request"}
			}
		case NSSASL:
			if in.external != "" || el.Name.Local != "auth" {
				return false, &Error{CondPolicyViolation, "unexpected SASL element"}
			}
			return in.saslExternal(el)
		default:
			return false, &Error{CondUnsupportedStype, ""}
		}
	}
}

// saslExternal answers <auth mechanism='EXTERNAL'/> (XEP-0178): the
// authorization identity is empty ("=") or the domain the certificate
// was verified for.
func (in *In) saslExternal(el *xmlel.Element) (bool, error) {
	fail := func(cond string) (bool, error) {
		in.s.write([]byte("<failure xmlns='" + NSSASL + "'><" + cond + "/></failure>"))
		return false, &Error{CondNotAuthorized, "SASL EXTERNAL failed"}
	}
	if el.Get("mechanism") != "EXTERNAL" {
		return fail("invalid-mechanism")
	}
	if !in.extOK {
		return fail("not-authorized")
	}
	authz := strings.TrimSpace(el.InnerText())
	if authz != "" && authz != "=" {
		b, err := base64.StdEncoding.DecodeString(authz)
		if err != nil {
			return fail("incorrect-encoding")
		}
		authz = string(b)
	} else {
		authz = ""
	}
	if authz != "" && authz != in.from {
		return fail("invalid-authzid")
	}
	if err := in.host.Allow(in.local, in.from); err != nil {
		return false, err
	}
	if err := in.host.Admit(in.from); err != nil {
		return false, asStreamError(err)
	}
	in.mu.Lock()
	in.pairs[Pair{in.local, in.from}] = true
	in.external = in.from
	in.mu.Unlock()
	in.s.nc.SetDeadline(time.Time{})
	in.s.idle.Store(int64(in.opts.idleTime()))
	if err := in.s.write([]byte("<success xmlns='" + NSSASL + "'/>")); err != nil {
		return false, err
	}
	in.s.wmu.Lock()
	in.s.headerSent = false
	in.s.wmu.Unlock()
	return true, nil
}

// External is the domain authenticated by SASL EXTERNAL ("" if none).
func (in *In) External() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.external
}

func (in *In) dialback(ctx context.Context, el *xmlel.Element) error {
	d, err := ParseDialback(el)
	if err != nil {
		return &Error{CondBadFormat, err.Error()}
	}
	if d.Type != "" {
		return nil // answers are not expected on an incoming stream; ignored
	}
	if in.local != "" && d.To != in.local {
		// RFC 6120 allows more than one domain per stream, but only the one
		// named in the header is ours to vouch for on this stream.
		return in.s.write(Dialback{Verify: d.Verify, From: d.To, To: d.From, ID: d.ID, Type: "invalid"}.Element().Bytes(NSServer))
	}
	if d.Verify {
		// We are the authoritative server: was the key ours?
		typ := "invalid"
		if KeyValid(in.host.Secret(), d.From, d.To, d.ID, d.Key) {
			typ = "valid"
		}
		return in.s.write(Dialback{Verify: true, From: d.To, To: d.From, ID: d.ID, Type: typ}.Element().Bytes(NSServer))
	}
	if err := in.host.Allow(d.To, d.From); err != nil {
		return asStreamError(err)
	}
	if !in.authenticatedRemote(d.From) {
		if err := in.host.Admit(d.From); err != nil {
			return asStreamError(err)
		}
	}
	in.mu.Lock()
	if in.pending >= 8 {
		in.mu.Unlock()
		return &Error{CondPolicyViolation, "too many dialback requests at once"}
	}
	in.pending++
	in.mu.Unlock()
	go func() {
		vctx, cancel := context.WithTimeout(ctx, in.opts.negotiation())
		defer cancel()
		ok, err := in.host.Verify(vctx, d.To, d.From, in.ID, d.Key)
		ans := Dialback{From: d.To, To: d.From}
		switch {
		case err != nil:
			ans.Type = "error"
		case ok:
			ans.Type = "valid"
			in.mu.Lock()
			in.pairs[Pair{d.To, d.From}] = true
			first := len(in.pairs) == 1
			in.mu.Unlock()
			if first {
				// Authenticated: from now on only idleness ends the stream.
				in.s.nc.SetDeadline(time.Time{})
				in.s.idle.Store(int64(in.opts.idleTime()))
			}
		default:
			ans.Type = "invalid"
		}
		in.mu.Lock()
		in.pending--
		in.mu.Unlock()
		el := ans.Element()
		if err != nil {
			el.Add(xmlel.New(NSServer, "error", "type", "cancel").Add(xmlel.New(NSStanzas, "remote-server-not-found")))
		}
		in.s.write(el.Bytes(NSServer))
		if !ok {
			// XEP-0220 2.4: after an invalid result the stream is closed.
			in.s.fail(CondNotAuthorized, "dialback failed")
		}
	}()
	return nil
}

func (in *In) stanza(el *xmlel.Element) error {
	switch el.Name.Local {
	case "message", "presence", "iq":
	default:
		return &Error{CondUnsupportedStype, ""}
	}
	from, to := el.Get("from"), el.Get("to")
	fd, td := domainOf(from), domainOf(to)
	if fd == "" || td == "" {
		return &Error{CondImproperAddress, "stanza without from or to"}
	}
	if !in.authenticated(td, fd) {
		return &Error{CondNotAuthorized, "domain pair not authenticated on this stream"}
	}
	if err := in.opts.throttle(&in.flood); err != nil {
		return err
	}
	in.host.Deliver(el)
	return nil
}

// domainOf returns the domain part of a JID string ("" when malformed).
func domainOf(s string) string {
	if s == "" {
		return ""
	}
	s, _, _ = strings.Cut(s, "/")
	if _, d, ok := strings.Cut(s, "@"); ok {
		return d
	}
	return s
}
