package commands

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/xmppgate/xmppgate/store"
)

// The OAuth family (ejabberd_oauth, v0 of ejabberd 23.01): bearer tokens
// for the admin API, and OAuth clients.
//
// Tokens and clients are credentials, not provisioning changes, so they are
// written at once (Store.Write) and not through the queue: the worker
// applies changes to XMPP users and their live sessions, which a token
// touches neither of, and a token shown to the caller must already work (a
// queued token that fails later would have been a fake success). Each write
// leaves an audit line without the secret.

// oauthDefs is the OAuth family.
var oauthDefs = []*Def{OAuthIssueToken, OAuthListTokens, OAuthRevokeToken, OAuthAddClientPassword, OAuthAddClientImplicit, OAuthRemoveClient}

// Reasons of the OAuth commands.
const (
	ReasonInvalidScope Reason = "invalid_scope" // a scope that is no scope ejabberd knows
	ReasonAccessDenied Reason = "access_denied" // the JID may not hold a token
)

// Scopes with a meaning of their own (every command name and tag is a
// scope too).
const (
	ScopeAdmin = "ejabberd:admin" // every command the JID's API permission allows
	ScopeUser  = "ejabberd:user"
	ScopeSASL  = "sasl_auth"
)

// DefaultOAuthTTL is the lifetime in seconds of a token asked for without
// one: ejabberd's oauth_expire default.
const DefaultOAuthTTL = 4294967

// maxOAuthTTL bounds a ttl so the expiry stays a valid time (about 31,000
// years; ejabberd takes any integer).
const maxOAuthTTL = 1 << 40

// PurposeOAuthClient seals OAuth client secrets.
const PurposeOAuthClient = "oauth-client-secret"

// validScope reports whether s is a scope ejabberd would grant: one of its
// three named scopes, or a command name (its verify_resowner_scope) or, in
// xmppgate, a tag of the calling front end's API.
func validScope(ref Reference, s string) bool {
	switch s {
	case ScopeAdmin, ScopeUser, ScopeSASL:
		return true
	}
	return ref != nil && ref.Scope(s)
}

// OAuthSubject is the JID a token is asked for, once resolved.
type OAuthSubject struct {
	JID     string // the bare JID
	Account int64
	user    store.User
}

// ResolveOAuthSubject resolves the JID a token is asked for: a user who may
// log in, of one of accounts (nil: any account), that holds an ejabberd API
// permission of its own account, as ejabberd's oauth_access rule would
// allow only admins. A JID that does not parse is ReasonInvalidJID
// ("Invalid JID: …", ejabberd's text); any other refusal is
// ReasonAccessDenied, the same for an unknown user, another account's
// domain and a user without permission.
func ResolveOAuthSubject(ctx context.Context, env *Env, jid string, accounts []int64) (OAuthSubject, error) {
	bare, err := ParseBareJID(jid)
	if err != nil {
		return OAuthSubject{}, Errorf(Invalid, ReasonInvalidJID, "jid", "Invalid JID: %s", jid)
	}
	denied := Errorf(Invalid, ReasonAccessDenied, "jid", "access_denied")
	local, domain, ok := strings.Cut(bare, "@")
	if !ok {
		return OAuthSubject{}, denied
	}
	u, err := env.Store.UserByJID(ctx, domain, local)
	if errors.Is(err, store.ErrNotFound) {
		return OAuthSubject{}, denied
	}
	if err != nil {
		return OAuthSubject{}, err
	}
	if !u.MayLogIn() || (accounts != nil && !(Caller{Accounts: accounts}).Owns(u.AccountID)) {
		return OAuthSubject{}, denied
	}
	perm, err := env.Store.EjabberdPermission(ctx, u.ID)
	if errors.Is(err, store.ErrNotFound) || err == nil && perm.AccountID != u.AccountID {
		return OAuthSubject{}, denied
	}
	if err != nil {
		return OAuthSubject{}, err
	}
	return OAuthSubject{JID: bare, Account: u.AccountID, user: u}, nil
}

