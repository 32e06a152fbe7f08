package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/dreamhost"
	"github.com/xmppgate/xmppgate/store"
)

type dhReply struct {
	Data   json.RawMessage `json:"data"`
	Reason string          `json:"reason"`
	Result string          `json:"result"`
}

func (s *testServer) dh(key, cmd string, kv ...string) dhReply {
	s.t.Helper()
	v := url.Values{"key": {key}, "cmd": {cmd}, "format": {"json"}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	status, body := s.call(v)
	require.Equal(s.t, 200, status, body)
	var r dhReply
	require.NoError(s.t, json.Unmarshal([]byte(body), &r), body)
	return r
}

func (r dhReply) token(t *testing.T) string {
	t.Helper()
	require.Equal(t, "success", r.Result, string(r.Data))
	var rows []map[string]string
	require.NoError(t, json.Unmarshal(r.Data, &rows))
	require.Len(t, rows, 1)
	return rows[0]["token"]
}

func (r dhReply) rows(t *testing.T) []map[string]string {
	t.Helper()
	require.Equal(t, "success", r.Result, string(r.Data))
	var rows []map[string]string
	require.NoError(t, json.Unmarshal(r.Data, &rows))
	return rows
}

func TestConcurrentAddUser(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	fx := s.addFixture()
	const n = 50
	tokens := make([]string, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := s.dh(fx.keys["keyA"], "jabber-add_user", "username", fmt.Sprintf("user%02d", i), "domain", "a.example", "password", "pw", "unique_id", fmt.Sprintf("uid-%d", i))
			tokens[i] = r.token(t)
		}()
	}
	wg.Wait()
	// All were made while one batch waited: one shared token.
	for _, tok := range tokens {
		require.Equal(t, tokens[0], tok)
	}
	rows := s.dh(fx.keys["keyA"], "jabber-list_users").rows(t)
	require.Len(t, rows, n)
	for _, r := range rows {
		require.Equal(t, "pending-active", r["status"])
	}
	s.runWorker()
	prog := s.dh(fx.keys["keyA"], "services-progress", "token", tokens[0]).rows(t)
	require.Equal(t, "success", prog[0]["status"])
	require.NotEmpty(t, prog[0]["finished"])
	rows = s.dh(fx.keys["keyA"], "jabber-list_users").rows(t)
	require.Len(t, rows, n)
	seen := map[string]bool{}
	for _, r := range rows {
		require.Equal(t, "active", r["status"])
		require.False(t, seen[r["username"]])
		seen[r["username"]] = true
	}
	// Each user got SCRAM credentials that verify the password.
	u, err := s.app.env.Store.UserByJID(context.Background(), "a.example", "user07")
	require.NoError(t, err)
	require.True(t, u.Cred.Verify("pw"))
	require.False(t, u.Cred.Verify("wrong"))

	// Replaying every request with its unique_id changes nothing.
	for i := 0; i < n; i++ {
		r := s.dh(fx.keys["keyA"], "jabber-add_user", "username", fmt.Sprintf("user%02d", i), "domain", "a.example", "password", "pw", "unique_id", fmt.Sprintf("uid-%d", i))
		require.Equal(t, `"unique_id_already_used"`, string(r.Data))
	}
	require.Empty(t, s.pendingChanges())
}

