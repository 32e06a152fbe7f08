package ejabberd_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/commandstest"
	"github.com/xmppgate/xmppgate/commands/ejabberd"
)

// One log line per request names command, account, actor and result, and
// never a password.
func TestEjabberdLogLine(t *testing.T) {
	t.Parallel()
	log, logs := commandstest.Observe(zapcore.DebugLevel)
	fx := commandstest.New(t, commandstest.Options{Log: log})
	acc := fx.Account("acme", "", false, "a.example")
	jid, pw, err := commands.BootstrapAdmin(fx.Ctx, fx.Env, fx.Reg, acc, "a.example")
	require.NoError(t, err)
	url := fx.Serve(ejabberd.New(fx.Reg, fx.Env))

	req, err := http.NewRequest(http.MethodPost, url+"/api/register", strings.NewReader(`{"user":"carol","host":"a.example","password":"SeCrEtPw"}`))
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
	require.Equal(t, acc, f["account"])
	require.Equal(t, jid, f["actor"])
	require.Equal(t, "ok", f["result"])
	commandstest.RequireNoSecret(t, logs, "SeCrEtPw", pw)
}
