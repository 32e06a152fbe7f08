package ejabberd_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	mrand "math/rand/v2"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/commandstest"
	"github.com/xmppgate/xmppgate/commands/ejabberd"
	"github.com/xmppgate/xmppgate/commands/goldentest"
	"github.com/xmppgate/xmppgate/store"
)

const goldenDir = "../../testdata/ejabberd"

// testBundle is a real store, registry, worker and handler on loopback.
type testBundle struct {
	t     *testing.T
	ctx   context.Context
	env   *commands.Env
	reg   *commands.Registry
	url   string
	accs  map[string]int64
	creds map[string]string // "As: NAME" → Authorization header value
	addr  string            // XMPP C2S, if the bundle has a live server
}

// setup builds the server and its fixture:
//
//	acme   a.example, a2.example   admin@a.example (As: acme, every command); the operator
//	       limited@a.example (As: limited, "[tag:session]", "check_account", "!kick_user")
//	       noperm@a.example (As: noperm, no api permission)
//	other  b.example               admin@b.example (As: other), user bob (password bobpass)
//
// and the import and roster fixtures in the data directory. The accounts
// and users are setupTemplate's, built once and copied. xmpp starts a real
// XMPP server on the store (b.addr is its C2S address).
func setup(t *testing.T, xmpp bool) *testBundle {
	t.Helper()
	return fromTemplate(t, setupTemplate, xmpp)
}

// setupTemplate is setup's store: every golden case starts from it, and
// building it costs a PBKDF2 derivation per user.
var setupTemplate = commandstest.NewTemplate(func(f *commandstest.Fixture) map[string]string {
	b := buildSetup(f)
	return b.creds
})

// fromTemplate is a copy of tp's store with the ejabberd API on loopback,
// the credentials the build made and the data directory's fixtures.
func fromTemplate(t *testing.T, tp *commandstest.Template[map[string]string], xmpp bool) *testBundle {
	t.Helper()
	f, creds := tp.New(t, commandstest.Options{XMPP: xmpp, DataDir: true})
	b := serve(t, f)
	b.creds = maps.Clone(creds)
	copyImportFixtures(t, b.env.DataDir, b.accs)
	copyRosterFixtures(t, b.env.DataDir, b.accs)
	return b
}

// buildSetup makes setup's accounts and users on f.
func buildSetup(f *commandstest.Fixture) *testBundle {
	t := f.T.(*testing.T)
	t.Helper()
	// A seeded token source: the golden files show the tokens it makes.
	f.Env.Rand = mrand.NewChaCha8([32]byte{})
	b := serve(t, f)
	ctx, st := f.Ctx, f.Store
	for _, a := range []struct {
		name    string
		domains []string
	}{{"acme", []string{"a.example", "a2.example"}}, {"other", []string{"b.example"}}} {
		acc := f.Account(a.name, "", a.name == "acme", a.domains...) // acme is the operator
		jid, pw, err := ejabberd.BootstrapAdmin(ctx, b.env, acc, a.domains[0])
		require.NoError(t, err)
		b.creds[a.name] = basic(jid, pw)
	}
	b.ok("POST /api/register\nAs: other\n\n" + `{"user":"bob","host":"b.example","password":"bobpass"}`)
	for _, u := range []struct {
		name string
		what []string
	}{{"limited", []string{"[tag:session]", "check_account", "!kick_user"}}, {"noperm", nil}} {
		b.ok("POST /api/register\nAs: acme\n\n" + fmt.Sprintf(`{"user":%q,"host":"a.example","password":"%spass"}`, u.name, u.name))
		b.creds[u.name] = basic(u.name+"@a.example", u.name+"pass")
		if u.what == nil {
			continue
		}
		usr, err := st.UserByJID(ctx, "a.example", u.name)
		require.NoError(t, err)
		require.NoError(t, st.Write(ctx, func(tx *store.Tx) error {
			return tx.PutEjabberdPermission(ctx, store.EjabberdPermission{UserID: usr.ID, AccountID: b.accs["acme"], What: u.what})
		}))
	}
	return b
}

// newBundle is the fixture's parts with the ejabberd API on loopback (and
// no accounts yet).
func newBundle(t *testing.T, xmpp bool) (*testBundle, *commandstest.Fixture) {
	t.Helper()
	f := commandstest.New(t, commandstest.Options{XMPP: xmpp, DataDir: true})
	// A seeded token source: the golden files show the tokens it makes.
	f.Env.Rand = mrand.NewChaCha8([32]byte{})
	return serve(t, f), f
}

