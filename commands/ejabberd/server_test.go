package ejabberd_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/commandstest"
	"github.com/xmppgate/xmppgate/commands/goldentest"
)

// testControl stands for main's process control (control.go, tested with
// the real binary in the main package): it records what the commands
// asked of the process and keeps a real zap level and data directory.
type testControl struct {
	data  string
	level zap.AtomicLevel

	mu     sync.Mutex
	calls  []string
	reload commands.ConfigReload
}

func (c *testControl) record(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, s)
}

func (c *testControl) Stop(delay time.Duration, restart bool) error {
	c.record(fmt.Sprintf("stop delay=%s restart=%t", delay, restart))
	return nil
}

func (c *testControl) ReloadConfig(context.Context) (commands.ConfigReload, error) {
	c.record("reload_config")
	return c.reload, nil
}

func (c *testControl) LogLevel() zapcore.Level { return c.level.Level() }
func (c *testControl) SetLogLevel(l zapcore.Level) {
	c.record("log level " + l.String())
	c.level.SetLevel(l)
}
func (c *testControl) DataDir() string { return c.data }
func (c *testControl) EffectiveConfig() ([]byte, error) {
	return []byte("data: DATA\nlog_level: info\nworker_schedule: '@every 5s'\n"), nil
}

// serverBundle is setup's fixture with an XMPP server, a process control
// and an operator account:
//
//	ops   ops.example   admin@ops.example (As: operator), an admin of an operator account
type serverBundle struct {
	*testBundle
	ctl *testControl
}

func setupServer(t *testing.T) *serverBundle {
	t.Helper()
	b := fromTemplate(t, serverTemplate, true)
	ctl := &testControl{data: t.TempDir(), level: zap.NewAtomicLevelAt(zapcore.InfoLevel)}
	b.Env.Control = ctl
	return &serverBundle{testBundle: b, ctl: ctl}
}

// serverTemplate is setupServer's store: setup's and the operator account.
var serverTemplate = commandstest.NewTemplate(func(f *commandstest.Fixture) map[string]string {
	b := buildSetup(f)
	t := b.T
	ops, err := commands.CreateAccount(b.Ctx, b.Env, "ops", 0, true)
	require.NoError(t, err)
	_, err = commands.CreateDomain(b.Ctx, b.Env, "ops.example", ops.ID)
	require.NoError(t, err)
	jid, pw, err := commands.BootstrapAdmin(b.Ctx, b.Env, b.Reg, ops.ID, "ops.example")
	require.NoError(t, err)
	b.creds["operator"] = basic(jid, pw)
	return b.creds
})

// files lists the data directory: each file's path and, if short, text.
func (b *serverBundle) files() string {
	b.T.Helper()
	var out []string
	err := filepath.Walk(b.ctl.data, func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(b.ctl.data, p)
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		// A long file (it grows with the registry) shows its first lines.
		line := fmt.Sprintf("== %s (mode %s)\n", rel, fi.Mode().Perm())
		if len(raw) <= 3000 {
			line += string(raw)
		} else {
			line += strings.Join(strings.SplitAfterN(string(raw), "\n", 6)[:5], "") + "...\n"
		}
		out = append(out, line)
		return nil
	})
	require.NoError(b.T, err)
	sort.Strings(out)
	if len(out) == 0 {
		return "none\n"
	}
	return strings.Join(out, "")
}

// TestEjabberdServerGolden walks testdata/ejabberd/server/*.txtar: cases
// that need the server's parts (XMPP listener, process control, an
// operator caller), which the main walker's fixture lacks. Each case runs
// its "setup" requests, then "request"; status, headers, body (the data
// directory written DATA), the control calls and the files written under
// the data directory must match.
func TestEjabberdServerGolden(t *testing.T) {
	t.Parallel()
	goldentest.Walk(t, filepath.Join(goldenDir, "server", "*.txtar"), func(t *testing.T, c *goldentest.Case) {
		b := setupServer(t)
		if setupText, ok := c.Section("setup"); ok && strings.TrimSpace(setupText) != "" {
			for _, req := range strings.Split(strings.TrimRight(setupText, "\n"), "\n----\n") {
				b.ok(req)
			}
		}
		b.ctl.calls = nil
		for _, l := range c.Lines("reload") {
			k, v, _ := strings.Cut(l, ":")
			keys := strings.Fields(v)
			switch k {
			case "applied":
				b.ctl.reload.Applied = keys
			case "restart":
				b.ctl.reload.NeedRestart = keys
			}
		}
		reqText, ok := c.Section("request")
		require.True(t, ok, "no request section")
		status, header, body := b.send(strings.TrimRight(reqText, "\n"))
		data, err := filepath.EvalSymlinks(b.ctl.data)
		require.NoError(t, err)
		body = strings.ReplaceAll(body, data, "DATA")
		calls := "none\n"
		if len(b.ctl.calls) > 0 {
			calls = strings.Join(b.ctl.calls, "\n") + "\n"
		}
		c.Check(map[string]string{
			"status":  strconv.Itoa(status) + "\n",
			"headers": goldentest.Headers(header, goldenHeaders...),
			"body":    body,
			"control": calls,
			"files":   b.files(),
		}, []string{"status", "headers", "body", "control", "files"})
	})
}
