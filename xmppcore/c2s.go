package xmppcore

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/extauth"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/privacy"
	"github.com/xmppgate/xmppgate/xmppcore/pubsub"
	"github.com/xmppgate/xmppgate/xmppcore/saslsrv"
	"github.com/xmppgate/xmppgate/xmppcore/smacks"
)

// Namespaces of RFC 6120 and friends.
const (
	nsStream    = "http://etherx.jabber.org/streams"
	nsClient    = "jabber:client"
	nsTLS       = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL      = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind      = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession   = "urn:ietf:params:xml:ns:xmpp-session"
	nsStreams   = "urn:ietf:params:xml:ns:xmpp-streams"
	nsStanzas   = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsRosterVer = "urn:xmpp:features:rosterver"
	// nsPreApproval: subscription pre-approval (RFC 6121 3.4), always on.
	nsPreApproval = "urn:xmpp:features:pre-approval"
)

// Stream error conditions (RFC 6120 section 4.9.3), mellium's values.
var (
	condBadFormat        = stream.BadFormat
	condConflict         = stream.Conflict
	condConnTimeout      = stream.ConnectionTimeout
	condHostUnknown      = stream.HostUnknown
	condInternal         = stream.InternalServerError
	condInvalidNamespace = stream.InvalidNamespace
	condNotAuthorized    = stream.NotAuthorized
	condNotWellFormed    = stream.NotWellFormed
	condPolicyViolation  = stream.PolicyViolation
	condRestrictedXML    = stream.RestrictedXML
	condSystemShutdown   = stream.SystemShutdown
	condUnsupportedStype = stream.UnsupportedStanzaType
	condUnsupportedVer   = stream.UnsupportedVersion
)

const (
	writeTimeout = 10 * time.Second
	maxSASLTries = 3
)

// streamErr ends a stream with a stream error.
type streamErr struct {
	cond stream.Error
	text string
}

func (e streamErr) Error() string { return e.cond.Err + ": " + e.text }

// appStreamErr is a stream error with an application-specific condition
// element (app, serialised with its namespace) after the text.
type appStreamErr struct {
	streamErr
	app string
}

var errTooLarge = errors.New("xmppcore: stanza too large")

// errStreamEnd: the client closed its stream with </stream:stream>, which
// ends the session (no stream management hibernation).
var errStreamEnd = fmt.Errorf("xmppcore: stream closed by the client: %w", io.EOF)

