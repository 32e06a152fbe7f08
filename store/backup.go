package store

import (
	"bufio"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Whole-database copies: an SQLite file (BackupTo / RestoreFrom) and a
// portable JSON-lines dump (Dump / Load). Both restores replace the rows of
// every table (schema_migrations excepted) inside one Store.Write, so every
// other write sees either the old or the new database, never a mix.

// Errors of the whole-database restores.
var (
	// ErrBusy: the worker is applying a batch; replacing the queue under it
	// would let it finish a change of the other database. Try again.
	ErrBusy = errors.New("store: a batch is being applied")
	// ErrNewerSchema: the copy was made by a newer xmppgate than this one.
	ErrNewerSchema = errors.New("store: the copy has a newer schema than this server")
	// ErrNotACopy: the file is not an xmppgate database or dump.
	ErrNotACopy = errors.New("store: not an xmppgate database copy")
)

// DumpFormat names the first line of a dump.
const DumpFormat = "xmppgate-dump"

// dbPath is the database file (the WAL path without its suffix).
func (s *Store) dbPath() string { return strings.TrimSuffix(s.walPath, "-wal") }

// BackupTo writes a consistent copy of the whole database to the new file
// dst (VACUUM INTO, on a connection of its own, so readers and the writer
// go on meanwhile). dst must not exist.
func (s *Store) BackupTo(ctx context.Context, dst string) error {
	if s.pg {
		return s.backupToSQLite(ctx, dst)
	}
	db, err := sql.Open("sqlite3", "file:"+s.dbPath()+"?_busy_timeout=10000")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		return fmt.Errorf("store: backup: %w", err)
	}
	return nil
}

