package store

import (
	"context"
	"database/sql"
)

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

// scanOffline reads an offline message selected as id, sender,
// created, stanza.
func scanOffline(row rowScanner) (OfflineMessage, error) {
	var m OfflineMessage
	var created sql.NullString
	if err := row.Scan(&m.ID, &m.Sender, &created, &m.Stanza); err != nil {
		return m, err
	}
	m.Created = parseTime(created)
	return m, nil
}
