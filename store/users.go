package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

	"github.com/xmppgate/xmppgate/store/credential"
)

// Status is a user's lifecycle state; see docs/state_machine.md.
type Status string

// The user states DreamHost documented. A pending state means a change is
// queued and not yet applied; only active users may log in.
const (
	StatusActive          Status = "active"
	StatusInactive        Status = "inactive"
	StatusPendingActive   Status = "pending-active"
	StatusPendingInactive Status = "pending-inactive"
	StatusPendingDelete   Status = "pending-delete"
)

// Pending reports whether a queued change waits on the user.
func (s Status) Pending() bool {
	return s == StatusPendingActive || s == StatusPendingInactive || s == StatusPendingDelete
}

// User is one XMPP account, localpart Username on Domain.
type User struct {
	ID        int64
	DomainID  int64
	Domain    string
	AccountID int64
	// DomainEnabled is false when the user's whole domain is switched off.
	DomainEnabled  bool
	Username       string
	Status         Status
	Cred           credential.SCRAM
	PasswordSealed []byte
	Name           string
	Email          string
	Created        time.Time
}

// MayLogIn is the one rule of who may authenticate as a user, over XMPP or
// any API: an active user of an enabled domain. Pending and deactivated users
// may not, nor users of a domain switched off.
func (u User) MayLogIn() bool { return u.Status == StatusActive && u.DomainEnabled }

