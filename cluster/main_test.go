package cluster

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/xmppgate/xmppgate/internal/pgtest"
	"github.com/xmppgate/xmppgate/store"
)

// A throw-away PostgreSQL cluster (internal/pgtest) is started by the
// first test that asks for a shared store, and stopped after the last.

var pg struct {
	once sync.Once
	c    *pgtest.Cluster
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if pg.c != nil {
		pg.c.Stop()
	}
	os.Exit(code)
}

// sharedStore returns where the nodes of a test keep their one store: a
// fresh, migrated PostgreSQL database, as nodes share in production, or,
// where PostgreSQL will not start, an SQLite file (said in the log; the
// nodes of one process may share that too).
func sharedStore(t testing.TB) string {
	t.Helper()
	pg.once.Do(func() { pg.c, pg.err = pgtest.Start() })
	if pg.err != nil {
		t.Logf("PostgreSQL unavailable, the nodes share an SQLite store: %v", pg.err)
		return filepath.Join(t.TempDir(), "x.db")
	}
	return pg.c.NewDB(t, func(dsn string) error {
		st, err := store.Open(context.Background(), dsn, store.Options{})
		if err != nil {
			return err
		}
		return st.Close()
	})
}
