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
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	_ "github.com/mattn/go-sqlite3" // the SQLite driver
)

//go:embed migrations/*.sql
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
}

// syncReq is a committed group waiting for the WAL fsync.
type syncReq struct {
	group []*writeReq
	errs  []error
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
}

// Tx is a write transaction handed to a Write function.
type Tx struct {
	Reader
	// dirDirty: the transaction changed accounts, keys or domains, so the
	// Store's memoised lookups are cleared once it commits.
	dirDirty bool
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
func Open(ctx context.Context, path string, o Options) (*Store, error) {
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
	w, err := sql.Open("sqlite3", dsn(path, o, "immediate"))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := migrate(ctx, w, o.Now); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("sqlite3", dsn(path, o, "deferred")+"&mode=ro")
	if err != nil {
		w.Close()
		return nil, err
	}
	n := 2 * runtime.GOMAXPROCS(0)
	r.SetMaxOpenConns(n)
	r.SetMaxIdleConns(n)
	rc, wc := newStmtCache(r), newStmtCache(w)
	s := &Store{
		Reader: Reader{q: cached{cache: rc}, now: o.Now},
		r:      r, w: w, now: o.Now, rc: rc, wc: wc,
		writes:  make(chan *writeReq, o.MaxGroup),
		quit:    make(chan struct{}),
		done:    make(chan struct{}),
		max:     o.MaxGroup,
		durable: durable, walPath: path + "-wal",
		synced:     make(chan syncReq, 4),
		syncerDone: make(chan struct{}),
	}
	go s.syncLoop()
	go s.commitLoop()
	return s, nil
}

// Close stops the committer after the writes already queued and closes both pools.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.quit) })
	<-s.done
	s.rc.close()
	s.wc.close()
	return errors.Join(s.r.Close(), s.w.Close())
}

// Now is the store's clock.
func (s *Store) Now() time.Time { return s.now() }

func migrate(ctx context.Context, db *sql.DB, now func() time.Time) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied TEXT NOT NULL) STRICT`); err != nil {
		return fmt.Errorf("store: migrations table: %w", err)
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, ok := strings.Cut(base, "_")
		version, err := strconv.Atoi(num)
		if !ok || err != nil {
			return fmt.Errorf("store: migration %q is not named NNNN_name.sql", base)
		}
		var seen int
		if err := db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&seen); err != nil {
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
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)`,
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

type writeReq struct {
	ctx  context.Context
	fn   func(*Tx) error
	done chan error
}

// Write runs fn inside a write transaction and returns once that transaction
// is committed (nil) or fn's savepoint was rolled back (fn's error). A nil
// return therefore means fn's writes are durable.
func (s *Store) Write(ctx context.Context, fn func(*Tx) error) error {
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan error, 1)}
	select {
	case s.writes <- req:
	case <-ctx.Done():
		return ctx.Err()
	case <-s.quit:
		return ErrClosed
	}
	// Once queued the outcome is waited for even if ctx ends, so the caller
	// never reports failure for a change that was committed.
	return <-req.done
}

func (s *Store) commitLoop() {
	defer close(s.done)
	defer func() { close(s.synced); <-s.syncerDone }()
	group := make([]*writeReq, 0, s.max)
	for {
		var first *writeReq
		select {
		case first = <-s.writes:
		case <-s.quit:
			// Drain what is already queued so no caller waits forever.
			for {
				select {
				case r := <-s.writes:
					s.commit([]*writeReq{r})
				default:
					return
				}
			}
		}
		group = append(group[:0], first)
	fill:
		for len(group) < s.max {
			select {
			case r := <-s.writes:
				group = append(group, r)
			default:
				break fill
			}
		}
		s.commit(group)
	}
}

func (s *Store) commit(group []*writeReq) {
	errs := make([]error, len(group))
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		for _, r := range group {
			r.done <- fmt.Errorf("store: begin: %w", err)
		}
		return
	}
	t := &Tx{Reader: Reader{q: cached{cache: s.wc, tx: tx}, now: s.now}}
	for i, r := range group {
		if err := r.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if _, err := t.q.ExecContext(ctx, `SAVEPOINT w`); err != nil {
			errs[i] = err
			continue
		}
		errs[i] = call(r.fn, t)
		if errs[i] != nil {
			if _, err := t.q.ExecContext(ctx, `ROLLBACK TO w`); err != nil {
				errs[i] = errors.Join(errs[i], err)
			}
		}
		if _, err := t.q.ExecContext(ctx, `RELEASE w`); err != nil && errs[i] == nil {
			errs[i] = err
		}
	}
	if err := tx.Commit(); err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = fmt.Errorf("store: commit: %w", err)
			}
		}
	}
	if t.dirDirty {
		s.dir.clear()
	}
	s.wc.prepareWanted(ctx)
	// The group slice is reused by commitLoop; the syncer gets a copy.
	s.synced <- syncReq{group: append([]*writeReq(nil), group...), errs: errs}
}

// syncLoop answers committed groups, after an fsync of the WAL when durable.
// One fsync covers every group committed before it started, so while it runs
// the committer goes on with the next group and a burst of groups shares the
// next fsync.
func (s *Store) syncLoop() {
	defer close(s.syncerDone)
	var wal *os.File
	defer func() {
		if wal != nil {
			wal.Close()
		}
	}()
	for first := range s.synced {
		reqs := []syncReq{first}
	more:
		for {
			select {
			case r, ok := <-s.synced:
				if !ok {
					break more
				}
				reqs = append(reqs, r)
			default:
				break more
			}
		}
		var serr error
		if s.durable {
			if wal == nil {
				wal, serr = os.OpenFile(s.walPath, os.O_RDWR, 0)
			}
			if serr == nil {
				serr = wal.Sync()
			}
			if serr != nil {
				serr = fmt.Errorf("store: sync WAL: %w", serr)
				if wal != nil {
					wal.Close()
					wal = nil
				}
			}
		}
		for _, r := range reqs {
			for i, w := range r.group {
				err := r.errs[i]
				if err == nil {
					err = serr
				}
				w.done <- err
			}
		}
	}
}

// call runs fn, turning a panic into an error so one bad write cannot take
// down the committer and every caller waiting on it.
func call(fn func(*Tx) error, t *Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("store: write function panicked: %v", p)
		}
	}()
	return fn(t)
}
