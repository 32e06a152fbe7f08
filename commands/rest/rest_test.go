package rest_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/commandstest"
	"github.com/xmppgate/xmppgate/commands/goldentest"
	"github.com/xmppgate/xmppgate/commands/rest"
	"github.com/xmppgate/xmppgate/commands/rest/resttest"
	"github.com/xmppgate/xmppgate/store"
)

const goldenDir = "../../testdata/rest"

// testBundle is commandstest's fixture (a real store, registry and
// worker) with the REST API on loopback at url.
type testBundle struct {
	*commandstest.Fixture
	url string
}

// setup builds the server and resttest's fixture: its tenants and users
// (alice of acme, bob of other, both active), built once by setupTemplate
// and copied.
func setup(t *testing.T, live commands.Live) *testBundle {
	t.Helper()
	f, _ := setupTemplate.New(t, commandstest.Options{Live: live})
	return serve(f)
}

// setupTemplate is setup's store: every golden case starts from it, and
// building it costs a PBKDF2 derivation per password.
var setupTemplate = commandstest.NewTemplate(func(f *commandstest.Fixture) struct{} {
	b := serve(f)
	resttest.Tenants(f)
	for _, s := range resttest.Users {
		status, _, body := b.send(s)
		require.Equal(f.T, 200, status, body)
	}
	return struct{}{}
})

// serve runs the REST API on f on loopback.
func serve(f *commandstest.Fixture) *testBundle {
	mux := http.NewServeMux()
	mux.Handle(rest.Prefix, rest.New(f.Reg, f.Env, rest.Config{}))
	return &testBundle{Fixture: f, url: f.Serve(mux)}
}

// send sends "METHOD /path?query", optional header lines, a blank line and
// a body. The pseudo-header "Auth: user password" (or "Auth: none") sets
// HTTP Basic; the default is acme's.
func (b *testBundle) send(req string) (int, http.Header, string) {
	b.T.Helper()
	authSet := false
	r := goldentest.Request(b.T, b.url, req, func(r *http.Request, k, v string) bool {
		if k != "Auth" {
			return false
		}
		authSet = true
		if v != "none" {
			user, pw, _ := strings.Cut(v, " ")
			r.SetBasicAuth(user, pw)
		}
		return true
	})
	if !authSet {
		r.SetBasicAuth("acme", "acmepass")
	}
	return goldentest.Do(b.T, r)
}

// state dumps what the API can change: domains with owner and settings
// size, users with status.
func (b *testBundle) state() string {
	b.T.Helper()
	st := b.Store
	var out []string
	ds, err := st.Domains(b.Ctx, nil)
	require.NoError(b.T, err)
	names := map[int64]string{}
	for name, id := range b.Accs {
		names[id] = name
	}
	for _, d := range ds {
		out = append(out, fmt.Sprintf("domain %s of %s enabled=%t", d.FQDN, names[d.AccountID], d.Enabled))
	}
	users, err := st.Users(b.Ctx, nil)
	require.NoError(b.T, err)
	for _, u := range users {
		line := fmt.Sprintf("user %s@%s %s", u.Username, u.Domain, u.Status)
		if u.Status == store.StatusActive {
			line += fmt.Sprintf(" scram=%t", u.Cred.Iterations > 0)
		}
		out = append(out, line)
	}
	// Masked names sort anywhere; sort after masking so the dump is stable.
	for i := range out {
		out[i] = mask(out[i])
	}
	sort.Strings(out)
	return strings.Join(out, "\n") + "\n"
}

// changes lists every change row as "command status (batch status)".
func (b *testBundle) changes() []string {
	b.T.Helper()
	return goldentest.Changes(b.T, b.Store)
}

var (
	uuidRE   = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)
	randomRE = regexp.MustCompile(`\b[a-z]{4}\.chatwith\.localhost`)
)

// mask replaces generated values (UUIDs, random domain names) by placeholders.
func mask(s string) string {
	s = uuidRE.ReplaceAllString(s, "<uuid>")
	return randomRE.ReplaceAllString(s, "<rand>.chatwith.localhost")
}

// TestRESTGolden walks testdata/rest/*.txtar. Each case runs on a fresh
// server with setup's fixture, then the "setup" section's requests
// (separated by "---" lines; each must answer 200), then the "request"
// section, whose status, headers (Content-Type, WWW-Authenticate, Allow),
// body, the changes it queued and the resulting store state must match byte
// for byte (generated UUIDs and random domain names masked).
func TestRESTGolden(t *testing.T) {
	t.Parallel()
	goldentest.Walk(t, filepath.Join(goldenDir, "*.txtar"), func(t *testing.T, c *goldentest.Case) {
		b := setup(t, nil)
		setupText, _ := c.Section("setup")
		for _, req := range strings.Split(setupText, "\n---\n") {
			req = strings.TrimSpace(req)
			if req == "" || strings.HasPrefix(req, "#") {
				continue
			}
			status, _, body := b.send(req)
			require.Equal(t, 200, status, "setup %q: %s", req, body)
		}
		status, header, body, queued := c.Send(b.Store, b.send)
		c.Check(map[string]string{
			"status":  strconv.Itoa(status) + "\n",
			"headers": goldentest.Headers(header, "Content-Type", "Www-Authenticate", "Allow"),
			"body":    mask(body),
			"queued":  queued,
			"state":   b.state(),
		}, []string{"status", "headers", "body", "queued", "state"})
	})
}
