package ejabberd_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/ejabberd"
	"github.com/xmppgate/xmppgate/commands/goldentest"
	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/sealbox"
)

// oauthState lists the OAuth tokens (by the first digits of their hash:
// the golden tests' tokens are seeded) and clients, for the golden state.
func oauthState(b *testBundle) []string {
	b.T.Helper()
	st := b.Store
	accs, err := st.Accounts(b.Ctx)
	require.NoError(b.T, err)
	var ids []int64
	names := map[int64]string{}
	for _, a := range accs {
		ids = append(ids, a.ID)
		names[a.ID] = a.Name
	}
	var out []string
	toks, err := st.OAuthTokens(b.Ctx, ids, math.MinInt64)
	require.NoError(b.T, err)
	now := st.Now().UnixMilli()
	for _, t := range toks {
		out = append(out, fmt.Sprintf("oauth token %s… of %s for %s scopes=%q expired=%t", hex.EncodeToString(t.Hash)[:12],
			names[t.AccountID], t.JID, t.Scopes, now >= t.Expires))
	}
	clients, err := st.OAuthClients(b.Ctx, ids)
	require.NoError(b.T, err)
	for _, c := range clients {
		line := fmt.Sprintf("oauth client %s of %s: %s name=%q", c.ClientID, names[c.AccountID], c.GrantType, c.Name)
		if c.SecretSealed != nil {
			secret, err := b.Env.Box.Open(c.SecretSealed, commands.PurposeOAuthClient)
			require.NoError(b.T, err)
			line += fmt.Sprintf(" secret=%q", secret)
		} else {
			line += fmt.Sprintf(" redirect_uri=%q", c.RedirectURI)
		}
		out = append(out, line)
	}
	return out
}

// clock is a settable store clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// oauthServer is a real store (on clk), worker and both ejabberd handlers
// with opts, and account acme (a.example, admin@a.example with every
// command) and account other (b.example, its own admin).
type oauthServer struct {
	t       *testing.T
	env     *commands.Env
	handler http.Handler
	url     string
	admin   string // admin@a.example's password
	other   string // admin@b.example's password
}

func newOAuthServer(t *testing.T, clk *clock, opts ejabberd.Options) *oauthServer {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "x.db"), store.Options{Synchronous: "NORMAL", Now: clk.Now})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := sealbox.New(key)
	require.NoError(t, err)
	reg := commands.MustNew(commands.All()...)
	env := &commands.Env{Store: st, Box: box}
	env.Worker = queue.NewWorker(st, reg.Appliers(env), nil, queue.Options{})
	s := &oauthServer{t: t, env: env}
	for _, a := range []struct{ name, domain string }{{"acme", "a.example"}, {"other", "b.example"}} {
		acc, err := commands.CreateAccount(ctx, env, a.name, 0, false)
		require.NoError(t, err)
		_, err = commands.CreateDomain(ctx, env, a.domain, acc.ID)
		require.NoError(t, err)
		_, pw, err := commands.BootstrapAdmin(ctx, env, reg, acc.ID, a.domain)
		require.NoError(t, err)
		if a.name == "acme" {
			s.admin = pw
		} else {
			s.other = pw
		}
	}
	s.handler = ejabberd.NewWithOptions(reg, env, opts)
	router := mux.NewRouter()
	router.PathPrefix("/api").Handler(s.handler)
	router.Path(ejabberd.OAuthTokenPath).Handler(ejabberd.NewOAuth(reg, env))
	srv := httptest.NewServer(router)
	t.Cleanup(srv.Close)
	s.url = srv.URL
	return s
}

// api posts body to /api/cmd with the given header lines ("Name: value").
func (s *oauthServer) api(cmd, body string, headers ...string) (int, string) {
	s.t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.url+"/api/"+cmd, strings.NewReader(body))
	require.NoError(s.t, err)
	for _, h := range headers {
		k, v, _ := strings.Cut(h, ": ")
		req.Header.Set(k, v)
	}
	status, _, body := goldentest.Do(s.t, req)
	return status, body
}

func bearer(token string) string { return "Authorization: Bearer " + token }