// InsertUser creates a user row; ErrDuplicate if the name is taken on that domain.
func (t *Tx) InsertUser(ctx context.Context, u User) (User, error) {
	id, err := t.insertUnique(ctx, `INSERT INTO users (domain_id, username, status, password_sealed, name, email, created)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, u.DomainID, u.Username, u.Status, u.PasswordSealed, u.Name, u.Email, t.stamp())
	if isUnique(err) {
		return u, ErrDuplicate
	}
	if err != nil {
		return u, err
	}
	u.ID = id
	u.Created = t.now().UTC().Truncate(time.Second)
	return u, nil
}

const userCols = `u.id, u.domain_id, d.fqdn, d.account_id, d.enabled, u.username, u.status, u.iterations, u.salt,
	u.sha1_stored, u.sha1_server, u.sha256_stored, u.sha256_server, u.password_sealed, u.name, u.email, u.created`

const userFrom = ` FROM users u JOIN domains d ON d.id = u.domain_id`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	var created sql.NullString
	err := row.Scan(&u.ID, &u.DomainID, &u.Domain, &u.AccountID, &u.DomainEnabled, &u.Username, &u.Status,
		&u.Cred.Iterations, &u.Cred.Salt, &u.Cred.SHA1Stored, &u.Cred.SHA1Server, &u.Cred.SHA256Stored,
		&u.Cred.SHA256Server, &u.PasswordSealed, &u.Name, &u.Email, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return u, ErrNotFound
	}
	u.Created = parseTime(created)
	return u, err
}

// UserByJID returns the user username@fqdn in any state.
func (r Reader) UserByJID(ctx context.Context, fqdn, username string) (User, error) {
	return scanUser(r.q.QueryRowContext(ctx, `SELECT `+userCols+userFrom+` WHERE d.fqdn = ? AND u.username = ?`, fqdn, username))
}

// UserByID returns one user by row id.
func (r Reader) UserByID(ctx context.Context, id int64) (User, error) {
	return scanUser(r.q.QueryRowContext(ctx, `SELECT `+userCols+userFrom+` WHERE u.id = ?`, id))
}

// Users lists the users of the given accounts' domains, by domain then name;
// nil accounts means every account.
func (r Reader) Users(ctx context.Context, accounts []int64) ([]User, error) {
	where, args := ofAccounts("d.account_id", accounts)
	return r.users(ctx, `SELECT `+userCols+userFrom+where+` ORDER BY d.fqdn, u.username`, args...)
}

// DomainUsers lists the users of one domain by name.
func (r Reader) DomainUsers(ctx context.Context, domainID int64) ([]User, error) {
	return r.users(ctx, `SELECT `+userCols+userFrom+` WHERE u.domain_id = ? ORDER BY u.username`, domainID)
}

const qDomainUsersAfter = `SELECT ` + userCols + userFrom + ` WHERE u.domain_id = ? AND u.username > ? ORDER BY u.username LIMIT ?`

// DomainUsersAfter returns at most limit users of a domain whose names sort
// after after ("" = from the first), by name: keyset paging.
func (r Reader) DomainUsersAfter(ctx context.Context, domainID int64, after string, limit int) ([]User, error) {
	return r.users(ctx, qDomainUsersAfter, domainID, after, limit)
}

func (r Reader) users(ctx context.Context, q string, args ...any) ([]User, error) {
	return queryAll(ctx, r.q, scanUser, q, args...)
}

// SetUserStatus moves a user to status to.
func (t *Tx) SetUserStatus(ctx context.Context, id int64, to Status) error {
	return mustAffect(t.q.ExecContext(ctx, `UPDATE users SET status = ? WHERE id = ?`, to, id))
}

// SetUserCredentials stores derived SCRAM keys and, if sealed is not nil, a
// new recoverable password copy.
func (t *Tx) SetUserCredentials(ctx context.Context, id int64, c credential.SCRAM, sealed []byte) error {
	if sealed != nil {
		return mustAffect(t.q.ExecContext(ctx, `UPDATE users SET iterations = ?, salt = ?, sha1_stored = ?, sha1_server = ?,
			sha256_stored = ?, sha256_server = ?, password_sealed = ? WHERE id = ?`,
			c.Iterations, c.Salt, c.SHA1Stored, c.SHA1Server, c.SHA256Stored, c.SHA256Server, sealed, id))
	}
	return mustAffect(t.q.ExecContext(ctx, `UPDATE users SET iterations = ?, salt = ?, sha1_stored = ?, sha1_server = ?,
		sha256_stored = ?, sha256_server = ? WHERE id = ?`,
		c.Iterations, c.Salt, c.SHA1Stored, c.SHA1Server, c.SHA256Stored, c.SHA256Server, id))
}

// DeleteUser removes a user row; data hanging off it goes by ON DELETE CASCADE.
func (t *Tx) DeleteUser(ctx context.Context, id int64) error {
	return mustAffect(t.q.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id))
}

// ActivateUser stores derived credentials and moves a pending-active user to
// active, in one statement; ErrNotFound if the user is gone or not pending-active.
func (t *Tx) ActivateUser(ctx context.Context, id int64, c credential.SCRAM) error {
	return mustAffect(t.q.ExecContext(ctx, `UPDATE users SET iterations = ?, salt = ?, sha1_stored = ?, sha1_server = ?,
		sha256_stored = ?, sha256_server = ?, status = 'active' WHERE id = ? AND status = 'pending-active'`,
		c.Iterations, c.Salt, c.SHA1Stored, c.SHA1Server, c.SHA256Stored, c.SHA256Server, id))
}

// Activation is one pending-active user's derived credentials (ActivateUsers).
type Activation struct {
	ID   int64
	Cred credential.SCRAM
}

const qActivateUsersPG = `UPDATE users u SET iterations = v.it, salt = v.salt, sha1_stored = v.s1s,
	sha1_server = v.s1v, sha256_stored = v.s2s, sha256_server = v.s2v, status = 'active'
	FROM unnest($1::bigint[], $2::bigint[], $3::bytea[], $4::bytea[], $5::bytea[], $6::bytea[], $7::bytea[])
		AS v(id, it, salt, s1s, s1v, s2s, s2v)
	WHERE u.id = v.id AND u.status = 'pending-active' RETURNING u.id`

// ActivateUsers is ActivateUser for many users: done[i] reports whether
// users[i] was pending-active and is now active. On PostgreSQL it is one
// statement over arrays: a statement per user is a round trip each, which
// was most of a 100,000-change batch's apply there (bench/batch). On
// SQLite, in-process, it is ActivateUser's statement per user. Users named
// twice take the statement per user on both engines (an UPDATE … FROM
// would update such a row once).
func (t *Tx) ActivateUsers(ctx context.Context, users []Activation) (done []bool, err error) {
	ids := make([]int64, len(users))
	for i, u := range users {
		ids[i] = u.ID
	}
	return t.usersAtOnce(ctx, ids, func(i int) error { return t.ActivateUser(ctx, users[i].ID, users[i].Cred) },
		qActivateUsersPG, func() []any {
			its := make([]int64, len(users))
			cols := [5][][]byte{}
			for k := range cols {
				cols[k] = make([][]byte, len(users))
			}
			for i, u := range users {
				its[i] = int64(u.Cred.Iterations)
				cols[0][i], cols[1][i], cols[2][i] = u.Cred.Salt, u.Cred.SHA1Stored, u.Cred.SHA1Server
				cols[3][i], cols[4][i] = u.Cred.SHA256Stored, u.Cred.SHA256Server
			}
			return []any{ids, its, cols[0], cols[1], cols[2], cols[3], cols[4]}
		})
}

func idTwice(ids []int64) bool {
	seen := make(map[int64]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			return true
		}
		seen[id] = true
	}
	return false
}

// TransitionUser moves a user from status from to status to in one
// statement; ErrNotFound if the user is gone or not in from.
func (t *Tx) TransitionUser(ctx context.Context, id int64, from, to Status) error {
	return mustAffect(t.q.ExecContext(ctx, `UPDATE users SET status = ? WHERE id = ? AND status = ?`, to, id, from))
}

// DeleteUserIn removes a user that is in status; ErrNotFound otherwise.
func (t *Tx) DeleteUserIn(ctx context.Context, id int64, status Status) error {
	return mustAffect(t.q.ExecContext(ctx, `DELETE FROM users WHERE id = ? AND status = ?`, id, status))
}

const (
	qTransitionUsersPG = `UPDATE users SET status = $1 WHERE id = ANY($2::bigint[]) AND status = $3 RETURNING id`
	qDeleteUsersInPG   = `DELETE FROM users WHERE id = ANY($1::bigint[]) AND status = $2 RETURNING id`
)

// TransitionUsers is TransitionUser for many users, DeleteUsersIn is
// DeleteUserIn: done[i] reports whether ids[i] was in the status and was
// moved or removed. On PostgreSQL each is one statement over an array, as
// ActivateUsers is, and for the same reason: a panel's bulk deactivation
// or removal is a round trip per user otherwise. SQLite, and a run naming
// a user twice (the second must fail as it would alone), take the
// statement per user.
func (t *Tx) TransitionUsers(ctx context.Context, ids []int64, from, to Status) (done []bool, err error) {
	return t.usersAtOnce(ctx, ids, func(i int) error { return t.TransitionUser(ctx, ids[i], from, to) },
		qTransitionUsersPG, func() []any { return []any{to, ids, from} })
}

// DeleteUsersIn: see TransitionUsers.
func (t *Tx) DeleteUsersIn(ctx context.Context, ids []int64, status Status) (done []bool, err error) {
	return t.usersAtOnce(ctx, ids, func(i int) error { return t.DeleteUserIn(ctx, ids[i], status) },
		qDeleteUsersInPG, func() []any { return []any{ids, status} })
}

// usersAtOnce runs one(i) for each of ids, or on PostgreSQL the statement
// q (with the arguments args builds) that returns the ids it changed.
func (t *Tx) usersAtOnce(ctx context.Context, ids []int64, one func(i int) error, q string, args func() []any) ([]bool, error) {
	done := make([]bool, len(ids))
	if !t.pg || idTwice(ids) {
		for i := range ids {
			err := one(i)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, err
			}
			done[i] = err == nil
		}
		return done, nil
	}
	rows, err := t.q.QueryContext(ctx, q, args()...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	changed := make(map[int64]bool, len(ids))
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		changed[id] = true
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i, id := range ids {
		done[i] = changed[id]
	}
	return done, nil
}

const qSetProfile = `UPDATE users SET name = COALESCE(?, name), email = COALESCE(?, email) WHERE id = ?`

// SetUserProfile sets a user's display name and email; a nil value is left
// unchanged. ErrNotFound if the user is gone.
func (t *Tx) SetUserProfile(ctx context.Context, id int64, name, email *string) error {
	return mustAffect(t.q.ExecContext(ctx, qSetProfile, name, email, id))
}

const (
	qUserACL    = `SELECT acl FROM rest_user_acls WHERE user_id = ?`
	qPutUserACL = `INSERT INTO rest_user_acls (user_id, acl, updated) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET acl = excluded.acl, updated = excluded.updated`
)

// UserACL returns a user's stored ACL object; nil if none was set.
func (r Reader) UserACL(ctx context.Context, userID int64) (json.RawMessage, error) {
	var s string
	err := r.q.QueryRowContext(ctx, qUserACL, userID).Scan(&s)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	return json.RawMessage(s), err
}

// PutUserACL stores a user's ACL object. ErrNotFound if the user is gone.
func (t *Tx) PutUserACL(ctx context.Context, userID int64, acl json.RawMessage) error {
	_, err := t.q.ExecContext(ctx, qPutUserACL, userID, string(acl), t.stamp())
	if isForeignKey(err) {
		return ErrNotFound
	}
	return err
}

// qDomainHasSHA1Only repeats users_sha1_only's condition, so SQLite answers
// from that index.
const qDomainHasSHA1Only = `SELECT EXISTS (SELECT 1 FROM users WHERE domain_id = ?
	AND length(sha1_stored) > 0 AND (sha256_stored IS NULL OR length(sha256_stored) = 0))`

// DomainHasSHA1Only reports whether a user of the domain has SCRAM-SHA-1
// keys and no SCRAM-SHA-256 ones.
func (r Reader) DomainHasSHA1Only(ctx context.Context, domainID int64) (bool, error) {
	var yes bool
	err := r.q.QueryRowContext(ctx, qDomainHasSHA1Only, domainID).Scan(&yes)
	return yes, err
}

const qCompleteKeys = `UPDATE users SET sha1_stored = ?, sha1_server = ?, sha256_stored = ?, sha256_server = ?
	WHERE id = ? AND salt = ? AND iterations = ?`

// CompleteUserKeys stores keys derived for the SCRAM family a user lacked
// (credential.SCRAM.Complete). c carries the salt and iteration count they
// were derived with: if the user's changed meanwhile (a new password), the
// row is left alone and ErrNotFound returned.
func (t *Tx) CompleteUserKeys(ctx context.Context, id int64, c credential.SCRAM) error {
	return mustAffect(t.q.ExecContext(ctx, qCompleteKeys, c.SHA1Stored, c.SHA1Server, c.SHA256Stored, c.SHA256Server,
		id, c.Salt, c.Iterations))
}

const qDomainUsersMatching = `SELECT ` + userCols + userFrom + ` WHERE u.domain_id = ? AND instr(u.username, ?) > 0 ORDER BY u.username LIMIT ?`

// DomainUsersMatching returns at most limit users of a domain whose names
// contain part ("" matches all), by name. instr, not LIKE: a search for
// "a_b" or "50%" means those characters.
func (r Reader) DomainUsersMatching(ctx context.Context, domainID int64, part string, limit int) ([]User, error) {
	return r.users(ctx, qDomainUsersMatching, domainID, part, limit)
}
