package xmppload

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Conn is one authenticated, bound session.
type Conn struct {
	w   wire
	JID string // full JID the server bound
	// ns is the stanzas' namespace declaration: none in a TCP stream,
	// which declares it once; " xmlns='jabber:client'" where each element
	// stands alone (RFC 7395 §3.3.3; BOSH's body has another namespace).
	ns string
}

// Account names a user on a server.
type Account struct {
	Addr     string // c2s address, host:port on loopback
	Domain   string
	User     string
	Password string
	URL      string // the WebSocket (ws://…) or BOSH (http://…) endpoint of LoginWS and LoginBOSH
}

// ScramCache keeps SaltedPassword per account, salt and iteration count
// (RFC 5802 allows clients to cache it), so timed runs do no PBKDF2 on the
// client that shares the cores with the server.
type ScramCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func NewScramCache() *ScramCache { return &ScramCache{m: map[string][]byte{}} }

func (c *ScramCache) salted(user, pass, salt string, iter int) ([]byte, error) {
	key := user + "\x00" + salt + "\x00" + strconv.Itoa(iter)
	c.mu.Lock()
	sp, ok := c.m[key]
	c.mu.Unlock()
	if ok {
		return sp, nil
	}
	raw, err := base64.StdEncoding.DecodeString(salt)
	if err != nil {
		return nil, fmt.Errorf("salt: %w", err)
	}
	sp, err = pbkdf2.Key(sha1.New, pass, raw, iter, sha1.Size)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.m[key] = sp
	c.mu.Unlock()
	return sp, nil
}

// tlsConfig offers X25519 only: OpenSSL 3.0 (ejabberd, Prosody) cannot use
// Go's default hybrid post-quantum key exchange and a Go server would pay for
// it; one curve for all keeps the handshakes equal. No session resumption.
func tlsConfig(domain string) *tls.Config {
	return &tls.Config{
		ServerName:         domain,
		InsecureSkipVerify: true, // throw-away self-signed certificate
		CurvePreferences:   []tls.CurveID{tls.X25519},
		MinVersion:         tls.VersionTLS12,
	}
}

const (
	nsTLS  = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL = "urn:ietf:params:xml:ns:xmpp-sasl"
)

func streamHeader(domain string) string {
	return "<?xml version='1.0'?><stream:stream to='" + domain +
		"' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>"
}

// expect reads the next element and fails unless it is named want.
func (c *Conn) expect(want string) ([]byte, error) {
	el, err := c.w.next()
	if err != nil {
		return nil, fmt.Errorf("waiting for <%s>: %w", want, err)
	}
	if n := name(el); n != want {
		return nil, fmt.Errorf("expected <%s>, got %.200s", want, el)
	}
	return el, nil
}

// Login connects and authenticates: STARTTLS, SCRAM-SHA-1 (no channel
// binding; the server signature is checked), bind resource "bench", initial
// presence, then an XMPP ping to the domain whose answer proves the presence
// was processed (servers handle a session's stanzas in order).
func Login(a Account, cache *ScramCache, timeout time.Duration) (*Conn, error) {
	raw, err := net.DialTimeout("tcp", a.Addr, timeout)
	if err != nil {
		return nil, err
	}
	c, err := login(raw, a, cache, timeout)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("login %s@%s: %w", a.User, a.Domain, err)
	}
	return c, nil
}

func login(raw net.Conn, a Account, cache *ScramCache, timeout time.Duration) (*Conn, error) {
	raw.SetDeadline(time.Now().Add(timeout))
	tw := newTCPWire(raw, newScanner(bufio.NewReaderSize(raw, 4096)))
	c := &Conn{w: tw}
	if _, err := raw.Write([]byte(streamHeader(a.Domain))); err != nil {
		return nil, err
	}
	f, err := c.expect("stream:features")
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(f, []byte("<starttls")) {
		return nil, fmt.Errorf("no STARTTLS offered: %s", f)
	}
	if _, err := raw.Write([]byte("<starttls xmlns='" + nsTLS + "'/>")); err != nil {
		return nil, err
	}
	if _, err := c.expect("proceed"); err != nil {
		return nil, err
	}
	tc := tls.Client(raw, tlsConfig(a.Domain))
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	tw.nc = tc
	tw.sc.restart(bufio.NewReaderSize(tc, 4096))
	if _, err := tc.Write([]byte(streamHeader(a.Domain))); err != nil {
		return nil, err
	}
	if f, err = c.expect("stream:features"); err != nil {
		return nil, err
	}
	if !bytes.Contains(f, []byte(">SCRAM-SHA-1<")) {
		return nil, fmt.Errorf("SCRAM-SHA-1 not offered: %s", f)
	}
	if err := c.scram(a, cache); err != nil {
		return nil, err
	}
	tw.sc.restart(tw.sc.r)
	if _, err := tc.Write([]byte(streamHeader(a.Domain))); err != nil {
		return nil, err
	}
	if f, err = c.expect("stream:features"); err != nil {
		return nil, err
	}
	if err := c.bind(f, a.Domain); err != nil {
		return nil, err
	}
	raw.SetDeadline(time.Time{})
	return c, nil
}