// limitReader fails once more than n bytes were read since the last reset,
// so one stanza cannot make the decoder buffer without bound.
type limitReader struct {
	r   io.Reader
	n   int64
	max int64

	// idle > 0 arms the idle timeout on conn before every read.
	conn net.Conn
	idle time.Duration
	set  time.Time
	// err is the transport's read error, if any: the connection was lost
	// (or closed under the reader), as opposed to a stream the client
	// ended or broke.
	err error
	// out holds the writes of the stanzas this reader's session routed
	// (c2s_write.go); they go out before a read that may wait.
	out outBatch
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.n <= 0 {
		return 0, errTooLarge
	}
	if l.idle > 0 {
		// Any bytes, whitespace keepalives included, keep the stream alive;
		// the deadline moves at most every idle/4 to save timer updates.
		if now := time.Now(); now.Sub(l.set) > l.idle/4 {
			l.set = now
			l.conn.SetReadDeadline(now.Add(l.idle))
		}
	}
	if int64(len(p)) > l.n {
		p = p[:l.n]
	}
	if len(l.out.dirty) > 0 && !readAhead(l.r) {
		l.out.flush()
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if err != nil {
		l.err = err
	}
	return n, err
}

func (l *limitReader) reset() { l.n = l.max }

// noDomain is the domain of a conn before its stream header named one.
var noDomain modcfg.Domain

// domain is the settings of c's domain as they were at its stream header
// (domainOf has the current ones); empty before it and for stand-ins.
func (c *conn) domain() *modcfg.Domain {
	if c.dom == nil {
		return &noDomain
	}
	return c.dom
}

// conn is one client connection: negotiation, then the bound session.
type conn struct {
	srv    *Server
	log    *zap.Logger
	direct bool
	ip     string
	port   int
	// failing: a SASL conversation runs whose failure counts against the
	// address; it is counted before the client reads <failure/>.
	failing   bool
	connected time.Time
	id        string

	// reader side, owned by the serve goroutine
	lim *limitReader
	br  *readBuf
	dec *xml.Decoder
	// dom is the domain's settings as the cache shared them at the stream
	// header (nil before it, and for stand-ins); read through domain().
	dom  *modcfg.Domain
	user store.User
	// offered are the SASL mechanisms the last stream features offered.
	offered []string
	// anon: logged in with SASL ANONYMOUS; user is then a made-up user
	// with no row in the store (ID 0). Immutable once authenticated.
	anon  bool
	bound bool

	// writer side
	wmu sync.Mutex
	nc  net.Conn
	// secure: authentication may start (TLS is up, or a framed
	// transport allows it without; transport.go).
	secure bool
	// framed: RFC 7395 framing (WebSocket, BOSH; transport.go): <open/>
	// and <close/> instead of the stream's tags, and one element per
	// write. kind is the transport's name for listings, tlsOn whether it
	// is encrypted. Changed only by a resumption, under wmu.
	framed     bool
	kind       string
	tlsOn      bool
	headerSent bool
	jidStr     string // the bound JID, for logs written from other goroutines
	closed     bool
	// hold and wbuf: writes to a plain stream held back while a sender's
	// read loop routes more (c2s_write.go).
	hold     bool
	wbuf     *[]byte
	failOnce sync.Once

	// session state (after bind); immutable once bound
	full jid.JID
	bare string
	res  string

	// fresh: the read goroutine was started for the idle wait it is in
	// (idlewait.go), so it waits rather than hand off again.
	fresh bool

	// carbons: the session enabled XEP-0280 carbons; guarded by srv.mu,
	// as the account's session map it is read with.
	carbons bool
	// privActive is the session's active XEP-0016 list (privacy.go);
	// changed under srv.mu.
	privActive atomic.Pointer[privacy.List]
	// lastActive is when the client last sent an element (Unix ns; 0:
	// not since it connected), for the sessions listings.
	lastActive atomic.Int64

	// Stream management (sm.go), guarded by wmu. sm is nil until the
	// client enables it, so a session without it costs one pointer.
	sm *smacks.State
	// hib is set while the session is hibernated (its transport lost, the
	// session kept for a resumption); terminated once fail ended it for
	// good, which forbids hibernation.
	hib        *hibernation
	terminated bool
	// ackTimer and ackBy bound the wait for the <a/> of an outstanding
	// <r/> (sm.go); the timer is made at the first request.
	ackTimer *time.Timer
	ackBy    time.Time
	// resumedInto is set by negotiation when the client resumed that
	// hibernated session instead of binding a new one.
	resumedInto *conn
	// csi holds stanzas back while the client is inactive (csi.go); nil
	// while active. Guarded by wmu.
	csi *csiHold

	smu       sync.Mutex
	available bool
	priority  int
	presence  []byte // last broadcast available presence, from set, no to
	show      string
	status    string
	rosterReq bool
	directed  map[string]bool // directed presence recipients
	blockReq  bool
	// capsKey and notify: the XEP-0115 caps of the last available
	// presence and the PEP nodes they ask events of (pep.go).
	capsKey string
	notify  pubsub.Notify
}

func newConn(s *Server, nc net.Conn, direct bool) *conn {
	c := &conn{srv: s, nc: nc, direct: direct, connected: time.Now(), log: s.c2sLog, kind: TransportTCP, tlsOn: true}
	switch a := nc.RemoteAddr().(type) {
	case *net.TCPAddr:
		c.ip, c.port = a.IP.String(), a.Port
	case nil:
	default:
		if h, p, err := net.SplitHostPort(a.String()); err == nil {
			c.ip = h
			fmt.Sscan(p, &c.port)
		}
	}
	b := make([]byte, 12)
	rand.Read(b)
	c.id = base64.RawURLEncoding.EncodeToString(b)
	return c
}

// serve negotiates the stream, then hands the bound session to a fresh
// goroutine: the TLS handshake (ML-KEM, ECDSA) grows a goroutine's stack to
// 16 KiB, which would otherwise stay with every idle session. The goroutine
// started by accept (counted in srv.wg) ends in session or here.
func (c *conn) serve() {
	handedOff := false
	defer func() {
		if !handedOff {
			c.cleanup()
			c.srv.wg.Done()
		}
	}()
	defer c.recover()
	c.nc.SetDeadline(time.Now().Add(c.srv.cfg.NegotiationTimeout))
	if c.direct {
		tc := tls.Server(c.nc, c.srv.tls)
		if err := tc.Handshake(); err != nil {
			return
		}
		c.wmu.Lock()
		c.nc, c.secure = tc, true
		c.wmu.Unlock()
	}
	c.resetReader()
	if err := c.negotiate(); err != nil {
		c.end(err)
		return
	}
	c.nc.SetDeadline(time.Time{})
	c.lim.conn, c.lim.idle = c.nc, c.srv.cfg.IdleTimeout
	handedOff = true
	if old := c.resumedInto; old != nil {
		// The old session reads on from this transport under this
		// goroutine's count; its hibernation's count is released.
		c.srv.mu.Lock()
		delete(c.srv.conns, c)
		c.srv.mu.Unlock()
		go old.session()
		c.srv.wg.Done()
		return
	}
	go c.session()
}

// session runs the read loop of a bound session until the stream ends,
// or until its transport is lost and stream management hibernates it:
// the session then stays registered, and its count in srv.wg with it,
// until it is resumed or ends (sm.go).
func (c *conn) session() {
	hibernated, handedOff := false, false
	defer func() {
		if !hibernated && !handedOff {
			c.cleanup()
			c.srv.wg.Done()
		}
	}()
	defer c.recover()
	err := c.readLoop()
	if errors.Is(err, errHandOff) {
		// Idle: the session is parked without a goroutine (idlepoll_linux.go)
		// or a fresh goroutine waits with a small stack (idlewait.go); this
		// one ends and its grown stack goes back to the runtime.
		handedOff = true
		if !c.park() {
			c.fresh = true
			go c.session()
		}
		return
	}
	if hibernated = c.hibernate(err); !hibernated {
		c.end(err)
	}
}

func (c *conn) recover() {
	if p := recover(); p != nil {
		c.log.Error("panic in connection", zap.Any("panic", p), zap.Stack("stack"))
		c.fail(condInternal, "")
	}
}

func (c *conn) resetReader() {
	max := int64(2*c.srv.cfg.MaxStanza + 8192)
	c.lim = &limitReader{r: c.nc, n: max, max: max}
	c.br = newReadBuf(c.lim) // idlewait.go
	c.restart()
}

// restart begins a new stream on the same transport (after SASL): a fresh
// decoder over the same buffered reader, so nothing read ahead is lost.
func (c *conn) restart() {
	c.dec = xml.NewDecoder(c.br)
	c.dec.Strict = true
}

// end maps the error that ended the connection to the right stream error.
func (c *conn) end(err error) {
	var se streamErr
	var ae appStreamErr
	var syn *xml.SyntaxError
	var ne net.Error
	switch {
	case err == nil:
	case errors.As(err, &ae):
		c.failApp(ae.cond, ae.text, ae.app)
	case errors.As(err, &se):
		c.fail(se.cond, se.text)
	case errors.Is(err, errTooLarge), errors.Is(err, xmlel.ErrTooLarge):
		c.fail(condPolicyViolation, fmt.Sprintf("stanza larger than %d bytes", c.srv.cfg.MaxStanza))
	case errors.Is(err, xmlel.ErrTooDeep):
		c.fail(condPolicyViolation, "stanza nested too deeply")
	case errors.Is(err, io.EOF):
		c.closeStream()
	case errors.As(err, &ne) && ne.Timeout():
		c.fail(condConnTimeout, "idle for too long")
	case errors.As(err, &syn), errors.Is(err, io.ErrUnexpectedEOF), strings.HasPrefix(err.Error(), "xml:"):
		c.fail(condNotWellFormed, "")
	}
	c.wmu.Lock()
	c.closed = true
	c.dropHeldLocked()
	c.wmu.Unlock()
	c.nc.Close()
}

// open reports whether the stream still runs (no stream error or close
// has been written, the connection not lost).
func (c *conn) open() bool {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return !c.closed
}

// closeStream answers the client's </stream:stream> (or its end of input).
// Before our header there is no stream to close: a closing tag alone would
// not be well-formed, so nothing is written.
func (c *conn) closeStream() {
	c.wmu.Lock()
	if !c.closed {
		if c.headerSent {
			c.writeHeldLocked(nil)
			c.nc.SetWriteDeadline(time.Now().Add(2 * time.Second))
			io.WriteString(c.nc, c.streamClose())
		}
		c.closed = true
		c.dropHeldLocked()
	}
	c.wmu.Unlock()
}

// fail ends the stream with a stream error and closes the connection. It is
// safe from any goroutine; the serve goroutine notices and cleans up.
func (c *conn) fail(cond stream.Error, text string) { c.failApp(cond, text, "") }

// failApp is fail with an application-specific condition element app.
func (c *conn) failApp(cond stream.Error, text, app string) {
	c.failOnce.Do(func() {
		c.wmu.Lock()
		c.terminated = true
		if c.hib != nil {
			c.endHibernation()
		}
		jidStr := c.jidStr
		if !c.closed {
			var b strings.Builder
			if !c.headerSent {
				c.headerLocked(&b)
				if c.framed {
					c.flushLocked(&b, 2*time.Second)
				}
			}
			b.WriteString(c.streamOpen("error") + "<" + cond.Err + " xmlns='" + nsStreams + "'/>")
			if text != "" {
				b.WriteString("<text xmlns='" + nsStreams + "' xml:lang='en'>")
				xml.EscapeText(&stringWriter{&b}, []byte(text))
				b.WriteString("</text>")
			}
			b.WriteString(app)
			b.WriteString("</stream:error>")
			if c.framed {
				c.flushLocked(&b, 2*time.Second)
			}
			b.WriteString(c.streamClose())
			c.flushLocked(&b, 2*time.Second)
			c.closed = true
		}
		nc := c.nc // serve may swap in the TLS conn concurrently
		c.wmu.Unlock()
		nc.Close()
		if cond.Err != condSystemShutdown.Err {
			c.log.Debug("stream error", zap.String("cond", cond.Err), zap.String("text", text),
				zap.String("ip", c.ip), zap.String("jid", jidStr))
		}
	})
}

type stringWriter struct{ b *strings.Builder }

func (w *stringWriter) Write(p []byte) (int, error) { return w.b.Write(p) }

// send writes raw bytes to the client; a failed or timed out write closes the
// connection (a slow reader cannot hold up its senders for long).
func (c *conn) send(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.sendLocked(b)
}

func (c *conn) sendLocked(b []byte) {
	if c.sm != nil || c.csi != nil {
		c.sendManagedLocked(b)
		return
	}
	c.writeLocked(b)
}

func (c *conn) sendEl(el *xmlel.Element) { c.send(el.Bytes(nsClient)) }

func (c *conn) headerLocked(b *strings.Builder) {
	if c.framed {
		b.WriteString("<open xmlns='" + nsFraming + "' id='" + c.id + "'")
	} else {
		b.WriteString("<?xml version='1.0'?><stream:stream xmlns='" + nsClient + "' xmlns:stream='" + nsStream + "' id='" + c.id + "'")
	}
	if c.domain().FQDN != "" {
		b.WriteString(" from='")
		xml.EscapeText(&stringWriter{b}, []byte(c.domain().FQDN))
		b.WriteString("'")
	}
	if c.framed {
		b.WriteString(" version='1.0' xml:lang='en'/>")
	} else {
		b.WriteString(" version='1.0' xml:lang='en'>")
	}
	c.headerSent = true
}

// next returns the next top-level element, skipping whitespace keepalives.
func (c *conn) next() (*xmlel.Element, error) {
	if el := c.nextFast(); el != nil {
		return el, nil
	}
	for {
		off := c.dec.InputOffset()
		tok, err := c.dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(strings.TrimSpace(string(t))) != 0 {
				return nil, streamErr{condBadFormat, "text between elements"}
			}
			c.lim.reset()
		case xml.StartElement:
			if c.framed && t.Name.Space == nsFraming {
				return nil, c.framingElement(t)
			}
			el, err := xmlel.Read(c.dec, t, off, c.srv.cfg.MaxStanza)
			c.lim.reset()
			return el, err
		case xml.EndElement:
			return nil, errStreamEnd
		default:
			return nil, streamErr{condRestrictedXML, ""}
		}
	}
}