// TestIsolation sends every DreamHost command with account other's key,
// naming account acme's users, domains and token: nothing of acme's comes
// back and nothing changes.
func TestIsolation(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	fx := s.addFixture()
	tokA := s.dh(fx.keys["keyA"], "jabber-add_user", "username", "alice", "domain", "a.example", "password", "secretA").token(t)
	s.runWorker()
	s.dh(fx.keys["keyA"], "jabber-add_user", "username", "alice2", "domain", "sub.a.example", "password", "secretA2").token(t)
	before := s.users()

	args := []string{"username", "alice", "domain", "a.example", "password", "x", "token", tokA}
	reg := s.app.reg
	for _, def := range reg.Dialect(commands.DreamHost) {
		for _, domain := range []string{"a.example", "sub.a.example"} {
			a := append([]string{}, args...)
			a[3] = domain
			for _, key := range []string{"keyB", "keyDNS"} {
				t.Run(def.Names[commands.DreamHost]+"/"+domain+"/"+key, func(t *testing.T) {
					v := url.Values{"key": {fx.keys[key]}, "cmd": {def.Names[commands.DreamHost]}, "format": {"json"}}
					for i := 0; i+1 < len(a); i += 2 {
						v.Set(a[i], a[i+1])
					}
					_, body := s.call(v)
					for _, secret := range []string{"alice", "a.example", "secretA", tokA, fx.keys["keyA"], "acme"} {
						require.NotContains(t, body, secret)
					}
				})
			}
		}
	}
	require.Equal(t, before, s.users())
	require.Equal(t, []string{"add_user alice2@sub.a.example"}, s.pendingChanges())
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *Config) {
		c.DreamHostLimits = []dreamhost.Limit{{Cmds: "jabber-list_users", Max: 2, Window: time.Hour}}
	})
	fx := s.addFixture()
	// Failures do not count.
	for i := 0; i < 3; i++ {
		r := s.dh(fx.keys["keyA"], "jabber-list_users", "account", "999")
		require.Equal(t, `"invalid_account"`, string(r.Data))
	}
	for i := 0; i < 2; i++ {
		require.Equal(t, "success", s.dh(fx.keys["keyA"], "jabber-list_users").Result)
	}
	r := s.dh(fx.keys["keyA"], "jabber-list_users")
	require.Equal(t, dhReply{Data: json.RawMessage(`"slow_down_bucko"`), Reason: "jabber-list_users: 2 per hour", Result: "error"}, r)
	_, body := s.call(url.Values{"key": {fx.keys["keyA"]}, "cmd": {"jabber-list_users"}})
	require.Equal(t, "error\nslow_down_bucko\tjabber-list_users: 2 per hour\n", body)
	// Per key, and other commands are not limited.
	require.Equal(t, "success", s.dh(fx.keys["keyJabber"], "jabber-list_users").Result)
	require.Equal(t, "success", s.dh(fx.keys["keyA"], "jabber-list_valid_domains").Result)
}

func TestTokenTooOld(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *Config) { c.TokenMaxAge = time.Nanosecond })
	fx := s.addFixture()
	tok := s.dh(fx.keys["keyA"], "jabber-add_user", "username", "alice", "domain", "a.example", "password", "pw").token(t)
	// Waiting and running tokens are never too old.
	require.Equal(t, "waiting", s.dh(fx.keys["keyA"], "services-progress", "token", tok).rows(t)[0]["status"])
	s.runWorker()
	time.Sleep(10 * time.Millisecond)
	require.Equal(t, `"too_old"`, string(s.dh(fx.keys["keyA"], "services-progress", "token", tok).Data))
}

func TestOversizedBody(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *Config) { c.MaxBody = 1024 })
	fx := s.addFixture()
	body := "key=" + fx.keys["keyA"] + "&cmd=jabber-add_user&username=big&domain=a.example&password=" + strings.Repeat("x", 4096)
	status, _, resp := s.sendFull("POST /?format=json\nContent-Type: application/x-www-form-urlencoded\n\n" + body)
	require.Equal(t, 413, status)
	require.Equal(t, `{"data":"request_too_large","reason":"body larger than 1024 bytes","result":"error"}`, resp)
	require.Empty(t, s.pendingChanges())
}

func TestWorkerLifecycleEndToEnd(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	fx := s.addFixture()
	k := fx.keys["keyA"]
	s.dh(k, "jabber-add_user", "username", "alice", "domain", "a.example", "password", "pw1").token(t)
	s.runWorker()
	tok := s.dh(k, "jabber-deactivate_user", "username", "alice", "domain", "a.example").token(t)
	require.Equal(t, []string{"alice@a.example pending-inactive", "bob@b.example active"}, s.users())
	s.runWorker()
	require.Equal(t, []string{"alice@a.example inactive", "bob@b.example active"}, s.users())
	require.Equal(t, "success", s.dh(k, "services-progress", "token", tok).rows(t)[0]["status"])
	s.dh(k, "jabber-reactivate_user", "username", "alice", "domain", "a.example").token(t)
	s.runWorker()
	require.Equal(t, []string{"alice@a.example active", "bob@b.example active"}, s.users())
	s.dh(k, "jabber-remove_user", "username", "alice", "domain", "a.example").token(t)
	require.Equal(t, []string{"alice@a.example pending-delete", "bob@b.example active"}, s.users())
	s.runWorker()
	require.Equal(t, []string{"bob@b.example active"}, s.users())
	// The name is free again.
	s.dh(k, "jabber-add_user", "username", "alice", "domain", "a.example", "password", "pw2").token(t)
	s.runWorker()
	u, err := s.app.env.Store.UserByJID(context.Background(), "a.example", "alice")
	require.NoError(t, err)
	require.Equal(t, store.StatusActive, u.Status)
	require.True(t, u.Cred.Verify("pw2"))
}
