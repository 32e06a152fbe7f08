package ejabberd_test

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/ejabberd"
	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/sealbox"
)

// One log line per request names command, account, actor and result, and
// never a password.
func TestEjabberdLogLine(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "x.db"), store.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := sealbox.New(key)
	require.NoError(t, err)
	core, logs := observer.New(zapcore.DebugLevel)
	reg := commands.MustNew(commands.WithEjabberd()...)
	env := &commands.Env{Store: st, Box: box, Log: zap.New(core)}
	env.Worker = queue.NewWorker(st, reg.Appliers(env), nil, queue.Options{})
	acc, err := commands.CreateAccount(ctx, env, "acme", 0, false)
	require.NoError(t, err)
	_, err = commands.CreateDomain(ctx, env, "a.example", acc.ID)
	require.NoError(t, err)
	jid, pw, err := ejabberd.BootstrapAdmin(ctx, env, acc.ID, "a.example")
	require.NoError(t, err)
	srv := httptest.NewServer(ejabberd.New(reg, env))
	t.Cleanup(srv.Close)

	req, err := http.NewRequest(http.MethodPost, srv.URL+"/api/register", strings.NewReader(`{"user":"carol","host":"a.example","password":"SeCrEtPw"}`))
	require.NoError(t, err)
	req.SetBasicAuth(jid, pw)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)

	lines := logs.FilterMessage("request").All()
	require.Len(t, lines, 1)
	f := lines[0].ContextMap()
	require.Equal(t, "register", f["command"])
	require.Equal(t, acc.ID, f["account"])
	require.Equal(t, jid, f["actor"])
	require.Equal(t, "ok", f["result"])
	for _, e := range logs.All() {
		for k, v := range e.ContextMap() {
			s, _ := v.(string)
			require.NotContains(t, s, "SeCrEtPw", k)
			require.NotContains(t, s, pw, k)
		}
	}
}