// TestOAuthFlow is what `ejabberd token` then `ejabberd call` of the Go CLI
// do: a password-grant token, calls with it, then a revocation that makes
// it invalid.
func TestOAuthFlow(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := newOAuthServer(t, clk, ejabberd.Options{})

	form := url.Values{"grant_type": {"password"}, "username": {"admin@a.example"}, "password": {s.admin},
		"scope": {"ejabberd:admin"}, "ttl": {"31536000"}}
	resp, err := http.PostForm(s.url+ejabberd.OAuthTokenPath, form)
	require.NoError(t, err)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(raw))
	require.Equal(t, "application/json;charset=UTF-8", resp.Header.Get("Content-Type"))
	require.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	require.Equal(t, "no-cache", resp.Header.Get("Pragma"))
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		Scope       string `json:"scope"`
		ExpiresIn   int64  `json:"expires_in"`
	}
	require.NoError(t, json.Unmarshal(raw, &tok))
	require.Regexp(t, `^[A-Za-z0-9]{32}$`, tok.AccessToken)
	require.Equal(t, "bearer", tok.TokenType)
	require.Equal(t, "ejabberd:admin", tok.Scope)
	require.Equal(t, int64(31536000), tok.ExpiresIn)

	// The Go CLI sends X-Admin and GETs a call without data.
	status, body := s.api("registered_users", `{"host":"a.example"}`, bearer(tok.AccessToken), "X-Admin: true")
	require.Equal(t, 200, status, body)
	require.Equal(t, `["admin"]`, body)
	getReq, _ := http.NewRequest(http.MethodGet, s.url+"/api/registered_vhosts", nil)
	getReq.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	getResp, err := http.DefaultClient.Do(getReq)
	require.NoError(t, err)
	raw, _ = io.ReadAll(getResp.Body)
	getResp.Body.Close()
	require.Equal(t, `["a.example"]`, string(raw))
	// Only the own account's domains, as with Basic.
	status, body = s.api("registered_users", `{"host":"b.example"}`, bearer(tok.AccessToken))
	require.Equal(t, 400, status)
	require.Equal(t, `"Unknown virtual host"`, body)

	status, body = s.api("oauth_list_tokens", `{}`, bearer(tok.AccessToken))
	require.Equal(t, 200, status)
	id := hex.EncodeToString(store.OAuthTokenHash(tok.AccessToken))
	require.Equal(t, `[{"token":"`+id+`","user":"admin@a.example","scope":"ejabberd:admin","expires_in":"31536000 seconds"}]`, body)
	require.NotContains(t, body, tok.AccessToken, "the token itself is never kept")

	status, body = s.api("oauth_revoke_token", `{"token":"`+tok.AccessToken+`"}`, bearer(tok.AccessToken))
	require.Equal(t, 200, status)
	require.Equal(t, `""`, body)
	status, body = s.api("registered_users", `{"host":"a.example"}`, bearer(tok.AccessToken))
	require.Equal(t, 401, status)
	require.Equal(t, `{"status":"error","code":10,"message":"Oauth Token is invalid or expired."}`, body)
}

// TestOAuthExpiry runs the store clock past a token's ttl.
func TestOAuthExpiry(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	s := newOAuthServer(t, clk, ejabberd.Options{})
	admin := "Authorization: " + basic("admin@a.example", s.admin)
	status, body := s.api("oauth_issue_token", `{"jid":"admin@a.example","ttl":60,"scopes":"registered_users;oauth_list_tokens"}`, admin)
	require.Equal(t, 200, status, body)
	var res struct{ Token, Scopes, Expires_in string }
	require.NoError(t, json.Unmarshal([]byte(body), &res))
	require.Equal(t, "registered_users;oauth_list_tokens", res.Scopes)
	require.Equal(t, "60 seconds", res.Expires_in)

	for _, c := range []struct {
		advance time.Duration
		status  int
		left    string
	}{
		{0, 200, "60 seconds"},
		{59*time.Second + 999*time.Millisecond, 200, "1 seconds"},
		{time.Millisecond, 401, ""}, // at 60 s: expired
		{time.Hour, 401, ""},
	} {
		clk.Add(c.advance)
		status, body := s.api("registered_users", `{"host":"a.example"}`, bearer(res.Token))
		require.Equal(t, c.status, status, body)
		if c.status != 200 {
			require.Equal(t, `{"status":"error","code":10,"message":"Oauth Token is invalid or expired."}`, body)
			continue
		}
		status, body = s.api("oauth_list_tokens", `{}`, bearer(res.Token))
		require.Equal(t, 200, status, body)
		require.Contains(t, body, `"expires_in":"`+c.left+`"`)
	}
	// A scope not granted is refused with 403, as the JID's permission allows it.
	status, body = s.api("registered_users", `{"host":"a.example"}`, admin)
	require.Equal(t, 200, status, body)
	status, body = s.api("oauth_issue_token", `{"jid":"admin@a.example","ttl":60,"scopes":"registered_users"}`, admin)
	require.Equal(t, 200, status, body)
	require.NoError(t, json.Unmarshal([]byte(body), &res))
	status, _ = s.api("check_account", `{"user":"admin","host":"a.example"}`, bearer(res.Token))
	require.Equal(t, 403, status)
}