// header reads and checks the client's stream header, then answers with ours.
func (c *conn) header() error {
	var start xml.StartElement
	for {
		tok, err := c.dec.Token()
		if err != nil {
			return err
		}
		if s, ok := tok.(xml.StartElement); ok {
			start = s
			break
		}
		switch t := tok.(type) {
		case xml.ProcInst:
		case xml.CharData:
			if len(strings.TrimSpace(string(t))) != 0 {
				return streamErr{condNotWellFormed, ""}
			}
		default:
			return streamErr{condNotWellFormed, ""}
		}
	}
	var to, version, defNS string
	for _, a := range start.Attr {
		switch {
		case a.Name.Space == "" && a.Name.Local == "to":
			to = a.Value
		case a.Name.Space == "" && a.Name.Local == "version":
			version = a.Value
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			defNS = a.Value
		}
	}
	if c.framed {
		if err := c.framedOpen(start); err != nil {
			return err
		}
	} else {
		if start.Name.Space != nsStream || start.Name.Local != "stream" {
			return streamErr{condInvalidNamespace, "expected a stream in " + nsStream}
		}
		if defNS != nsClient {
			return streamErr{condInvalidNamespace, "only " + nsClient + " streams are served"}
		}
	}
	j, err := jid.Parse(to)
	if to == "" || err != nil || j.Localpart() != "" || j.Resourcepart() != "" {
		return streamErr{condHostUnknown, "no such host"}
	}
	d, err := c.srv.domains.Shared(context.Background(), j.Domainpart())
	if err != nil {
		return streamErr{condInternal, ""}
	}
	if d == nil {
		return streamErr{condHostUnknown, "no such host"}
	}
	if c.domain().FQDN != "" && c.domain().FQDN != d.FQDN {
		return streamErr{condHostUnknown, "host changed on stream restart"}
	}
	c.wmu.Lock() // fail reads the domain for the header from other goroutines
	c.dom = d
	c.wmu.Unlock()
	if c.framed && !d.On(modcfg.HTTPBind) {
		// As a vhost without the web transport's module: the host is
		// not served this way.
		return streamErr{condHostUnknown, "web chat (modHttpBind) is off for this domain"}
	}
	if major, _, _ := strings.Cut(version, "."); major != "1" {
		return streamErr{condUnsupportedVer, "version 1.0 required"}
	}
	if c.framed && !c.secure {
		return streamErr{condPolicyViolation, "TLS is required: connect with wss:// or https://"}
	}
	var b strings.Builder
	c.wmu.Lock()
	c.headerLocked(&b)
	if c.framed {
		c.flushLocked(&b, writeTimeout)
	}
	c.wmu.Unlock()
	b.WriteString(c.streamOpen("features"))
	switch {
	case !c.secure:
		b.WriteString("<starttls xmlns='" + nsTLS + "'><required/></starttls>")
	case !c.authenticated():
		b.WriteString("<mechanisms xmlns='" + nsSASL + "'>")
		if c.offered, err = c.mechanisms(); err != nil {
			return streamErr{condInternal, ""}
		}
		for _, m := range c.offered {
			b.WriteString("<mechanism>" + m + "</mechanism>")
		}
		if c.anonymousAllowed() {
			b.WriteString("<mechanism>" + saslsrv.Anonymous + "</mechanism>")
		}
		b.WriteString("</mechanisms>")
	default:
		b.WriteString("<bind xmlns='" + nsBind + "'/><session xmlns='" + nsSession + "'><optional/></session><ver xmlns='" + nsRosterVer + "'/><sub xmlns='" + nsPreApproval + "'/>")
		c.boundFeatures(&b)
	}
	b.WriteString("</stream:features>")
	c.send([]byte(b.String()))
	return nil
}

