package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
)

// OAuthToken is a bearer token of the ejabberd admin API, known only by the
// SHA-256 of its text (OAuthTokenHash). Expires is Unix milliseconds.
type OAuthToken struct {
	Hash      []byte
	UserID    int64
	AccountID int64
	JID       string
	Scopes    []string
	Expires   int64
}

// OAuthTokenHash is the lookup form of a token.
func OAuthTokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// OAuthClient is an OAuth client registered by an account: a password-grant
// client has SecretSealed, an implicit-grant client a RedirectURI.
type OAuthClient struct {
	AccountID    int64
	ClientID     string
	Name         string
	GrantType    string // "password" or "implicit"
	SecretSealed []byte
	RedirectURI  string
}

const oauthTokenCols = `hash, user_id, account_id, jid, scopes, expires`

func scanOAuthToken(row interface{ Scan(...any) error }) (OAuthToken, error) {
	var t OAuthToken
	var scopes string
	err := row.Scan(&t.Hash, &t.UserID, &t.AccountID, &t.JID, &scopes, &t.Expires)
	if errors.Is(err, sql.ErrNoRows) {
		return t, ErrNotFound
	}
	if err != nil {
		return t, err
	}
	return t, json.Unmarshal([]byte(scopes), &t.Scopes)
}

// InsertOAuthToken stores a token; ErrNotFound if its user or account does
// not exist.
func (t *Tx) InsertOAuthToken(ctx context.Context, tok OAuthToken) error {
	scopes, err := jsonList(tok.Scopes)
	if err != nil {
		return err
	}
	_, err = t.q.ExecContext(ctx, `INSERT INTO oauth_tokens (`+oauthTokenCols+`, created) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		tok.Hash, tok.UserID, tok.AccountID, tok.JID, scopes, tok.Expires, t.stamp())
	if isForeignKey(err) {
		return ErrNotFound
	}
	return err
}

// OAuthToken finds a token by hash, expired or not; ErrNotFound if none.
func (r Reader) OAuthToken(ctx context.Context, hash []byte) (OAuthToken, error) {
	return scanOAuthToken(r.q.QueryRowContext(ctx, `SELECT `+oauthTokenCols+` FROM oauth_tokens WHERE hash = ?`, hash))
}

// OAuthTokens lists the tokens of the given accounts that expire after
// now (Unix milliseconds), by JID then expiry.
func (r Reader) OAuthTokens(ctx context.Context, accounts []int64, now int64) ([]OAuthToken, error) {
	return queryAll(ctx, r.q, scanOAuthToken, `SELECT `+oauthTokenCols+` FROM oauth_tokens
		WHERE account_id IN (SELECT value FROM json_each(?)) AND expires > ? ORDER BY jid, expires, hash`, idList(accounts), now)
}

// DeleteOAuthToken removes a token of one of the given accounts; ErrNotFound
// if there is none.
func (t *Tx) DeleteOAuthToken(ctx context.Context, hash []byte, accounts []int64) error {
	return mustAffect(t.q.ExecContext(ctx, `DELETE FROM oauth_tokens WHERE hash = ? AND account_id IN (SELECT value FROM json_each(?))`,
		hash, idList(accounts)))
}

// DeleteExpiredOAuthTokens removes every token expired at now (Unix
// milliseconds), as ejabberd's periodic clean does.
func (t *Tx) DeleteExpiredOAuthTokens(ctx context.Context, now int64) error {
	_, err := t.q.ExecContext(ctx, `DELETE FROM oauth_tokens WHERE expires <= ?`, now)
	return err
}

// PutOAuthClient creates or replaces an account's client.
func (t *Tx) PutOAuthClient(ctx context.Context, c OAuthClient) error {
	var redirect any
	if c.GrantType == "implicit" {
		redirect = c.RedirectURI
	}
	_, err := t.q.ExecContext(ctx, `INSERT INTO oauth_clients (account_id, client_id, name, grant_type, secret_sealed, redirect_uri, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (account_id, client_id) DO UPDATE SET name = excluded.name,
		grant_type = excluded.grant_type, secret_sealed = excluded.secret_sealed, redirect_uri = excluded.redirect_uri, updated = excluded.updated`,
		c.AccountID, c.ClientID, c.Name, c.GrantType, c.SecretSealed, redirect, t.stamp())
	if isForeignKey(err) {
		return ErrNotFound
	}
	return err
}

// DeleteOAuthClient removes an account's client; ErrNotFound if it has none
// of that id.
func (t *Tx) DeleteOAuthClient(ctx context.Context, account int64, clientID string) error {
	return mustAffect(t.q.ExecContext(ctx, `DELETE FROM oauth_clients WHERE account_id = ? AND client_id = ?`, account, clientID))
}

// ancestors is a CTE of an account and its parents with their distance.
const ancestors = `WITH RECURSIVE up(id, depth) AS (
		SELECT id, 0 FROM accounts WHERE id = ?
		UNION ALL SELECT a.parent_id, up.depth + 1 FROM accounts a JOIN up ON a.id = up.id WHERE a.parent_id IS NOT NULL)`

// OAuthClientFor finds the client clientID registered by account or the
// nearest of its parent accounts (a reseller's client serves its
// customers' users); ErrNotFound if none.
func (r Reader) OAuthClientFor(ctx context.Context, account int64, clientID string) (OAuthClient, error) {
	var c OAuthClient
	var redirect sql.NullString
	err := r.q.QueryRowContext(ctx, ancestors+` SELECT c.account_id, c.client_id, c.name, c.grant_type, c.secret_sealed, c.redirect_uri
		FROM oauth_clients c JOIN up ON c.account_id = up.id WHERE c.client_id = ? ORDER BY up.depth LIMIT 1`, account, clientID).
		Scan(&c.AccountID, &c.ClientID, &c.Name, &c.GrantType, &c.SecretSealed, &redirect)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	c.RedirectURI = redirect.String
	return c, err
}

// HasOAuthPasswordClients reports whether account or one of its parents
// registered a password-grant client.
func (r Reader) HasOAuthPasswordClients(ctx context.Context, account int64) (bool, error) {
	var n int
	err := r.q.QueryRowContext(ctx, ancestors+` SELECT count(*) FROM oauth_clients c JOIN up ON c.account_id = up.id
		WHERE c.grant_type = 'password'`, account).Scan(&n)
	return n > 0, err
}

// OAuthClients lists the clients of the given accounts, by account then id.
func (r Reader) OAuthClients(ctx context.Context, accounts []int64) ([]OAuthClient, error) {
	return queryAll(ctx, r.q, func(row rowScanner) (OAuthClient, error) {
		var c OAuthClient
		err := row.Scan(&c.AccountID, &c.ClientID, &c.Name, &c.GrantType, &c.SecretSealed, &c.RedirectURI)
		return c, err
	}, `SELECT account_id, client_id, name, grant_type, secret_sealed, COALESCE(redirect_uri, '')
		FROM oauth_clients WHERE account_id IN (SELECT value FROM json_each(?)) ORDER BY account_id, client_id`, idList(accounts))
}
