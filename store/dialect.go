package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
)

// The two SQL dialects the store speaks. Queries are written once, in the
// SQL both engines accept, with SQLite's `?` placeholders; on PostgreSQL
// each query text is rewritten once (pgSQL, cached by text) and pgx's own
// per-connection statement cache prepares it. Where no common form exists
// a query has two named constants side by side and Reader.pick chooses.

// IsPostgres reports whether a store location names a PostgreSQL database
// (a postgres:// or postgresql:// URL) rather than an SQLite file.
func IsPostgres(location string) bool {
	return strings.HasPrefix(location, "postgres://") || strings.HasPrefix(location, "postgresql://")
}

// pick returns the query for the reader's engine.
func (r Reader) pick(sqlite, postgres string) string {
	if r.pg {
		return postgres
	}
	return sqlite
}

// noLimit is the LIMIT argument that means none: -1 on SQLite, NULL on
// PostgreSQL (which refuses a negative one).
func (r Reader) noLimit() any {
	if r.pg {
		return nil
	}
	return -1
}

// Postgres reports whether the store runs on PostgreSQL.
func (r Reader) Postgres() bool { return r.pg }

var (
	pgRewritten sync.Map // SQLite-form query text -> PostgreSQL text

	// `col IN (SELECT value FROM json_each(?))`: a JSON list argument.
	// PostgreSQL's elements are text, so a list of ids is cast to bigint;
	// which lists hold ids is read off the column compared (id, *_id).
	jsonEachIn = regexp.MustCompile(`([\w.]+)( NOT)? IN \(SELECT value FROM json_each\((\?\d*)\)\)`)
	// instr(text, part) is strpos(text, part) (a byte search in a blob has
	// its own PostgreSQL form, see qExpiryCandidatesPG).
	instr = regexp.MustCompile(`\binstr\(`)
	// `?1 IS NULL OR … json_each(?1)`: PostgreSQL must know the type of
	// the placeholder it first meets; a JSON list travels as text.
	isNull  = regexp.MustCompile(`(\?\d*) IS NULL`)
	textIDs = map[string]bool{"item_id": true, "client_id": true}
)

// pgSQL rewrites a query from the common form into PostgreSQL's: JSON list
// arguments, then `?` placeholders into `$1…$n` (outside string literals).
func pgSQL(q string) string {
	if v, ok := pgRewritten.Load(q); ok {
		return v.(string)
	}
	out := jsonEachIn.ReplaceAllStringFunc(q, func(m string) string {
		sub := jsonEachIn.FindStringSubmatch(m)
		col := sub[1]
		if i := strings.LastIndexByte(col, '.'); i >= 0 {
			col = col[i+1:]
		}
		typ := "text"
		if (col == "id" || strings.HasSuffix(col, "_id")) && !textIDs[col] {
			typ = "bigint"
		}
		return sub[1] + sub[2] + " IN (SELECT value::" + typ + " FROM json_array_elements_text(" + sub[3] + "::text::json))"
	})
	out = instr.ReplaceAllString(out, "strpos(")
	out = isNull.ReplaceAllString(out, "$1::text IS NULL")
	var b strings.Builder
	n := 0
	inStr := false
	for i := 0; i < len(out); i++ {
		c := out[i]
		switch {
		case c == '\'':
			inStr = !inStr
			b.WriteByte(c)
		case c == '?' && !inStr && i+1 < len(out) && out[i+1] >= '0' && out[i+1] <= '9':
			b.WriteByte('$') // ?NNN, SQLite's numbered form, is PostgreSQL's $NNN
		case c == '?' && !inStr:
			n++
			b.WriteString("$" + strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	s := b.String()
	pgRewritten.Store(q, s)
	return s
}

// pgQuerier runs queries on PostgreSQL, on the pool or inside tx.
type pgQuerier struct {
	db *sql.DB
	tx *sql.Tx
}

// pgArgs turns Go booleans into 0 and 1: the flag columns are integers
// with a CHECK (as on SQLite, where go-sqlite3 makes the same conversion),
// and pgx would refuse a bool for a bigint.
func pgArgs(args []any) []any {
	for i, a := range args {
		if a == nil {
			continue
		}
		if v := reflect.ValueOf(a); v.Kind() == reflect.Bool {
			if v.Bool() {
				args[i] = int64(1)
			} else {
				args[i] = int64(0)
			}
		}
	}
	return args
}

func (p pgQuerier) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	args = pgArgs(args)
	var res sql.Result
	var err error
	if p.tx != nil {
		res, err = p.tx.ExecContext(ctx, pgSQL(query), args...)
	} else {
		res, err = p.db.ExecContext(ctx, pgSQL(query), args...)
	}
	if err != nil && pgDebug {
		err = fmt.Errorf("%w\n%s", err, pgSQL(query))
	}
	return res, err
}

func (p pgQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	args = pgArgs(args)
	var rows *sql.Rows
	var err error
	if p.tx != nil {
		rows, err = p.tx.QueryContext(ctx, pgSQL(query), args...)
	} else {
		rows, err = p.db.QueryContext(ctx, pgSQL(query), args...)
	}
	if err != nil && pgDebug {
		err = fmt.Errorf("%w\n%s", err, pgSQL(query))
	}
	return rows, err
}

func (p pgQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	args = pgArgs(args)
	if p.tx != nil {
		return p.tx.QueryRowContext(ctx, pgSQL(query), args...)
	}
	return p.db.QueryRowContext(ctx, pgSQL(query), args...)
}

// pgCode is the SQLSTATE of a PostgreSQL error, "" for any other error.
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// guard runs fn so that a statement of it that fails leaves the rest of the
// transaction usable, as a failed statement does on SQLite: PostgreSQL
// aborts the whole transaction on any error, so there fn runs inside a
// savepoint. For the writes whose expected failure (a taken name) a
// caller may step over and go on.
func (t *Tx) guard(ctx context.Context, fn func() error) error {
	if !t.pg {
		return fn()
	}
	return t.Savepoint(ctx, fn)
}

// pgDebug wraps errors with the query text (XMPPGATE_STORE_DEBUG=1): the
// rewriting is the part of PostgreSQL support most likely to go wrong.
var pgDebug = os.Getenv("XMPPGATE_STORE_DEBUG") != ""