// VerifyPassword checks the subject's password; the zero subject (none was
// found) spends the time of a check and fails, so an unknown JID cannot be
// told from a wrong password.
func (s OAuthSubject) VerifyPassword(password string) bool {
	if s.JID == "" {
		dummyCredential().Verify(password)
		return false
	}
	return s.user.Cred.Verify(password)
}

// IssueOAuthToken makes a token for subject s valid ttl seconds with the
// given scopes (each a named scope or one ref knows), stores its hash and
// returns its text; expired tokens are dropped on the way, as ejabberd's
// periodic clean does.
func IssueOAuthToken(ctx context.Context, env *Env, ref Reference, s OAuthSubject, scopes []string, ttl int64, actor string) (string, error) {
	for _, sc := range scopes {
		if !validScope(ref, sc) {
			return "", Errorf(Invalid, ReasonInvalidScope, "scopes", "invalid_scope")
		}
	}
	ttl = max(-maxOAuthTTL, min(ttl, maxOAuthTTL))
	token, err := newOAuthToken(env.Rand)
	if err != nil {
		return "", err
	}
	now := env.Store.Now().UnixMilli()
	err = env.Store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteExpiredOAuthTokens(ctx, now); err != nil {
			return err
		}
		if err := tx.InsertOAuthToken(ctx, store.OAuthToken{Hash: store.OAuthTokenHash(token), UserID: s.user.ID, AccountID: s.Account,
			JID: s.JID, Scopes: scopes, Expires: now + ttl*1000}); err != nil {
			return err
		}
		return tx.Audit(ctx, s.Account, actor, "oauth_issue_token",
			fmt.Sprintf("token for %s, scopes %q, ttl %d s", s.JID, strings.Join(scopes, ";"), ttl))
	})
	return token, err
}

// tokenAlphabet: tokens are 32 letters and digits, as ejabberd's oauth2
// library makes them (about 190 bits).
const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

func newOAuthToken(r io.Reader) (string, error) {
	if r == nil {
		r = rand.Reader
	}
	out := make([]byte, 0, 32)
	buf := make([]byte, 64)
	for len(out) < 32 {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			// 248 = 4*62: rejecting the rest keeps every letter equally likely.
			if b < 248 && len(out) < 32 {
				out = append(out, tokenAlphabet[int(b)%len(tokenAlphabet)])
			}
		}
	}
	return string(out), nil
}

// oauthTokenID is how oauth_list_tokens shows a token and oauth_revoke_token
// accepts it besides the token itself: the hex SHA-256, since xmppgate keeps
// no token text.
func oauthTokenID(hash []byte) string { return hex.EncodeToString(hash) }

// oauthHash reads oauth_revoke_token's argument: a token id (64 hex
// digits, which no token is) or a token.
func oauthHash(s string) []byte {
	if len(s) == 64 {
		if h, err := hex.DecodeString(s); err == nil && hex.EncodeToString(h) == s {
			return h
		}
	}
	return store.OAuthTokenHash(s)
}

// expiresIn is ejabberd's "N seconds" of a token: the seconds left,
// rounded up, so a token listed in the second it was issued shows its ttl.
func expiresIn(expires, now int64) string {
	left := expires - now
	secs := left / 1000
	if left%1000 > 0 {
		secs++
	}
	return fmt.Sprintf("%d seconds", secs)
}

var oauthTokenColumns = []string{"token", "user", "scope", "expires_in"}

// OAuthIssueToken is ejabberd's oauth_issue_token.
var OAuthIssueToken = &Def{
	Name: "oauth_issue_token",
	Doc: "Issues a bearer token for jid, an admin JID (one with an ejabberd API permission) of the caller's domains, valid ttl seconds " +
		"(0 or less: already expired) with the given scopes: ejabberd:admin (every command the JID may call), a command name or a tag. " +
		"The token is shown once; only its SHA-256 is kept. Answers \"access_denied\" for any other JID, \"invalid_scope\" for an unknown scope.",
	Args: []Arg{
		{Name: "jid", Type: String, Doc: "The bare JID the token acts as."},
		{Name: "ttl", Type: Int, Doc: "Seconds the token lives."},
		{Name: "scopes", Type: List, Sep: ";", EjabberdListSince: 1, Doc: "Scopes separated by ';' (API v0), a list from v1."},
	},
	Result: Result{Kind: ResultRow, Name: "result", Columns: []string{"token", "scopes", "expires_in"}},
	Names:  map[Dialect]string{Ejabberd: "oauth_issue_token"},
	Handle: oauthIssueToken,
}

