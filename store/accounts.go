package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"strings"
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

// InsertAccount creates an account; ErrDuplicate if the name is taken.
func (t *Tx) InsertAccount(ctx context.Context, name string, parentID int64) (Account, error) {
	t.dirDirty = true
	a := Account{Name: name, ParentID: parentID}
	var parent any
	if parentID != 0 {
		parent = parentID
	}
	res, err := t.q.ExecContext(ctx, `INSERT INTO accounts (name, parent_id, created) VALUES (?, ?, ?)`, name, parent, t.stamp())
	if isUnique(err) {
		return a, ErrDuplicate
	}
	if err != nil {
		if strings.Contains(err.Error(), "FOREIGN KEY") {
			return a, ErrNotFound
		}
		return a, err
	}
	a.ID, _ = res.LastInsertId()
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
	res, err := t.q.ExecContext(ctx, `UPDATE accounts SET operator = ? WHERE id = ?`, on, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
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
	rows, err := r.q.QueryContext(ctx, `WITH RECURSIVE tree(id) AS (
		SELECT id FROM accounts WHERE id = ?
		UNION SELECT a.id FROM accounts a JOIN tree ON a.parent_id = tree.id)
		SELECT id FROM tree ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	if len(out) == 0 && rows.Err() == nil {
		return nil, ErrNotFound
	}
	return out, rows.Err()
}

// InsertKey stores a new API key given its hash and sealed copy.
func (t *Tx) InsertKey(ctx context.Context, k Key, hash []byte) (Key, error) {
	t.dirDirty = true
	res, err := t.q.ExecContext(ctx, `INSERT INTO api_keys (account_id, key_hash, key_sealed, cmds, ip_allow, comment, created)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, k.AccountID, hash, k.Sealed, strings.Join(k.Cmds, ","), k.IPAllow, k.Comment, t.stamp())
	if isUnique(err) {
		return k, ErrDuplicate
	}
	if err != nil {
		if strings.Contains(err.Error(), "FOREIGN KEY") {
			return k, ErrNotFound
		}
		return k, err
	}
	k.ID, _ = res.LastInsertId()
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
	q := `SELECT ` + keyCols + ` FROM api_keys`
	var args []any
	if accounts != nil {
		q += ` WHERE account_id IN (SELECT value FROM json_each(?))`
		args = append(args, idList(accounts))
	}
	return queryAll(ctx, r.q, scanKey, q+` ORDER BY id`, args...)
}

// UseUniqueID records that key used id successfully; ErrDuplicate if it did before.
func (t *Tx) UseUniqueID(ctx context.Context, keyID int64, id []byte) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO unique_ids (key_id, unique_id, used) VALUES (?, ?, ?)`, keyID, id, t.stamp())
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
