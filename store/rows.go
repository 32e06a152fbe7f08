package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// The helpers every query file reads and writes rows with.

// rowScanner is what the scan functions read from: a *sql.Row or the
// current row of *sql.Rows. An alias, so scanAccount and the like are
// queryAll's scan as they are.
type rowScanner = interface{ Scan(...any) error }

// queryAll runs query and returns every row read by scan, in the query's
// order (nil for none): the one loop behind the list readers.
func queryAll[T any](ctx context.Context, q querier, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// scanColumn reads a row of one column.
func scanColumn[T any](row rowScanner) (T, error) {
	var v T
	err := row.Scan(&v)
	return v, err
}

// stringColumn is queryAll of a one-column string query.
func (r Reader) stringColumn(ctx context.Context, q string, args ...any) ([]string, error) {
	out, err := queryAll(ctx, r.q, scanColumn[string], q, args...)
	if out == nil && err == nil {
		out = []string{} // callers encode an empty list, not null
	}
	return out, err
}

// stamp is now in the form every time column holds (TimeLayout, UTC).
func (r Reader) stamp() string { return r.now().UTC().Format(TimeLayout) }

// parseTime reads a time column; NULL is the zero time.
func parseTime(s sql.NullString) time.Time {
	if !s.Valid {
		return time.Time{}
	}
	t, _ := time.ParseInLocation(TimeLayout, s.String, time.UTC)
	return t
}

// idList is ids as a JSON array, for json_each(?): one query text serves
// any number of ids, so the statement cache stays bounded. Its type tells
// the PostgreSQL rewriting that the elements are ids (see ids).
func idList(l []int64) ids {
	var b strings.Builder
	b.WriteByte('[')
	for i, id := range l {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.FormatInt(id, 10))
	}
	b.WriteByte(']')
	return ids(b.String())
}

// ofAccounts is the WHERE clause and argument that limit a list to the rows
// whose column col is one of accounts; nil accounts means no limit.
func ofAccounts(col string, accounts []int64) (string, []any) {
	if accounts == nil {
		return "", nil
	}
	return ` WHERE ` + col + ` IN (SELECT value FROM json_each(?))`, []any{idList(accounts)}
}

// jsonList is list as a JSON array for a TEXT column: nil is [], never
// null, which the array CHECKs (and the readers' unmarshalling) refuse.
func jsonList(list []string) (string, error) {
	if list == nil {
		list = []string{}
	}
	raw, err := json.Marshal(list)
	return string(raw), err
}

// insertID runs an INSERT of one row and returns the new row's id
// (RETURNING id: database/sql's LastInsertId has no PostgreSQL form).
func (t *Tx) insertID(ctx context.Context, insert string, args ...any) (int64, error) {
	var id int64
	err := t.q.QueryRowContext(ctx, insert+` RETURNING id`, args...).Scan(&id)
	return id, err
}

// insertUnique is insertID for a row whose unique key may be taken: the
// caller gets ErrDuplicate's cause and the transaction stays usable on
// PostgreSQL too (guard), as it does on SQLite.
func (t *Tx) insertUnique(ctx context.Context, insert string, args ...any) (id int64, err error) {
	err = t.guard(ctx, func() error {
		id, err = t.insertID(ctx, insert, args...)
		return err
	})
	return id, err
}

// mustAffect turns an UPDATE or DELETE that matched no row into ErrNotFound.
func mustAffect(res sql.Result, err error) error {
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// isUnique and isForeignKey recognise constraint failures by the driver's
// message text (go-sqlite3 gives them no distinct error value) or by
// PostgreSQL's SQLSTATE (23505 unique_violation, 23503 foreign_key_violation).
func isUnique(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "UNIQUE constraint failed") || pgCode(err) == "23505")
}

func isForeignKey(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "FOREIGN KEY") || pgCode(err) == "23503")
}

// constraintErr turns a taken unique value into ErrDuplicate and a missing
// parent row into ErrNotFound, the two failures callers act on.
func constraintErr(err error) error {
	if isUnique(err) {
		return ErrDuplicate
	}
	if isForeignKey(err) {
		return ErrNotFound
	}
	return err
}
