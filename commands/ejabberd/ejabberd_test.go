package ejabberd_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/ejabberd"
	"github.com/xmppgate/xmppgate/commands/goldentest"
	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/sealbox"
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
}

// setup builds the server and its fixture:
//
//	acme   a.example, a2.example   admin@a.example (As: acme, every command); the operator
//	       limited@a.example (As: limited, "[tag:session]", "check_account", "!kick_user")
//	       noperm@a.example (As: noperm, no api permission)
//	other  b.example               admin@b.example (As: other), user bob (password bobpass)
//
// startLive, if set, starts an XMPP server on the store (see live_test.go).
func setup(t *testing.T, startLive func(*store.Store) commands.Live) *testBundle {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "x.db"), store.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	var live commands.Live
	if startLive != nil {
		live = startLive(st)
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := sealbox.New(key)
	require.NoError(t, err)
	reg := commands.MustNew(commands.WithEjabberd()...)
	// A seeded token source: the golden files show the tokens it makes.
	env := &commands.Env{Store: st, Box: box, Live: live, DataDir: t.TempDir(), Rand: mrand.NewChaCha8([32]byte{})}
	var effects queue.Effects
	if e, ok := live.(queue.Effects); ok {
		effects = e
	}
	env.Worker = queue.NewWorker(st, reg.Appliers(env), effects, queue.Options{})

	router := mux.NewRouter()
	router.PathPrefix("/api").Handler(ejabberd.New(reg, env))
	router.Path(ejabberd.OAuthTokenPath).Handler(ejabberd.NewOAuth(env))
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)

	b := &testBundle{t: t, ctx: ctx, env: env, reg: reg, url: srv.URL, accs: map[string]int64{}, creds: map[string]string{}}
	for _, a := range []struct {
		name    string
		domains []string
	}{{"acme", []string{"a.example", "a2.example"}}, {"other", []string{"b.example"}}} {
		acc, err := commands.CreateAccount(ctx, env, a.name, 0, a.name == "acme") // acme is the operator
		require.NoError(t, err)
		b.accs[a.name] = acc.ID
		for _, d := range a.domains {
			_, err := commands.CreateDomain(ctx, env, d, acc.ID)
			require.NoError(t, err)
		}
		jid, pw, err := ejabberd.BootstrapAdmin(ctx, env, acc.ID, a.domains[0])
		require.NoError(t, err)
		b.creds[a.name] = basic(jid, pw)
	}
	copyImportFixtures(t, env.DataDir, b.accs)
	copyRosterFixtures(t, env.DataDir, b.accs)
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
				line += fmt.Sprintf(" password=%q scram=%t", pw, u.Cred.Verify(string(pw)))
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
		b := setup(t, nil)
		if setupText, ok := c.Section("setup"); ok && strings.TrimSpace(setupText) != "" {
			for _, req := range strings.Split(strings.TrimRight(setupText, "\n"), "\n----\n") {
				b.ok(req)
			}
		}
		before := len(b.changes())
		reqText, ok := c.Section("request")
		require.True(t, ok, "no request section")
		status, header, body := b.send(strings.TrimRight(reqText, "\n"))
		after := b.changes()
		if len(after) < before {
			before = 0 // restore or load replaced the queue: show all of it
		}
		queued := after[before:]
		queuedText := "none\n"
		if len(queued) > 0 {
			queuedText = strings.Join(queued, "\n") + "\n"
		}
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
			"queued":  queuedText,
			"state":   b.state(),
		}, []string{"status", "headers", "body", "queued", "state"})
	})
}
