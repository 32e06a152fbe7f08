package s2s

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/xmppgate/xmppgate/xmlel"
)

// Dialer opens outgoing streams.
type Dialer struct {
	// TLS returns the client TLS configuration for a stream from local to
	// remote (ServerName, our certificate for local).
	TLS     func(local, remote string) *tls.Config
	Secret  []byte
	Options Options
	// External, if set, says whether to try SASL EXTERNAL (XEP-0178) with
	// remote, whose server certificate cs shows: when it verifies, remote
	// likely trusts our certificate too. Dialback follows a failure.
	External func(remote string, cs *tls.ConnectionState) bool
	// Bidi asks for XEP-0288 bidirectional streams where the peer offers
	// them: the peer then sends its stanzas for us on our stream (Run
	// hands them to the deliver function) instead of opening its own.
	Bidi bool
	// Dial opens a TCP connection (default net.Dialer).
	DialConn func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (d *Dialer) dial(ctx context.Context, targets []Target) (net.Conn, bool, error) {
	dial := d.DialConn
	if dial == nil {
		var nd net.Dialer
		dial = nd.DialContext
	}
	var errs []error
	for _, t := range targets {
		nc, err := dial(ctx, "tcp", t.Addr)
		if err == nil {
			return nc, t.DirectTLS, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	if len(errs) == 0 {
		return nil, false, errors.New("s2s: no address to connect to")
	}
	return nil, false, errors.Join(errs...)
}

// Out is an authenticated outgoing stream for one (local, remote) pair.
type Out struct {
	s             *stream
	Local, Remote string
	ID            string // the stream id the receiving server gave
	Addr          net.Addr
	Connected     time.Time
	// External: authenticated by SASL EXTERNAL rather than dialback.
	External bool
	// Bidi: XEP-0288 was negotiated; the peer may send on this stream,
	// within the same stanza budget as an incoming stream.
	Bidi  bool
	opts  Options
	flood bucket
	done  chan struct{}
	err   error
}

// open connects, secures the stream with TLS and reads the features of
// the restarted stream.
func (d *Dialer) open(ctx context.Context, local, remote string, targets []Target) (*stream, Header, *xmlel.Element, error) {
	nc, direct, err := d.dial(ctx, targets)
	if err != nil {
		return nil, Header{}, nil, err
	}
	s := newStream(nc, d.Options.MaxStanza)
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	defer stop()
	fail := func(err error) (*stream, Header, *xmlel.Element, error) {
		s.end(err)
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, Header{}, nil, err
	}
	if direct {
		if err := s.startTLS(tls.Client(nc, d.TLS(local, remote))); err != nil {
			return fail(err)
		}
	}
	for {
		if err := s.header(local, remote, ""); err != nil {
			return fail(err)
		}
		h, err := s.readHeader()
		if err != nil {
			return fail(err)
		}
		if h.ID == "" {
			return fail(&Error{CondBadFormat, "stream without id"})
		}
		feats, err := s.next()
		if err != nil {
			return fail(err)
		}
		if feats.Name.Space != NSStream || feats.Name.Local != "features" {
			return fail(&Error{CondBadFormat, "expected stream features"})
		}
		if s.secure {
			return s, h, feats, nil
		}
		if feats.Child(NSTLS, "starttls") == nil {
			return fail(&Error{CondPolicyViolation, "STARTTLS is required"})
		}
		s.write([]byte("<starttls xmlns='" + NSTLS + "'/>"))
		el, err := s.next()
		if err != nil {
			return fail(err)
		}
		if el.Name.Space != NSTLS || el.Name.Local != "proceed" {
			return fail(fmt.Errorf("s2s: STARTTLS refused by %s", remote))
		}
		if err := s.startTLS(tls.Client(s.nc, d.TLS(local, remote))); err != nil {
			return fail(err)
		}
	}
}

// Dial opens an authenticated stream from local to remote: TLS, then SASL
// EXTERNAL when offered and External agrees, else dialback (the remote
// checks our key with us).
func (d *Dialer) Dial(ctx context.Context, local, remote string, targets []Target) (*Out, error) {
	s, h, feats, err := d.open(ctx, local, remote, targets)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { s.nc.Close() })
	defer stop()
	fail := func(err error) (*Out, error) {
		s.end(err)
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, err
	}
	bidi := d.Bidi && feats.Child(NSBidiFeature, "bidi") != nil
	if bidi {
		// Asked for before authenticating (XEP-0288 section 2).
		if err := s.write([]byte("<bidi xmlns='" + NSBidi + "'/>")); err != nil {
			return fail(err)
		}
	}
	newOut := func(id string, external bool) *Out {
		return &Out{s: s, Local: local, Remote: remote, ID: id, Addr: s.nc.RemoteAddr(), Connected: time.Now(),
			External: external, Bidi: bidi, opts: d.Options, flood: d.Options.bucket(), done: make(chan struct{})}
	}
	if offersExternal(feats) && d.External != nil && d.External(remote, s.state) {
		ok, err := d.external(s, local, remote)
		if err != nil {
			return fail(err)
		}
		if ok {
			return newOut(h.ID, true), nil
		}
		if feats.Child(NSDialbackFeature, "dialback") == nil {
			return fail(fmt.Errorf("s2s: %s refused SASL EXTERNAL and offers no dialback", remote))
		}
	}
	key := Key(d.Secret, remote, local, h.ID)
	if err := s.write(Dialback{From: local, To: remote, Key: key}.Element().Bytes(NSServer)); err != nil {
		return fail(err)
	}
	for {
		el, err := s.next()
		if err != nil {
			return fail(err)
		}
		db, err := ParseDialback(el)
		if err != nil || db.Verify || db.From != remote || db.To != local {
			continue // nothing else is expected before the answer
		}
		switch db.Type {
		case "valid":
			return newOut(h.ID, false), nil
		case "invalid":
			s.close()
			return nil, fmt.Errorf("s2s: %s refused our dialback key", remote)
		default:
			s.close()
			return nil, fmt.Errorf("s2s: %s could not check our dialback key", remote)
		}
	}
}

func offersExternal(feats *xmlel.Element) bool {
	if m := feats.Child(NSSASL, "mechanisms"); m != nil {
		for _, k := range m.Elements() {
			if k.Name.Local == "mechanism" && strings.TrimSpace(k.InnerText()) == "EXTERNAL" {
				return true
			}
		}
	}
	return false
}

// external runs SASL EXTERNAL on a secured stream; after a success the
// stream is restarted and authenticated. false: the peer refused.
func (d *Dialer) external(s *stream, local, remote string) (bool, error) {
	auth := "<auth xmlns='" + NSSASL + "' mechanism='EXTERNAL'>" + base64.StdEncoding.EncodeToString([]byte(local)) + "</auth>"
	if err := s.write([]byte(auth)); err != nil {
		return false, err
	}
	el, err := s.next()
	if err != nil {
		return false, err
	}
	if el.Name.Space != NSSASL || el.Name.Local != "success" {
		return false, nil
	}
	s.wmu.Lock()
	s.headerSent = false
	s.wmu.Unlock()
	s.restart()
	if err := s.header(local, remote, ""); err != nil {
		return false, err
	}
	if _, err := s.readHeader(); err != nil {
		return false, err
	}
	feats, err := s.next()
	if err != nil {
		return false, err
	}
	if feats.Name.Space != NSStream || feats.Name.Local != "features" {
		return false, &Error{CondBadFormat, "expected stream features"}
	}
	return true, nil
}

// Verify asks remote (the authoritative server) whether key is the one it
// made for stream id, on a short-lived stream of its own.
func (d *Dialer) Verify(ctx context.Context, local, remote, id, key string, targets []Target) (bool, error) {
	s, _, _, err := d.open(ctx, local, remote, targets)
	if err != nil {
		return false, err
	}
	defer s.close()
	stop := context.AfterFunc(ctx, func() { s.nc.Close() })
	defer stop()
	if err := s.write(Dialback{Verify: true, From: local, To: remote, ID: id, Key: key}.Element().Bytes(NSServer)); err != nil {
		return false, err
	}
	for {
		el, err := s.next()
		if err != nil {
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return false, err
		}
		db, err := ParseDialback(el)
		if err != nil || !db.Verify || db.ID != id || db.From != remote {
			continue
		}
		switch db.Type {
		case "valid":
			return true, nil
		case "invalid":
			return false, nil
		default:
			return false, fmt.Errorf("s2s: %s could not verify", remote)
		}
	}
}

// Run reads the stream until it ends and returns why; Done is closed
// then. Without bidi the receiving server sends nothing but keepalives on
// it; with bidi its stanzas from the remote domain to the local one go to
// deliver, and any other is a stream error.
func (o *Out) Run(deliver func(*xmlel.Element)) error {
	defer close(o.done)
	for {
		el, err := o.s.next()
		if err == nil && o.Bidi && el.Name.Space == NSServer {
			switch {
			case el.Name.Local != "message" && el.Name.Local != "presence" && el.Name.Local != "iq":
				err = &Error{CondUnsupportedStype, ""}
			case domainOf(el.Get("from")) != o.Remote || domainOf(el.Get("to")) != o.Local:
				err = &Error{CondImproperAddress, "stanza not between the stream's domains"}
			default:
				if err = o.opts.throttle(&o.flood); err == nil {
					deliver(el)
				}
			}
		}
		if err != nil {
			o.s.end(err)
			o.err = err
			if errors.Is(err, errStreamEnd) {
				return nil
			}
			return err
		}
	}
}

// Done is closed when the stream has ended.
func (o *Out) Done() <-chan struct{} { return o.done }

// Send writes a serialised stanza (in jabber:server).
func (o *Out) Send(b []byte) error { return o.s.write(b) }

// Close ends the stream (cond "" closes it politely: Run goes on handing
// what the peer still sends until it closes its side).
func (o *Out) Close(cond, text string) {
	if cond == "" {
		o.s.drain()
		return
	}
	o.s.fail(cond, text)
}

// TLS reports the TLS state of the stream.
func (o *Out) TLS() *tls.ConnectionState {
	o.s.wmu.Lock()
	defer o.s.wmu.Unlock()
	return o.s.state
}
