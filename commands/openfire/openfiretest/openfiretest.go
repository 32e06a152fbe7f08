// Package openfiretest is the fixture both Openfire front ends are tested
// on, the legacy User Service (commands/openfire) and the REST plugin
// (commands/openfirerest): the same tenants, the same user bob, the same
// way of sending a golden file's request. It takes the legacy handler's
// constructor rather than importing commands/openfire, so that package's
// own tests may use it without an import cycle.
package openfiretest

import (
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/commandstest"
	"github.com/xmppgate/xmppgate/commands/goldentest"
	"github.com/xmppgate/xmppgate/store"
)

// AddBob is the legacy request that creates other's user bob (password
// bobpass) in the shared group staff; every Openfire fixture has run it.
const AddBob = "GET " + pathUserService + "?type=add&secret=othersecret&username=bob&password=bobpass&groups=staff"

// Tenants creates the Openfire accounts:
//
//	acme      a.example, a2.example  secret acmesecret
//	other     b.example              secret othersecret
//	fenced    c.example              secret fencedsecret, only from "192.0.2.7" or "10.0.0.1"
//	off       d.example              secret offsecret, disabled
//	fencedoff e.example              secret fencedoffsecret, only from "192.0.2.9", disabled
func Tenants(f *commandstest.Fixture) {
	f.T.Helper()
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
}

// The legacy User Service's paths (openfire.PathUserService and
// PathRestAPI, which this package may not import).
const (
	pathUserService = "/plugins/userService/userservice"
	pathRestAPI     = "/plugins/restapi/v1/userservice"
)

// Bundle is a real store, registry and worker with Tenants and bob, and
// the Openfire front ends on a loopback HTTP server.
type Bundle struct {
	*commandstest.Fixture
	URL string
}

// New builds a bundle whose handlers log to log (nil: nowhere): legacy's
// handler (openfire.New) at both legacy paths, and whatever more mounts.
// Without a log the store is a copy of one built once per test binary
// (Tenants and bob cost a PBKDF2 derivation each); with one it is built
// afresh, so that the log sees the setup's requests too.
func New[H http.Handler](t testing.TB, log *zap.Logger, legacy func(*commands.Registry, *commands.Env) H, more ...func(*mux.Router, *commandstest.Fixture)) *Bundle {
	t.Helper()
	if log != nil {
		b := mount(commandstest.New(t, commandstest.Options{Log: log}), legacy, more...)
		populate(b)
		return b
	}
	templateOnce.Do(func() {
		template = commandstest.NewTemplate(func(f *commandstest.Fixture) struct{} {
			populate(mount(f, legacy))
			return struct{}{}
		})
	})
	f, _ := template.New(t, commandstest.Options{})
	return mount(f, legacy, more...)
}

// template is New's store without a log: Tenants and bob.
var (
	templateOnce sync.Once
	template     *commandstest.Template[struct{}]
)

// mount serves legacy's handler at both legacy paths, and what more mounts.
func mount[H http.Handler](f *commandstest.Fixture, legacy func(*commands.Registry, *commands.Env) H, more ...func(*mux.Router, *commandstest.Fixture)) *Bundle {
	router := mux.NewRouter()
	h := legacy(f.Reg, f.Env)
	router.Path(pathUserService).Handler(h)
	router.Path(pathRestAPI).Handler(h)
	for _, m := range more {
		m(router, f)
	}
	return &Bundle{Fixture: f, URL: f.Serve(router)}
}

// populate makes Tenants and bob on b.
func populate(b *Bundle) {
	b.T.Helper()
	Tenants(b.Fixture)
	status, _, body := b.Send(AddBob)
	require.Equal(b.T, 200, status)
	require.Equal(b.T, "<result>ok</result>\n", body)
}

// Send sends a request written as the golden files write it: "METHOD
// /path?query", header lines, a blank line and a body.
func (b *Bundle) Send(req string) (int, http.Header, string) {
	b.T.Helper()
	return goldentest.Do(b.T, goldentest.Request(b.T, b.URL, req, nil))
}

// State dumps what the Openfire APIs change: each user (status, name,
// email, groups, roster items), then the lines groups gives for each
// domain (the two front ends see groups differently).
func (b *Bundle) State(groups func(d store.Domain) []string) string {
	b.T.Helper()
	out := commandstest.OpenfireUsers(b.T, b.Store)
	ds, err := b.Store.Domains(b.Ctx, nil)
	require.NoError(b.T, err)
	for _, d := range ds {
		out = append(out, groups(d)...)
	}
	return strings.Join(out, "\n") + "\n"
}
