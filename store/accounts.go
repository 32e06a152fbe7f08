package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Account is a tenant: a hosting customer or a reseller owning sub-accounts.
type Account struct {
	ID       int64
	Name     string
	ParentID int64 // 0 for a top-level account
	Operator bool  // may call server-wide commands (commands.Def.Operator)
	Created  time.Time
}

// InsertAccount creates an account; ErrDuplicate if the name is taken.
func (t *Tx) InsertAccount(ctx context.Context, name string, parentID int64) (Account, error) {
	t.dirDirty = true
	a := Account{Name: name, ParentID: parentID}
	var parent any
	if parentID != 0 {
		parent = parentID
	}
	id, err := t.insertUnique(ctx, `INSERT INTO accounts (name, parent_id, created) VALUES (?, ?, ?)`, name, parent, t.stamp())
	if err != nil {
		return a, constraintErr(err)
	}
	a.ID = id
	a.Created = t.now().UTC().Truncate(time.Second)
	return a, nil
}

const accountCols = `id, name, COALESCE(parent_id, 0), created, operator`

func scanAccount(row interface{ Scan(...any) error }) (Account, error) {
	var a Account
	var created sql.NullString
	err := row.Scan(&a.ID, &a.Name, &a.ParentID, &created, &a.Operator)
	if errors.Is(err, sql.ErrNoRows) {
		return a, ErrNotFound
	}
	a.Created = parseTime(created)
	return a, err
}

// SetOperator makes an account the server's operator, or not.
func (t *Tx) SetOperator(ctx context.Context, id int64, on bool) error {
	t.dirDirty = true
	return mustAffect(t.q.ExecContext(ctx, `UPDATE accounts SET operator = ? WHERE id = ?`, on, id))
}

// Account returns one account by id.
func (r Reader) Account(ctx context.Context, id int64) (Account, error) {
	return scanAccount(r.q.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE id = ?`, id))
}

// AccountByName returns one account by its unique name.
func (r Reader) AccountByName(ctx context.Context, name string) (Account, error) {
	return scanAccount(r.q.QueryRowContext(ctx, `SELECT `+accountCols+` FROM accounts WHERE name = ?`, name))
}

// Accounts lists every account.
func (r Reader) Accounts(ctx context.Context) ([]Account, error) {
	return queryAll(ctx, r.q, scanAccount, `SELECT `+accountCols+` FROM accounts ORDER BY id`)
}

// AccountTree returns id and the ids of all its sub-accounts, at any depth:
// the set of accounts whose data a caller of account id may see.
func (r Reader) AccountTree(ctx context.Context, id int64) ([]int64, error) {
	out, err := queryAll(ctx, r.q, scanColumn[int64], `WITH RECURSIVE tree(id) AS (
		SELECT id FROM accounts WHERE id = ?
		UNION SELECT a.id FROM accounts a JOIN tree ON a.parent_id = tree.id)
		SELECT id FROM tree ORDER BY id`, id)
	if len(out) == 0 && err == nil {
		return nil, ErrNotFound
	}
	return out, err
}

// Audit appends one line to the audit log. detail must hold no secret.
func (t *Tx) Audit(ctx context.Context, accountID int64, actor, command, detail string) error {
	var acc any
	if accountID != 0 {
		acc = accountID
	}
	_, err := t.q.ExecContext(ctx, `INSERT INTO audit_log (time, account_id, actor, command, detail) VALUES (?, ?, ?, ?, ?)`,
		t.stamp(), acc, actor, command, detail)
	return err
}
