package ejabberd

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// identity is who calls: an admin JID of an account with its command
// patterns (and, for a bearer token, the token's scopes), the ctl operator,
// or nobody (no Authorization header), who may call nothing unless
// loopback is trusted (Options.TrustLoopback).
type identity struct {
	jid      string
	account  int64
	accounts []int64
	what     []string // nil: no api permission
	operator bool     // an admin of an operator account, or ctl (server-wide commands)
	bearer   bool     // authenticated by an OAuth token: scopes limit what
	scopes   []string
}

func (id identity) allowed(cmd string) bool {
	if id.account == 0 {
		return false
	}
	tags := commands.EjabberdTags(cmd)
	if id.bearer && !commands.EjabberdScopeAllows(id.scopes, cmd, tags) {
		return false
	}
	return commands.EjabberdAllowed(id.what, cmd, tags)
}

// CtlHeader carries the ctl secret (DATA/ctl.secret) of `xmppgate ctl`.
const CtlHeader = "X-Xmppgate-Ctl"

// Options are the dialect's switches.
type Options struct {
	// TrustLoopback: a request without credentials from loopback acts as
	// LoopbackAdmin (config ejabberd_trust_loopback; off by default).
	TrustLoopback bool
	LoopbackAdmin string // the bootstrap admin JID
	// CtlSecret, if set, is the ctl secret accepted from loopback as the
	// operator; OperatorAccount is the account its changes are queued for.
	CtlSecret       string
	OperatorAccount int64
}

// verifiedCache remembers successful password checks, so a client calling
// with the same Basic credentials pays the PBKDF2 derivation once. The key
// is a hash of the user's StoredKey and the password: a new password (new
// keys) misses it, and the cache holds no password.
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

var (
	dummyOnce sync.Once
	dummyCred credential.SCRAM
)

// dummyVerify spends the time of a password check, so that an unknown JID
// cannot be told from a wrong password by the answer's timing.
func dummyVerify(pw string) {
	dummyOnce.Do(func() { dummyCred, _ = credential.New("xmppgate-dummy-password") })
	dummyCred.Verify(pw)
}

// authenticate reads the Authorization header (ejabberd_http:parse_auth):
// Basic with a full bare JID and its password, checked against the user's
// SCRAM keys; Bearer with an OAuth token (commands/ejabberd_oauth.go);
// anything else is refused. The ctl header (CtlHeader) is the operator's
// CLI; no header is an anonymous caller, or the bootstrap admin from
// loopback when Options.TrustLoopback is set.
func (h *Handler) authenticate(ctx context.Context, r *http.Request, req *request) (identity, *reply) {
	fail := func(rep reply) (identity, *reply) { return identity{}, &rep }
	if secret, ok := r.Header[CtlHeader]; ok {
		return h.ctlIdentity(ctx, r, req, strings.Join(secret, ""))
	}
	header := r.Header.Get("Authorization")
	if header == "" {
		if h.opts.TrustLoopback && h.opts.LoopbackAdmin != "" && fromLoopback(r) {
			return h.loopbackIdentity(ctx, req)
		}
		return identity{}, nil
	}
	scheme, cred, _ := strings.Cut(header, " ")
	switch strings.ToLower(scheme) {
	case "bearer":
		return h.bearerIdentity(ctx, strings.TrimSpace(cred), req)
	case "basic":
	default:
		return fail(unauthorized())
	}
	dec, err := base64.StdEncoding.DecodeString(strings.TrimSpace(cred))
	if err != nil {
		return fail(unauthorized())
	}
	name, pw, ok := strings.Cut(string(dec), ":")
	local, domain, isJID := strings.Cut(name, "@")
	if !ok || !isJID {
		return fail(unauthorized())
	}
	bare, err := commands.ParseBareJID(local + "@" + domain)
	if err != nil || !strings.Contains(bare, "@") {
		return fail(unauthorized())
	}
	local, domain, _ = strings.Cut(bare, "@")
	req.actor = bare
	u, err := h.env.Store.UserByJID(ctx, domain, local)
	if errors.Is(err, store.ErrNotFound) {
		dummyVerify(pw)
		return fail(unauthorized())
	}
	if err != nil {
		return fail(internalError(err))
	}
	if u.Status != store.StatusActive || !u.DomainEnabled || !h.verified.check(u.Cred, pw) {
		return fail(unauthorized())
	}
	return h.userIdentity(ctx, u, bare, req)
}

