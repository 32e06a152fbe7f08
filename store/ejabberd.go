package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
)

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
	what := p.What
	if what == nil {
		what = []string{}
	}
	raw, err := json.Marshal(what)
	if err != nil {
		return err
	}
	_, err = t.q.ExecContext(ctx, qPutEjabberdPerm, p.UserID, p.AccountID, string(raw), t.stamp())
	if err != nil && strings.Contains(err.Error(), "FOREIGN KEY") {
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
