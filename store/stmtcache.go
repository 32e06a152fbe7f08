package store

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache keeps one prepared statement per query text on a pool, so hot
// queries skip SQLite's parser: every query of this package is a constant,
// so the cache is bounded by the number of queries in the source.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	wanted map[string]bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, m: map[string]*sql.Stmt{}, wanted: map[string]bool{}}
}

// lookup returns a cached statement without preparing one. Inside a
// transaction on the one-connection writer pool, preparing on the pool would
// wait for the connection the transaction holds; such queries are noted and
// prepared by prepareWanted once the transaction is over.
func (c *stmtCache) lookup(query string) (*sql.Stmt, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[query]
	if !ok {
		c.wanted[query] = true
	}
	return s, ok
}

func (c *stmtCache) prepareWanted(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for q := range c.wanted {
		if s, err := c.db.PrepareContext(ctx, q); err == nil {
			c.m[q] = s
		}
		delete(c.wanted, q)
	}
}

func (c *stmtCache) get(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.m[query]; ok {
		return s, nil
	}
	s, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.m[query] = s
	return s, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.m {
		s.Close()
	}
	c.m = map[string]*sql.Stmt{}
}

// cached runs queries through a stmtCache, on the pool or inside tx.
type cached struct {
	cache *stmtCache
	tx    *sql.Tx // nil: run on the pool
	// inTx holds tx's statements by query text for the rest of tx: the
	// cache's statements bound to tx, and those the cache lacks, prepared
	// on tx itself. Without it a query new to the cache is parsed again at
	// every call of a transaction, which for the worker's batch of 100,000
	// changes was most of its time. The driver closes them with tx.
	inTx map[string]*sql.Stmt
}

// txStmts is the statement map of a new transaction's cached querier.
func txStmts() map[string]*sql.Stmt { return map[string]*sql.Stmt{} }

// stmt returns the statement to run query with, or nil to run it unprepared.
func (c cached) stmt(ctx context.Context, query string) *sql.Stmt {
	if c.tx == nil {
		s, err := c.cache.get(ctx, query)
		if err != nil {
			return nil // the unprepared run reports the error
		}
		return s
	}
	if s, ok := c.inTx[query]; ok {
		return s
	}
	var s *sql.Stmt
	if g, ok := c.cache.lookup(query); ok {
		// On the single writer connection this reuses the prepared statement.
		s = c.tx.StmtContext(ctx, g)
	} else if c.inTx == nil {
		return nil
	} else {
		var err error
		if s, err = c.tx.PrepareContext(ctx, query); err != nil {
			return nil // the unprepared run reports the error
		}
	}
	if c.inTx != nil {
		c.inTx[query] = s
	}
	return s
}

// noCancel drops cancellation before a query reaches the driver: go-sqlite3 runs
// every step of a cancellable query in a goroutine of its own so it can
// interrupt it, which costs more than the short queries of this package
// ever take. Deadlines are kept out for the same reason.
func noCancel(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

func (c cached) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = noCancel(ctx)
	if s := c.stmt(ctx, query); s != nil {
		return s.ExecContext(ctx, args...)
	}
	if c.tx != nil {
		return c.tx.ExecContext(ctx, query, args...)
	}
	return c.cache.db.ExecContext(ctx, query, args...)
}

func (c cached) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = noCancel(ctx)
	if s := c.stmt(ctx, query); s != nil {
		return s.QueryContext(ctx, args...)
	}
	if c.tx != nil {
		return c.tx.QueryContext(ctx, query, args...)
	}
	return c.cache.db.QueryContext(ctx, query, args...)
}

func (c cached) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = noCancel(ctx)
	if s := c.stmt(ctx, query); s != nil {
		return s.QueryRowContext(ctx, args...)
	}
	if c.tx != nil {
		return c.tx.QueryRowContext(ctx, query, args...)
	}
	return c.cache.db.QueryRowContext(ctx, query, args...)
}
