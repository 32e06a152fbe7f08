package rest_test

import (
	"context"
	"encoding/base64"
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
	"github.com/xmppgate/xmppgate/store"
)

const goldenDir = "../../testdata/rest"

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
//	acme      a.example, a2.example   REST password acmepass; user alice (active)
//	acme-sub  sub.example (a sub-account of acme)
//	other     b.example, user bob     REST password otherpass
//	nopw      n.example               no REST password
//
// The accounts and users are setupTemplate's, built once and copied.
func setup(t *testing.T, live commands.Live) *testBundle {
	t.Helper()
	f, _ := setupTemplate.New(t, commandstest.Options{Live: live})
	return serve(t, f)
}

// setupTemplate is setup's store: every golden case starts from it, and
// building it costs a PBKDF2 derivation per password.
var setupTemplate = commandstest.NewTemplate(func(f *commandstest.Fixture) struct{} {
	t := f.T.(*testing.T)
	t.Helper()
	b := serve(t, f)
	for _, a := range []struct {
		name, parent, password string
		domains                []string
	}{
		{"acme", "", "acmepass", []string{"a.example", "a2.example"}},
		{"acme-sub", "acme", "", []string{"sub.example"}},
		{"other", "", "otherpass", []string{"b.example"}},
		{"nopw", "", "", []string{"n.example"}},
	} {
		acc := f.Account(a.name, a.parent, false, a.domains...)
		if a.password != "" {
			f.RESTPassword(acc, a.password)
		}
	}
	for _, s := range []string{
		"POST /api/1.0/xmppdomains/a.example/users/alice?password=alicepw",
		"POST /api/1.0/xmppdomains/b.example/users/bob?password=bobpw\nAuth: other otherpass",
	} {
		status, _, body := b.send(s)
		require.Equal(t, 200, status, body)
	}
	return struct{}{}
})

// serve runs the REST API on f on loopback.
func serve(t *testing.T, f *commandstest.Fixture) *testBundle {
	t.Helper()
	mux := http.NewServeMux()
	mux.Handle(rest.Prefix, rest.New(f.Reg, f.Env, rest.Config{}))
	return &testBundle{t: t, ctx: f.Ctx, env: f.Env, reg: f.Reg, url: f.Serve(mux), accs: f.Accs}
}

// send sends "METHOD /path?query", optional header lines, a blank line and
// a body. The pseudo-header "Auth: user password" (or "Auth: none") sets
// HTTP Basic; the default is acme's.
func (b *testBundle) send(req string) (int, http.Header, string) {
	b.t.Helper()
	authSet := false
	r := goldentest.Request(b.t, b.url, req, func(r *http.Request, k, v string) bool {
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
	return goldentest.Do(b.t, r)
}

// state dumps what the API can change: domains with owner and settings
// size, users with status.
func (b *testBundle) state() string {
	b.t.Helper()
	st := b.env.Store
	var out []string
	ds, err := st.Domains(b.ctx, nil)
	require.NoError(b.t, err)
	names := map[int64]string{}
	for name, id := range b.accs {
		names[id] = name
	}
	for _, d := range ds {
		out = append(out, fmt.Sprintf("domain %s of %s enabled=%t", d.FQDN, names[d.AccountID], d.Enabled))
	}
	users, err := st.Users(b.ctx, nil)
	require.NoError(b.t, err)
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
	b.t.Helper()
	return goldentest.Changes(b.t, b.env.Store)
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
		before := len(b.changes())
		reqText, ok := c.Section("request")
		require.True(t, ok, "no request section")
		status, header, body := b.send(strings.TrimRight(reqText, "\n"))
		queued := goldentest.Queued(b.changes(), before)
		var hs []string
		for _, h := range []string{"Content-Type", "Www-Authenticate", "Allow"} {
			if v := header.Get(h); v != "" {
				hs = append(hs, h+": "+v)
			}
		}
		c.Check(map[string]string{
			"status":  strconv.Itoa(status) + "\n",
			"headers": strings.Join(hs, "\n") + "\n",
			"body":    mask(body),
			"queued":  queued,
			"state":   b.state(),
		}, []string{"status", "headers", "body", "queued", "state"})
	})
}

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}
