package openfire_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/commandstest"
	"github.com/xmppgate/xmppgate/commands/goldentest"
	"github.com/xmppgate/xmppgate/commands/openfire"
)

const goldenDir = "../../testdata/openfire"

// testBundle is a real store, registry, worker and handler on loopback.
type testBundle struct {
	t    *testing.T
	ctx  context.Context
	env  *commands.Env
	reg  *commands.Registry
	url  string
	accs map[string]int64
}

// setup builds the server and its fixture:
//
//	acme   a.example (and a2.example)  secret acmesecret
//	other  b.example, user bob active in shared group staff  secret othersecret
//	fenced c.example  secret fencedsecret, only from "192.0.2.7" or "10.0.0.1"
//	off    d.example  secret offsecret, disabled
//	fencedoff e.example  secret fencedoffsecret, only from "192.0.2.9", disabled
//
// setup copies setupTemplate's store; setupLog builds it afresh, so that
// log sees every request from the first.
func setup(t *testing.T) *testBundle {
	t.Helper()
	f, _ := setupTemplate.New(t, commandstest.Options{})
	return serve(t, f)
}

// setupLog is setup with the handler logging to log.
func setupLog(t *testing.T, log *zap.Logger) *testBundle {
	t.Helper()
	return populate(commandstest.New(t, commandstest.Options{Log: log}))
}

// setupTemplate is setup's store, built once: every golden case starts
// from it, and it costs a PBKDF2 derivation per secret and user.
var setupTemplate = commandstest.NewTemplate(func(f *commandstest.Fixture) struct{} {
	populate(f)
	return struct{}{}
})

// populate makes setup's accounts and users on f.
func populate(f *commandstest.Fixture) *testBundle {
	t := f.T.(*testing.T)
	t.Helper()
	b := serve(t, f)
	for _, a := range []struct {
		name, secret, ip string
		domains          []string
		enabled          bool
	}{
		{"acme", "acmesecret", "", []string{"a.example", "a2.example"}, true},
		{"other", "othersecret", "", []string{"b.example"}, true},
		{"fenced", "fencedsecret", "192.0.2.7, 10.0.0.1", []string{"c.example"}, true},
		{"off", "offsecret", "", []string{"d.example"}, false},
		{"fencedoff", "fencedoffsecret", "192.0.2.9", []string{"e.example"}, false},
	} {
		f.Openfire(f.Account(a.name, "", false, a.domains...), a.secret, a.ip, a.enabled)
	}
	status, _, body := b.send("GET /plugins/userService/userservice?type=add&secret=othersecret&username=bob&password=bobpass&groups=staff")
	require.Equal(t, 200, status)
	require.Equal(t, "<result>ok</result>\n", body)
	return b
}

// serve runs the Openfire handler on f on loopback.
func serve(t *testing.T, f *commandstest.Fixture) *testBundle {
	t.Helper()
	router := mux.NewRouter()
	h := openfire.New(f.Reg, f.Env)
	router.Path(openfire.PathUserService).Handler(h)
	router.Path(openfire.PathRestAPI).Handler(h)
	return &testBundle{t: t, ctx: f.Ctx, env: f.Env, reg: f.Reg, url: f.Serve(router), accs: f.Accs}
}

// send sends a request written as "METHOD /path?query", optionally followed
// by header lines, a blank line and a body.
func (b *testBundle) send(req string) (int, http.Header, string) {
	b.t.Helper()
	return goldentest.Do(b.t, goldentest.Request(b.t, b.url, req, nil))
}

// state dumps what the API can change: users (status, name, email, groups),
// roster items and the groups of each domain.
func (b *testBundle) state() string {
	b.t.Helper()
	st := b.env.Store
	out := commandstest.OpenfireUsers(b.t, st)
	ds, err := st.Domains(b.ctx, nil)
	require.NoError(b.t, err)
	for _, d := range ds {
		names, err := st.SharedGroupNames(b.ctx, d.ID)
		require.NoError(b.t, err)
		if len(names) > 0 {
			out = append(out, fmt.Sprintf("groups %s %q", d.FQDN, names))
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// changes lists every change row as "command user status", oldest first.
func (b *testBundle) changes() []string {
	b.t.Helper()
	return goldentest.Changes(b.t, b.env.Store)
}

// TestOpenfireGolden walks testdata/openfire/*.txtar. Each case runs on a
// fresh server with setup's fixture, then the "setup" section's requests
// (each must answer 200), then the "request" section, whose status, content
// type, body, the changes it queued (and how they ended) and the resulting
// store state must match byte for byte.
func TestOpenfireGolden(t *testing.T) {
	t.Parallel()
	goldentest.Walk(t, filepath.Join(goldenDir, "*.txtar"), func(t *testing.T, c *goldentest.Case) {
		b := setup(t)
		for _, line := range c.Lines("setup") {
			status, _, body := b.send(line)
			require.Equal(t, 200, status, "setup %q: %s", line, body)
		}
		before := len(b.changes())
		reqText, ok := c.Section("request")
		require.True(t, ok, "no request section")
		status, header, body := b.send(strings.TrimRight(reqText, "\n"))
		queued := goldentest.Queued(b.changes(), before)
		c.Check(map[string]string{
			"status":       strconv.Itoa(status) + "\n",
			"content-type": header.Get("Content-Type") + "\n",
			"body":         body,
			"queued":       queued,
			"state":        b.state(),
		}, []string{"status", "content-type", "body", "queued", "state"})
	})
}
