// Package credential derives and checks the SCRAM credentials of RFC 5802 and
// RFC 7677 (SCRAM-SHA-1, SCRAM-SHA-256) that the store keeps instead of passwords.
package credential

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"hash"

	"golang.org/x/text/secure/precis"
	"golang.org/x/text/unicode/norm"
)

// DefaultIterations is the PBKDF2 iteration count for new credentials; 4096 is
// the minimum RFC 7677 asks for and what ejabberd and Prosody use, so clients
// that cache salted passwords keep working.
const DefaultIterations = 4096

// SaltLen is the size of a fresh random salt in bytes.
const SaltLen = 16

// ErrInvalidPassword is returned for a password that the OpaqueString profile
// (RFC 8265, the successor of SASLprep) rejects, or that is empty.
var ErrInvalidPassword = errors.New("credential: invalid password")

// SCRAM holds both SCRAM families' keys, derived from one salt.
type SCRAM struct {
	Salt         []byte
	Iterations   int
	SHA1Stored   []byte
	SHA1Server   []byte
	SHA256Stored []byte
	SHA256Server []byte
}

// Prepare prepares a password for key derivation as SASLprep (RFC 4013)
// does, because that is what SCRAM clients (slixmpp, Smack, libpurple) run
// before deriving their proof, and what ejabberd and Prosody ran before
// deriving the keys users bring along when they migrate. The password must
// pass the OpaqueString profile of RFC 8265 (SASLprep's successor, which
// refuses what SASLprep prohibits, maps non-ASCII spaces to U+0020 and
// normalises to NFC); the result is then put in NFKC, where SASLprep puts
// it. The two differ only for compatibility characters: "ﬁ" is "fi",
// fullwidth "ｐ" is "p", halfwidth "ﾊﾟ" is "パ", "Ⅸ" is "IX". Both sides
// must prepare alike, so every derivation goes through here.
func Prepare(password string) (string, error) {
	p, err := opaque(password)
	if err != nil {
		return "", err
	}
	return norm.NFKC.String(p), nil
}

// opaque is the OpaqueString form alone: what xmppgate derived keys from
// before it followed SASLprep (see Verify).
func opaque(password string) (string, error) {
	if password == "" {
		return "", ErrInvalidPassword
	}
	p, err := precis.OpaqueString.String(password)
	if err != nil || p == "" {
		return "", ErrInvalidPassword
	}
	return p, nil
}

// New derives credentials for password, both families, with a fresh
// random salt.
func New(password string) (SCRAM, error) { return NewFor(password, Both) }

func newSalt() ([]byte, error) {
	salt := make([]byte, SaltLen)
	_, err := rand.Read(salt)
	return salt, err
}

// Derive computes StoredKey and ServerKey for both hash families.
func Derive(password string, salt []byte, iterations int) (SCRAM, error) {
	return DeriveFor(password, salt, iterations, Both)
}

// Keys returns StoredKey and ServerKey for an already prepared password.
func Keys(h func() hash.Hash, prepared string, salt []byte, iterations int) (stored, server []byte, err error) {
	salted, err := SaltedPassword(h, prepared, salt, iterations)
	if err != nil {
		return nil, nil, err
	}
	clientKey := HMAC(h, salted, []byte("Client Key"))
	sum := h()
	sum.Write(clientKey)
	return sum.Sum(nil), HMAC(h, salted, []byte("Server Key")), nil
}

// HMAC is HMAC(key, msg) with hash h.
func HMAC(h func() hash.Hash, key, msg []byte) []byte {
	m := hmac.New(h, key)
	m.Write(msg)
	return m.Sum(nil)
}

// Verify reports whether password matches the stored credentials. It is the
// check behind PLAIN and check_password; SCRAM exchanges verify proofs instead.
// Credentials imported from another server may hold SCRAM-SHA-1 keys only;
// those are checked then.
func (c SCRAM) Verify(password string) bool {
	_, ok := c.match(password)
	return ok
}

// match returns the prepared form of password that the stored keys were
// derived from. That is Prepare's; keys xmppgate derived before it put
// passwords in NFKC came from the OpaqueString form, which differs for a
// password with compatibility characters, so that form is tried too.
func (c SCRAM) match(password string) (string, bool) {
	h, want := sha256.New, c.SHA256Stored
	if len(want) == 0 {
		h, want = sha1.New, c.SHA1Stored
	}
	if len(want) == 0 {
		return "", false
	}
	p, err := Prepare(password)
	if err != nil {
		return "", false
	}
	check := func(p string) bool {
		stored, _, err := Keys(h, p, c.Salt, c.Iterations)
		return err == nil && subtle.ConstantTimeCompare(stored, want) == 1
	}
	if check(p) {
		return p, true
	}
	if o, _ := opaque(password); o != p && check(o) {
		return o, true
	}
	return "", false
}

// Complete derives the keys of the families of want that c lacks
// (credentials imported from a server that kept SCRAM-SHA-1 only, or made
// while scram_hashes named one family) from password, with c's salt and
// iteration count. It reports false, and changes nothing, when c lacks
// none of want or password does not match.
func (c SCRAM) Complete(password string, want Families) (SCRAM, bool) {
	missing := want.orBoth() &^ c.Families()
	if missing == 0 {
		return c, false
	}
	p, ok := c.match(password)
	if !ok {
		return c, false
	}
	var err error
	if missing.Has(SHA1) {
		c.SHA1Stored, c.SHA1Server, err = Keys(sha1.New, p, c.Salt, c.Iterations)
	}
	if err == nil && missing.Has(SHA256) {
		c.SHA256Stored, c.SHA256Server, err = Keys(sha256.New, p, c.Salt, c.Iterations)
	}
	return c, err == nil
}

// OnlySHA1 reports whether c has SCRAM-SHA-1 keys and no SCRAM-SHA-256
// ones: its user cannot answer a SCRAM-SHA-256 exchange.
func (c SCRAM) OnlySHA1() bool { return len(c.SHA1Stored) > 0 && len(c.SHA256Stored) == 0 }
