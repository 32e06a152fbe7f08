package commands

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// PurposeAPIKey seals API keys.
const PurposeAPIKey = "api-key"

// keyDefs are the key commands (DreamHost's api module).
var keyDefs = []*Def{ListAccessibleCmds, ListKeys}

// Grants is a DreamHost key's list of command patterns: "*", "<module>-*" or
// an exact command.
type Grants []string

// All reports whether the key may call every command.
func (g Grants) All() bool {
	for _, p := range g {
		if p == "*" {
			return true
		}
	}
	return false
}

// Allows reports whether cmd matches a pattern (case-insensitively).
func (g Grants) Allows(cmd string) bool {
	cmd = strings.ToLower(cmd)
	for _, p := range g {
		p = strings.ToLower(strings.TrimSpace(p))
		switch {
		case p == "*", p == cmd:
			return true
		case strings.HasSuffix(p, "-*") && strings.HasPrefix(cmd, p[:len(p)-1]):
			return true
		}
	}
	return false
}

// ValidGrant reports whether p is a well-formed pattern.
func ValidGrant(p string) bool {
	if p == "*" {
		return true
	}
	mod, rest, ok := strings.Cut(p, "-")
	if !ok || mod == "" || rest == "" || strings.Contains(mod, "*") {
		return false
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '*') {
			return false
		}
	}
	return rest == "*" || !strings.Contains(rest, "*")
}

var accessibleColumns = []string{"cmd", "order", "args", "optargs"}

// ListAccessibleCmds lists the DreamHost commands the key may call.
var ListAccessibleCmds = &Def{
	Name:          "list_accessible_cmds",
	Doc:           "Lists the commands this key may call, with their required and optional arguments and result columns. Every valid key may call it.",
	Result:        Result{Kind: ResultTable, Columns: accessibleColumns},
	Names:         map[Dialect]string{DreamHost: "api-list_accessible_cmds"},
	AlwaysAllowed: true,
	Handle:        listAccessibleCmds,
}

func listAccessibleCmds(ctx context.Context, c *Call) (any, error) {
	t := Table{Columns: accessibleColumns}
	for _, d := range c.Reg.Dialect(DreamHost) {
		name := d.Names[DreamHost]
		if !c.Caller.MayCall(d) {
			continue
		}
		args, opt := []string{}, []string{}
		for _, a := range d.ArgsIn(DreamHost) {
			if a.Optional {
				opt = append(opt, a.WireName(DreamHost))
			} else {
				args = append(args, a.WireName(DreamHost))
			}
		}
		order := append([]string{}, d.Columns()...)
		t.Rows = append(t.Rows, []any{name, order, args, opt})
	}
	return t, nil
}

// MayCall reports whether a DreamHost key's grants allow def.
func (c Caller) MayCall(def *Def) bool {
	switch {
	case def.AlwaysAllowed:
		return true
	case def.AllKeysOnly:
		return c.Grants.All()
	}
	return c.Grants.Allows(def.Names[DreamHost])
}

var keyColumns = []string{"key", "created", "comment", "functions"}

// ListKeys lists the account's API keys.
var ListKeys = &Def{
	Name:        "list_keys",
	Doc:         "Lists the API keys of the account with their creation time, comment and allowed commands. Only a key allowed every command (*) may call it.",
	Result:      Result{Kind: ResultTable, Columns: keyColumns},
	Names:       map[Dialect]string{DreamHost: "api-list_keys", Console: "list_keys"},
	AllKeysOnly: true,
	Handle:      listKeys,
}

func listKeys(ctx context.Context, c *Call) (any, error) {
	keys, err := c.Env.Store.Keys(ctx, c.Caller.Accounts)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: keyColumns, Rows: make([][]any, 0, len(keys))}
	for _, k := range keys {
		plain, err := c.Env.Box.Open(k.Sealed, PurposeAPIKey)
		if err != nil {
			return nil, err
		}
		fns := append([]string{}, k.Cmds...)
		sort.Strings(fns)
		t.Rows = append(t.Rows, []any{string(plain), stamp(k.Created), k.Comment, strings.Join(fns, ",")})
	}
	return t, nil
}

// KeyLen is the length of a DreamHost-style API key.
const KeyLen = 16

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// NewKeyText mints a key of KeyLen upper-case alphanumerics.
func NewKeyText() string { return randomText(keyAlphabet, KeyLen) }