func oauthIssueToken(ctx context.Context, c *Call) (any, error) {
	subject, err := ResolveOAuthSubject(ctx, c.Env, c.Args.String("jid"), c.Caller.Accounts)
	if err != nil {
		return nil, err
	}
	scopes := c.Args.List("scopes")
	ttl := c.Args.Int("ttl")
	token, err := IssueOAuthToken(ctx, c.Env, c.Reference, subject, scopes, ttl, c.Caller.Actor)
	if err != nil {
		return nil, err
	}
	return Table{Columns: []string{"token", "scopes", "expires_in"},
		Rows: [][]any{{token, scopes, fmt.Sprintf("%d seconds", max(-maxOAuthTTL, min(ttl, maxOAuthTTL)))}}}, nil
}

// OAuthListTokens is ejabberd's oauth_list_tokens.
var OAuthListTokens = &Def{
	Name: "oauth_list_tokens",
	Doc: "Lists the unexpired tokens of the JIDs of the caller's accounts, by JID: the token's id (the hex SHA-256 of the token, " +
		"which oauth_revoke_token accepts; the token itself is not kept), the JID, the scopes separated by ';' and \"N seconds\" left.",
	Result: Result{Kind: ResultTable, Name: "tokens", Columns: oauthTokenColumns},
	Names:  map[Dialect]string{Ejabberd: "oauth_list_tokens"},
	Handle: oauthListTokens,
}

func oauthListTokens(ctx context.Context, c *Call) (any, error) {
	now := c.Env.Store.Now().UnixMilli()
	toks, err := c.Env.Store.OAuthTokens(ctx, c.Caller.Accounts, now)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: oauthTokenColumns, Rows: [][]any{}}
	for _, tok := range toks {
		t.Rows = append(t.Rows, []any{oauthTokenID(tok.Hash), tok.JID, strings.Join(tok.Scopes, ";"), expiresIn(tok.Expires, now)})
	}
	return t, nil
}

// OAuthRevokeToken is ejabberd's oauth_revoke_token (22.05+: an empty
// restuple, also for a token that does not exist).
var OAuthRevokeToken = &Def{
	Name: "oauth_revoke_token",
	Doc: "Revokes a token of a JID of the caller's accounts, given as the token or as its id from oauth_list_tokens. " +
		"Answers \"\" also for a token that does not exist or is another account's (which is left alone).",
	Args:   []Arg{{Name: "token", Type: String, Secret: true, Doc: "The token, or its hex SHA-256 id."}},
	Result: Result{Kind: ResultMessage},
	Names:  map[Dialect]string{Ejabberd: "oauth_revoke_token"},
	Handle: oauthRevokeToken,
}

func oauthRevokeToken(ctx context.Context, c *Call) (any, error) {
	hash := oauthHash(c.Args.String("token"))
	err := c.Env.Store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteOAuthToken(ctx, hash, c.Caller.Accounts); err != nil {
			return err
		}
		return tx.Audit(ctx, c.Caller.Account, c.Caller.Actor, "oauth_revoke_token", "revoked token "+oauthTokenID(hash))
	})
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	return "", err
}

var (
	argClientID   = Arg{Name: "client_id", Type: String, Doc: "The client's id, unique in the account."}
	argClientName = Arg{Name: "client_name", Type: String, Doc: "A name for people."}
)