// negotiate runs RFC 6120 stream negotiation up to resource binding.
func (c *conn) negotiate() error {
	for {
		if err := c.header(); err != nil {
			return err
		}
		switch {
		case !c.secure:
			el, err := c.next()
			if err != nil {
				return err
			}
			if el.Name.Space != nsTLS || el.Name.Local != "starttls" {
				return streamErr{condPolicyViolation, "STARTTLS is required"}
			}
			c.send([]byte("<proceed xmlns='" + nsTLS + "'/>"))
			tc := tls.Server(c.nc, c.srv.tls)
			if err := tc.Handshake(); err != nil {
				return err
			}
			c.wmu.Lock()
			c.nc, c.secure, c.headerSent = tc, true, false
			c.wmu.Unlock()
			c.resetReader()
		case !c.authenticated():
			if err := c.sasl(); err != nil {
				return err
			}
			c.wmu.Lock()
			c.headerSent = false
			c.wmu.Unlock()
			c.restart()
		default:
			return c.bind()
		}
	}
}

func (c *conn) saslFailure(cond, text string) {
	if c.failing {
		// Counted before the answer: a client retrying at once must
		// meet the limit this failure reaches.
		c.failing = false
		c.srv.limiter.fail(c.ip)
	}
	c.srv.stats.LoginsFailed.Add(1)
	s := "<failure xmlns='" + nsSASL + "'><" + cond + "/>"
	if text != "" {
		s += "<text xml:lang='en'>" + text + "</text>"
	}
	c.send([]byte(s + "</failure>"))
}

