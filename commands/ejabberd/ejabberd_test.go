package ejabberd_test

import (
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

// testBundle is commandstest's fixture (a real store, registry and
// worker, and with xmpp a live server at XMPPAddr) with the ejabberd API
// on loopback at url.
type testBundle struct {
	*commandstest.Fixture
	url   string
	creds map[string]string // "As: NAME" → Authorization header value
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
// XMPP server on the store (b.XMPPAddr is its C2S address).
func setup(t *testing.T, xmpp bool) *testBundle {
	t.Helper()
	return fromTemplate(t, setupTemplate, xmpp)
}

// setupTemplate is setup's store: every golden case starts from it, and
// building it costs a PBKDF2 derivation per user.
var setupTemplate = commandstest.NewTemplate(func(f *commandstest.Fixture) map[string]string {
	return buildSetup(f).creds
})

// fromTemplate is a copy of tp's store with the ejabberd API on loopback,
// the credentials the build made and the data directory's fixtures.
func fromTemplate(t *testing.T, tp *commandstest.Template[map[string]string], xmpp bool) *testBundle {
	t.Helper()
	f, creds := tp.New(t, commandstest.Options{XMPP: xmpp, DataDir: true})
	b := serve(f)
	b.creds = maps.Clone(creds)
	copyFixtures(t, b.Env.DataDir, b.Accs)
	return b
}

// buildSetup makes setup's accounts and users on f.
func buildSetup(f *commandstest.Fixture) *testBundle {
	t := f.T
	t.Helper()
	// A seeded token source: the golden files show the tokens it makes.
	f.Env.Rand = mrand.NewChaCha8([32]byte{})
	b := serve(f)
	ctx, st := b.Ctx, b.Store
	for _, a := range []struct {
		name    string
		domains []string
	}{{"acme", []string{"a.example", "a2.example"}}, {"other", []string{"b.example"}}} {
		acc := b.Account(a.name, "", a.name == "acme", a.domains...) // acme is the operator
		jid, pw, err := commands.BootstrapAdmin(ctx, b.Env, b.Reg, acc, a.domains[0])
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
			return tx.PutEjabberdPermission(ctx, store.EjabberdPermission{UserID: usr.ID, AccountID: b.Accs["acme"], What: u.what})
		}))
	}
	return b
}

// newBundle is the fixture's parts with the ejabberd API on loopback (and
// no accounts yet).
func newBundle(t *testing.T, xmpp bool) *testBundle {
	t.Helper()
	f := commandstest.New(t, commandstest.Options{XMPP: xmpp, DataDir: true})
	// A seeded token source: the golden files show the tokens it makes.
	f.Env.Rand = mrand.NewChaCha8([32]byte{})
	return serve(f)
}

// serve runs the ejabberd API on f on loopback.
func serve(f *commandstest.Fixture) *testBundle {
	router := mux.NewRouter()
	router.PathPrefix("/api").Handler(ejabberd.New(f.Reg, f.Env))
	router.Path(ejabberd.OAuthTokenPath).Handler(ejabberd.NewOAuth(f.Reg, f.Env))
	return &testBundle{Fixture: f, url: f.Serve(router), creds: map[string]string{}}
}

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

// register creates the user jid with password through /api, as acme.
func (b *testBundle) register(jid, password string) {
	b.T.Helper()
	user, host, _ := strings.Cut(jid, "@")
	b.ok("POST /api/register\nAs: acme\n\n" + fmt.Sprintf(`{"user":%q,"host":%q,"password":%q}`, user, host, password))
}

// ok sends a request that must answer 200.
func (b *testBundle) ok(req string) string {
	b.T.Helper()
	status, _, body := b.send(req)
	require.Equal(b.T, 200, status, "%s: %s", req, body)
	return body
}

// send sends a request written as "METHOD /path?query", header lines, a
// blank line and a body. "As: NAME" stands for NAME's Basic credentials.
func (b *testBundle) send(req string) (int, http.Header, string) {
	b.T.Helper()
	r := goldentest.Request(b.T, b.url, req, func(r *http.Request, k, v string) bool {
		if k != "As" {
			return false
		}
		cred, ok := b.creds[v]
		require.True(b.T, ok, "no credentials %q", v)
		r.Header["Authorization"] = []string{cred}
		return true
	})
	return goldentest.Do(b.T, r)
}

// state dumps the users with their status and whether their password is
// known, and the API grants.
func (b *testBundle) state() string {
	b.T.Helper()
	st := b.Store
	var out []string
	users, err := st.Users(b.Ctx, nil)
	require.NoError(b.T, err)
	for _, u := range users {
		line := fmt.Sprintf("user %s@%s %s", u.Username, u.Domain, u.Status)
		if u.PasswordSealed != nil {
			pw, err := b.Env.Box.Open(u.PasswordSealed, commands.PurposePassword)
			require.NoError(b.T, err)
			switch {
			case strings.HasPrefix(string(pw), "BANNED_ACCOUNT--"):
				line += " password=BANNED"
			case u.Username != commands.AdminUser:
				line += fmt.Sprintf(" password=%q scram=%t", pw, commandstest.Verify(u.Cred, string(pw)))
			}
		}
		if p, err := st.EjabberdPermission(b.Ctx, u.ID); err == nil {
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
		status, header, body, queued := c.Send(b.Store, b.send)
		c.Check(map[string]string{
			"status":  strconv.Itoa(status) + "\n",
			"headers": goldentest.Headers(header, goldenHeaders...),
			"body":    body,
			"queued":  queued,
			"state":   b.state(),
		}, []string{"status", "headers", "body", "queued", "state"})
	})
}
