// Package store is xmppgate's only door to its SQLite database: schema,
// migrations and every query live here, behind typed methods.
//
// The database is opened twice, as Pocketbase does: a pool of readers and one
// writer connection. All writes go through Store.Write, which group-commits:
// concurrent write functions share one transaction, each inside its own
// savepoint, so one failing function rolls back alone and a burst of requests
// costs one commit instead of one each.
package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3" // the SQLite driver
)

//go:embed migrations/*.sql migrations_pg/*.sql
var migrationFS embed.FS

// Sentinel errors callers test with errors.Is.
var (
	ErrNotFound  = errors.New("store: not found")
	ErrDuplicate = errors.New("store: duplicate")
	ErrClosed    = errors.New("store: closed")
)

// TimeLayout is how times are stored and shown.
const TimeLayout = "2006-01-02 15:04:05"

// Options tune Open; the zero value is the documented default.
type Options struct {
	// BusyTimeout is how long a connection waits for a lock (default 10s).
	BusyTimeout time.Duration
	// Synchronous is "FULL" (default): every acknowledged write survives a
	// power cut, not only a process crash; or "NORMAL": it survives a crash.
	// FULL is implemented as pipelined group commit: SQLite runs with
	// synchronous=NORMAL and the store fsyncs the WAL itself after each
	// commit, answering that group's callers only then, while the next group
	// already runs. Acknowledged writes are as durable as with SQLite's own
	// FULL, at a fraction of its cost under concurrency.
	Synchronous string
	// MaxGroup bounds how many write functions share one commit (default 512).
	MaxGroup int
	// Now returns the current time; tests may pin it.
	Now func() time.Time
}

// Store is the database. It is safe for concurrent use.
type Store struct {
	Reader
	r, w   *sql.DB
	now    func() time.Time
	writes chan *writeReq
	quit   chan struct{}
	done   chan struct{}
	once   sync.Once
	max    int
	rc, wc *stmtCache
	dir    directory

	// durable: fsync the WAL (walPath) after each commit before answering.
	durable    bool
	walPath    string
	synced     chan syncReq
	syncerDone chan struct{}

	obs observerBox // SetObserver

	ck *checkpointer // SQLite only: checkpoints after a big write (commit.go)
}

type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// Reader holds the read queries; Store runs them on the read pool and Tx inside
// its transaction, so a write function sees its own writes.
type Reader struct {
	q   querier
	now func() time.Time
	pg  bool // on PostgreSQL (see dialect.go)
}

// Tx is a write transaction handed to a Write function.
type Tx struct {
	Reader
	// dirDirty: the transaction changed accounts, keys or domains, so the
	// Store's memoised lookups are cleared once it commits.
	dirDirty bool
	// apart: a WriteApart function runs in this transaction (SQLite).
	apart bool
}

func dsn(path string, o Options, txlock string) string {
	v := url.Values{}
	// busy_timeout first: it must be in force before WAL is switched on.
	v.Set("_busy_timeout", strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10))
	v.Set("_journal_mode", "WAL")
	v.Set("_synchronous", o.Synchronous)
	v.Set("_foreign_keys", "on")
	v.Set("_txlock", txlock)
	return "file:" + path + "?" + v.Encode()
}