// mechanisms are the SASL mechanisms the stream offers (ANONYMOUS aside).
// A domain with external authentication offers PLAIN only: the password
// must reach the remote. Otherwise the SCRAM mechanisms of the families
// scram_hashes names, but not SCRAM-SHA-256 on a domain with users that
// have SCRAM-SHA-1 keys alone (imported from ejabberd or Prosody):
// mechanisms are offered before the user is known, and a client that picks
// the strongest offered (Gajim, Conversations, slixmpp) would pick one
// those users cannot answer. Their next PLAIN login (or a new password)
// adds SHA-256 keys; once none is left the domain offers it again.
func (c *conn) mechanisms() ([]string, error) {
	if c.domain().Auth.External() {
		return []string{saslsrv.Plain}, nil
	}
	sha1, sha256 := c.srv.cfg.SCRAM.Has(credential.SHA1), c.srv.cfg.SCRAM.Has(credential.SHA256)
	if sha256 {
		sha1Only, err := c.srv.st.DomainHasSHA1Only(context.Background(), c.domain().ID)
		if err != nil {
			return nil, err
		}
		// Under scram_hashes sha256 such a domain is offered no SCRAM at
		// all: neither mechanism suits every user, PLAIN does.
		sha256 = !sha1Only
	}
	if sha1 && sha256 {
		return saslsrv.Mechanisms, nil
	}
	out := make([]string, 0, len(saslsrv.Mechanisms))
	for _, m := range saslsrv.Mechanisms {
		switch {
		case m == saslsrv.ScramSHA256 && !sha256:
		case m == saslsrv.ScramSHA1 && !sha1:
		default:
			out = append(out, m)
		}
	}
	return out, nil
}

// completeKeys stores the SCRAM keys a PLAIN login derived for a user who
// lacked a family (see mechanisms). A failure costs nothing but the
// upgrade, so it is logged and the login goes on.
func (c *conn) completeKeys(conv *saslsrv.Conversation) {
	full, ok := conv.Completed()
	if !ok {
		return
	}
	ctx := context.Background()
	err := c.srv.st.Write(ctx, func(tx *store.Tx) error { return tx.CompleteUserKeys(ctx, c.user.ID, full) })
	switch {
	case errors.Is(err, store.ErrNotFound): // a new password meanwhile: it has both families
	case err != nil:
		c.log.Warn("storing the missing SCRAM keys failed", zap.String("user", c.user.Username),
			zap.String("domain", c.domain().FQDN), zap.Error(err))
	default:
		c.user.Cred = full
		c.log.Info("SCRAM keys completed on PLAIN login", zap.String("user", c.user.Username), zap.String("domain", c.domain().FQDN))
	}
}

