package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/xmppgate/xmppgate/internal/pgtest"
)

// Every test of this package runs once per back-end: TestMain runs the
// whole suite on SQLite, then again on PostgreSQL (a throw-away cluster
// from internal/pgtest; skipped, saying why, where it cannot start).
// XMPPGATE_TEST_STORE=sqlite or =postgres runs one pass only.

var (
	pgCluster *pgtest.Cluster
	pgSkip    string
	// onPG: the pass running now is PostgreSQL's.
	onPG bool
)

func TestMain(m *testing.M) {
	only := os.Getenv("XMPPGATE_TEST_STORE")
	code := 0
	if only == "" || only == "sqlite" {
		code = m.Run()
	}
	if only == "" || only == "postgres" {
		c, err := pgtest.Start()
		if err != nil {
			fmt.Fprintf(os.Stderr, "store: SKIP the PostgreSQL pass: PostgreSQL unavailable: %v\n", err)
		} else {
			pgCluster, onPG = c, true
			fmt.Fprintln(os.Stderr, "store: the PostgreSQL pass")
			if c := m.Run(); c != 0 {
				code = c
			}
			pgCluster.Stop()
		}
	}
	os.Exit(code)
}

// location is where a test's store lives on the pass's back-end: a file
// in a temp dir, or a fresh database copied from the migrated template.
func location(tb testing.TB) string {
	tb.Helper()
	if !onPG {
		return filepath.Join(tb.TempDir(), "x.db")
	}
	return pgCluster.NewDB(tb, func(dsn string) error {
		st, err := Open(context.Background(), dsn, Options{})
		if err != nil {
			return err
		}
		return st.Close()
	})
}
