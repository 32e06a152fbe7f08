package store

import (
	"context"
	"database/sql"
	"sync"
)

// walAutocheckpoint is the WAL size, in pages, at which a commit of the
// writer checkpoints: 40 MB rather than SQLite's 4, as each checkpoint
// copies the pages written since the last one back into the database
// file, and a page the archive writer dirties again and again is then
// copied once.
const walAutocheckpoint = "10000"

// checkpointer runs a PASSIVE checkpoint on a connection of its own after
// a big write (WriteApart) committed: SQLite's automatic checkpoint runs
// inside the commit, so the worker's batch of 100,000 changes waited for
// tens of MB copied and synced into the database file before its callers
// were answered, and every writer behind it waited too. A passive
// checkpoint takes no lock that writers or readers wait for; a commit of
// the writer that finds one running skips its own, and a later commit
// checkpoints what this one could not.
type checkpointer struct {
	db   *sql.DB
	wake chan struct{}
	quit chan struct{}
	done chan struct{}
	once sync.Once // Store.Close may be called more than once
}

func newCheckpointer(db *sql.DB) *checkpointer {
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

// kick asks for a checkpoint; kicks while one runs make one more.
func (c *checkpointer) kick() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.quit:
			return
		case <-c.wake:
		}
		// A checkpoint that fails leaves the WAL to the writer's own
		// automatic checkpoint at its next commit: nothing is lost.
		_, _ = c.db.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`)
	}
}

// close stops the loop after the checkpoint under way and closes the
// connection; the store's last connection to close checkpoints the rest.
func (c *checkpointer) close() error {
	c.once.Do(func() { close(c.quit) })
	<-c.done
	return c.db.Close()
}
