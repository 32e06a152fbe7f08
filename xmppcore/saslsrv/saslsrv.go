// Package saslsrv implements the server side of the SASL mechanisms xmppcore
// offers (RFC 6120 section 6): SCRAM-SHA-256 and SCRAM-SHA-1 (RFC 5802,
// RFC 7677) verified against stored StoredKey/ServerKey, and PLAIN (RFC 4616).
//
// Channel binding (-PLUS) is not offered; a client that asks for it fails.
// A conversation for an unknown user runs to its end with a fake salt, so
// the answer does not reveal which usernames exist.
package saslsrv

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"hash"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xmppgate/xmppgate/store/credential"
)

// Mechanism names, in order of preference.
const (
	ScramSHA256 = "SCRAM-SHA-256"
	ScramSHA1   = "SCRAM-SHA-1"
	Plain       = "PLAIN"
)

// Mechanisms lists what the server offers, strongest first.
var Mechanisms = []string{ScramSHA256, ScramSHA1, Plain}

// Anonymous is RFC 4505's mechanism. It is not in Mechanisms: xmppcore
// offers it only on the domains that enable anonymous login.
const Anonymous = "ANONYMOUS"

// maxTrace bounds ANONYMOUS's optional trace message (RFC 4505 section 3).
const maxTrace = 255

// AnonymousTrace checks the optional trace message of an ANONYMOUS
// exchange: valid UTF-8 of at most 255 characters, else ErrMalformed.
// The trace is not an identity and is never used as one.
func AnonymousTrace(in []byte) error {
	if !utf8.Valid(in) || utf8.RuneCount(in) > maxTrace || bytes.IndexByte(in, 0) >= 0 {
		return ErrMalformed
	}
	return nil
}

// Errors ending a conversation; the c2s layer maps them to <failure/> conditions.
var (
	ErrNotAuthorized = errors.New("sasl: not-authorized")
	ErrMalformed     = errors.New("sasl: malformed-request")
	ErrInvalidMech   = errors.New("sasl: invalid-mechanism")
)

// Lookup returns the stored credentials of username (as sent by the client,
// not yet normalised) and whether that user may log in at all.
type Lookup func(username string) (cred credential.SCRAM, ok bool)

var fakeKey = func() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}()

// serverNonce returns the server's part of the SCRAM nonce (tests pin it).
var serverNonce = func() string {
	nb := make([]byte, 18)
	rand.Read(nb)
	return base64.RawStdEncoding.EncodeToString(nb)
}

// Conversation is one SASL exchange.
type Conversation struct {
	mech   string
	lookup Lookup
	want   credential.Families // what a PLAIN login completes (see Completed)
	h      func() hash.Hash
	step   int

	user, authz string
	ok          bool
	cred        credential.SCRAM
	completed   *credential.SCRAM

	gs2, clientFirstBare, serverFirst, nonce string
}

// Start begins a conversation for mechanism mech. want are the SCRAM
// families the server keeps keys for (config scram_hashes).
func Start(mech string, lookup Lookup, want credential.Families) (*Conversation, error) {
	c := &Conversation{mech: mech, lookup: lookup, want: want}
	switch mech {
	case ScramSHA256:
		c.h = sha256.New
	case ScramSHA1:
		c.h = sha1.New
	case Plain:
	default:
		return nil, ErrInvalidMech
	}
	return c, nil
}

// Identity returns the authentication identity (username as sent) and the
// requested authorization identity; valid once Step reported done.
func (c *Conversation) Identity() (user, authzid string) { return c.user, c.authz }

// Step consumes one client message and returns the server's answer. done
// with a nil error means success; out is then the additional data of <success/>.
func (c *Conversation) Step(in []byte) (out []byte, done bool, err error) {
	defer func() { c.step++ }()
	if c.mech == Plain {
		return c.plain(in)
	}
	switch c.step {
	case 0:
		out, err := c.scramFirst(in)
		return out, false, err
	case 1:
		out, err := c.scramFinal(in)
		return out, err == nil, err
	}
	return nil, true, ErrMalformed
}

