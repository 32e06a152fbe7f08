package s2s

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
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
	done          chan struct{}
	err           error
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

// Dial opens an authenticated stream from local to remote: TLS, then
// dialback (the remote checks our key with us).
func (d *Dialer) Dial(ctx context.Context, local, remote string, targets []Target) (*Out, error) {
	s, h, _, err := d.open(ctx, local, remote, targets)
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { s.nc.Close() })
	defer stop()
	key := Key(d.Secret, remote, local, h.ID)
	if err := s.write(Dialback{From: local, To: remote, Key: key}.Element().Bytes(NSServer)); err != nil {
		s.end(err)
		return nil, err
	}
	for {
		el, err := s.next()
		if err != nil {
			s.end(err)
			if ctx.Err() != nil {
				err = ctx.Err()
			}
			return nil, err
		}
		db, err := ParseDialback(el)
		if err != nil || db.Verify || db.From != remote || db.To != local {
			continue // nothing else is expected before the answer
		}
		switch db.Type {
		case "valid":
			o := &Out{s: s, Local: local, Remote: remote, ID: h.ID, Addr: s.nc.RemoteAddr(), Connected: time.Now(), done: make(chan struct{})}
			return o, nil
		case "invalid":
			s.close()
			return nil, fmt.Errorf("s2s: %s refused our dialback key", remote)
		default:
			s.close()
			return nil, fmt.Errorf("s2s: %s could not check our dialback key", remote)
		}
	}
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

// Run reads the stream until it ends (the receiving server sends nothing
// but keepalives on it) and returns why; Done is closed then.
func (o *Out) Run() error {
	defer close(o.done)
	for {
		_, err := o.s.next()
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

// Close ends the stream (cond "" closes it politely).
func (o *Out) Close(cond, text string) {
	if cond == "" {
		o.s.close()
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