// putOAuthClient creates or replaces a client of the caller's account.
func putOAuthClient(ctx context.Context, c *Call, cl store.OAuthClient) (any, error) {
	cl.AccountID, cl.ClientID, cl.Name = c.Caller.Account, c.Args.String("client_id"), c.Args.String("client_name")
	return "", c.Env.Store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.PutOAuthClient(ctx, cl); err != nil {
			return err
		}
		return tx.Audit(ctx, cl.AccountID, c.Caller.Actor, "oauth_add_client_"+cl.GrantType, "client "+cl.ClientID)
	})
}

// OAuthAddClientPassword is ejabberd's oauth_add_client_password.
var OAuthAddClientPassword = &Def{
	Name: "oauth_add_client_password",
	Doc: "Registers (or replaces) a password-grant OAuth client of the caller's account; its secret is kept sealed. " +
		"Once an account (or a parent) has one, POST /oauth/token for its users needs a registered client's id and secret. Answers \"\".",
	Args:   []Arg{argClientID, argClientName, {Name: "secret", Type: String, Secret: true, Doc: "The client secret."}},
	Result: Result{Kind: ResultMessage},
	Names:  map[Dialect]string{Ejabberd: "oauth_add_client_password"},
	Handle: oauthAddClientPassword,
}

func oauthAddClientPassword(ctx context.Context, c *Call) (any, error) {
	return putOAuthClient(ctx, c, store.OAuthClient{GrantType: "password",
		SecretSealed: c.Env.Box.Seal([]byte(c.Args.String("secret")), PurposeOAuthClient)})
}

// OAuthAddClientImplicit is ejabberd's oauth_add_client_implicit.
var OAuthAddClientImplicit = &Def{
	Name: "oauth_add_client_implicit",
	Doc: "Registers (or replaces) an implicit-grant OAuth client of the caller's account with its redirect URI. " +
		"xmppgate serves no authorization page, so such a client cannot obtain tokens yet. Answers \"\".",
	Args:   []Arg{argClientID, argClientName, {Name: "redirect_uri", Type: String, Doc: "Where the authorization page sends the token."}},
	Result: Result{Kind: ResultMessage},
	Names:  map[Dialect]string{Ejabberd: "oauth_add_client_implicit"},
	Handle: oauthAddClientImplicit,
}

func oauthAddClientImplicit(ctx context.Context, c *Call) (any, error) {
	return putOAuthClient(ctx, c, store.OAuthClient{GrantType: "implicit", RedirectURI: c.Args.String("redirect_uri")})
}

// OAuthRemoveClient is ejabberd's oauth_remove_client.
var OAuthRemoveClient = &Def{
	Name:   "oauth_remove_client",
	Doc:    "Removes an OAuth client of the caller's account. Answers \"\" also for a client that does not exist.",
	Args:   []Arg{argClientID},
	Result: Result{Kind: ResultMessage},
	Names:  map[Dialect]string{Ejabberd: "oauth_remove_client"},
	Handle: oauthRemoveClient,
}

func oauthRemoveClient(ctx context.Context, c *Call) (any, error) {
	id := c.Args.String("client_id")
	err := c.Env.Store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.DeleteOAuthClient(ctx, c.Caller.Account, id); err != nil {
			return err
		}
		return tx.Audit(ctx, c.Caller.Account, c.Caller.Actor, "oauth_remove_client", "client "+id)
	})
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	return "", err
}

// CheckOAuthClient applies an account's registered clients to a token
// request, as ejabberd's oauth_client_id_check does: an account with no
// password-grant client (in it or a parent) takes any request ("allow", the
// 23.01 default); once it has one, the request must name a registered
// password-grant client with its secret ("db"). It reports whether the
// request may go on.
func CheckOAuthClient(ctx context.Context, env *Env, account int64, clientID, secret string) (bool, error) {
	has, err := env.Store.HasOAuthPasswordClients(ctx, account)
	if err != nil || !has {
		return !has, err
	}
	cl, err := env.Store.OAuthClientFor(ctx, account, clientID)
	if errors.Is(err, store.ErrNotFound) || err == nil && cl.GrantType != "password" {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	want, err := env.Box.Open(cl.SecretSealed, PurposeOAuthClient)
	if err != nil {
		return false, err
	}
	return hmac.Equal(want, []byte(secret)), nil
}
