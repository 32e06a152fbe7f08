package main

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// consoleClient is a browser-like client of the operator's console: it
// keeps cookies and does not follow redirects, so each answer is seen.
type consoleClient struct {
	t    *testing.T
	base string // http://host:port
	c    *http.Client
}

func (s *testServer) consoleClient(t *testing.T) *consoleClient {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &consoleClient{t: t, base: strings.TrimSuffix(s.url, "/"), c: &http.Client{Jar: jar, Timeout: time.Minute,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type consoleReply struct {
	status   int
	body     string
	location string
	header   http.Header
}

func (c *consoleClient) do(r *http.Request) consoleReply {
	c.t.Helper()
	resp, err := c.c.Do(r)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return consoleReply{status: resp.StatusCode, body: string(b), location: resp.Header.Get("Location"), header: resp.Header}
}

func (c *consoleClient) get(path string) consoleReply {
	c.t.Helper()
	r, err := http.NewRequest(http.MethodGet, c.base+path, nil)
	require.NoError(c.t, err)
	return c.do(r)
}

// post sends a form as a page of origin would ("" sends neither Origin
// nor Referer; "referer:X" sends only Referer X).
func (c *consoleClient) post(path string, form url.Values, origin string) consoleReply {
	c.t.Helper()
	r, err := http.NewRequest(http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	require.NoError(c.t, err)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	switch {
	case strings.HasPrefix(origin, "referer:"):
		r.Header.Set("Referer", strings.TrimPrefix(origin, "referer:"))
	case origin != "":
		r.Header.Set("Origin", origin)
	}
	return c.do(r)
}

func (c *consoleClient) login(jid, password string) consoleReply {
	c.t.Helper()
	return c.post("/admin/login", url.Values{"jid": {jid}, "password": {password}}, c.base)
}

var csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf is the CSRF token of a logged-in page.
func (c *consoleClient) csrf() string {
	c.t.Helper()
	page := c.get("/admin/")
	require.Equal(c.t, http.StatusOK, page.status, page.body)
	m := csrfField.FindStringSubmatch(page.body)
	require.NotNil(c.t, m, page.body)
	return m[1]
}

// consoleTenant is a non-operator account with its own admin JID.
func (s *testServer) consoleTenant(t *testing.T) (jid, password string) {
	ctx := context.Background()
	acc, err := commands.CreateAccount(ctx, s.app.env, "acme", 0, false)
	require.NoError(t, err)
	_, err = commands.CreateDomain(ctx, s.app.env, "a.example", acc.ID)
	require.NoError(t, err)
	jid, password, err = commands.BootstrapAdmin(ctx, s.app.env, s.app.reg, acc.ID, "a.example")
	require.NoError(t, err)
	return jid, password
}

func startConsole(t *testing.T) *testServer {
	return startServer(t, func(c *Config) { c.Console = true })
}

func TestConsoleOffByDefault(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	c := s.consoleClient(t)
	for _, p := range []string{"/admin", "/admin/", "/admin/login"} {
		require.Equal(t, http.StatusNotFound, c.get(p).status, p)
	}
	require.Equal(t, http.StatusNotFound, c.login(s.boot.AdminJID, s.boot.AdminPassword).status)
}

// TestConsoleLogin: the bootstrap admin (of the operator account) gets in
// with a hardened session cookie; a wrong password, an unknown JID, a
// non-operator's right password and a login form posted from elsewhere
// are refused without a session, and the refusals show on the dashboard
// (escaped, without the passwords).
func TestConsoleLogin(t *testing.T) {
	t.Parallel()
	s := startConsole(t)
	tenantJID, tenantPW := s.consoleTenant(t)
	for i, tc := range []struct {
		name, jid, password, origin string
		status                      int
	}{
		0: {"wrong password", s.boot.AdminJID, "not-" + s.boot.AdminPassword, "", http.StatusUnauthorized},
		1: {"unknown JID", "nobody@localhost", s.boot.AdminPassword, "", http.StatusUnauthorized},
		2: {"non-operator", tenantJID, tenantPW, "", http.StatusUnauthorized},
		3: {"markup as JID", "<script>alert(1)</script>@localhost", "x", "", http.StatusUnauthorized},
		4: {"foreign origin", s.boot.AdminJID, s.boot.AdminPassword, "https://evil.example", http.StatusForbidden},
		5: {"no origin", s.boot.AdminJID, s.boot.AdminPassword, "none", http.StatusForbidden},
	} {
		c := s.consoleClient(t)
		origin := c.base
		switch tc.origin {
		case "none":
			origin = ""
		case "":
		default:
			origin = tc.origin
		}
		rep := c.post("/admin/login", url.Values{"jid": {tc.jid}, "password": {tc.password}}, origin)
		require.Equal(t, tc.status, rep.status, "%d %s: %s", i, tc.name, rep.body)
		require.Empty(t, rep.header.Values("Set-Cookie"), "%d %s", i, tc.name)
		require.NotContains(t, rep.body, "csrf", "%d %s", i, tc.name)
		dash := c.get("/admin/")
		require.Equal(t, http.StatusSeeOther, dash.status, "%d %s", i, tc.name)
		require.Equal(t, "/admin/login", dash.location)
	}

	c := s.consoleClient(t)
	rep := c.login(s.boot.AdminJID, s.boot.AdminPassword)
	require.Equal(t, http.StatusSeeOther, rep.status, rep.body)
	require.Equal(t, "/admin/", rep.location)
	cookies := (&http.Response{Header: rep.header}).Cookies()
	require.Len(t, cookies, 1)
	ck := cookies[0]
	require.True(t, ck.HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, ck.SameSite)
	require.Equal(t, "/admin", ck.Path)
	require.False(t, ck.Secure, "plain HTTP on loopback: a Secure cookie would never come back")
	require.Len(t, ck.Value, 43, "32 random bytes, base64url")

	dash := c.get("/admin/")
	require.Equal(t, http.StatusOK, dash.status)
	require.Contains(t, dash.body, s.boot.AdminJID)
	require.Contains(t, dash.body, `<meta name="viewport"`)
	require.Equal(t, "DENY", dash.header.Get("X-Frame-Options"))
	require.Contains(t, dash.header.Get("Content-Security-Policy"), "frame-ancestors 'none'")
	// The refusals, newest first, by the names tried and why.
	for _, want := range []string{"nobody@localhost", tenantJID, "console from 127.0.0.1: operator_only", "bad_credentials",
		"&lt;script&gt;alert(1)&lt;/script&gt;@localhost"} {
		require.Contains(t, dash.body, want)
	}
	require.NotContains(t, dash.body, "<script>")
	require.NotContains(t, dash.body, tenantPW)
	require.NotContains(t, dash.body, "not-"+s.boot.AdminPassword)
	// A tenant's own reads never show the refused logins: they have no account.
	tenant, err := commands.AuthenticateAdmin(t0(), s.app.env, tenantJID, tenantPW)
	require.NoError(t, err)
	def, ok := s.app.reg.Lookup(commands.Console, "audit_log")
	require.True(t, ok)
	args, err := s.app.reg.Bind(t0(), s.app.env, tenant, def, commands.Input{})
	require.NoError(t, err)
	res, err := (&commands.Call{Def: def, Caller: tenant, Env: s.app.env, Reg: s.app.reg, Args: args}).Run(t0())
	require.NoError(t, err)
	require.NotEmpty(t, res.(commands.Table).Rows, "the tenant's own lines")
	for _, row := range res.(commands.Table).Rows {
		require.NotEqual(t, commands.AuditLoginFailed, row[3], row)
	}
}

// TestConsoleCSRF: forged posts (no token, a wrong one, another
// session's, a foreign Origin or Referer, neither header, no session) are
// refused and change nothing; the console's own form goes through.
func TestConsoleCSRF(t *testing.T) {
	t.Parallel()
	s := startConsole(t)
	s.dh(s.boot.Key, "jabber-add_user", "username", "bob", "domain", "localhost", "password", "bobpass").token(t)
	s.runWorker()
	c := s.consoleClient(t)
	require.Equal(t, http.StatusSeeOther, c.login(s.boot.AdminJID, s.boot.AdminPassword).status)
	token := c.csrf()
	other := s.consoleClient(t)
	require.Equal(t, http.StatusSeeOther, other.login(s.boot.AdminJID, s.boot.AdminPassword).status)
	otherToken := other.csrf()
	require.NotEqual(t, token, otherToken)
	anon := s.consoleClient(t)
	// The token with its first character changed (a fixed "A" was the token
	// itself one time in 64).
	wrong := "A" + token[1:]
	if token[0] == 'A' {
		wrong = "B" + token[1:]
	}

	form := func(csrf string) url.Values {
		v := url.Values{"domain": {"localhost"}, "username": {"bob"}}
		if csrf != "" {
			v.Set("csrf", csrf)
		}
		return v
	}
	for i, tc := range []struct {
		name   string
		client *consoleClient
		csrf   string
		origin string
	}{
		0: {"no token", c, "", c.base},
		1: {"wrong token", c, wrong, c.base},
		2: {"another session's token", c, otherToken, c.base},
		3: {"foreign origin", c, token, "https://evil.example"},
		4: {"foreign origin, same host name", c, token, "http://evil.example" + strings.TrimPrefix(c.base, "http://127.0.0.1")},
		5: {"foreign referer", c, token, "referer:https://evil.example/admin/users"},
		6: {"no origin nor referer", c, token, ""},
		7: {"null origin", c, token, "null"},
		8: {"no session", anon, token, c.base},
	} {
		rep := tc.client.post("/admin/users/deactivate", form(tc.csrf), tc.origin)
		require.Equal(t, http.StatusForbidden, rep.status, "%d %s: %s", i, tc.name, rep.body)
		require.Contains(t, s.users(), "bob@localhost active", "%d %s", i, tc.name)
		require.Empty(t, s.pendingChanges(), "%d %s", i, tc.name)
	}
	// Logging out needs the token too.
	require.Equal(t, http.StatusForbidden, c.post("/admin/logout", url.Values{}, c.base).status)

	// The console's own form, with only a same-origin Referer.
	rep := c.post("/admin/users/deactivate", form(token), "referer:"+c.base+"/admin/users?domain=localhost")
	require.Equal(t, http.StatusSeeOther, rep.status, rep.body)
	require.Equal(t, "/admin/users?domain=localhost", rep.location)
	require.Contains(t, s.users(), "bob@localhost inactive", "applied before the answer")

	// Logging out ends the session: its cookie and token are dead.
	require.Equal(t, http.StatusSeeOther, c.post("/admin/logout", url.Values{"csrf": {token}}, c.base).status)
	require.Equal(t, http.StatusSeeOther, c.get("/admin/").status)
	rep = c.post("/admin/users/reactivate", form(token), c.base)
	require.Equal(t, http.StatusForbidden, rep.status)
	require.Contains(t, s.users(), "bob@localhost inactive")
	// The other session lives on.
	require.Equal(t, http.StatusOK, other.get("/admin/").status)
}

// TestConsolePages drives every page and action as an operator would:
// find a user, deactivate it (its live XMPP session, an independent
// client, is closed and the batch shows on the dashboard), reset another's
// password (the client logs in with the new one only), and read domains,
// keys and the audit log.
func TestConsolePages(t *testing.T) {
	t.Parallel()
	s := startConsole(t)
	for _, u := range []string{"alice", "albert", "bob"} {
		s.dh(s.boot.Key, "jabber-add_user", "username", u, "domain", "localhost", "password", u+"-pw").token(t)
	}
	s.runWorker()
	c := s.consoleClient(t)
	require.Equal(t, http.StatusSeeOther, c.login(s.boot.AdminJID, s.boot.AdminPassword).status)
	token := c.csrf()

	found := c.get("/admin/users?domain=localhost&search=al")
	require.Equal(t, http.StatusOK, found.status)
	require.Contains(t, found.body, `id="user-alice"`)
	require.Contains(t, found.body, `id="user-albert"`)
	require.NotContains(t, found.body, `id="user-bob"`)

	live, err := s.xmppLogin("alice@localhost", "alice-pw", "SCRAM-SHA-256")
	require.NoError(t, err)
	dash := c.get("/admin/")
	require.Regexp(t, `id="sessions">1<`, dash.body)

	rep := c.post("/admin/users/deactivate", url.Values{"csrf": {token}, "domain": {"localhost"}, "username": {"alice"}, "search": {"al"}}, c.base)
	require.Equal(t, http.StatusSeeOther, rep.status, rep.body)
	require.Equal(t, "/admin/users?domain=localhost&search=al", rep.location)
	select {
	case <-live.Done():
	case <-time.After(30 * time.Second):
		t.Fatal("deactivating through the console did not close the XMPP session")
	}
	page := c.get(rep.location)
	flash := regexp.MustCompile(`deactivate_user alice@localhost: done \(batch ([A-Za-z0-9_-]+)\)`).FindStringSubmatch(page.body)
	require.NotNil(t, flash, page.body)
	require.Regexp(t, `(?s)id="user-alice">\s*<td>alice</td><td class="status">inactive<`, page.body)
	dash = c.get("/admin/")
	require.Regexp(t, `<td>`+regexp.QuoteMeta(flash[1])+`</td><td>\d+</td><td>success</td>`, dash.body)

	// A failing action says why and changes nothing.
	rep = c.post("/admin/users/deactivate", url.Values{"csrf": {token}, "domain": {"localhost"}, "username": {"nobody"}}, c.base)
	require.Equal(t, http.StatusSeeOther, rep.status)
	require.Contains(t, c.get(rep.location).body, "deactivate_user nobody@localhost failed: user nobody@localhost does not exist")

	rep = c.post("/admin/users/password", url.Values{"csrf": {token}, "domain": {"localhost"}, "username": {"bob"}, "password": {"new bob pw"}}, c.base)
	require.Equal(t, http.StatusSeeOther, rep.status, rep.body)
	_, err = s.xmppLogin("bob@localhost", "bob-pw", "SCRAM-SHA-256")
	require.Error(t, err, "the old password no longer works")
	bob, err := goxmpptest.TryLogin(t, s.c2s, "bob@localhost", "new bob pw", goxmpptest.Mechanism("SCRAM-SHA-1"))
	require.NoError(t, err)
	bob.Close()

	domains := c.get("/admin/domains")
	require.Equal(t, http.StatusOK, domains.status)
	require.Contains(t, domains.body, "<h2>localhost</h2>")
	require.Contains(t, domains.body, "moduleConfig")
	require.Contains(t, domains.body, "&#34;modMuc&#34;")

	keys := c.get("/admin/keys")
	require.Equal(t, http.StatusOK, keys.status)
	require.Contains(t, keys.body, `<code class="grant">*</code>`)
	require.Contains(t, keys.body, s.boot.Key[:4]+"…")
	require.NotContains(t, keys.body, s.boot.Key, "the console shows no whole key")

	audit := c.get("/admin/audit?command=ejabberd+admin")
	require.Equal(t, http.StatusOK, audit.status)
	require.Contains(t, audit.body, "grant * to "+s.boot.AdminJID)
	require.NotContains(t, audit.body, "<td>key add</td>")
	audit = c.get("/admin/audit?since=not-a-date")
	require.Contains(t, audit.body, "since &#34;not-a-date&#34; is not YYYY-MM-DD")
}

// TestConsoleLoginThrottled: after ten refused logins from one address,
// even the right password waits for the window to pass.
func TestConsoleLoginThrottled(t *testing.T) {
	t.Parallel()
	s := startConsole(t)
	c := s.consoleClient(t)
	for i := 0; i < 10; i++ {
		require.Equal(t, http.StatusUnauthorized, c.login(s.boot.AdminJID, "guess"+string(rune('a'+i))).status, i)
	}
	rep := c.login(s.boot.AdminJID, s.boot.AdminPassword)
	require.Equal(t, http.StatusTooManyRequests, rep.status)
	require.Contains(t, rep.body, "Too many failed logins")
	require.Empty(t, rep.header.Values("Set-Cookie"))
}

// TestConsoleOverTLS: on https_addr the session cookie is also Secure, and
// only an https Origin of the same host passes the origin check.
func TestConsoleOverTLS(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *Config) {
		c.Console = true
		c.HTTPSAddr = "127.0.0.1:0"
	})
	s.dh(s.boot.Key, "jabber-add_user", "username", "bob", "domain", "localhost", "password", "bobpass").token(t)
	s.runWorker()
	c := s.consoleClient(t)
	c.base = "https://" + s.https
	c.c.Transport = &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}} //nolint:gosec // the test's self-signed certificate
	rep := c.login(s.boot.AdminJID, s.boot.AdminPassword)
	require.Equal(t, http.StatusSeeOther, rep.status, rep.body)
	cookies := (&http.Response{Header: rep.header}).Cookies()
	require.Len(t, cookies, 1)
	require.True(t, cookies[0].Secure)
	require.True(t, cookies[0].HttpOnly)
	require.Equal(t, http.SameSiteStrictMode, cookies[0].SameSite)
	token := c.csrf()
	form := url.Values{"csrf": {token}, "domain": {"localhost"}, "username": {"bob"}}
	rep = c.post("/admin/users/deactivate", form, "http://"+s.https)
	require.Equal(t, http.StatusForbidden, rep.status, "a plain-HTTP page posting to the TLS console")
	require.Contains(t, s.users(), "bob@localhost active")
	rep = c.post("/admin/users/deactivate", form, "https://"+s.https)
	require.Equal(t, http.StatusSeeOther, rep.status, rep.body)
	require.Contains(t, s.users(), "bob@localhost inactive")
}
