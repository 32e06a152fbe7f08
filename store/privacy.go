package store

import (
	"context"
	"database/sql"
	"errors"
)

// XEP-0016 privacy lists (the xmppcore privacy module). The store keeps
// each list as the bytes it is given; what they mean is the server's.

// PrivacyList is one named list of a user.
type PrivacyList struct {
	Name    string
	List    []byte
	Default bool
}

const (
	qPrivacyLists   = `SELECT name, list, is_default FROM privacy_lists WHERE user_id = ? ORDER BY name`
	qPrivacyList    = `SELECT name, list, is_default FROM privacy_lists WHERE user_id = ? AND name = ?`
	qPrivacyDefault = `SELECT name, list, is_default FROM privacy_lists WHERE user_id = ? AND is_default = 1`
	qPutPrivacy     = `INSERT INTO privacy_lists (user_id, name, list) VALUES (?, ?, ?)
		ON CONFLICT (user_id, name) DO UPDATE SET list = excluded.list`
	qDeletePrivacy = `DELETE FROM privacy_lists WHERE user_id = ? AND name = ?`
	qClearDefault  = `UPDATE privacy_lists SET is_default = 0 WHERE user_id = ? AND is_default = 1`
	qSetDefault    = `UPDATE privacy_lists SET is_default = 1 WHERE user_id = ? AND name = ?`
)

func scanPrivacy(row rowScanner) (PrivacyList, error) {
	var l PrivacyList
	err := row.Scan(&l.Name, &l.List, &l.Default)
	return l, err
}

// PrivacyLists returns a user's lists by name.
func (r Reader) PrivacyLists(ctx context.Context, userID int64) ([]PrivacyList, error) {
	return queryAll(ctx, r.q, scanPrivacy, qPrivacyLists, userID)
}

// PrivacyList returns one list of a user, ErrNotFound if there is none by
// that name.
func (r Reader) PrivacyList(ctx context.Context, userID int64, name string) (PrivacyList, error) {
	return onePrivacy(r.q.QueryRowContext(ctx, qPrivacyList, userID, name))
}

// DefaultPrivacyList returns the user's default list, ErrNotFound if none.
func (r Reader) DefaultPrivacyList(ctx context.Context, userID int64) (PrivacyList, error) {
	return onePrivacy(r.q.QueryRowContext(ctx, qPrivacyDefault, userID))
}

func onePrivacy(row *sql.Row) (PrivacyList, error) {
	l, err := scanPrivacy(row)
	if errors.Is(err, sql.ErrNoRows) {
		return l, ErrNotFound
	}
	return l, err
}

// PutPrivacyList creates or replaces a list (keeping whether it is the
// default).
func (t *Tx) PutPrivacyList(ctx context.Context, userID int64, name string, list []byte) error {
	_, err := t.q.ExecContext(ctx, qPutPrivacy, userID, name, list)
	return err
}

// DeletePrivacyList deletes a list; ErrNotFound if there is none by that
// name.
func (t *Tx) DeletePrivacyList(ctx context.Context, userID int64, name string) error {
	res, err := t.q.ExecContext(ctx, qDeletePrivacy, userID, name)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return errors.Join(err, ErrNotFound)
	}
	return nil
}

// SetDefaultPrivacyList makes name the user's default list, or clears the
// default when name is ""; ErrNotFound if there is no list by that name
// (the default is then unchanged).
func (t *Tx) SetDefaultPrivacyList(ctx context.Context, userID int64, name string) error {
	if name != "" {
		if _, err := onePrivacy(t.q.QueryRowContext(ctx, qPrivacyList, userID, name)); err != nil {
			return err
		}
	}
	if _, err := t.q.ExecContext(ctx, qClearDefault, userID); err != nil || name == "" {
		return err
	}
	_, err := t.q.ExecContext(ctx, qSetDefault, userID, name)
	return err
}
