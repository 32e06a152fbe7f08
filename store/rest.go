package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
)

const (
	qDeleteDomainUsers = `DELETE FROM users WHERE domain_id = ?`
	qDeleteDomain      = `DELETE FROM domains WHERE id = ?`
	qCountDomainUsers  = `SELECT count(*) FROM users WHERE domain_id = ?`
)

const (
	qDomainUsersAfter = `SELECT ` + userCols + userFrom + ` WHERE u.domain_id = ? AND u.username > ? ORDER BY u.username LIMIT ?`
	qUserACL          = `SELECT acl FROM rest_user_acls WHERE user_id = ?`
	qPutUserACL       = `INSERT INTO rest_user_acls (user_id, acl, updated) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET acl = excluded.acl, updated = excluded.updated`
)

// DeleteDomain removes a domain with its users (whose data goes by ON
// DELETE CASCADE) and everything else hanging off the domain.
// ErrNotFound if it does not exist.
func (t *Tx) DeleteDomain(ctx context.Context, id int64) error {
	t.dirDirty = true
	if _, err := t.q.ExecContext(ctx, qDeleteDomainUsers, id); err != nil {
		return err
	}
	return mustAffect(t.q.ExecContext(ctx, qDeleteDomain, id))
}

// CountDomainUsers counts a domain's users in every state.
func (r Reader) CountDomainUsers(ctx context.Context, domainID int64) (int, error) {
	var n int
	err := r.q.QueryRowContext(ctx, qCountDomainUsers, domainID).Scan(&n)
	return n, err
}

// DomainUsersAfter returns at most limit users of a domain whose names sort
// after after ("" = from the first), by name: keyset paging.
func (r Reader) DomainUsersAfter(ctx context.Context, domainID int64, after string, limit int) ([]User, error) {
	return r.users(ctx, qDomainUsersAfter, domainID, after, limit)
}

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
	if err != nil && isForeignKey(err) {
		return ErrNotFound
	}
	return err
}