// lookup resolves a SASL username to the user's credentials; only active
// and deactivated users of enabled domains get any. A deactivated user's
// conversation still runs so that, with the right password only, it fails
// with account-disabled (see saslConversation).
func (c *conn) lookup(username string) (credential.SCRAM, bool) {
	local, dom, found := strings.Cut(username, "@")
	if found && !strings.EqualFold(dom, c.domain().FQDN) {
		return credential.SCRAM{}, false
	}
	j, err := jid.New(local, c.domain().FQDN, "")
	if err != nil || j.Localpart() == "" {
		return credential.SCRAM{}, false
	}
	u, err := c.srv.st.UserByJID(context.Background(), c.domain().FQDN, j.Localpart())
	if err != nil || !(u.MayLogIn() || disabled(u.Status) && u.DomainEnabled) {
		return credential.SCRAM{}, false
	}
	c.user = u // only kept if the conversation succeeds
	return u.Cred, true
}

// sasl runs SASL (RFC 6120 section 6) with up to maxSASLTries attempts.
func (c *conn) sasl() error {
	for tries := 0; ; {
		if tries >= maxSASLTries {
			return streamErr{condPolicyViolation, "too many failed authentication attempts"}
		}
		el, err := c.next()
		if err != nil {
			return err
		}
		if el.Name.Space != nsSASL || el.Name.Local != "auth" {
			if el.Name.Space == nsSASL && el.Name.Local == "abort" {
				c.saslFailure("aborted", "")
				continue
			}
			return streamErr{condNotAuthorized, "authentication required"}
		}
		if c.srv.limiter.blocked(c.ip) {
			c.saslFailure("temporary-auth-failure", "too many failed authentications")
			return streamErr{condPolicyViolation, "too many failed authentications from your address"}
		}
		tries++
		c.failing = true
		ok, err := c.saslConversation(el)
		if err != nil {
			c.failing = false
			return err
		}
		if ok {
			c.failing = false
			return nil
		}
		if c.failing {
			c.failing = false
			c.srv.limiter.fail(c.ip)
		}
		c.user = store.User{}
	}
}

func decodeSASL(s string) ([]byte, bool) {
	s = strings.TrimSpace(s)
	if s == "=" {
		return []byte{}, true
	}
	b, err := base64.StdEncoding.DecodeString(s)
	return b, err == nil
}

// saslConversation runs one mechanism; false means it failed and <failure/>
// was sent.
func (c *conn) saslConversation(auth *xmlel.Element) (bool, error) {
	if auth.Get("mechanism") == saslsrv.Anonymous {
		return c.anonymousLogin(auth), nil
	}
	var conv saslStepper
	if c.domain().Auth.External() {
		if auth.Get("mechanism") != saslsrv.Plain {
			c.saslFailure("invalid-mechanism", "")
			return false, nil
		}
		conv = &extPlain{c: c}
	} else {
		if !slices.Contains(c.offered, auth.Get("mechanism")) {
			c.saslFailure("invalid-mechanism", "")
			return false, nil
		}
		sc, err := saslsrv.Start(auth.Get("mechanism"), c.lookup, c.srv.cfg.SCRAM)
		if err != nil {
			c.saslFailure("invalid-mechanism", "")
			return false, nil
		}
		conv = sc
	}
	var err error
	data := strings.TrimSpace(auth.InnerText())
	var in []byte
	if data == "" {
		// No initial response: an empty challenge asks for it (RFC 6120 6.4.2).
		c.send([]byte("<challenge xmlns='" + nsSASL + "'/>"))
		if in, err = c.saslResponse(); in == nil || err != nil {
			return false, err
		}
	} else {
		var ok bool
		if in, ok = decodeSASL(data); !ok {
			c.saslFailure("incorrect-encoding", "")
			return false, nil
		}
	}
	for {
		out, done, err := conv.Step(in)
		switch {
		case errors.Is(err, saslsrv.ErrMalformed):
			c.saslFailure("malformed-request", "")
			return false, nil
		case errors.Is(err, extauth.ErrUnavailable): // extPlain logged why
			c.saslFailure("temporary-auth-failure", "authentication service unavailable")
			return false, nil
		case err != nil:
			c.saslFailure("not-authorized", "")
			c.log.Info("authentication failed", zap.String("ip", c.ip), zap.String("domain", c.domain().FQDN),
				zap.String("mechanism", auth.Get("mechanism")))
			return false, nil
		case done && disabled(c.user.Status):
			// The password was right: RFC 6120 6.5.1's account-disabled.
			// A wrong one fails above with not-authorized, so the account's
			// state is told only to who knows its password.
			c.saslFailure("account-disabled", "")
			c.log.Info("login of a deactivated account refused", zap.String("ip", c.ip), zap.String("domain", c.domain().FQDN))
			return false, nil
		case done:
			if _, authz := conv.Identity(); authz != "" {
				if j, err := jid.Parse(authz); err != nil || j.String() != c.user.Username+"@"+c.domain().FQDN {
					c.saslFailure("invalid-authzid", "")
					return false, nil
				}
			}
			if len(out) > 0 {
				c.send([]byte("<success xmlns='" + nsSASL + "'>" + base64.StdEncoding.EncodeToString(out) + "</success>"))
			} else {
				c.send([]byte("<success xmlns='" + nsSASL + "'/>"))
			}
			c.srv.stats.LoginsOK.Add(1)
			if sc, ok := conv.(*saslsrv.Conversation); ok {
				c.completeKeys(sc)
			}
			// The session needs who the user is, not the user's secrets:
			// it keeps no key material (nor the memory of it) while it
			// lives.
			c.user.Cred, c.user.PasswordSealed, c.offered = credential.SCRAM{}, nil, nil
			c.log.Debug("authenticated", zap.String("user", c.user.Username), zap.String("domain", c.domain().FQDN),
				zap.String("mechanism", auth.Get("mechanism")))
			return true, nil
		}
		c.send([]byte("<challenge xmlns='" + nsSASL + "'>" + base64.StdEncoding.EncodeToString(out) + "</challenge>"))
		if in, err = c.saslResponse(); in == nil || err != nil {
			return false, err
		}
	}
}

