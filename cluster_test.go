package main

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The cluster commands on SQLite: one node, which can neither leave nor be
// joined by another.
func TestClusterCommandsSQLite(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *Config) { c.Store, c.Node = "", "solo@test" })
	for i, tc := range []struct {
		cmd, body string
		status    int
		want      string
	}{
		0: {"list_cluster", `{}`, 200, `["solo@test"]`},
		1: {"join_cluster", `{"node":"solo@test"}`, 200, `0`},
		2: {"join_cluster", `{"node":"other@test"}`, 400, `move it to PostgreSQL first`},
		3: {"leave_cluster", `{"node":"solo@test"}`, 400, `is the last node that claims batches`},
		4: {"leave_cluster", `{"node":"other@test"}`, 400, `does not serve this store`},
	} {
		status, body := ejabberdCall(t, s.url, s.boot, tc.cmd, tc.body)
		require.Equal(t, tc.status, status, "case %d: %s", i, body)
		require.Contains(t, body, tc.want, "case %d", i)
	}
}

// Two nodes on one PostgreSQL store: list_cluster names both from either;
// leave_cluster takes one out (it stops claiming batches: the other node
// applies what is queued on it), join_cluster takes it back; a node of a
// name already live is refused at start.
func TestClusterCommandsPostgres(t *testing.T) {
	t.Parallel()
	dsn := postgres(t)
	a := startServer(t, func(c *Config) { c.Store, c.Node = dsn, "a@test" })
	bData := copyDataDir(t, a.data)
	b := startServer(t, func(c *Config) { c.Store, c.Node, c.Data = dsn, "b@test", bData })
	call := func(s *testServer, cmd, body string) (int, string) { return ejabberdCall(t, s.url, s.boot, cmd, body) }

	for _, s := range []*testServer{a, b} {
		status, body := call(s, "list_cluster", `{}`)
		require.Equal(t, 200, status, body)
		require.Equal(t, `["a@test","b@test"]`, body)
	}
	status, body := call(a, "join_cluster", `{"node":"b@test"}`)
	require.Equal(t, 200, status, body)
	require.Equal(t, "0", body)
	status, body = call(a, "join_cluster", `{"node":"c@test"}`)
	require.Equal(t, 400, status, body)
	require.Contains(t, body, "joins by starting with a copy of a member's data directory")

	status, body = call(a, "leave_cluster", `{"node":"b@test"}`)
	require.Equal(t, 200, status, body)
	_, body = call(b, "list_cluster", `{}`)
	require.Equal(t, `["a@test"]`, body)
	status, body = call(b, "leave_cluster", `{"node":"a@test"}`)
	require.Equal(t, 400, status, body, "the last claiming node stays")

	// b stops claiming once its heartbeat read the mark: a change queued on
	// b then waits for a's worker.
	n := 0
	require.Eventually(t, func() bool {
		n++
		status, body := b.call(map[string][]string{"key": {b.boot.Key}, "cmd": {"jabber-add_user"}, "username": {fmt.Sprintf("left%d", n)},
			"domain": {b.boot.Domain}, "password": {"pw-left-1"}})
		require.Equal(t, 200, status, body)
		b.runWorker()
		return len(b.pendingChanges()) > 0
	}, 30*time.Second, 50*time.Millisecond)
	a.runWorker()
	require.Empty(t, b.pendingChanges())

	status, body = call(b, "join_cluster", `{"node":"b@test"}`)
	require.Equal(t, 200, status, body)
	_, body = call(a, "list_cluster", `{}`)
	require.Equal(t, `["a@test","b@test"]`, body)

	// A second live node named a@test is refused at start, saying why.
	cfg := DefaultConfig()
	cfg.Data, cfg.Store, cfg.Node = copyDataDir(t, a.data), dsn, "a@test"
	cfg.HTTPAddr, cfg.C2SAddr, cfg.C2STLSAddr, cfg.S2SAddr, cfg.S2STLSAddr = "127.0.0.1:0", "127.0.0.1:0", "", "", ""
	cfg.LogLevel = "error"
	err := serve(t0(), cfg, nil, nil)
	require.ErrorContains(t, err, "a live node named a@test already serves this store")
}
