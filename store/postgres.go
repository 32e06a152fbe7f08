package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the PostgreSQL driver, through database/sql
)

// migrateLock is the advisory lock key nodes sharing one database take
// while they migrate it, so two starting at once do not both apply 0001.
const migrateLock = 0x78_6d_70_70 // "xmpp"

// openPostgres opens the PostgreSQL database at url (postgres://…) with
// the same shape as the SQLite store: a pool of readers, and one writer
// connection behind the group committer, so a node's writes share commits
// exactly as on SQLite. PostgreSQL's own WAL makes a commit durable
// (synchronous_commit), so Options.Synchronous does not apply here.
func openPostgres(ctx context.Context, url string, o Options) (*Store, error) {
	if o.MaxGroup <= 0 {
		o.MaxGroup = 512
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	w, err := sql.Open("pgx", url)
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	if err := migratePostgres(ctx, w, o.Now); err != nil {
		w.Close()
		return nil, err
	}
	r, err := sql.Open("pgx", url)
	if err != nil {
		w.Close()
		return nil, err
	}
	return start(&Store{Reader: Reader{q: pgQuerier{db: r}, now: o.Now, pg: true}, r: r, w: w}, o), nil
}

// migratePostgres runs migrate under the advisory lock, on one connection.
func migratePostgres(ctx context.Context, db *sql.DB, now func() time.Time) error {
	if err := db.PingContext(ctx); err != nil {
		return fmt.Errorf("store: postgres: %w", err)
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, migrateLock); err != nil {
		return fmt.Errorf("store: postgres: migration lock: %w", err)
	}
	// The pool has one connection, the one holding the lock: migrate runs on it.
	conn.Close()
	err = migrate(ctx, db, now, true)
	_, uerr := db.ExecContext(ctx, `SELECT pg_advisory_unlock($1)`, migrateLock)
	return errors.Join(err, uerr)
}