func (c *Conversation) plain(in []byte) ([]byte, bool, error) {
	parts := bytes.Split(in, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 || len(parts[2]) == 0 {
		return nil, true, ErrMalformed
	}
	c.authz, c.user = string(parts[0]), string(parts[1])
	cred, ok := c.lookup(c.user)
	if !ok {
		return nil, true, ErrNotAuthorized
	}
	if full, ok := cred.Complete(string(parts[2]), c.want); ok {
		c.completed = &full
		return nil, true, nil
	}
	if !cred.Verify(string(parts[2])) {
		return nil, true, ErrNotAuthorized
	}
	return nil, true, nil
}

// Completed returns the user's credentials with the SCRAM families of want
// they lacked (imported SCRAM-SHA-1 keys alone, say), derived from the password
// a successful PLAIN exchange carried; false if nothing was missing. The
// caller stores them, so the user can answer either SCRAM from then on.
func (c *Conversation) Completed() (credential.SCRAM, bool) {
	if c.completed == nil {
		return credential.SCRAM{}, false
	}
	return *c.completed, true
}

func (c *Conversation) scramFirst(in []byte) ([]byte, error) {
	s := string(in)
	// gs2-header: cbind-flag "," [authzid] ","
	flag, rest, ok := strings.Cut(s, ",")
	if !ok {
		return nil, ErrMalformed
	}
	switch {
	case flag == "n" || flag == "y":
	case strings.HasPrefix(flag, "p="):
		return nil, ErrNotAuthorized // channel binding is never offered
	default:
		return nil, ErrMalformed
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return nil, ErrMalformed
	}
	if authz != "" {
		a, ok := strings.CutPrefix(authz, "a=")
		if !ok {
			return nil, ErrMalformed
		}
		var err error
		if c.authz, err = unescape(a); err != nil {
			return nil, err
		}
	}
	c.gs2 = s[:len(s)-len(bare)]
	c.clientFirstBare = bare
	attrs := strings.Split(bare, ",")
	if len(attrs) < 2 || strings.HasPrefix(attrs[0], "m=") {
		return nil, ErrMalformed
	}
	u, ok1 := strings.CutPrefix(attrs[0], "n=")
	cnonce, ok2 := strings.CutPrefix(attrs[1], "r=")
	if !ok1 || !ok2 || u == "" || cnonce == "" || strings.Contains(cnonce, ",") {
		return nil, ErrMalformed
	}
	var err error
	if c.user, err = unescape(u); err != nil {
		return nil, err
	}
	c.cred, c.ok = c.lookup(c.user)
	if c.ok && (len(c.stored()) == 0 || len(c.cred.Salt) == 0 || c.cred.Iterations <= 0) {
		c.ok = false
	}
	salt, iter := c.cred.Salt, c.cred.Iterations
	if !c.ok {
		salt = credential.HMAC(sha256.New, fakeKey, []byte(c.mech+"\x00"+c.user))[:credential.SaltLen]
		iter = credential.DefaultIterations
	}
	c.nonce = cnonce + serverNonce()
	c.serverFirst = "r=" + c.nonce + ",s=" + base64.StdEncoding.EncodeToString(salt) + ",i=" + strconv.Itoa(iter)
	return []byte(c.serverFirst), nil
}

func (c *Conversation) stored() []byte {
	if c.mech == ScramSHA1 {
		return c.cred.SHA1Stored
	}
	return c.cred.SHA256Stored
}

func (c *Conversation) server() []byte {
	if c.mech == ScramSHA1 {
		return c.cred.SHA1Server
	}
	return c.cred.SHA256Server
}

func (c *Conversation) scramFinal(in []byte) ([]byte, error) {
	s := string(in)
	i := strings.LastIndex(s, ",p=")
	if i < 0 {
		return nil, ErrMalformed
	}
	withoutProof, proofB64 := s[:i], s[i+3:]
	attrs := strings.Split(withoutProof, ",")
	if len(attrs) < 2 {
		return nil, ErrMalformed
	}
	cb, ok1 := strings.CutPrefix(attrs[0], "c=")
	nonce, ok2 := strings.CutPrefix(attrs[1], "r=")
	if !ok1 || !ok2 {
		return nil, ErrMalformed
	}
	gs2, err := base64.StdEncoding.DecodeString(cb)
	if err != nil || string(gs2) != c.gs2 || nonce != c.nonce {
		return nil, ErrNotAuthorized
	}
	proof, err := base64.StdEncoding.DecodeString(proofB64)
	if err != nil {
		return nil, ErrMalformed
	}
	if !c.ok || len(proof) != c.h().Size() {
		return nil, ErrNotAuthorized
	}
	authMsg := []byte(c.clientFirstBare + "," + c.serverFirst + "," + withoutProof)
	sig := credential.HMAC(c.h, c.stored(), authMsg)
	clientKey := make([]byte, len(proof))
	for i := range proof {
		clientKey[i] = proof[i] ^ sig[i]
	}
	h := c.h()
	h.Write(clientKey)
	if subtle.ConstantTimeCompare(h.Sum(nil), c.stored()) != 1 {
		return nil, ErrNotAuthorized
	}
	v := credential.HMAC(c.h, c.server(), authMsg)
	return []byte("v=" + base64.StdEncoding.EncodeToString(v)), nil
}

// unescape decodes a SCRAM saslname (=2C is ",", =3D is "=").
func unescape(s string) (string, error) {
	if !strings.Contains(s, "=") {
		return s, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", ErrMalformed
		}
		i += 2
	}
	return b.String(), nil
}
