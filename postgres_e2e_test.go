package main

import (
	"bytes"
	"context"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/internal/pgtest"
	"github.com/xmppgate/xmppgate/store"
)

var (
	pgOnce    sync.Once
	pgCluster *pgtest.Cluster
	pgErr     error
)

// postgres returns a fresh empty database on a throw-away cluster shared
// by this package's tests (stopped when the test binary's last user ends),
// or skips saying why PostgreSQL is not there.
func postgres(t testing.TB) string {
	t.Helper()
	pgOnce.Do(func() { pgCluster, pgErr = pgtest.Start() })
	if pgErr != nil {
		t.Skipf("PostgreSQL unavailable (make deps installs Debian's postgresql): %v", pgErr)
	}
	return pgCluster.NewDB(t, nil)
}

// stopPostgres ends the shared cluster (TestMain, after every test).
func stopPostgres() {
	if pgCluster != nil {
		pgCluster.Stop()
		pgCluster = nil
	}
}

// xmppgate serve on PostgreSQL: a user provisioned through the DreamHost
// dialect is applied by the worker and logs in with go-xmpp.
func TestPostgresServe(t *testing.T) {
	t.Parallel()
	dsn := postgres(t)
	s := startServer(t, func(c *Config) { c.Store = dsn })
	require.True(t, s.app.env.Store.Postgres())
	s.addFixture() // bob@b.example through jabber-add_user, then the worker
	require.Contains(t, s.users(), "bob@b.example active")
	c := goxmpptest.Login(t, s.c2s, "bob@b.example", "bobpass", goxmpptest.Resource("pg"))
	require.NotNil(t, c)
}

// migrate-store moves an SQLite installation to PostgreSQL with every row,
// and the server started on the copy (same data directory: its keys)
// still logs bob in and knows the DreamHost keys.
func TestMigrateStoreToPostgres(t *testing.T) {
	t.Parallel()
	dsn := postgres(t)
	data := filepath.Join(t.TempDir(), "data")
	var keyB string
	// The SQLite installation, stopped when the subtest ends.
	t.Run("sqlite installation", func(t *testing.T) {
		s := startServer(t, func(c *Config) { c.Data, c.Store = data, "" })
		keyB = s.addFixture().keys["keyB"]
	})
	dbPath := filepath.Join(data, dbFile)
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"migrate-store", "--from", "sqlite:" + dbPath, "--to", dsn}, nil, &out, &errb)
	require.Equal(t, 0, code, errb.String())
	require.Contains(t, out.String(), "users\t")

	ctx := context.Background()
	src, err := store.Open(ctx, dbPath, store.Options{})
	require.NoError(t, err)
	want, err := src.TableCounts(ctx)
	require.NoError(t, err)
	require.NoError(t, src.Close())
	dst, err := store.Open(ctx, dsn, store.Options{})
	require.NoError(t, err)
	got, err := dst.TableCounts(ctx)
	require.NoError(t, err)
	require.NoError(t, dst.Close())
	require.Equal(t, want, got)
	require.Positive(t, got["users"])
	require.Positive(t, got["api_keys"])

	// A second copy into the same database is refused: it is not empty.
	code = run(ctx, []string{"migrate-store", "--from", "sqlite:" + dbPath, "--to", dsn}, nil, &out, &errb)
	require.Equal(t, 1, code)
	require.Contains(t, errb.String(), "not empty")

	s := startServer(t, func(c *Config) { c.Data, c.Store = data, dsn })
	require.Contains(t, s.users(), "bob@b.example active")
	goxmpptest.Login(t, s.c2s, "bob@b.example", "bobpass", goxmpptest.Resource("moved"))
	// The moved key still works, and a new user gets an id past the copied ones.
	status, body := s.call(map[string][]string{"key": {keyB}, "cmd": {"jabber-add_user"}, "username": {"carol"}, "domain": {"b.example"}, "password": {"carolpass"}})
	require.Equal(t, 200, status, body)
	s.runWorker()
	goxmpptest.Login(t, s.c2s, "carol@b.example", "carolpass", goxmpptest.Resource("new"))
}