// userIdentity is an authenticated user's identity: its account, the
// account's tree, its API permission and whether the account is an
// operator.
func (h *Handler) userIdentity(ctx context.Context, u store.User, bare string, req *request) (identity, *reply) {
	fail := func(rep reply) (identity, *reply) { return identity{}, &rep }
	id := identity{jid: bare, account: u.AccountID}
	req.actor = bare
	req.account = u.AccountID
	perm, err := h.env.Store.EjabberdPermission(ctx, u.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return fail(internalError(err))
	case perm.AccountID == u.AccountID:
		id.what = perm.What
	}
	if id.accounts, err = h.env.Store.AccountTree(ctx, u.AccountID); err != nil {
		return fail(internalError(err))
	}
	acc, err := h.env.Store.Account(ctx, u.AccountID)
	if err != nil {
		return fail(internalError(err))
	}
	id.operator = acc.Operator
	return id, nil
}

// bearerIdentity checks an OAuth token: known by its hash, not expired on
// the store clock, its user still active on an enabled domain. Any other
// token answers ejabberd's "Oauth Token is invalid or expired.".
func (h *Handler) bearerIdentity(ctx context.Context, token string, req *request) (identity, *reply) {
	fail := func(rep reply) (identity, *reply) { return identity{}, &rep }
	tok, err := h.env.Store.OAuthToken(ctx, store.OAuthTokenHash(token))
	if errors.Is(err, store.ErrNotFound) {
		return fail(badToken())
	}
	if err != nil {
		return fail(internalError(err))
	}
	req.actor = tok.JID
	if h.env.Store.Now().UnixMilli() >= tok.Expires {
		return fail(badToken())
	}
	u, err := h.env.Store.UserByID(ctx, tok.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && (u.Status != store.StatusActive || !u.DomainEnabled) {
		return fail(badToken())
	}
	if err != nil {
		return fail(internalError(err))
	}
	id, rep := h.userIdentity(ctx, u, tok.JID, req)
	id.bearer, id.scopes = true, tok.Scopes
	return id, rep
}

// loopbackIdentity is the bootstrap admin, for a request without
// credentials from loopback when TrustLoopback is set (ejabberd's default
// "admin access" rule with acl loopback). A missing admin leaves the
// caller anonymous.
func (h *Handler) loopbackIdentity(ctx context.Context, req *request) (identity, *reply) {
	local, domain, _ := strings.Cut(h.opts.LoopbackAdmin, "@")
	u, err := h.env.Store.UserByJID(ctx, domain, local)
	if errors.Is(err, store.ErrNotFound) || err == nil && (u.Status != store.StatusActive || !u.DomainEnabled) {
		return identity{}, nil
	}
	if err != nil {
		rep := internalError(err)
		return identity{}, &rep
	}
	return h.userIdentity(ctx, u, h.opts.LoopbackAdmin, req)
}

// ctlIdentity is `xmppgate ctl`: the secret of DATA/ctl.secret, accepted
// from loopback only, makes the caller the server's operator over every
// account (ejabberdctl's "console commands" group: every command).
func (h *Handler) ctlIdentity(ctx context.Context, r *http.Request, req *request, secret string) (identity, *reply) {
	req.actor = "ctl"
	if h.opts.CtlSecret == "" || !fromLoopback(r) || subtle.ConstantTimeCompare([]byte(secret), []byte(h.opts.CtlSecret)) != 1 {
		rep := unauthorized()
		return identity{}, &rep
	}
	accs, err := h.env.Store.Accounts(ctx)
	if err != nil {
		rep := internalError(err)
		return identity{}, &rep
	}
	id := identity{jid: "ctl", account: h.opts.OperatorAccount, what: []string{"*"}, operator: true, accounts: []int64{}}
	for _, a := range accs {
		id.accounts = append(id.accounts, a.ID)
	}
	if id.account == 0 && len(id.accounts) > 0 {
		id.account = id.accounts[0]
	}
	req.account = id.account
	return id, nil
}

// fromLoopback reports whether the peer is 127.0.0.0/8 or ::1 (also as an
// IPv4-mapped address). X-Forwarded-For is never read: behind a reverse
// proxy on the same host every request comes from loopback.
func fromLoopback(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
