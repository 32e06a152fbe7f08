package commands

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/xmppgate/xmppgate/store"
)

// KeyLen is the length of a DreamHost-style API key.
const KeyLen = 16

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// NewKeyText mints a key of KeyLen upper-case alphanumerics.
func NewKeyText() string {
	out := make([]byte, 0, KeyLen)
	b := make([]byte, 32)
	for len(out) < KeyLen {
		if _, err := rand.Read(b); err != nil {
			panic("commands: no randomness: " + err.Error())
		}
		for _, c := range b {
			if c < 252 && len(out) < KeyLen { // 252 = 7*36: stay uniform
				out = append(out, keyAlphabet[int(c)%len(keyAlphabet)])
			}
		}
	}
	return string(out)
}

// CreateAccount adds an account (an operator action, not queued); operator
// makes it one of the server's operators (Caller.Operator).
func CreateAccount(ctx context.Context, env *Env, name string, parent int64, operator bool) (store.Account, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return store.Account{}, Errorf(Invalid, ReasonMissing, "name", "account name is empty")
	}
	var a store.Account
	err := env.Store.Write(ctx, func(tx *store.Tx) (err error) {
		a, err = tx.InsertAccount(ctx, name, parent)
		switch {
		case errors.Is(err, store.ErrDuplicate):
			return Errorf(Conflict, "", "name", "account %q exists", name)
		case errors.Is(err, store.ErrNotFound):
			return Errorf(NotFound, "", "parent", "no account %d", parent)
		case err != nil:
			return err
		}
		if operator {
			if err := tx.SetOperator(ctx, a.ID, true); err != nil {
				return err
			}
			a.Operator = true
		}
		return tx.Audit(ctx, a.ID, "cli", "account add", name)
	})
	return a, err
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

// CreateDomain adds a domain to an account.
func CreateDomain(ctx context.Context, env *Env, fqdn string, account int64) (store.Domain, error) {
	name, err := NormalizeDomain(fqdn)
	if err != nil {
		return store.Domain{}, Errorf(Invalid, ReasonMalformed, "fqdn", "%q: %v", fqdn, err)
	}
	var d store.Domain
	err = env.Store.Write(ctx, func(tx *store.Tx) (err error) {
		d, err = tx.InsertDomain(ctx, account, name)
		switch {
		case errors.Is(err, store.ErrDuplicate):
			return Errorf(Conflict, "", "fqdn", "domain %s exists", name)
		case errors.Is(err, store.ErrNotFound):
			return Errorf(NotFound, "", "account", "no account %d", account)
		case err != nil:
			return err
		}
		return tx.Audit(ctx, account, "cli", "domain add", name)
	})
	return d, err
}
