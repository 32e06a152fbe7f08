package dreamhost

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/commandstest"
)

// TestOneLogLinePerRequestWithoutSecrets: every request writes exactly one
// line with dialect, command, account, key id, result and duration, and
// neither the key nor the password appears anywhere in the log.
func TestOneLogLinePerRequestWithoutSecrets(t *testing.T) {
	t.Parallel()
	log, logs := commandstest.Observe(zap.DebugLevel)
	fx := commandstest.New(t, commandstest.Options{Log: log})
	acc := fx.Account("acme", "", false, "a.example")
	key := fx.Key(commands.KeySpec{Account: acc, Cmds: []string{"*"}})
	base := fx.Serve(New(fx.Reg, fx.Env, Config{}))

	const password = "Tr0ub4dor&3-secret"
	for i, q := range []url.Values{
		{"key": {key}, "cmd": {"jabber-add_user"}, "username": {"alice"}, "domain": {"a.example"}, "password": {password}},
		{"key": {key}, "cmd": {"jabber-add_user"}, "username": {"alice"}, "domain": {"a.example"}, "password": {password}},
		{"key": {key}, "cmd": {"jabber-list_users"}},
		{"key": {"WRONGKEYWRONGKEY"}, "cmd": {"jabber-list_users"}, "password": {password}},
	} {
		commandstest.OneLogLine(t, logs, fmt.Sprintf("row %d", i), func() {
			resp, err := http.PostForm(base+"/", q)
			require.NoError(t, err)
			resp.Body.Close()
		})
	}
	want := []string{"success", "user_exists", "success", "invalid_api_key"}
	for i, e := range logs.All() {
		f := e.ContextMap()
		require.Equal(t, "request", e.Message)
		require.Equal(t, "dreamhost", f["dialect"])
		require.Equal(t, want[i], f["result"], "line %d", i)
		require.Contains(t, f, "duration")
		require.Contains(t, f, "key_id")
		for k := range f {
			require.False(t, strings.Contains(k, "password"), "field %s", k)
		}
	}
	commandstest.RequireNoSecret(t, logs, password, key)
	require.Equal(t, "jabber-add_user", logs.All()[0].ContextMap()["command"])
	require.Equal(t, acc, logs.All()[0].ContextMap()["account"])
}