// serve runs the ejabberd API on f on loopback.
func serve(t *testing.T, f *commandstest.Fixture) *testBundle {
	t.Helper()
	router := mux.NewRouter()
	router.PathPrefix("/api").Handler(ejabberd.New(f.Reg, f.Env))
	router.Path(ejabberd.OAuthTokenPath).Handler(ejabberd.NewOAuth(f.Env))
	return &testBundle{t: t, ctx: f.Ctx, env: f.Env, reg: f.Reg, url: f.Serve(router), accs: f.Accs,
		creds: map[string]string{}, addr: f.XMPPAddr}
}

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

// ok sends a request that must answer 200.
func (b *testBundle) ok(req string) string {
	b.t.Helper()
	status, _, body := b.send(req)
	require.Equal(b.t, 200, status, "%s: %s", req, body)
	return body
}

// send sends a request written as "METHOD /path?query", header lines, a
// blank line and a body. "As: NAME" stands for NAME's Basic credentials.
func (b *testBundle) send(req string) (int, http.Header, string) {
	b.t.Helper()
	r := goldentest.Request(b.t, b.url, req, func(r *http.Request, k, v string) bool {
		if k != "As" {
			return false
		}
		cred, ok := b.creds[v]
		require.True(b.t, ok, "no credentials %q", v)
		r.Header["Authorization"] = []string{cred}
		return true
	})
	return goldentest.Do(b.t, r)
}

// state dumps the users with their status and whether their password is
// known, and the API grants.
func (b *testBundle) state() string {
	b.t.Helper()
	st := b.env.Store
	var out []string
	users, err := st.Users(b.ctx, nil)
	require.NoError(b.t, err)
	for _, u := range users {
		line := fmt.Sprintf("user %s@%s %s", u.Username, u.Domain, u.Status)
		if u.PasswordSealed != nil {
			pw, err := b.env.Box.Open(u.PasswordSealed, commands.PurposePassword)
			require.NoError(b.t, err)
			switch {
			case strings.HasPrefix(string(pw), "BANNED_ACCOUNT--"):
				line += " password=BANNED"
			case u.Username != ejabberd.AdminUser:
				line += fmt.Sprintf(" password=%q scram=%t", pw, commandstest.Verify(u.Cred, string(pw)))
			}
		}
		if p, err := st.EjabberdPermission(b.ctx, u.ID); err == nil {
			line += fmt.Sprintf(" api=%q", p.What)
		}
		out = append(out, line)
		out = append(out, rosterState(b, u.ID)...)
		out = append(out, userdataState(b, u.ID)...)
	}
	out = append(out, srgState(b)...)
	out = append(out, oauthState(b)...)
	return strings.Join(out, "\n") + "\n"
}

// changes lists every change row as "command status (batch status)".
func (b *testBundle) changes() []string {
	b.t.Helper()
	return goldentest.Changes(b.t, b.env.Store)
}

// goldenHeaders are the response headers a case records.
var goldenHeaders = []string{"Content-Type", "Access-Control-Allow-Origin", "Access-Control-Allow-Headers",
	"Access-Control-Allow-Methods", "Access-Control-Max-Age", "WWW-Authenticate"}

// TestEjabberdGolden walks testdata/ejabberd/*.txtar. Each case runs on a
// fresh server with setup's fixture, then the "setup" section's requests
// (separated by lines "----", each must answer 200), then the "request"
// section, whose status, headers, body, queued changes and resulting store
// state must match byte for byte.
func TestEjabberdGolden(t *testing.T) {
	t.Parallel()
	goldentest.Walk(t, filepath.Join(goldenDir, "*.txtar"), func(t *testing.T, c *goldentest.Case) {
		b := setup(t, false)
		if setupText, ok := c.Section("setup"); ok && strings.TrimSpace(setupText) != "" {
			for _, req := range strings.Split(strings.TrimRight(setupText, "\n"), "\n----\n") {
				b.ok(req)
			}
		}
		before := len(b.changes())
		reqText, ok := c.Section("request")
		require.True(t, ok, "no request section")
		status, header, body := b.send(strings.TrimRight(reqText, "\n"))
		queued := goldentest.Queued(b.changes(), before)
		var hs []string
		for _, h := range goldenHeaders {
			if v := header.Get(h); v != "" {
				hs = append(hs, h+": "+v)
			}
		}
		c.Check(map[string]string{
			"status":  strconv.Itoa(status) + "\n",
			"headers": strings.Join(hs, "\n") + "\n",
			"body":    body,
			"queued":  queued,
			"state":   b.state(),
		}, []string{"status", "headers", "body", "queued", "state"})
	})
}