// bind binds resource "bench" (with a legacy session if the features f
// still require one), sends the initial presence and pings the domain: the
// answer to the ping ends the login.
func (c *Conn) bind(f []byte, domain string) error {
	els := []string{"<iq" + c.ns + " type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bench</resource></bind></iq>"}
	if i := bytes.Index(f, []byte("urn:ietf:params:xml:ns:xmpp-session")); i >= 0 && !bytes.Contains(f[i:], []byte("<optional")) {
		els = append(els, "<iq"+c.ns+" type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
	}
	els = append(els, "<presence"+c.ns+"/>", "<iq"+c.ns+" type='get' id='p1' to='"+domain+"'><ping xmlns='urn:xmpp:ping'/></iq>")
	if err := c.send(els...); err != nil {
		return err
	}
	for {
		el, err := c.w.next()
		if err != nil {
			return fmt.Errorf("after bind: %w", err)
		}
		if name(el) != "iq" {
			continue // own presence, roster pushes...
		}
		switch attr(el, "id") {
		case "b1":
			if attr(el, "type") != "result" {
				return fmt.Errorf("bind: %s", el)
			}
			c.JID = text(el, "jid")
		case "s1":
			if attr(el, "type") != "result" {
				return fmt.Errorf("session: %s", el)
			}
		case "p1":
			if c.JID == "" {
				return fmt.Errorf("ping answered before bind")
			}
			return nil
		}
	}
}

// scram runs SASL SCRAM-SHA-1 with the gs2 header "n,,".
func (c *Conn) scram(a Account, cache *ScramCache) error {
	nonce := make([]byte, 18)
	rand.Read(nonce)
	cnonce := base64.RawStdEncoding.EncodeToString(nonce)
	user := strings.NewReplacer("=", "=3D", ",", "=2C").Replace(a.User)
	bare := "n=" + user + ",r=" + cnonce
	if err := c.send("<auth xmlns='" + nsSASL + "' mechanism='SCRAM-SHA-1'>" +
		base64.StdEncoding.EncodeToString([]byte("n,,"+bare)) + "</auth>"); err != nil {
		return err
	}
	el, err := c.expect("challenge")
	if err != nil {
		return err
	}
	sf, err := base64.StdEncoding.DecodeString(text(el, "challenge"))
	if err != nil {
		return fmt.Errorf("challenge: %w", err)
	}
	serverFirst := string(sf)
	var r, s string
	iter := 0
	for _, kv := range strings.Split(serverFirst, ",") {
		switch {
		case strings.HasPrefix(kv, "r="):
			r = kv[2:]
		case strings.HasPrefix(kv, "s="):
			s = kv[2:]
		case strings.HasPrefix(kv, "i="):
			iter, _ = strconv.Atoi(kv[2:])
		}
	}
	if !strings.HasPrefix(r, cnonce) || s == "" || iter <= 0 {
		return fmt.Errorf("bad server-first message %q", serverFirst)
	}
	sp, err := cache.salted(a.User, a.Password, s, iter)
	if err != nil {
		return err
	}
	final := "c=biws,r=" + r
	authMsg := []byte(bare + "," + serverFirst + "," + final)
	clientKey := hmacSHA1(sp, []byte("Client Key"))
	stored := sha1.Sum(clientKey)
	sig := hmacSHA1(stored[:], authMsg)
	proof := make([]byte, len(clientKey))
	for i := range proof {
		proof[i] = clientKey[i] ^ sig[i]
	}
	if err := c.send("<response xmlns='" + nsSASL + "'>" + base64.StdEncoding.EncodeToString(
		[]byte(final+",p="+base64.StdEncoding.EncodeToString(proof))) + "</response>"); err != nil {
		return err
	}
	el, err = c.w.next()
	if err != nil {
		return err
	}
	var verifier string
	switch name(el) {
	case "success":
		verifier = text(el, "success")
	case "challenge": // server-final as a challenge, empty success after
		verifier = text(el, "challenge")
		if err := c.send("<response xmlns='" + nsSASL + "'/>"); err != nil {
			return err
		}
		if _, err := c.expect("success"); err != nil {
			return err
		}
	default:
		return fmt.Errorf("SASL: %.300s", el)
	}
	v, err := base64.StdEncoding.DecodeString(verifier)
	if err != nil {
		return fmt.Errorf("server-final: %w", err)
	}
	serverKey := hmacSHA1(sp, []byte("Server Key"))
	want := "v=" + base64.StdEncoding.EncodeToString(hmacSHA1(serverKey, authMsg))
	if string(v) != want {
		return fmt.Errorf("server signature mismatch: %q", v)
	}
	return nil
}

func hmacSHA1(key, msg []byte) []byte {
	m := hmac.New(sha1.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

// Close ends the stream and the connection without waiting for the
// server's answer.
func (c *Conn) Close() error { return c.w.bye() }
