package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// How API callers prove who they are and what they may call: DreamHost-style
// API keys and the unique_ids they use up, the Openfire secret and the REST
// password of an account, and the ejabberd admin API grants of admin JIDs.
// OAuth tokens, also a way in, are in oauth.go.

// Key is a DreamHost-style API key. Secret is the key itself, opened from its
// sealed copy only by the calls that must show it.
type Key struct {
	ID        int64
	AccountID int64
	Sealed    []byte
	Cmds      []string
	IPAllow   string
	Comment   string
	Created   time.Time
}

// KeyHash is the lookup form of an API key.
func KeyHash(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}

// InsertKey stores a new API key given its hash and sealed copy.
func (t *Tx) InsertKey(ctx context.Context, k Key, hash []byte) (Key, error) {
	t.dirDirty = true
	id, err := t.insertUnique(ctx, `INSERT INTO api_keys (account_id, key_hash, key_sealed, cmds, ip_allow, comment, created)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, k.AccountID, hash, k.Sealed, strings.Join(k.Cmds, ","), k.IPAllow, k.Comment, t.stamp())
	if err != nil {
		return k, constraintErr(err)
	}
	k.ID = id
	k.Created = t.now().UTC().Truncate(time.Second)
	return k, nil
}

const keyCols = `id, account_id, key_sealed, cmds, ip_allow, comment, created`

func scanKey(row interface{ Scan(...any) error }) (Key, error) {
	var k Key
	var cmds string
	var created sql.NullString
	err := row.Scan(&k.ID, &k.AccountID, &k.Sealed, &cmds, &k.IPAllow, &k.Comment, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return k, ErrNotFound
	}
	if cmds != "" {
		k.Cmds = strings.Split(cmds, ",")
	}
	k.Created = parseTime(created)
	return k, err
}

// KeyByHash finds a key by KeyHash of its text.
func (r Reader) KeyByHash(ctx context.Context, hash []byte) (Key, error) {
	return scanKey(r.q.QueryRowContext(ctx, `SELECT `+keyCols+` FROM api_keys WHERE key_hash = ?`, hash))
}

// Keys lists the keys of the given accounts, oldest first; nil means all.
func (r Reader) Keys(ctx context.Context, accounts []int64) ([]Key, error) {
	where, args := ofAccounts("account_id", accounts)
	return queryAll(ctx, r.q, scanKey, `SELECT `+keyCols+` FROM api_keys`+where+` ORDER BY id`, args...)
}

// UseUniqueID records that key used id successfully; ErrDuplicate if it did before.
func (t *Tx) UseUniqueID(ctx context.Context, keyID int64, id []byte) error {
	err := t.guard(ctx, func() error {
		_, err := t.q.ExecContext(ctx, `INSERT INTO unique_ids (key_id, unique_id, used) VALUES (?, ?, ?)`, keyID, id, t.stamp())
		return err
	})
	if isUnique(err) {
		return ErrDuplicate
	}
	return err
}

// UniqueIDUsed reports whether key already used id successfully.
func (r Reader) UniqueIDUsed(ctx context.Context, keyID int64, id []byte) (bool, error) {
	var n int
	err := r.q.QueryRowContext(ctx, `SELECT count(*) FROM unique_ids WHERE key_id = ? AND unique_id = ?`, keyID, id).Scan(&n)
	return n > 0, err
}

// OpenfireCredential is an account's Openfire User Service secret and
// settings. SecretSealed is the secret's AES-GCM copy, never the secret.
type OpenfireCredential struct {
	AccountID    int64
	DomainID     int64
	Domain       string // the bound domain's FQDN
	SecretSealed []byte
	IPAllow      string
	Enabled      bool
	Updated      time.Time
}

const (
	qPutOpenfire = `INSERT INTO openfire_credentials (account_id, domain_id, secret_hash, secret_sealed, ip_allow, enabled, updated)
		VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id) DO UPDATE SET domain_id = excluded.domain_id, secret_hash = excluded.secret_hash,
		secret_sealed = excluded.secret_sealed, ip_allow = excluded.ip_allow, enabled = excluded.enabled, updated = excluded.updated`
	openfireCols    = `c.account_id, c.domain_id, d.fqdn, c.secret_sealed, c.ip_allow, c.enabled, c.updated`
	openfireFrom    = ` FROM openfire_credentials c JOIN domains d ON d.id = c.domain_id`
	qOpenfireByHash = `SELECT ` + openfireCols + openfireFrom + ` WHERE c.secret_hash = ?`
	qOpenfireByAcct = `SELECT ` + openfireCols + openfireFrom + ` WHERE c.account_id = ?`
	qOpenfireAll    = `SELECT ` + openfireCols + openfireFrom + ` ORDER BY c.account_id`
)

// PutOpenfireCredential creates or replaces an account's credential; hash
// is KeyHash of the secret. ErrDuplicate if another account has the secret.
func (t *Tx) PutOpenfireCredential(ctx context.Context, c OpenfireCredential, hash []byte) error {
	_, err := t.q.ExecContext(ctx, qPutOpenfire, c.AccountID, c.DomainID, hash, c.SecretSealed, c.IPAllow, c.Enabled, t.stamp())
	return constraintErr(err)
}

func scanOpenfire(row interface{ Scan(...any) error }) (OpenfireCredential, error) {
	var c OpenfireCredential
	var updated sql.NullString
	err := row.Scan(&c.AccountID, &c.DomainID, &c.Domain, &c.SecretSealed, &c.IPAllow, &c.Enabled, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	c.Updated = parseTime(updated)
	return c, err
}

// OpenfireCredentialByHash finds the credential whose secret has KeyHash hash.
func (r Reader) OpenfireCredentialByHash(ctx context.Context, hash []byte) (OpenfireCredential, error) {
	return scanOpenfire(r.q.QueryRowContext(ctx, qOpenfireByHash, hash))
}

// OpenfireCredential returns an account's credential.
func (r Reader) OpenfireCredential(ctx context.Context, account int64) (OpenfireCredential, error) {
	return scanOpenfire(r.q.QueryRowContext(ctx, qOpenfireByAcct, account))
}

// OpenfireCredentials lists every credential by account.
func (r Reader) OpenfireCredentials(ctx context.Context) ([]OpenfireCredential, error) {
	return queryAll(ctx, r.q, scanOpenfire, qOpenfireAll)
}

// RESTCredential is an account's API password for the hosted-XMPP REST API:
// a salted PBKDF2-SHA-256 key (credential.SCRAM's StoredKey) and a sealed
// copy. The password itself is never stored.
type RESTCredential struct {
	AccountID      int64
	Salt           []byte
	Iterations     int
	StoredKey      []byte
	PasswordSealed []byte
	Updated        time.Time
}

const (
	qPutREST = `INSERT INTO rest_credentials (account_id, salt, iterations, stored_key, password_sealed, updated)
		VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (account_id) DO UPDATE SET salt = excluded.salt, iterations = excluded.iterations,
		stored_key = excluded.stored_key, password_sealed = excluded.password_sealed, updated = excluded.updated`
	qRESTByAccount = `SELECT account_id, salt, iterations, stored_key, password_sealed, updated
		FROM rest_credentials WHERE account_id = ?`
)

// PutRESTCredential creates or replaces an account's API password.
// ErrNotFound if the account does not exist.
func (t *Tx) PutRESTCredential(ctx context.Context, c RESTCredential) error {
	_, err := t.q.ExecContext(ctx, qPutREST, c.AccountID, c.Salt, c.Iterations, c.StoredKey, c.PasswordSealed, t.stamp())
	if isForeignKey(err) {
		return ErrNotFound
	}
	return err
}

// RESTCredential returns an account's API password record.
func (r Reader) RESTCredential(ctx context.Context, account int64) (RESTCredential, error) {
	var c RESTCredential
	var updated sql.NullString
	err := r.q.QueryRowContext(ctx, qRESTByAccount, account).Scan(&c.AccountID, &c.Salt, &c.Iterations, &c.StoredKey, &c.PasswordSealed, &updated)
	if errors.Is(err, sql.ErrNoRows) {
		return c, ErrNotFound
	}
	c.Updated = parseTime(updated)
	return c, err
}

// EjabberdPermission grants one user (an admin JID) the right to call the
// ejabberd admin API for an account, limited to the commands What matches.
type EjabberdPermission struct {
	UserID    int64
	AccountID int64
	What      []string
}

const (
	qPutEjabberdPerm = `INSERT INTO ejabberd_api_permissions (user_id, account_id, what, updated) VALUES (?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET account_id = excluded.account_id, what = excluded.what, updated = excluded.updated`
	qEjabberdPerm    = `SELECT user_id, account_id, what FROM ejabberd_api_permissions WHERE user_id = ?`
	qDelEjabberdPerm = `DELETE FROM ejabberd_api_permissions WHERE user_id = ?`
)

// PutEjabberdPermission creates or replaces a user's grant; ErrNotFound if
// the user or account does not exist.
func (t *Tx) PutEjabberdPermission(ctx context.Context, p EjabberdPermission) error {
	what, err := jsonList(p.What)
	if err != nil {
		return err
	}
	_, err = t.q.ExecContext(ctx, qPutEjabberdPerm, p.UserID, p.AccountID, what, t.stamp())
	if isForeignKey(err) {
		return ErrNotFound
	}
	return err
}

// DeleteEjabberdPermission removes a user's grant; ErrNotFound if it had none.
func (t *Tx) DeleteEjabberdPermission(ctx context.Context, userID int64) error {
	return mustAffect(t.q.ExecContext(ctx, qDelEjabberdPerm, userID))
}

// EjabberdPermission returns a user's grant; ErrNotFound if it has none.
func (r Reader) EjabberdPermission(ctx context.Context, userID int64) (EjabberdPermission, error) {
	var p EjabberdPermission
	var what string
	err := r.q.QueryRowContext(ctx, qEjabberdPerm, userID).Scan(&p.UserID, &p.AccountID, &what)
	if errors.Is(err, sql.ErrNoRows) {
		return p, ErrNotFound
	}
	if err != nil {
		return p, err
	}
	return p, json.Unmarshal([]byte(what), &p.What)
}

const qDomainAPIUsers = `SELECT p.user_id FROM ejabberd_api_permissions p JOIN users u ON u.id = p.user_id WHERE u.domain_id = ?`

// DomainAPIUsers returns the users of a domain that hold an ejabberd API
// permission (the accounts' admin JIDs), by user id.
func (r Reader) DomainAPIUsers(ctx context.Context, domainID int64) (map[int64]bool, error) {
	rows, err := r.q.QueryContext(ctx, qDomainAPIUsers, domainID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]bool{}
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out[id] = true
	}
	return out, rows.Err()
}
