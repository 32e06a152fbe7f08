// Package goxmpptest logs an independent XMPP client (github.com/xmppo/go-xmpp)
// in to a server under test. Tests prove XMPP behaviour with it because it
// shares no code with xmppgate's server; every package's tests log in
// through this one harness, so go-xmpp's options, the goroutine that reads
// its stream and the way to end that stream without racing the reader live
// in one place.
package goxmpptest

import (
	"crypto/tls"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/syncbuf"
)

// wait bounds every wait for the server: long enough for a loaded CI
// machine, short enough that a missing stanza fails the test quickly.
const wait = 5 * time.Second

// inbox is how many unread stanzas a client keeps: more than any test
// leaves unread, so none is lost; once full, newer ones are dropped so a
// test that stopped reading never blocks the stream.
const inbox = 1000

type config struct {
	resource  string
	mechanism string
	directTLS bool
	timeout   time.Duration
	debug     *syncbuf.Buffer
}

// An Option changes how a client logs in.
type Option func(*config)

// Resource asks for resource r; without it the server assigns one.
func Resource(r string) Option { return func(c *config) { c.resource = r } }

// Mechanism forces the SASL mechanism m (go-xmpp then uses no other);
// without it go-xmpp picks the strongest offered.
func Mechanism(m string) Option { return func(c *config) { c.mechanism = m } }

// DirectTLS says addr is a direct TLS listener (XEP-0368) instead of one
// that offers STARTTLS.
func DirectTLS() Option { return func(c *config) { c.directTLS = true } }

// DialTimeout replaces the 5 s dial timeout (a test logging hundreds of
// clients in at once needs more).
func DialTimeout(d time.Duration) Option { return func(c *config) { c.timeout = d } }

// Transcript keeps the raw stream as go-xmpp's debug tee writes it, for
// Client.Transcript: go-xmpp parses away what some tests read (the
// condition of a stanza error).
func Transcript() Option { return func(c *config) { c.debug = &syncbuf.Buffer{} } }

func newConfig(opts []Option) *config {
	c := &config{}
	for _, o := range opts {
		o(c)
	}
	return c
}

// options are go-xmpp's options for jid (a bare JID, or a domain alone
// for SASL ANONYMOUS) on addr: TLS without verifying the test server's
// certificate, and a session.
func (c *config) options(addr, jid, password string) goxmpp.Options {
	domain := jid[strings.IndexByte(jid, '@')+1:]
	o := goxmpp.Options{Host: addr, User: jid, Password: password, Resource: c.resource,
		NoTLS: true, StartTLS: true, TLSConfig: &tls.Config{InsecureSkipVerify: true, ServerName: domain},
		Mechanism: c.mechanism, DialTimeout: wait, Session: true}
	if c.timeout > 0 {
		o.DialTimeout = c.timeout
	}
	if c.directTLS {
		o.NoTLS, o.StartTLS = false, false
	}
	if c.debug != nil {
		o.Debug, o.DebugWriter = true, c.debug
	}
	return o
}

// Dial logs in and returns go-xmpp's client with nobody reading its
// stream: for a test that expects the login to fail, or reads the stream
// itself.
func Dial(addr, jid, password string, opts ...Option) (*goxmpp.Client, error) {
	return newConfig(opts).options(addr, jid, password).NewClient()
}

// Client is a logged-in go-xmpp client whose stream a goroutine reads
// into an inbox until it ends. It ends its stream when the test ends.
type Client struct {
	*goxmpp.Client
	in    chan any
	end   chan struct{}
	err   error
	close sync.Once
	debug *syncbuf.Buffer
}

// Login logs in and fails t if the server refuses.
func Login(t testing.TB, addr, jid, password string, opts ...Option) *Client {
	t.Helper()
	c, err := TryLogin(t, addr, jid, password, opts...)
	require.NoError(t, err, "%s logs in by %q", jid, newConfig(opts).mechanism)
	return c
}

// TryLogin logs in, or returns the server's refusal.
func TryLogin(t testing.TB, addr, jid, password string, opts ...Option) (*Client, error) {
	cfg := newConfig(opts)
	gc, err := cfg.options(addr, jid, password).NewClient()
	if err != nil {
		return nil, err
	}
	c := &Client{Client: gc, in: make(chan any, inbox), end: make(chan struct{}), debug: cfg.debug}
	go func() {
		defer close(c.end)
		for {
			st, err := gc.Recv()
			if err != nil {
				c.err = err
				return
			}
			select {
			case c.in <- st:
			default:
			}
		}
	}()
	t.Cleanup(c.Close)
	return c, nil
}