// randomText draws n characters of alphabet. Bytes from the largest
// multiple of len(alphabet) up are skipped (252 = 7*36 for keys, 248 =
// 4*62 for Openfire secrets), so every character is equally likely.
func randomText(alphabet string, n int) string {
	limit := 256 - 256%len(alphabet)
	out := make([]byte, 0, n)
	b := make([]byte, 32)
	for len(out) < n {
		if _, err := rand.Read(b); err != nil {
			panic("commands: no randomness: " + err.Error())
		}
		for _, c := range b {
			if int(c) < limit && len(out) < n {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out)
}

// KeySpec describes a key to create.
type KeySpec struct {
	Account int64
	Cmds    []string
	IPAllow string // comma-separated CIDRs or addresses; "" allows any
	Comment string
}

// CreateKey adds an API key and returns its text, which is shown only now
// and by api-list_keys.
func CreateKey(ctx context.Context, env *Env, spec KeySpec) (string, store.Key, error) {
	var cmds []string
	for _, c := range spec.Cmds {
		c = strings.ToLower(strings.TrimSpace(c))
		if c == "" {
			continue
		}
		if !ValidGrant(c) {
			return "", store.Key{}, Errorf(Invalid, ReasonMalformed, "cmds", "%q is not *, <module>-* or a command", c)
		}
		cmds = append(cmds, c)
	}
	if len(cmds) == 0 {
		return "", store.Key{}, Errorf(Invalid, ReasonMissing, "cmds", "a key needs at least one command pattern")
	}
	if _, err := ParseIPAllow(spec.IPAllow); err != nil {
		return "", store.Key{}, Errorf(Invalid, ReasonMalformed, "ip", "%v", err)
	}
	text := NewKeyText()
	k := store.Key{AccountID: spec.Account, Sealed: env.Box.Seal([]byte(text), PurposeAPIKey), Cmds: cmds, IPAllow: spec.IPAllow, Comment: spec.Comment}
	err := env.Store.Write(ctx, func(tx *store.Tx) (err error) {
		k, err = tx.InsertKey(ctx, k, store.KeyHash(text))
		if errors.Is(err, store.ErrNotFound) {
			return Errorf(NotFound, "", "account", "no account %d", spec.Account)
		}
		if err != nil {
			return err
		}
		return tx.Audit(ctx, spec.Account, "cli", "key add", fmt.Sprintf("key %d cmds %s", k.ID, strings.Join(cmds, ",")))
	})
	return text, k, err
}

// ParseIPAllow parses a comma-separated list of CIDRs or addresses.
func ParseIPAllow(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if !strings.Contains(f, "/") {
			a, err := netip.ParseAddr(f)
			if err != nil {
				return nil, fmt.Errorf("%q is not an address or CIDR", f)
			}
			out = append(out, netip.PrefixFrom(a, a.BitLen()))
			continue
		}
		p, err := netip.ParsePrefix(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR", f)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// PurposeOpenfireSecret seals Openfire secrets.
const PurposeOpenfireSecret = "openfire-secret"

// OpenfireSecretLen is the length of a generated secret (the restAPI
// plugin's default length).
const OpenfireSecretLen = 16

// MaxOpenfireSecret bounds a chosen secret, in bytes.
const MaxOpenfireSecret = 256

const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewOpenfireSecret mints a random alphanumeric secret.
func NewOpenfireSecret() string { return randomText(secretAlphabet, OpenfireSecretLen) }

// OpenfireSpec is what `openfire set` changes; nil and empty fields keep the
// current value (or take the default for a new credential).
type OpenfireSpec struct {
	Account int64
	Domain  string // FQDN of a domain of the account; default: its first (oldest) domain
	Secret  string // the new secret; with Random (or for a new credential) a random one is made
	Random  bool
	IPAllow *string // comma-separated client addresses, compared as exact strings; "" = any
	Enabled *bool   // default true
}

// NormalizeIPList trims the items of a comma-separated address list and
// drops empty ones, as Openfire reads its allowedIPs property.
func NormalizeIPList(s string) string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return strings.Join(out, ",")
}

// SetOpenfire creates or changes an account's Openfire credential and
// returns its secret (new or current) and the stored credential.
func SetOpenfire(ctx context.Context, env *Env, spec OpenfireSpec) (string, store.OpenfireCredential, error) {
	cur, err := env.Store.OpenfireCredential(ctx, spec.Account)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return "", cur, err
	}
	c := cur
	c.AccountID = spec.Account
	if !exists {
		c.Enabled = true
	}
	if spec.Domain != "" || !exists {
		d, err := openfireDomain(ctx, env, spec.Account, spec.Domain)
		if err != nil {
			return "", c, err
		}
		c.DomainID, c.Domain = d.ID, d.FQDN
	}
	if spec.IPAllow != nil {
		c.IPAllow = NormalizeIPList(*spec.IPAllow)
	}
	if spec.Enabled != nil {
		c.Enabled = *spec.Enabled
	}
	var secret string
	switch {
	case spec.Secret != "":
		if len(spec.Secret) > MaxOpenfireSecret || !utf8.ValidString(spec.Secret) || strings.TrimSpace(spec.Secret) != spec.Secret {
			return "", c, Errorf(Invalid, ReasonMalformed, "secret", "a secret is valid UTF-8 of at most %d bytes without surrounding spaces", MaxOpenfireSecret)
		}
		secret = spec.Secret
	case spec.Random || !exists:
		secret = NewOpenfireSecret()
	default:
		plain, err := env.Box.Open(cur.SecretSealed, PurposeOpenfireSecret)
		if err != nil {
			return "", c, fmt.Errorf("open Openfire secret of account %d: %w", spec.Account, err)
		}
		secret = string(plain)
	}
	c.SecretSealed = env.Box.Seal([]byte(secret), PurposeOpenfireSecret)
	err = env.Store.Write(ctx, func(tx *store.Tx) error {
		err := tx.PutOpenfireCredential(ctx, c, store.KeyHash(secret))
		switch {
		case errors.Is(err, store.ErrDuplicate):
			return Errorf(Conflict, "", "secret", "another account uses this secret")
		case errors.Is(err, store.ErrNotFound):
			return Errorf(NotFound, "", "account", "no account %d", spec.Account)
		case err != nil:
			return err
		}
		return tx.Audit(ctx, spec.Account, "cli", "openfire set",
			fmt.Sprintf("domain %s enabled %t ip %q new secret %t", c.Domain, c.Enabled, c.IPAllow, spec.Secret != "" || spec.Random || !exists))
	})
	if err != nil {
		return "", c, err
	}
	c, err = env.Store.OpenfireCredential(ctx, spec.Account)
	return secret, c, err
}

// openfireDomain resolves the domain a credential is bound to: fqdn if it
// belongs to the account, else the account's oldest domain.
func openfireDomain(ctx context.Context, env *Env, account int64, fqdn string) (store.Domain, error) {
	if fqdn != "" {
		name, err := NormalizeDomain(fqdn)
		if err != nil {
			return store.Domain{}, Errorf(Invalid, ReasonMalformed, "domain", "%q: %v", fqdn, err)
		}
		d, err := env.Store.Reader.DomainByFQDN(ctx, name)
		if errors.Is(err, store.ErrNotFound) || err == nil && d.AccountID != account {
			return d, Errorf(Invalid, ReasonUnknownDomain, "domain", "%s is not a domain of account %d", name, account)
		}
		return d, err
	}
	ds, err := env.Store.Domains(ctx, []int64{account})
	if err != nil {
		return store.Domain{}, err
	}
	if len(ds) == 0 {
		return store.Domain{}, Errorf(Invalid, ReasonUnknownDomain, "domain", "account %d has no domain", account)
	}
	first := ds[0]
	for _, d := range ds[1:] {
		if d.ID < first.ID {
			first = d
		}
	}
	return first, nil
}

// OpenfireSecret opens a credential's secret (for the CLI).
func OpenfireSecret(env *Env, c store.OpenfireCredential) (string, error) {
	plain, err := env.Box.Open(c.SecretSealed, PurposeOpenfireSecret)
	return string(plain), err
}

// PurposeRESTPassword seals REST API passwords (kept only so bootstrap.json
// can be written again).
const PurposeRESTPassword = "rest-api-password"

// NewUUID returns a random (version 4) UUID in its lower-case hyphenated form.
func NewUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("commands: no randomness: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// SetRESTPassword sets the REST API password of account (a fresh random one
// if password is empty) and returns it. It is shown only now.
func SetRESTPassword(ctx context.Context, env *Env, account int64, password string) (string, error) {
	if password == "" {
		b := make([]byte, 16)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		password = hex.EncodeToString(b)
	}
	cred, err := credential.NewFor(password, credential.SHA256) // only StoredKey of SHA-256 is kept
	if err != nil {
		return "", Errorf(Invalid, ReasonMalformed, "password", "not allowed by the OpaqueString profile of RFC 8265")
	}
	c := store.RESTCredential{AccountID: account, Salt: cred.Salt, Iterations: cred.Iterations, StoredKey: cred.SHA256Stored,
		PasswordSealed: env.Box.Seal([]byte(password), PurposeRESTPassword)}
	err = env.Store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.PutRESTCredential(ctx, c); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return Errorf(NotFound, "", "account", "no account %d", account)
			}
			return err
		}
		return tx.Audit(ctx, account, "cli", "rest password", "set")
	})
	return password, err
}

// RESTPassword opens the stored copy of account's REST API password.
func RESTPassword(ctx context.Context, env *Env, account int64) (string, error) {
	c, err := env.Store.RESTCredential(ctx, account)
	if err != nil {
		return "", err
	}
	p, err := env.Box.Open(c.PasswordSealed, PurposeRESTPassword)
	if err != nil {
		return "", fmt.Errorf("open REST password of account %d: %w", account, err)
	}
	return string(p), nil
}