// disabled: the account is deactivated (or being deactivated); it may not
// log in.
func disabled(s store.Status) bool {
	return s == store.StatusInactive || s == store.StatusPendingInactive
}

type saslStepper interface {
	Step(in []byte) (out []byte, done bool, err error)
	Identity() (user, authzid string)
}

// extPlain is PLAIN for a domain whose passwords an external authority
// checks (authenticationMethod restapi or pop3, docs/extauth.md): the user
// must still exist, be active and in an enabled domain (lookup); only the
// password check is the remote's. It runs on this connection's goroutine,
// bounded by the Authenticator's timeout.
type extPlain struct {
	c           *conn
	user, authz string
}

func (p *extPlain) Identity() (string, string) { return p.user, p.authz }

func (p *extPlain) Step(in []byte) ([]byte, bool, error) {
	parts := strings.Split(string(in), "\x00")
	if len(parts) != 3 || parts[1] == "" || parts[2] == "" {
		return nil, true, saslsrv.ErrMalformed
	}
	c := p.c
	p.authz, p.user = parts[0], parts[1]
	// A deactivated user is refused without asking the remote (which
	// alone could tell that the password is right): not-authorized.
	if _, ok := c.lookup(p.user); !ok || disabled(c.user.Status) {
		return nil, true, saslsrv.ErrNotAuthorized
	}
	a := c.domain().Auth
	start := time.Now()
	ok, hit, err := c.srv.ext.Check(c.srv.ctx, a, c.domain().FQDN, c.user.Username, parts[2])
	if err != nil {
		c.log.Warn("external authentication unavailable, login refused", zap.String("method", a.Method),
			zap.String("endpoint", a.Endpoint()), zap.String("user", c.user.Username), zap.String("domain", c.domain().FQDN),
			zap.String("ip", c.ip), zap.Duration("elapsed", time.Since(start)), zap.String("error", err.Error()))
		return nil, true, err
	}
	if !ok {
		return nil, true, saslsrv.ErrNotAuthorized
	}
	c.log.Debug("external authentication accepted", zap.String("method", a.Method), zap.String("user", c.user.Username),
		zap.String("domain", c.domain().FQDN), zap.Bool("cached", hit))
	return nil, true, nil
}

// saslResponse reads a <response/>; nil data (and nil error) means the client
// aborted or sent garbage and a <failure/> went out.
func (c *conn) saslResponse() ([]byte, error) {
	el, err := c.next()
	if err != nil {
		return nil, err
	}
	if el.Name.Space == nsSASL && el.Name.Local == "abort" {
		c.saslFailure("aborted", "")
		return nil, nil
	}
	if el.Name.Space != nsSASL || el.Name.Local != "response" {
		return nil, streamErr{condNotAuthorized, "expected a SASL response"}
	}
	in, ok := decodeSASL(el.InnerText())
	if !ok {
		c.saslFailure("incorrect-encoding", "")
		return nil, nil
	}
	return in, nil
}