// Close ends the stream from the client's side, once, and waits a while
// for the server to close it. go-xmpp's own Close reads the stream, which
// races with the reading goroutine, so the closing tag is sent as raw
// text and the reader ends with the server's answer.
func (c *Client) Close() {
	c.close.Do(func() {
		select {
		case <-c.end:
			return
		default:
		}
		_, _ = c.SendOrg("</stream:stream>")
		select {
		case <-c.end:
		case <-time.After(wait):
		}
	})
}

// Logout ends the stream and fails t unless the server closes it.
func (c *Client) Logout(t testing.TB) {
	t.Helper()
	c.Close()
	c.Ended(t)
}

// Done is closed once the stream has ended.
func (c *Client) Done() <-chan struct{} { return c.end }

// Ended waits for the stream to end and returns what ended it.
func (c *Client) Ended(t testing.TB) error {
	t.Helper()
	select {
	case <-c.end:
		return c.err
	case <-time.After(wait):
		require.FailNow(t, "stream did not end")
		return nil
	}
}

// Expect returns the first stanza received that match accepts, dropping
// the others; what names it in a failure. Stanzas that arrived before the
// stream ended are still looked at.
func (c *Client) Expect(t testing.TB, what string, match func(any) bool) any {
	t.Helper()
	return c.ExpectWithin(t, what, wait, match)
}

// ExpectWithin is Expect waiting up to d, for what a server does on a
// timer of its own (a lease running out).
func (c *Client) ExpectWithin(t testing.TB, what string, d time.Duration, match func(any) bool) any {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case st := <-c.in:
			if match(st) {
				return st
			}
		case <-c.end:
			for {
				select {
				case st := <-c.in:
					if match(st) {
						return st
					}
				default:
					require.FailNowf(t, "stream ended", "waiting for %s: %v", what, c.err)
					return nil
				}
			}
		case <-timer.C:
			require.FailNowf(t, "timeout", "waiting for %s", what)
			return nil
		}
	}
}

// ExpectNone fails t if a stanza match accepts arrives within d; others
// are dropped.
func (c *Client) ExpectNone(t testing.TB, what string, d time.Duration, match func(any) bool) {
	t.Helper()
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		select {
		case st := <-c.in:
			if match(st) {
				require.FailNowf(t, "unexpected "+what, "%+v", st)
			}
		case <-timer.C:
			return
		}
	}
}

// Ask sends an IQ of type typ with payload to to ("" is the user's own
// account) and returns its answer, a result or an error.
func (c *Client) Ask(t testing.TB, id, typ, to, payload string) goxmpp.IQ {
	t.Helper()
	_, err := c.RawInformation(c.JID(), to, id, typ, payload)
	require.NoError(t, err)
	return c.Expect(t, "the answer to iq "+id, func(st any) bool {
		q, ok := st.(goxmpp.IQ)
		return ok && q.ID == id && (q.Type == "result" || q.Type == "error")
	}).(goxmpp.IQ)
}

// FetchRoster asks for the roster, which also makes the session one the
// server pushes roster changes to, and returns the result.
func (c *Client) FetchRoster(t testing.TB) goxmpp.IQ {
	t.Helper()
	require.NoError(t, c.Roster())
	// go-xmpp's Roster always sends id roster1.
	return c.Expect(t, "the roster", func(st any) bool {
		q, ok := st.(goxmpp.IQ)
		return ok && q.ID == "roster1" && q.Type == "result"
	}).(goxmpp.IQ)
}

// Transcript is the raw stream so far, with the Transcript option.
func (c *Client) Transcript() string {
	if c.debug == nil {
		return ""
	}
	return c.debug.String()
}

// Presence matches a presence of type typ ("" is available) from a JID
// that starts with from.
func Presence(from, typ string) func(any) bool {
	return func(st any) bool {
		p, ok := st.(goxmpp.Presence)
		return ok && strings.HasPrefix(p.From, from) && p.Type == typ
	}
}

// Chat matches a message with body text from a JID that starts with from.
func Chat(from, text string) func(any) bool {
	return func(st any) bool {
		m, ok := st.(goxmpp.Chat)
		return ok && strings.HasPrefix(m.Remote, from) && m.Text == text
	}
}

// IQ matches an IQ of type typ whose payload contains contains, with id
// unless id is "".
func IQ(id, typ, contains string) func(any) bool {
	return func(st any) bool {
		q, ok := st.(goxmpp.IQ)
		return ok && (id == "" || q.ID == id) && q.Type == typ && strings.Contains(string(q.Query), contains)
	}
}
