package credential

import (
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"strings"
)

// Families are the SCRAM hash families a new password's keys are derived
// for (config scram_hashes). Both is the default: SCRAM-SHA-256 for the
// clients that have it, SCRAM-SHA-1 for the many that still have only it.
// One family halves what an account costs to create (the derivation is
// most of it), as ejabberd's auth_scram_hash (one hash, SHA-1 by default)
// and Prosody 0.12 (SCRAM-SHA-1 only) do; the domain then offers only the
// mechanisms its users can answer. The zero value means Both.
type Families uint8

// The families.
const (
	SHA1 Families = 1 << iota
	SHA256
	Both = SHA1 | SHA256
)

// familyNames are the spellings ParseFamilies accepts: "sha" is
// ejabberd's auth_scram_hash name for SHA-1.
var familyNames = map[string]Families{"sha1": SHA1, "sha-1": SHA1, "sha": SHA1, "sha256": SHA256, "sha-256": SHA256}

// ParseFamilies reads a comma-separated list such as "sha1,sha256"; an
// empty one is Both.
func ParseFamilies(s string) (Families, error) {
	if strings.TrimSpace(s) == "" {
		return Both, nil
	}
	var f Families
	for _, name := range strings.Split(s, ",") {
		g, ok := familyNames[strings.ToLower(strings.TrimSpace(name))]
		if !ok {
			return 0, fmt.Errorf("unknown SCRAM hash %q (want sha1, sha256 or both, comma-separated)", strings.TrimSpace(name))
		}
		f |= g
	}
	return f, nil
}

// Has reports whether f includes every family of g.
func (f Families) Has(g Families) bool { return f.orBoth()&g == g }

func (f Families) orBoth() Families {
	if f&Both == 0 {
		return Both
	}
	return f
}

func (f Families) String() string {
	switch f.orBoth() {
	case SHA1:
		return "sha1"
	case SHA256:
		return "sha256"
	}
	return "sha1,sha256"
}

// NewFor is New for the families f.
func NewFor(password string, f Families) (SCRAM, error) {
	salt, err := newSalt()
	if err != nil {
		return SCRAM{}, err
	}
	return DeriveFor(password, salt, DefaultIterations, f)
}

// DeriveFor is Derive for the families f.
func DeriveFor(password string, salt []byte, iterations int, f Families) (SCRAM, error) {
	p, err := Prepare(password)
	if err != nil {
		return SCRAM{}, err
	}
	c := SCRAM{Salt: salt, Iterations: iterations}
	if f.Has(SHA1) {
		if c.SHA1Stored, c.SHA1Server, err = Keys(sha1.New, p, salt, iterations); err != nil {
			return SCRAM{}, err
		}
	}
	if f.Has(SHA256) {
		if c.SHA256Stored, c.SHA256Server, err = Keys(sha256.New, p, salt, iterations); err != nil {
			return SCRAM{}, err
		}
	}
	return c, nil
}

// Families reports the families c has keys for (0 for none).
func (c SCRAM) Families() Families {
	var f Families
	if len(c.SHA1Stored) > 0 {
		f |= SHA1
	}
	if len(c.SHA256Stored) > 0 {
		f |= SHA256
	}
	return f
}
