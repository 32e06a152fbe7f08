package s2s

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"strings"

	"github.com/xmppgate/xmppgate/xmlel"
)

// Key is the XEP-0185 dialback key: HMAC-SHA256 keyed with the SHA-256 of
// the secret in lower-case hex, over "receiving originating streamID", in
// lower-case hex. A
// key depends only on the secret and the stream, so the authoritative server
// recomputes it without remembering what it sent.
func Key(secret []byte, receiving, originating, streamID string) string {
	k := sha256.Sum256(secret)
	m := hmac.New(sha256.New, []byte(hex.EncodeToString(k[:])))
	m.Write([]byte(receiving + " " + originating + " " + streamID))
	return hex.EncodeToString(m.Sum(nil))
}

// KeyValid compares a received key with the expected one in constant time.
func KeyValid(secret []byte, receiving, originating, streamID, got string) bool {
	want := Key(secret, receiving, originating, streamID)
	return subtle.ConstantTimeCompare([]byte(want), []byte(strings.TrimSpace(got))) == 1
}

// Dialback is a parsed <db:result/> or <db:verify/>.
type Dialback struct {
	Verify   bool   // db:verify, else db:result
	From, To string // domains
	ID       string // stream id (db:verify only)
	Type     string // "" for a request; valid, invalid or error for an answer
	Key      string
}

// ErrNotDialback: the element is not in the dialback namespace.
var ErrNotDialback = errors.New("s2s: not a dialback element")

// ParseDialback reads a dialback element; it checks the shape, not the key.
func ParseDialback(el *xmlel.Element) (Dialback, error) {
	if el.Name.Space != NSDialback {
		return Dialback{}, ErrNotDialback
	}
	d := Dialback{From: el.Get("from"), To: el.Get("to"), ID: el.Get("id"), Type: el.Get("type")}
	switch el.Name.Local {
	case "result":
	case "verify":
		d.Verify = true
	default:
		return d, errors.New("s2s: unknown dialback element " + el.Name.Local)
	}
	if !validDomain(d.From) || !validDomain(d.To) {
		return d, errors.New("s2s: dialback needs from and to domains")
	}
	if d.Verify && d.ID == "" {
		return d, errors.New("s2s: db:verify without id")
	}
	switch d.Type {
	case "":
		d.Key = strings.TrimSpace(el.InnerText())
		if d.Key == "" || len(d.Key) > 1024 {
			return d, errors.New("s2s: dialback request without a usable key")
		}
	case "valid", "invalid", "error":
	default:
		return d, errors.New("s2s: unknown dialback type " + d.Type)
	}
	return d, nil
}

// Element serialises d (answers carry no key).
func (d Dialback) Element() *xmlel.Element {
	local := "result"
	id := ""
	if d.Verify {
		local, id = "verify", d.ID
	}
	el := xmlel.New(NSDialback, local, "from", d.From, "to", d.To, "id", id, "type", d.Type)
	if d.Type == "" {
		el.Add(d.Key)
	}
	return el
}