// RestoreFrom replaces the contents of the database with those of src, a
// file BackupTo wrote (by this or an older xmppgate: an older copy is
// migrated first, on a temporary copy, so src is never modified).
func (s *Store) RestoreFrom(ctx context.Context, src string) error {
	dir := filepath.Dir(s.dbPath())
	if s.pg {
		dir = ""
	}
	tmp, err := copyToTemp(src, dir)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	db, err := sql.Open("sqlite3", "file:"+tmp+"?_busy_timeout=10000")
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n); err != nil || n == 0 {
		return ErrNotACopy
	}
	theirs, err := Reader{q: db}.SchemaVersion(ctx)
	if err != nil {
		return ErrNotACopy
	}
	ours, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if theirs > ours {
		return ErrNewerSchema
	}
	if err := migrate(ctx, db, s.now, false); err != nil {
		return err
	}
	return s.Write(ctx, func(tx *Tx) error {
		return tx.replaceAll(ctx, func(insert inserter) error {
			tables, err := tableNames(ctx, db, false)
			if err != nil {
				return err
			}
			for _, t := range tables {
				if err := copyTable(ctx, db, t, insert); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

func copyToTemp(src, dir string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, ".restore-*.db")
	if err != nil {
		return "", err
	}
	_, err = io.Copy(out, in)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(out.Name())
		return "", err
	}
	return out.Name(), nil
}

func copyTable(ctx context.Context, db *sql.DB, table string, insert inserter) error {
	rows, err := db.QueryContext(ctx, `SELECT * FROM `+quoteIdent(table))
	if err != nil {
		return err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		if err := insert(table, cols, vals); err != nil {
			return err
		}
	}
	return rows.Err()
}

// inserter adds one row to a table of the live database.
type inserter func(table string, cols []string, vals []any) error

// replaceAll empties every table and lets fill insert the new rows, then
// checks the foreign keys; any error rolls the whole replacement back.
// It refuses while a batch is running (see ErrBusy).
func (t *Tx) replaceAll(ctx context.Context, fill func(inserter) error) error {
	return t.Savepoint(ctx, func() error {
		q := t.raw()
		var running int
		if err := q.QueryRowContext(ctx, `SELECT count(*) FROM batches WHERE status = 'running'`).Scan(&running); err != nil {
			return err
		}
		if running > 0 {
			return ErrBusy
		}
		// Rows go in table by table, so a child may come before its parent;
		// the keys are checked once everything is in.
		if _, err := q.ExecContext(ctx, t.pick(`PRAGMA defer_foreign_keys = ON`, `SET CONSTRAINTS ALL DEFERRED`)); err != nil {
			return err
		}
		if !t.pg {
			defer q.ExecContext(ctx, `PRAGMA defer_foreign_keys = OFF`)
		}
		tables, err := tableNames(ctx, q, t.pg)
		if err != nil {
			return err
		}
		live := map[string]map[string]bool{}
		for i := len(tables) - 1; i >= 0; i-- {
			if _, err := q.ExecContext(ctx, `DELETE FROM `+quoteIdent(tables[i])); err != nil {
				return err
			}
			cols, err := columnNames(ctx, q, tables[i], t.pg)
			if err != nil {
				return err
			}
			live[tables[i]] = map[string]bool{}
			for _, c := range cols {
				live[tables[i]][c] = true
			}
		}
		stmts := map[string]string{}
		err = fill(func(table string, cols []string, vals []any) error {
			key := table + "\x00" + strings.Join(cols, "\x00")
			query, ok := stmts[key]
			if !ok {
				have, known := live[table]
				if !known {
					return fmt.Errorf("%w: unknown table %q", ErrNotACopy, table)
				}
				names := make([]string, len(cols))
				for i, c := range cols {
					if !have[c] {
						return fmt.Errorf("%w: unknown column %s.%s", ErrNotACopy, table, c)
					}
					names[i] = quoteIdent(c)
				}
				query = `INSERT INTO ` + quoteIdent(table) + ` (` + strings.Join(names, ", ") + `) VALUES (?` + strings.Repeat(", ?", len(cols)-1) + `)`
				stmts[key] = query
			}
			_, err := q.ExecContext(ctx, query, vals...)
			return err
		})
		if err != nil {
			return err
		}
		if t.pg {
			return t.pgFinishReplace(ctx)
		}
		rows, err := q.QueryContext(ctx, `PRAGMA foreign_key_check`)
		if err != nil {
			return err
		}
		defer rows.Close()
		if rows.Next() {
			var table string
			var rowid sql.NullInt64
			var parent string
			var fkid int
			if err := rows.Scan(&table, &rowid, &parent, &fkid); err != nil {
				return err
			}
			return fmt.Errorf("%w: row %d of %s refers to a missing %s row", ErrNotACopy, rowid.Int64, table, parent)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		t.dirDirty = true
		return nil
	})
}

// raw is the transaction itself: the statements here are built per table,
// so they stay out of the statement cache.
func (t *Tx) raw() querier {
	if c, ok := t.q.(cached); ok && c.tx != nil {
		return c.tx
	}
	return t.q
}

// tableNames lists the data tables in creation order (parents first). The
// node table is the running processes' state, not data: a backup neither
// carries it nor, restored, replaces the live nodes' leases.
func tableNames(ctx context.Context, q querier, pg bool) ([]string, error) {
	if pg {
		return queryAll(ctx, q, scanColumn[string], `SELECT c.relname::text FROM pg_class c
			JOIN pg_namespace n ON n.oid = c.relnamespace
			WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname NOT IN ('schema_migrations', 'nodes') ORDER BY c.oid`)
	}
	return queryAll(ctx, q, scanColumn[string], `SELECT name FROM sqlite_master WHERE type = 'table'
		AND name NOT LIKE 'sqlite_%' AND name NOT IN ('schema_migrations', 'nodes') ORDER BY rowid`)
}

func columnNames(ctx context.Context, q querier, table string, pg bool) ([]string, error) {
	if pg {
		return queryAll(ctx, q, scanColumn[string], `SELECT column_name::text FROM information_schema.columns
			WHERE table_schema = current_schema() AND table_name = ? ORDER BY ordinal_position`, table)
	}
	return queryAll(ctx, q, scanColumn[string], `SELECT name FROM pragma_table_info(?)`, table)
}

// pgFinishReplace ends replaceAll on PostgreSQL: the deferred foreign keys
// are checked now (a missing parent makes the copy ErrNotACopy), and each
// identity column's sequence moves past the ids the copy brought, which
// were inserted explicitly and so did not advance it.
func (t *Tx) pgFinishReplace(ctx context.Context) error {
	if _, err := t.q.ExecContext(ctx, `SET CONSTRAINTS ALL IMMEDIATE`); err != nil {
		if isForeignKey(err) {
			return fmt.Errorf("%w: %v", ErrNotACopy, err)
		}
		return err
	}
	tables, err := queryAll(ctx, t.q, scanColumn[string], `SELECT table_name::text FROM information_schema.columns
		WHERE table_schema = current_schema() AND column_name = 'id' AND is_identity = 'YES' ORDER BY table_name`)
	if err != nil {
		return err
	}
	for _, table := range tables {
		if _, err := t.q.ExecContext(ctx, `SELECT setval(pg_get_serial_sequence(?, 'id'),
			COALESCE((SELECT max(id) FROM `+quoteIdent(table)+`), 0) + 1, false)`, quoteIdent(table)); err != nil {
			return err
		}
	}
	t.dirDirty = true
	return nil
}

// backupToSQLite is BackupTo on PostgreSQL: the copy is an SQLite file
// all the same (a new store at dst filled from a dump), so a backup is
// one portable file whichever engine made it.
func (s *Store) backupToSQLite(ctx context.Context, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("store: backup: %s exists", dst)
	}
	out, err := Open(ctx, dst, Options{Synchronous: "NORMAL", Now: s.now})
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(s.Dump(ctx, pw)) }()
	err = out.Load(ctx, pr)
	pr.CloseWithError(err)
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
		os.Remove(dst + "-wal")
		os.Remove(dst + "-shm")
		return fmt.Errorf("store: backup: %w", err)
	}
	return nil
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// dumpLine is one line of a dump: the header, a table's columns, a row, or
// the trailer counting the rows (so a truncated file is refused).
type dumpLine struct {
	Format  string            `json:"format,omitempty"`
	Version int               `json:"version,omitempty"`
	Schema  int               `json:"schema,omitempty"`
	Created string            `json:"created,omitempty"`
	Table   string            `json:"table,omitempty"`
	Columns []string          `json:"columns,omitempty"`
	Row     []json.RawMessage `json:"row,omitempty"`
	End     bool              `json:"end,omitempty"`
	Rows    int64             `json:"rows,omitempty"`
}

// Dump writes the whole database as JSON lines, from one read transaction:
// a header line, then per table a line naming its columns followed by one
// line per row. Values are JSON numbers (integers), strings and null;
// blobs are {"base64":"…"} and floats {"real":"…"}.
func (s *Store) Dump(ctx context.Context, w io.Writer) error {
	opts := &sql.TxOptions{ReadOnly: true}
	if s.pg {
		// One snapshot for every table, as SQLite's read transaction is.
		opts.Isolation = sql.LevelRepeatableRead
	}
	tx, err := s.r.BeginTx(ctx, opts)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rd := Reader{q: tx}
	if s.pg {
		rd = Reader{q: pgQuerier{tx: tx}, pg: true}
	}
	schema, err := rd.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(dumpLine{Format: DumpFormat, Version: 1, Schema: schema, Created: s.now().UTC().Format(time.RFC3339)}); err != nil {
		return err
	}
	tables, err := tableNames(ctx, tx, s.pg)
	if err != nil {
		return err
	}
	var total int64
	for _, t := range tables {
		n, err := dumpTable(ctx, tx, t, enc)
		if err != nil {
			return err
		}
		total += n
	}
	if err := enc.Encode(dumpLine{End: true, Rows: total}); err != nil {
		return err
	}
	return bw.Flush()
}

func dumpTable(ctx context.Context, q querier, table string, enc *json.Encoder) (int64, error) {
	rows, err := q.QueryContext(ctx, `SELECT * FROM `+quoteIdent(table))
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return 0, err
	}
	if err := enc.Encode(dumpLine{Table: table, Columns: cols}); err != nil {
		return 0, err
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return n, err
		}
		line := dumpLine{Row: make([]json.RawMessage, len(vals))}
		for i, v := range vals {
			if line.Row[i], err = encodeValue(v); err != nil {
				return n, fmt.Errorf("store: dump %s.%s: %w", table, cols[i], err)
			}
		}
		if err := enc.Encode(line); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

type blobValue struct {
	Base64 *string `json:"base64,omitempty"`
	Real   *string `json:"real,omitempty"`
}

func encodeValue(v any) (json.RawMessage, error) {
	switch v := v.(type) {
	case nil:
		return json.RawMessage("null"), nil
	case int64:
		return json.RawMessage(strconv.FormatInt(v, 10)), nil
	case float64:
		s := strconv.FormatFloat(v, 'g', -1, 64)
		return json.Marshal(blobValue{Real: &s})
	case string:
		return json.Marshal(v)
	case []byte:
		s := base64.StdEncoding.EncodeToString(v)
		return json.Marshal(blobValue{Base64: &s})
	case bool:
		if v {
			return json.RawMessage("1"), nil
		}
		return json.RawMessage("0"), nil
	case time.Time:
		return json.Marshal(v.UTC().Format(TimeLayout))
	}
	return nil, fmt.Errorf("unsupported value type %T", v)
}

func decodeValue(raw json.RawMessage) (any, error) {
	s := strings.TrimSpace(string(raw))
	switch {
	case s == "null":
		return nil, nil
	case strings.HasPrefix(s, `"`):
		var out string
		err := json.Unmarshal(raw, &out)
		return out, err
	case strings.HasPrefix(s, "{"):
		var b blobValue
		if err := json.Unmarshal(raw, &b); err != nil {
			return nil, err
		}
		switch {
		case b.Base64 != nil:
			return base64.StdEncoding.DecodeString(*b.Base64)
		case b.Real != nil:
			return strconv.ParseFloat(*b.Real, 64)
		}
		return nil, errors.New("an object value is neither base64 nor real")
	}
	return strconv.ParseInt(s, 10, 64)
}

// Load replaces the contents of the database with a dump Dump wrote (by
// this or an older xmppgate: columns added since are left to their
// defaults). A malformed or truncated dump changes nothing.
func (s *Store) Load(ctx context.Context, r io.Reader) error {
	dec := json.NewDecoder(bufio.NewReader(r))
	var head dumpLine
	if err := dec.Decode(&head); err != nil || head.Format != DumpFormat || head.Version != 1 {
		return ErrNotACopy
	}
	ours, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if head.Schema > ours {
		return ErrNewerSchema
	}
	return s.Write(ctx, func(tx *Tx) error {
		return tx.replaceAll(ctx, func(insert inserter) error {
			var table string
			var cols []string
			var n int64
			for {
				var l dumpLine
				if err := dec.Decode(&l); err != nil {
					return fmt.Errorf("%w: line %d: %v", ErrNotACopy, n+2, err)
				}
				switch {
				case l.End:
					if l.Rows != n {
						return fmt.Errorf("%w: %d rows read, the trailer says %d", ErrNotACopy, n, l.Rows)
					}
					return nil
				case l.Table != "":
					table, cols = l.Table, l.Columns
				case l.Row != nil:
					if table == "" || len(l.Row) != len(cols) {
						return fmt.Errorf("%w: a row without its table's columns", ErrNotACopy)
					}
					vals := make([]any, len(cols))
					for i, raw := range l.Row {
						v, err := decodeValue(raw)
						if err != nil {
							return fmt.Errorf("%w: %s.%s: %v", ErrNotACopy, table, cols[i], err)
						}
						vals[i] = v
					}
					if err := insert(table, cols, vals); err != nil {
						return err
					}
					n++
				default:
					return fmt.Errorf("%w: an empty line", ErrNotACopy)
				}
			}
		})
	})
}

// TableCounts is the number of rows of every data table (schema_migrations
// aside), e.g. to show that a copy between engines lost nothing.
func (r Reader) TableCounts(ctx context.Context) (map[string]int64, error) {
	tables, err := tableNames(ctx, r.q, r.pg)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(tables))
	for _, t := range tables {
		var n int64
		if err := r.q.QueryRowContext(ctx, `SELECT count(*) FROM `+quoteIdent(t)).Scan(&n); err != nil {
			return nil, err
		}
		out[t] = n
	}
	return out, nil
}

// Size is the database's size in bytes (its pages), what a backup copies
// at most: the measure of a backup's progress.
func (s *Store) Size(ctx context.Context) (int64, error) {
	var pages, size int64
	if s.pg {
		err := s.r.QueryRowContext(ctx, `SELECT pg_database_size(current_database())`).Scan(&size)
		return size, err
	}
	err := s.r.QueryRowContext(ctx, `SELECT page_count, page_size FROM pragma_page_count(), pragma_page_size()`).Scan(&pages, &size)
	return pages * size, err
}

// Rows counts the rows a dump writes (every data table's): the measure of
// a dump's progress.
func (s *Store) Rows(ctx context.Context) (int64, error) {
	counts, err := s.TableCounts(ctx)
	var total int64
	for _, n := range counts {
		total += n
	}
	return total, err
}
