package openfirerest_test

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
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
	"github.com/xmppgate/xmppgate/commands/openfirerest"
)

const goldenDir = "../../testdata/openfirerest"

// testBundle is a real store, registry, worker and both Openfire front
// ends, mounted as serve.go mounts them, on loopback.
type testBundle struct {
	t   *testing.T
	ctx context.Context
	env *commands.Env
	url string
}

// setup builds the server and its fixture:
//
//	acme   a.example (and a2.example)  secret acmesecret
//	other  b.example, user bob active in shared group staff  secret othersecret
//	fenced c.example  secret fencedsecret, only from "192.0.2.7"
//	off    d.example  secret offsecret, disabled
//
// setup copies setupTemplate's store; setupLog builds it afresh, so that
// log sees every request from the first.
func setup(t *testing.T) *testBundle {
	t.Helper()
	f, _ := setupTemplate.New(t, commandstest.Options{})
	return serve(t, f)
}

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
		{"fenced", "fencedsecret", "192.0.2.7", []string{"c.example"}, true},
		{"off", "offsecret", "", []string{"d.example"}, false},
	} {
		f.Openfire(f.Account(a.name, "", false, a.domains...), a.secret, a.ip, a.enabled)
	}
	status, _, body := b.send("GET /plugins/userService/userservice?type=add&secret=othersecret&username=bob&password=bobpass&groups=staff")
	require.Equal(t, 200, status)
	require.Equal(t, "<result>ok</result>\n", body)
	return b
}

// serve mounts both Openfire front ends on f on loopback.
func serve(t *testing.T, f *commandstest.Fixture) *testBundle {
	t.Helper()
	router := mux.NewRouter()
	legacy := openfire.New(f.Reg, f.Env)
	router.Path(openfire.PathUserService).Handler(legacy)
	router.Path(openfire.PathRestAPI).Handler(legacy)
	h := openfirerest.New(f.Reg, f.Env)
	for _, p := range openfirerest.Prefixes {
		router.PathPrefix(p).Handler(h)
	}
	return &testBundle{t: t, ctx: f.Ctx, env: f.Env, url: f.Serve(router)}
}

// send sends a request written as "METHOD /path", header lines, a blank
// line and a body.
func (b *testBundle) send(req string) (int, http.Header, string) {
	b.t.Helper()
	return goldentest.Do(b.t, goldentest.Request(b.t, b.url, req, nil))
}

// state dumps what the API can change: users (status, name, email,
// groups), roster items, and each domain's groups with their fields.
func (b *testBundle) state() string {
	b.t.Helper()
	st := b.env.Store
	out := commandstest.OpenfireUsers(b.t, st)
	ds, err := st.Domains(b.ctx, nil)
	require.NoError(b.t, err)
	for _, d := range ds {
		gs, err := st.OpenfireGroups(b.ctx, d.ID)
		require.NoError(b.t, err)
		for _, g := range gs {
			out = append(out, fmt.Sprintf("group %s/%s show=%s description=%q admins=%q members=%q", d.FQDN, g.Name, g.Show, g.Description, g.Admins, g.Members))
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// TestOpenfireRESTGolden walks testdata/openfirerest/*.txtar. Each case
// runs on a fresh server with setup's fixture, then the "setup" section's
// requests (one per line, header lines after a "|" each: "POST /x | H: v |
// body"; each must answer 2xx), then the "request" section, whose status,
// content type, body, queued changes and resulting store state must match
// byte for byte.
func TestOpenfireRESTGolden(t *testing.T) {
	t.Parallel()
	goldentest.Walk(t, filepath.Join(goldenDir, "*.txtar"), func(t *testing.T, c *goldentest.Case) {
		b := setup(t)
		for _, line := range c.Lines("setup") {
			status, _, body := b.send(setupRequest(line))
			require.True(t, status >= 200 && status < 300, "setup %q: %d %s", line, status, body)
		}
		before := len(goldentest.Changes(t, b.env.Store))
		reqText, ok := c.Section("request")
		require.True(t, ok, "no request section")
		status, header, body := b.send(strings.TrimRight(reqText, "\n"))
		queued := goldentest.Queued(goldentest.Changes(t, b.env.Store), before)
		headers := ""
		for _, name := range []string{"Content-Type", "Allow", "Access-Control-Allow-Origin"} {
			if v := header.Get(name); v != "" {
				headers += name + ": " + v + "\n"
			}
		}
		c.Check(map[string]string{
			"status":  strconv.Itoa(status) + "\n",
			"headers": headers,
			"body":    body,
			"queued":  queued,
			"state":   b.state(),
		}, []string{"status", "headers", "body", "queued", "state"})
	})
}

var headerLine = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*: `)

// setupRequest turns a one-line setup request "METHOD /path | Header: v |
// body" into the request text goldentest.Request reads.
func setupRequest(line string) string {
	parts := strings.Split(line, " | ")
	var head []string
	body := ""
	for i, p := range parts {
		switch {
		case i == 0:
			head = append(head, p)
		case i == len(parts)-1 && !headerLine.MatchString(p):
			body = p
		default:
			head = append(head, p)
		}
	}
	return strings.Join(head, "\n") + "\n\n" + body
}