// Open opens (creating if needed) the database at path and migrates it.
// A path that is a postgres:// URL opens that PostgreSQL database instead
// (openPostgres); anything else is an SQLite file.
func Open(ctx context.Context, path string, o Options) (*Store, error) {
	if IsPostgres(path) {
		return openPostgres(ctx, path, o)
	}
	if o.BusyTimeout == 0 {
		o.BusyTimeout = 10 * time.Second
	}
	if o.Synchronous == "" {
		o.Synchronous = "FULL"
	}
	durable := strings.EqualFold(o.Synchronous, "FULL")
	if durable {
		o.Synchronous = "NORMAL"
	}
	if o.MaxGroup <= 0 {
		o.MaxGroup = 512
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	// The writer's page cache holds what a large transaction dirties (the
	// archive writer's batches touch two index pages per active user)
	// instead of spilling it to the WAL before the commit writes it again.
	w, err := sql.Open("sqlite3", dsn(path, o, "immediate")+"&_cache_size=-65536")
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	// Savepoints' sub-journals in memory: every write function runs in one,
	// and a file-backed sub-journal writes each page it touches once more.
	// A pragma of the connection, which the writer keeps open for good.
	// Checkpoints every 40 MB of WAL rather than 4: each copies the pages
	// written since the last one back into the database file, and a page
	// the archive writer dirties again and again is then copied once.
	if _, err := w.ExecContext(ctx, `PRAGMA wal_autocheckpoint = `+walAutocheckpoint); err != nil {
		w.Close()
		return nil, err
	}
	if _, err := w.ExecContext(ctx, `PRAGMA temp_store = MEMORY`); err != nil {
		w.Close()
		return nil, err
	}
	if err := migrate(ctx, w, o.Now, false); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite3", dsn(path, o, "deferred")+"&mode=ro")
	if err != nil {
		w.Close()
		return nil, err
	}
	ck, err := sql.Open("sqlite3", dsn(path, o, "deferred"))
	if err != nil {
		r.Close()
		w.Close()
		return nil, err
	}
	rc, wc := newStmtCache(r), newStmtCache(w)
	return start(&Store{
		Reader: Reader{q: cached{cache: rc}, now: o.Now},
		r:      r, w: w, rc: rc, wc: wc,
		durable: durable, walPath: path + "-wal",
		ck: newCheckpointer(ck),
	}, o), nil
}

// start completes s, whose pools and Reader Open has set, with what both
// engines share: the read pool's size, the committer and the syncer.
func start(s *Store, o Options) *Store {
	n := 2 * runtime.GOMAXPROCS(0)
	s.r.SetMaxOpenConns(n)
	s.r.SetMaxIdleConns(n)
	s.now = o.Now
	s.writes = make(chan *writeReq, o.MaxGroup)
	s.quit = make(chan struct{})
	s.done = make(chan struct{})
	s.max = o.MaxGroup
	s.synced = make(chan syncReq, 4)
	s.syncerDone = make(chan struct{})
	go s.syncLoop()
	go s.commitLoop()
	return s
}

// Close stops the committer after the writes already queued and closes both pools.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.quit) })
	<-s.done
	if s.rc != nil {
		s.rc.close()
		s.wc.close()
	}
	var ckErr error
	if s.ck != nil {
		ckErr = s.ck.close()
	}
	return errors.Join(ckErr, s.r.Close(), s.w.Close())
}

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

// migrate applies the numbered migrations of the engine not applied yet:
// migrations/ on SQLite, migrations_pg/ on PostgreSQL, two separate sets
// recorded in the same schema_migrations table.
func migrate(ctx context.Context, db *sql.DB, now func() time.Time, pg bool) error {
	dir, create, q := "migrations", `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL) STRICT`, func(s string) string { return s }
	if pg {
		dir, create, q = "migrations_pg", `CREATE TABLE IF NOT EXISTS schema_migrations (
		version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL)`, func(s string) string { return pgSQL(s, nil) }
	}
	if _, err := db.ExecContext(ctx, create); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	names, err := fs.Glob(migrationFS, dir+"/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, dir+"/")
		num, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("store: migration %q is not named NNNN_name.sql", base)
		}
		var seen int
		if err := db.QueryRowContext(ctx, q(`SELECT count(*) FROM schema_migrations WHERE version = ?`), version).Scan(&seen); err != nil {
			return err
		}
		if seen > 0 {
			continue
		}
		body, err := migrationFS.ReadFile(name)
		if err != nil {
			return err
		}
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("store: migration %s: %w", base, err)
		}
		if _, err := tx.ExecContext(ctx, q(`INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`),
			version, base, now().UTC().Format(TimeLayout)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// SchemaVersion is the highest migration applied to the database, counted
// in SQLite's numbering on both engines (see pgLevel), so copies between
// them (dumps, backups, migrate-store) compare schemas alike.
func (r Reader) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := r.q.QueryRowContext(ctx, `SELECT COALESCE(max(version), 0) FROM schema_migrations`).Scan(&v)
	if err == nil && r.pg {
		v = pgLevel[v]
	}
	return v, err
}

// pgLevel maps each PostgreSQL migration to the SQLite migration whose
// schema it completes: a new PostgreSQL migration adds its line here
// (TestMigrationSetsMatch fails until it does).
var pgLevel = map[int]int{0: 0, 1: 26, 2: 29, 3: 30, 4: 31}