// TestLoopbackTrust: without credentials, loopback callers are the
// bootstrap admin only when the switch is on; a bad header is refused even
// then; other addresses never are.
func TestLoopbackTrust(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now()}
	for _, c := range []struct {
		name   string
		trust  bool
		remote string
		header string
		status int
		body   string
	}{
		{"off", false, "127.0.0.1:4000", "", 403, `{"status":"error","code":32,"message":"AccessRules: Account does not have the right to perform the operation."}`},
		{"on", true, "127.0.0.1:4000", "", 200, `["admin"]`},
		{"on, other 127/8 address", true, "127.3.4.5:4000", "", 200, `["admin"]`},
		{"on, ::1", true, "[::1]:4000", "", 200, `["admin"]`},
		{"on, mapped IPv4", true, "[::ffff:127.0.0.1]:4000", "", 200, `["admin"]`},
		{"on, remote", true, "192.0.2.7:4000", "", 403, `{"status":"error","code":32,"message":"AccessRules: Account does not have the right to perform the operation."}`},
		{"on, bad credentials", true, "127.0.0.1:4000", "Basic " + "YWRtaW5AYS5leGFtcGxlOndyb25n", 401, `{"status":"error","code":10,"message":"You are not authorized to call this command."}`},
		{"on, not its account", true, "127.0.0.1:4000", "", 400, `"Unknown virtual host"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newOAuthServer(t, clk, ejabberd.Options{TrustLoopback: c.trust, LoopbackAdmin: "admin@a.example"})
			host := "a.example"
			if strings.Contains(c.name, "not its account") {
				host = "b.example"
			}
			r := httptest.NewRequest(http.MethodPost, "/api/registered_users", strings.NewReader(`{"host":"`+host+`"}`))
			r.RemoteAddr = c.remote
			if c.header != "" {
				r.Header.Set("Authorization", c.header)
			}
			w := httptest.NewRecorder()
			s.handler.ServeHTTP(w, r)
			require.Equal(t, c.status, w.Code, w.Body.String())
			require.Equal(t, c.body, w.Body.String())
		})
	}
}

// TestCtlSecret: the ctl secret makes a loopback caller the operator of
// every account; a wrong secret, another address or no configured secret
// is refused.
func TestCtlSecret(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Now()}
	unauthorized := `{"status":"error","code":10,"message":"You are not authorized to call this command."}`
	for _, c := range []struct {
		name, configured, given, remote string
		status                          int
		body                            string
	}{
		{"right", "s3cret", "s3cret", "127.0.0.1:1", 200, `["admin"]`},
		{"wrong", "s3cret", "s3cre", "127.0.0.1:1", 401, unauthorized},
		{"remote", "s3cret", "s3cret", "192.0.2.7:1", 401, unauthorized},
		{"none configured", "", "", "127.0.0.1:1", 401, unauthorized},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := newOAuthServer(t, clk, ejabberd.Options{CtlSecret: c.configured, OperatorAccount: 1})
			// b.example belongs to the second account: the operator sees it.
			r := httptest.NewRequest(http.MethodPost, "/api/registered_users", strings.NewReader(`{"host":"b.example"}`))
			r.RemoteAddr = c.remote
			r.Header.Set(ejabberd.CtlHeader, c.given)
			w := httptest.NewRecorder()
			s.handler.ServeHTTP(w, r)
			require.Equal(t, c.status, w.Code, w.Body.String())
			require.Equal(t, c.body, w.Body.String())
		})
	}
}
