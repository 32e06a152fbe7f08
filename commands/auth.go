package commands

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// The authentication door: every way a front end's caller proves who it is
// (a DreamHost key, an admin JID's password or OAuth token, an Openfire
// secret, a REST account password, the operator's ctl) ends here and
// becomes a Caller. A failure is an *Error of kind Unauthorized with one of
// the reasons below, which each dialect spells in its own words; any other
// error is internal. Users authenticate with the rule the XMPP server
// applies too (store.User.MayLogIn).

// Reasons of the authentication door.
const (
	ReasonBadCredentials Reason = "bad_credentials" // unknown key, account, JID or secret, or a wrong password
	ReasonAddressRefused Reason = "address_refused" // the credential may not be used from the caller's address
	ReasonBadToken       Reason = "bad_token"       // an OAuth token unknown, expired, or of a user who may no longer log in
	ReasonUnknownAccount Reason = "unknown_account" // an account the caller does not own
)

func unauthorized(reason Reason, format string, a ...any) *Error {
	return Errorf(Unauthorized, reason, "", format, a...)
}

// dummyCredential is verified against when the user, account or credential
// does not exist, so a wrong name costs as much as a wrong password and
// cannot be told from one by the answer's timing.
var dummyCredential = sync.OnceValue(func() credential.SCRAM {
	c, err := credential.Derive("xmppgate-dummy-password", make([]byte, credential.SaltLen), credential.DefaultIterations)
	if err != nil {
		panic(err)
	}
	return c
})

// withTree fills in the caller's account tree: the account and its
// sub-accounts, the only accounts whose data the call may see.
func withTree(ctx context.Context, env *Env, c Caller) (Caller, error) {
	var err error
	c.Accounts, err = env.Store.AccountTree(ctx, c.Account)
	return c, err
}

// AuthenticateKey authenticates a DreamHost API key used from remote (the
// request's host:port or address): unknown keys are ReasonBadCredentials,
// keys with an address list that does not hold remote ReasonAddressRefused.
func AuthenticateKey(ctx context.Context, env *Env, key, remote string) (Caller, error) {
	k, err := env.Store.KeyByHash(ctx, store.KeyHash(key))
	if errors.Is(err, store.ErrNotFound) {
		return Caller{}, unauthorized(ReasonBadCredentials, "no such key")
	}
	if err != nil {
		return Caller{}, err
	}
	c := Caller{Dialect: DreamHost, Account: k.AccountID, KeyID: k.ID, Grants: Grants(k.Cmds), Actor: "key:" + strconv.FormatInt(k.ID, 10)}
	if !addressAllowed(k.IPAllow, remote) {
		return c, unauthorized(ReasonAddressRefused, "key %d may not be used from %s", k.ID, remote)
	}
	return withTree(ctx, env, c)
}