// bind answers resource binding (RFC 6120 section 7) and registers the session.
func (c *conn) bind() error {
	for {
		el, err := c.next()
		if err != nil {
			return err
		}
		if el.Name.Space == smacks.NS {
			// A resumption binds: the local one into the old session, one
			// from another node into this one (sm_cluster.go).
			if err := c.smBeforeBind(el); err != nil || c.resumedInto != nil || c.bound {
				return err
			}
			continue
		}
		if el.Name.Space != nsClient {
			return streamErr{condUnsupportedStype, ""}
		}
		b := el.Child(nsBind, "bind")
		if el.Name.Local != "iq" || el.Get("type") != "set" || b == nil {
			if el.Name.Local == "iq" && el.Get("type") != "result" && el.Get("type") != "error" {
				c.sendEl(iqError(el, "", "", errNotAllowed))
				continue
			}
			return streamErr{condNotAuthorized, "bind a resource first"}
		}
		res := strings.TrimSpace(b.ChildText(nsBind, "resource"))
		if res == "" {
			r := make([]byte, 9)
			rand.Read(r)
			res = "xg-" + base64.RawURLEncoding.EncodeToString(r)
		}
		full, err := jid.New(c.user.Username, c.domain().FQDN, res)
		if err != nil {
			c.sendEl(iqError(el, "", "", errBadRequest))
			continue
		}
		c.full, c.bare, c.res = full, full.Bare().String(), full.Resourcepart()
		c.wmu.Lock()
		c.jidStr = full.String()
		c.wmu.Unlock()
		old := c.srv.register(c)
		c.bound = true
		res2 := xmlel.New(nsClient, "iq", "type", "result", "id", el.Get("id")).Add(
			xmlel.New(nsBind, "bind").Text(nsBind, "jid", full.String()))
		c.sendEl(res2)
		// The replaced session ends after the result went out: what it
		// hands on (its unacked messages, sm.go) must come after it.
		if old != nil {
			old.fail(condConflict, "replaced by a new session with the same resource")
		}
		c.log.Info("session started", zap.String("jid", full.String()), zap.String("ip", c.ip), zap.Bool("tls", c.tlsOn), zap.String("transport", c.kind))
		return nil
	}
}

// readLoop routes the stanzas of a bound session until the stream ends.
func (c *conn) readLoop() error {
	defer c.batch().flush()
	for {
		if err := c.idleWait(); err != nil {
			return err
		}
		el, err := c.next()
		if err != nil {
			return err
		}
		c.lastActive.Store(time.Now().UnixNano())
		if el.Name.Space != nsClient {
			switch el.Name.Space {
			case nsServer:
				return streamErr{condInvalidNamespace, ""}
			case smacks.NS:
				if err := c.smElement(el); err != nil {
					return err
				}
				continue
			case nsCSI:
				c.csiElement(el)
				continue
			}
			return streamErr{condUnsupportedStype, ""}
		}
		switch el.Name.Local {
		case "message", "presence", "iq":
			c.handle(el)
			c.handled()
		default:
			return streamErr{condUnsupportedStype, ""}
		}
	}
}

const nsServer = "jabber:server"

// handle routes one stanza. An iq or presence runs on a goroutine of its
// own, waited for so stanzas stay in order: their deep paths (store,
// roster, presence fan-out) then grow that goroutine's stack, not the
// session's, and an idle session keeps only the 8 KiB its read needs
// instead of 16 (bench/README.md: 26.8 → 21.6 KiB per idle session). A
// message, the hot path, is routed inline: the extra goroutine costs ~4 µs
// of the ~30 µs a message takes. So is everything on a session that gives
// its goroutine up when idle (handsOff): its grown stack ends with its
// busy spell anyway, and a fresh goroutine's stack grown anew for every
// iq and presence (runtime.copystack) was a tenth of the server's CPU in
// a profile of joins into new rooms.
func (c *conn) handle(el *xmlel.Element) {
	c.srv.countStanza(el.Name.Local)
	if el.Name.Local == "message" {
		c.srv.fromClient(c, el)
		return
	}
	// An iq or presence may wait on the store: what earlier messages
	// routed goes out first.
	c.batch().flush()
	if c.handsOff() {
		c.srv.fromClient(c, el)
		return
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer c.recover()
		c.srv.fromClient(c, el)
	}()
	<-done
}

func (c *conn) cleanup() {
	c.srv.mu.Lock()
	delete(c.srv.conns, c)
	c.srv.mu.Unlock()
	if c.bound {
		c.srv.sessionEnded(c)
		c.settleUnacked()
	}
	c.nc.Close()
}

// info describes the session for the admin interface.
func (c *conn) info() SessionInfo {
	c.wmu.Lock() // a resumption (takeOver) moves these to the new transport's
	hib, kind, tlsOn, ip, port := c.hib != nil, c.kind, c.tlsOn, c.ip, c.port
	c.wmu.Unlock()
	last := c.connected
	if ns := c.lastActive.Load(); ns != 0 {
		last = time.Unix(0, ns)
	}
	c.smu.Lock()
	defer c.smu.Unlock()
	return SessionInfo{
		LastActive: last, Anonymous: c.anon,
		JID: c.full.String(), Domain: c.domain().FQDN, Username: c.user.Username, Resource: c.res,
		IP: ip, Port: port, Priority: c.priority, Connected: c.connected,
		Status: c.status, Show: c.show, TLS: tlsOn, Available: c.available, Hibernated: hib, Transport: kind,
	}
}
