package commands

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/xmppgate/xmppgate/store"
)

// PurposeOpenfireSecret seals Openfire secrets.
const PurposeOpenfireSecret = "openfire-secret"

// OpenfireSecretLen is the length of a generated secret (the restAPI
// plugin's default length).
const OpenfireSecretLen = 16

// MaxOpenfireSecret bounds a chosen secret, in bytes.
const MaxOpenfireSecret = 256

const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewOpenfireSecret mints a random alphanumeric secret.
func NewOpenfireSecret() string {
	out := make([]byte, 0, OpenfireSecretLen)
	b := make([]byte, 32)
	for len(out) < OpenfireSecretLen {
		if _, err := rand.Read(b); err != nil {
			panic("commands: no randomness: " + err.Error())
		}
		for _, c := range b {
			if c < 248 && len(out) < OpenfireSecretLen { // 248 = 4*62: stay uniform
				out = append(out, secretAlphabet[int(c)%len(secretAlphabet)])
			}
		}
	}
	return string(out)
}

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
