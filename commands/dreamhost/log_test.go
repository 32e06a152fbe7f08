package dreamhost

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/sealbox"
)

// TestOneLogLinePerRequestWithoutSecrets: every request writes exactly one
// line with dialect, command, account, key id, result and duration, and
// neither the key nor the password appears anywhere in the log.
func TestOneLogLinePerRequestWithoutSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, filepath.Join(dir, "x.db"), store.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	box, err := sealbox.LoadOrCreate(filepath.Join(dir, "secret.key"))
	require.NoError(t, err)
	core, logs := observer.New(zap.DebugLevel)
	reg := commands.MustNew(commands.All()...)
	env := &commands.Env{Store: st, Box: box, Log: zap.New(core)}
	env.Worker = queue.NewWorker(st, reg.Appliers(env), nil, queue.Options{})
	acc, err := commands.CreateAccount(ctx, env, "acme", 0, false)
	require.NoError(t, err)
	_, err = commands.CreateDomain(ctx, env, "a.example", acc.ID)
	require.NoError(t, err)
	key, _, err := commands.CreateKey(ctx, env, commands.KeySpec{Account: acc.ID, Cmds: []string{"*"}})
	require.NoError(t, err)
	srv := httptest.NewServer(New(reg, env, Config{}))
	t.Cleanup(srv.Close)

	const password = "Tr0ub4dor&3-secret"
	for i, q := range []url.Values{
		{"key": {key}, "cmd": {"jabber-add_user"}, "username": {"alice"}, "domain": {"a.example"}, "password": {password}},
		{"key": {key}, "cmd": {"jabber-add_user"}, "username": {"alice"}, "domain": {"a.example"}, "password": {password}},
		{"key": {key}, "cmd": {"jabber-list_users"}},
		{"key": {"WRONGKEYWRONGKEY"}, "cmd": {"jabber-list_users"}, "password": {password}},
	} {
		before := logs.Len()
		resp, err := http.PostForm(srv.URL+"/", q)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, before+1, logs.Len(), "row %d: one line per request", i)
	}
	want := []string{"success", "user_exists", "success", "invalid_api_key"}
	for i, e := range logs.All() {
		f := e.ContextMap()
		require.Equal(t, "request", e.Message)
		require.Equal(t, "dreamhost", f["dialect"])
		require.Equal(t, want[i], f["result"], "line %d", i)
		require.Contains(t, f, "duration")
		require.Contains(t, f, "key_id")
		for k, v := range f {
			s, _ := v.(string)
			require.NotContains(t, s, password, "field %s", k)
			require.NotContains(t, s, key, "field %s", k)
			require.False(t, strings.Contains(k, "password"), "field %s", k)
		}
	}
	require.Equal(t, "jabber-add_user", logs.All()[0].ContextMap()["command"])
	require.Equal(t, acc.ID, logs.All()[0].ContextMap()["account"])
}