// addressAllowed applies a key's allow-list of addresses and CIDRs.
func addressAllowed(allow, remote string) bool {
	if strings.TrimSpace(allow) == "" {
		return true
	}
	prefixes, err := ParseIPAllow(allow)
	if err != nil {
		return false
	}
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	addr, err := parseAddr(host)
	if err != nil {
		return false
	}
	for _, p := range prefixes {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// parseAddr parses an address, IPv4-mapped IPv6 as IPv4.
func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	return a.Unmap(), err
}

// ActAs is the caller acting for account, one of its own accounts (a
// reseller's sub-account): ReasonUnknownAccount for any other.
func (c Caller) ActAs(ctx context.Context, env *Env, account int64) (Caller, error) {
	if !c.Owns(account) {
		return c, Errorf(Forbidden, ReasonUnknownAccount, "account", "not an account of the caller")
	}
	c.Account = account
	return withTree(ctx, env, c)
}

// verified remembers successful password checks, so a client calling with
// the same Basic credentials pays the PBKDF2 derivation once. The key is a
// hash of the user's stored keys and the password: a new password (new
// keys) misses it, and the cache holds no password.
var verified verifiedCache

type verifiedCache struct {
	mu sync.Mutex
	m  map[[32]byte]struct{}
}

const maxVerified = 10000

func (c *verifiedCache) check(cred credential.SCRAM, pw string) bool {
	h := sha256.New()
	h.Write(cred.SHA256Stored)
	// Imported users may have SCRAM-SHA-1 keys only: without them in the
	// key, two such users sharing a salt would share entries.
	h.Write(cred.SHA1Stored)
	h.Write(cred.Salt)
	h.Write([]byte{0})
	h.Write([]byte(pw))
	var k [32]byte
	copy(k[:], h.Sum(nil))
	c.mu.Lock()
	_, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return true
	}
	if !cred.Verify(pw) {
		return false
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxVerified {
		c.m = map[[32]byte]struct{}{}
	}
	c.m[k] = struct{}{}
	c.mu.Unlock()
	return true
}

// AuthenticateAdmin authenticates an ejabberd API caller by HTTP Basic: a
// full bare JID and its password, checked against the user's SCRAM keys.
// The caller's Actor is the normalised JID as far as it parses, also on
// failure.
func AuthenticateAdmin(ctx context.Context, env *Env, name, password string) (Caller, error) {
	local, domain, isJID := strings.Cut(name, "@")
	if !isJID {
		return Caller{}, unauthorized(ReasonBadCredentials, "not a JID")
	}
	bare, err := ParseBareJID(local + "@" + domain)
	if err != nil || !strings.Contains(bare, "@") {
		return Caller{}, unauthorized(ReasonBadCredentials, "not a JID")
	}
	local, domain, _ = strings.Cut(bare, "@")
	c := Caller{Dialect: Ejabberd, Actor: bare}
	u, err := env.Store.UserByJID(ctx, domain, local)
	if errors.Is(err, store.ErrNotFound) {
		dummyCredential().Verify(password)
		return c, unauthorized(ReasonBadCredentials, "no such user")
	}
	if err != nil {
		return c, err
	}
	if !u.MayLogIn() || !verified.check(u.Cred, password) {
		return c, unauthorized(ReasonBadCredentials, "wrong password or user may not log in")
	}
	return adminCaller(ctx, env, u, bare)
}

// adminCaller is an authenticated user as an ejabberd API caller: its
// account and tree, its API permission (if it has one of its own account)
// and whether the account is an operator.
func adminCaller(ctx context.Context, env *Env, u store.User, bare string) (Caller, error) {
	c := Caller{Dialect: Ejabberd, Account: u.AccountID, Actor: bare}
	perm, err := env.Store.EjabberdPermission(ctx, u.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return c, err
	case perm.AccountID == u.AccountID:
		c.Permission = perm.What
	}
	acc, err := env.Store.Account(ctx, u.AccountID)
	if err != nil {
		return c, err
	}
	c.Operator = acc.Operator
	return withTree(ctx, env, c)
}

// AuthenticateBearer authenticates an OAuth token: known by its hash, not
// expired on the store clock, its user still one who may log in. Any other
// token is ReasonBadToken.
func AuthenticateBearer(ctx context.Context, env *Env, token string) (Caller, error) {
	tok, err := env.Store.OAuthToken(ctx, store.OAuthTokenHash(token))
	if errors.Is(err, store.ErrNotFound) {
		return Caller{}, unauthorized(ReasonBadToken, "no such token")
	}
	if err != nil {
		return Caller{}, err
	}
	c := Caller{Dialect: Ejabberd, Actor: tok.JID}
	if env.Store.Now().UnixMilli() >= tok.Expires {
		return c, unauthorized(ReasonBadToken, "token expired")
	}
	u, err := env.Store.UserByID(ctx, tok.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !u.MayLogIn() {
		return c, unauthorized(ReasonBadToken, "the token's user may not log in")
	}
	if err != nil {
		return c, err
	}
	c, err = adminCaller(ctx, env, u, tok.JID)
	c.Bearer, c.Scopes = true, tok.Scopes
	return c, err
}

// TrustedAdmin is the admin JID as a caller without credentials (ejabberd's
// default "admin access" rule with acl loopback, when the front end trusts
// loopback); ok is false when the JID is no user who may log in, and the
// caller stays anonymous.
func TrustedAdmin(ctx context.Context, env *Env, jid string) (c Caller, ok bool, err error) {
	local, domain, _ := strings.Cut(jid, "@")
	u, err := env.Store.UserByJID(ctx, domain, local)
	if errors.Is(err, store.ErrNotFound) || err == nil && !u.MayLogIn() {
		return Caller{}, false, nil
	}
	if err != nil {
		return Caller{}, false, err
	}
	c, err = adminCaller(ctx, env, u, jid)
	return c, err == nil, err
}

// OperatorCaller is the server's operator (`xmppgate ctl`), over every
// account and allowed every command; its changes are queued for account
// (0: the oldest account).
func OperatorCaller(ctx context.Context, env *Env, account int64) (Caller, error) {
	accs, err := env.Store.Accounts(ctx)
	if err != nil {
		return Caller{}, err
	}
	c := Caller{Dialect: Ejabberd, Actor: "ctl", Account: account, Permission: []string{"*"}, Operator: true, Accounts: []int64{}}
	for _, a := range accs {
		c.Accounts = append(c.Accounts, a.ID)
	}
	if c.Account == 0 && len(c.Accounts) > 0 {
		c.Account = c.Accounts[0]
	}
	return c, nil
}

// OpenfireAccess is an account's Openfire credential, found by its secret:
// the caller it makes, and the domain, switch and address list each
// Openfire front end applies in its own order.
type OpenfireAccess struct {
	Caller  Caller
	Domain  string // the domain the credential is bound to
	Enabled bool
	ipAllow string
}

// AuthenticateOpenfire finds the credential whose secret is secret, for
// dialect (Openfire or OpenfireREST). The lookup goes by the secret's
// SHA-256, then the sealed copy is compared with the given secret in
// constant time. An empty or unknown secret is ReasonBadCredentials.
func AuthenticateOpenfire(ctx context.Context, env *Env, dialect Dialect, secret string) (OpenfireAccess, error) {
	if secret == "" {
		return OpenfireAccess{}, unauthorized(ReasonBadCredentials, "no secret")
	}
	c, err := env.Store.OpenfireCredentialByHash(ctx, store.KeyHash(secret))
	if errors.Is(err, store.ErrNotFound) {
		return OpenfireAccess{}, unauthorized(ReasonBadCredentials, "no such secret")
	}
	if err != nil {
		return OpenfireAccess{}, err
	}
	plain, err := env.Box.Open(c.SecretSealed, PurposeOpenfireSecret)
	if err != nil {
		return OpenfireAccess{}, fmt.Errorf("open Openfire secret of account %d: %w", c.AccountID, err)
	}
	if subtle.ConstantTimeCompare(plain, []byte(secret)) != 1 {
		return OpenfireAccess{}, unauthorized(ReasonBadCredentials, "no such secret")
	}
	caller, err := withTree(ctx, env, Caller{Dialect: dialect, Account: c.AccountID, Actor: string(dialect) + ":" + strconv.FormatInt(c.AccountID, 10)})
	return OpenfireAccess{Caller: caller, Domain: c.Domain, Enabled: c.Enabled, ipAllow: c.IPAllow}, err
}

// Allows applies the credential's address list to r as Openfire does:
// exact string membership of the client address (the first forwarding
// header present, verbatim, else the socket's address), no CIDR.
func (a OpenfireAccess) Allows(r *http.Request) bool {
	if a.ipAllow == "" {
		return true
	}
	ip := openfireClientIP(r)
	for _, x := range strings.Split(a.ipAllow, ",") {
		if x == ip {
			return true
		}
	}
	return false
}

// openfireClientIP is the address Openfire checks: the first of these
// headers that is present, verbatim, else the socket's address.
func openfireClientIP(r *http.Request) string {
	for _, name := range []string{"x-forwarded-for", "X_FORWARDED_FOR", "X-Forward-For"} {
		if v := r.Header.Values(name); len(v) > 0 {
			return v[0]
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// AuthenticateREST checks HTTP Basic credentials of the REST API: an
// account name and that account's REST API password. Any mismatch is
// ReasonBadCredentials; the check costs the same whether or not the
// account exists.
func AuthenticateREST(ctx context.Context, env *Env, name, password string) (Caller, error) {
	a, err := env.Store.AccountByName(ctx, strings.TrimSpace(name))
	check := dummyCredential()
	found := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Caller{}, err
	}
	if found {
		c, err := env.Store.RESTCredential(ctx, a.ID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			found = false
		case err != nil:
			return Caller{}, err
		default:
			check = credential.SCRAM{Salt: c.Salt, Iterations: c.Iterations, SHA256Stored: c.StoredKey}
		}
	}
	if !check.Verify(password) || !found {
		return Caller{}, unauthorized(ReasonBadCredentials, "wrong account or password")
	}
	return withTree(ctx, env, Caller{Dialect: REST, Account: a.ID, Actor: "rest:" + a.Name})
}

// ConsoleCaller is the caller of the operator's web console for an admin
// JID: over every account, as `xmppgate ctl` is, its changes queued for
// the JID's account and audited under the JID. ok is false when the JID
// is no longer a user who may log in or its account no longer an
// operator, so a console session ends with the right it stood for.
func ConsoleCaller(ctx context.Context, env *Env, jid string) (c Caller, ok bool, err error) {
	admin, ok, err := TrustedAdmin(ctx, env, jid)
	if err != nil || !ok || !admin.Operator {
		return Caller{}, false, err
	}
	c, err = OperatorCaller(ctx, env, admin.Account)
	c.Dialect, c.Actor = Console, jid
	return c, err == nil, err
}
