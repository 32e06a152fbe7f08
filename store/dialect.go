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
	pgRewritten sync.Map // SQLite-form query text (and list kinds) -> PostgreSQL text

	// `col IN (SELECT value FROM json_each(?))`: a JSON list argument.
	// PostgreSQL's elements are text; a list of ids (an ids argument, see
	// idList) is cast to bigint.
	jsonEachIn = regexp.MustCompile(`([\w.]+)( NOT)? IN \(SELECT value FROM json_each\((\?\d*)\)\)`)
	// instr(text, part) is strpos(text, part) (a byte search in a blob has
	// its own PostgreSQL form, see qExpiryCandidatesPG).
	instr = regexp.MustCompile(`\binstr\(`)
	// `?1 IS NULL OR … json_each(?1)`: PostgreSQL must know the type of
	// the placeholder it first meets; a JSON list travels as text.
	isNull = regexp.MustCompile(`(\?\d*) IS NULL`)
)

// ids is a JSON array of ids, the argument of a json_each(?) whose
// elements are compared with an integer column: the one kind of list
// PostgreSQL must read as bigint. Any other list argument is text. The
// type of the argument says so, not the name of the column compared.
type ids string

// noIDs is an ids argument that is NULL (`?1 IS NULL OR … json_each(?1)`).
var noIDs *ids

// pgQuery is query and args as PostgreSQL takes them: ids lists and Go
// booleans (see pgArgs) become plain values, and the text is rewritten
// knowing which arguments are ids lists.
func pgQuery(query string, args []any) (string, []any) {
	var idArgs []bool
	for i, a := range args {
		switch v := a.(type) {
		case ids:
			args[i] = string(v)
		case *ids:
			args[i] = nil
			if v != nil {
				args[i] = string(*v)
			}
		default:
			continue
		}
		if idArgs == nil {
			idArgs = make([]bool, len(args))
		}
		idArgs[i] = true
	}
	return pgSQL(query, idArgs), pgArgs(args)
}

// pgSQL rewrites a query from the common form into PostgreSQL's: JSON list
// arguments (ids lists where idArgs says so, by argument index), then `?`
// placeholders into `$1…$n` (outside string literals).
func pgSQL(q string, idArgs []bool) string {
	key := q
	if idArgs != nil {
		flags := make([]byte, len(idArgs))
		for i, isID := range idArgs {
			flags[i] = '0'
			if isID {
				flags[i] = '1'
			}
		}
		key = q + "\x00" + string(flags)
	}
	if v, ok := pgRewritten.Load(key); ok {
		return v.(string)
	}
	var out strings.Builder
	last := 0
	for _, m := range jsonEachIn.FindAllStringSubmatchIndex(q, -1) {
		col, not, ph := q[m[2]:m[3]], "", q[m[6]:m[7]]
		if m[4] >= 0 {
			not = q[m[4]:m[5]]
		}
		typ := "text"
		if i := placeholderIndex(q, m[6]); i >= 0 && i < len(idArgs) && idArgs[i] {
			typ = "bigint"
		}
		out.WriteString(q[last:m[0]])
		out.WriteString(col + not + " IN (SELECT value::" + typ + " FROM json_array_elements_text(" + ph + "::text::json))")
		last = m[1]
	}
	out.WriteString(q[last:])
	s := instr.ReplaceAllString(out.String(), "strpos(")
	s = isNull.ReplaceAllString(s, "$1::text IS NULL")
	var b strings.Builder
	n := 0
	inStr := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'':
			inStr = !inStr
			b.WriteByte(c)
		case c == '?' && !inStr && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '9':
			b.WriteByte('$') // ?NNN, SQLite's numbered form, is PostgreSQL's $NNN
		case c == '?' && !inStr:
			n++
			b.WriteString("$" + strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	r := b.String()
	pgRewritten.Store(key, r)
	return r
}

// placeholderIndex is the argument index of the placeholder at pos of q:
// N-1 for ?N, else the count of plain ? before it (outside literals).
func placeholderIndex(q string, pos int) int {
	if pos+1 < len(q) && q[pos+1] >= '0' && q[pos+1] <= '9' {
		end := pos + 1
		for end < len(q) && q[end] >= '0' && q[end] <= '9' {
			end++
		}
		n, err := strconv.Atoi(q[pos+1 : end])
		if err != nil {
			return -1
		}
		return n - 1
	}
	n := 0
	inStr := false
	for i := 0; i < pos; i++ {
		switch {
		case q[i] == '\'':
			inStr = !inStr
		case q[i] == '?' && !inStr && !(i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9'):
			n++
		}
	}
	return n
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
	query, args = pgQuery(query, args)
	var res sql.Result
	var err error
	if p.tx != nil {
		res, err = p.tx.ExecContext(ctx, query, args...)
	} else {
		res, err = p.db.ExecContext(ctx, query, args...)
	}
	if err != nil && pgDebug {
		err = fmt.Errorf("%w\n%s", err, query)
	}
	return res, err
}

func (p pgQuerier) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	query, args = pgQuery(query, args)
	var rows *sql.Rows
	var err error
	if p.tx != nil {
		rows, err = p.tx.QueryContext(ctx, query, args...)
	} else {
		rows, err = p.db.QueryContext(ctx, query, args...)
	}
	if err != nil && pgDebug {
		err = fmt.Errorf("%w\n%s", err, query)
	}
	return rows, err
}

func (p pgQuerier) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	query, args = pgQuery(query, args)
	if p.tx != nil {
		return p.tx.QueryRowContext(ctx, query, args...)
	}
	return p.db.QueryRowContext(ctx, query, args...)
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
