package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/browsertest"
	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// TestIntegrationConsoleBrowser drives the operator's console in headless
// Chromium: a wrong password and a non-operator's admin are refused; the
// operator logs in, a page of another origin posting a forged form (the
// browser sends the session cookie: same site, other port) is refused;
// the operator finds a user, deactivates it, sees its batch succeed on the
// dashboard, and the user's XMPP session (go-xmpp) is closed.
func TestIntegrationConsoleBrowser(t *testing.T) {
	t.Parallel()
	s := startConsole(t)
	tenantJID, tenantPW := s.consoleTenant(t)
	for _, u := range []string{"alice", "bob"} {
		s.dh(s.boot.Key, "jabber-add_user", "username", u, "domain", "localhost", "password", u+"-pw").token(t)
	}
	s.runWorker()
	alice := goxmpptest.Login(t, s.c2s, "alice@localhost", "alice-pw", goxmpptest.Resource("phone"))

	browser := browsertest.Browser(t)
	base := strings.TrimSuffix(s.url, "/")
	run := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, browserWait)
		defer cancel()
		require.NoError(t, chromedp.Do(ctx, actions...), what)
	}
	login := func(jid, password string) {
		t.Helper()
		run("log in as "+jid,
			chromedp.Navigate(base+"/admin/login"),
			chromedp.WaitVisible(chromedp.CSS(`#jid`)),
			chromedp.SendKeys(chromedp.CSS(`#jid`), jid),
			chromedp.SendKeys(chromedp.CSS(`#password`), password),
			chromedp.Click(chromedp.CSS(`#login`)))
	}
	text := func(selector string) string {
		t.Helper()
		run("wait for "+selector, chromedp.WaitVisible(chromedp.CSS(selector)))
		ctx, cancel := context.WithTimeout(browser, browserWait)
		defer cancel()
		out, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(selector)))
		require.NoError(t, err, selector)
		return out
	}

	// A phone's screen: no page may need sideways scrolling (wide
	// tables scroll inside their own box).
	run("a phone's viewport", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	fits := func(page string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(browser, browserWait)
		defer cancel()
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth <= window.innerWidth`))
		require.NoError(t, err)
		require.True(t, ok, "the %s page is wider than a phone's screen", page)
	}

	login(s.boot.AdminJID, "not the password")
	require.Contains(t, text("#message"), "Login refused", "a wrong password")
	login(tenantJID, tenantPW)
	require.Contains(t, text("#message"), "Login refused", "a non-operator")
	require.NotContains(t, text("body"), "Dashboard")

	login(s.boot.AdminJID, s.boot.AdminPassword)
	require.Equal(t, "1", text("#sessions"), "alice's session")
	fits("dashboard")
	failures := text("#login_failures")
	require.Contains(t, failures, tenantJID)
	require.Contains(t, failures, s.boot.AdminJID)

	// A page elsewhere posts the console's form with a guessed token.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><form method="post" action="` + base + `/admin/users/deactivate">` +
			`<input type="hidden" name="csrf" value="guessed"><input type="hidden" name="domain" value="localhost">` +
			`<input type="hidden" name="username" value="alice"><button id="go">win a prize</button></form>`))
	}))
	defer evil.Close()
	run("the forged post", chromedp.Navigate(evil.URL), chromedp.Click(chromedp.CSS(`#go`)))
	require.Contains(t, text("#message"), "Refused", "the forged post")
	require.Contains(t, s.users(), "alice@localhost active")
	select {
	case <-alice.Done():
		t.Fatal("the forged post closed alice's session")
	default:
	}

	run("find alice",
		// From an empty result, so the rows waited for are the search's.
		chromedp.Navigate(base+"/admin/users?domain=localhost&search=nobody"),
		chromedp.WaitVisible(chromedp.CSS(`#search`)),
		chromedp.SetValue(chromedp.CSS(`#search`), "ali"),
		chromedp.Click(chromedp.CSS(`#find`)),
		chromedp.WaitVisible(chromedp.CSS(`#user-alice`)))
	require.NotContains(t, text("#users"), "bob")
	fits("users")
	run("deactivate alice", chromedp.Click(chromedp.CSS(`#user-alice button.deactivate`)))
	flash := text("#flash")
	m := regexp.MustCompile(`deactivate_user alice@localhost: done \(batch ([A-Za-z0-9_-]+)\)`).FindStringSubmatch(flash)
	require.NotNil(t, m, flash)
	require.Equal(t, "inactive", text("#user-alice .status"))

	select {
	case <-alice.Done():
	case <-time.After(browserWait):
		t.Fatal("alice's XMPP session was not closed")
	}

	run("the dashboard", chromedp.Navigate(base+"/admin/"), chromedp.WaitVisible(chromedp.CSS(`#list_batches`)))
	ctx, cancel := context.WithTimeout(browser, browserWait)
	defer cancel()
	batchRow, err := chromedp.Run(ctx, chromedp.Text(chromedp.Search(`//table[@id="list_batches"]//tr[td[1]="`+m[1]+`"]`)))
	require.NoError(t, err)
	require.Contains(t, batchRow, "success")
	require.Equal(t, "0", text("#sessions"))

	run("log out", chromedp.Click(chromedp.CSS(`#logout`)), chromedp.WaitVisible(chromedp.CSS(`#jid`)))
	run("the dashboard after logging out", chromedp.Navigate(base+"/admin/"), chromedp.WaitVisible(chromedp.CSS(`#jid`)))
}
