package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"
	"gopkg.in/yaml.v3"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// ejabberdCall posts a JSON body to the ejabberd API of base with the
// bootstrap admin's Basic credentials (an operator account's admin).
func ejabberdCall(t *testing.T, base string, boot Bootstrap, cmd, body string) (int, string) {
	t.Helper()
	return request(t, http.MethodPost, strings.TrimSuffix(base, "/")+"/api/"+cmd, body,
		func(r *http.Request) { r.SetBasicAuth(boot.AdminJID, boot.AdminPassword) })
}

// TestStopKindlyRealBinary: stop_kindly sends its announcement to a
// connected independent client (go-xmpp), answers 0, and the real process
// then stops gracefully (the client's stream ends, exit status 0).
func TestStopKindlyRealBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test")
	}
	t.Parallel()
	p := startBinary(t, "XMPPGATE_SYNCHRONOUS=NORMAL")
	boot := p.boot
	status, body := p.call(t, "register", `{"user":"carol","host":"`+boot.Domain+`","password":"carolpw"}`)
	require.Equal(t, 200, status, body)

	c := goxmpptest.Login(t, p.c2s, "carol@"+boot.Domain, "carolpw", goxmpptest.Resource("r"))
	_, err := c.SendPresence(goxmpp.Presence{})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		_, body := p.call(t, "connected_users_number", `{}`)
		return body == `{"num_sessions":1}`
	}, 5*time.Second, 20*time.Millisecond)

	start := time.Now()
	status, body = p.call(t, "stop_kindly", `{"delay":1,"announcement":"Maintenance now"}`)
	require.Equal(t, 200, status, body)
	require.Equal(t, "0", body)
	m := c.Expect(t, "the announcement", func(st any) bool { _, ok := st.(goxmpp.Chat); return ok }).(goxmpp.Chat)
	require.Equal(t, "headline", m.Type)
	require.Equal(t, boot.Domain, m.Remote)
	require.Equal(t, "Server stop in 1 seconds!", m.Subject)
	require.Equal(t, "Maintenance now", m.Text)
	select {
	case <-c.Done():
	case <-time.After(20 * time.Second):
		require.FailNow(t, "the stream did not end")
	}
	require.NoError(t, p.waitExit(t), p.stderr.String())
	require.GreaterOrEqual(t, time.Since(start), time.Second, "stopped before the delay")
	require.Contains(t, p.stderr.String(), `"msg":"stop requested"`)
}

// TestRestartRealBinary: restart answers 0, then the same process (same
// PID) executes itself again and serves; stop then ends it with status 0.
func TestRestartRealBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test")
	}
	t.Parallel()
	p := startBinary(t, "XMPPGATE_SYNCHRONOUS=NORMAL")
	status, body := p.call(t, "restart", `{}`)
	require.Equal(t, 200, status, body)
	require.Equal(t, "0", body)
	require.Eventually(t, func() bool { return strings.Count(p.stderr.String(), `"msg":"serving"`) == 2 },
		30*time.Second, 20*time.Millisecond, "no second start; stderr:\n%s", p.stderr)
	p.waitHTTP(t)
	select {
	case err := <-p.exited:
		require.FailNow(t, "the process exited instead of executing itself again", "%v\n%s", err, p.stderr)
	default:
	}
	status, body = p.call(t, "stats", `{"name":"uptimeseconds"}`)
	require.Equal(t, 200, status, body)
	status, body = p.call(t, "stop", `{}`)
	require.Equal(t, 200, status, body)
	require.NoError(t, p.waitExit(t), p.stderr.String())
}

// TestReloadConfig runs the real control in process: reload_config applies
// log_level and worker_schedule from the file the server started with,
// reports keys that need a restart, and dump_config writes what runs.
func TestReloadConfig(t *testing.T) {
	t.Parallel()
	var file string
	var start Config
	s := startServer(t, func(c *Config) {
		file = reloadable(t, c)
		start = *c
	})
	call := func(cmd, body string) (int, string) { return ejabberdCall(t, s.url, s.boot, cmd, body) }
	rewrite := func(f func(c *Config)) {
		c := start
		f(&c)
		raw, err := yaml.Marshal(c)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(file, raw, 0o600))
	}

	status, body := call("reload_config", `{}`)
	require.Equal(t, 200, status, body)
	require.Equal(t, "0", body, "nothing changed")
	rewrite(func(c *Config) { c.LogLevel, c.WorkerSchedule = "debug", "@every 2h" })
	status, body = call("reload_config", `{}`)
	require.Equal(t, 200, status, body)
	_, body = call("get_loglevel", `{}`)
	require.Equal(t, `{"levelatom":"debug"}`, body)

	rewrite(func(c *Config) { c.LogLevel, c.WorkerSchedule, c.MaxBody = "debug", "@every 2h", 4096 })
	status, body = call("reload_config", `{}`)
	require.Equal(t, 400, status)
	require.Equal(t, `"configuration reloaded; applied: nothing; changed but applied only by a restart: max_body"`, body)

	rewrite(func(c *Config) { c.WorkerSchedule = "every now and then" })
	status, body = call("reload_config", `{}`)
	require.Equal(t, 400, status)
	require.Contains(t, body, "worker_schedule")
	_, body = call("get_loglevel", `{}`)
	require.Equal(t, `{"levelatom":"debug"}`, body, "a bad file changes nothing")

	status, body = call("set_loglevel", `{"loglevel":"warning"}`)
	require.Equal(t, 200, status, body)
	_, body = call("get_loglevel", `{}`)
	require.Equal(t, `{"levelatom":"warning"}`, body)

	status, body = call("dump_config", `{"out":"running.yml"}`)
	require.Equal(t, 200, status, body)
	raw, err := os.ReadFile(filepath.Join(s.data, "running.yml"))
	require.NoError(t, err)
	var dumped Config
	require.NoError(t, yaml.Unmarshal(raw, &dumped))
	require.Equal(t, "@every 2h", dumped.WorkerSchedule, "the applied schedule runs")
	require.Equal(t, "warn", dumped.LogLevel, "set_loglevel's level runs")
	require.Equal(t, start.MaxBody, dumped.MaxBody, "max_body waits for a restart")
}
