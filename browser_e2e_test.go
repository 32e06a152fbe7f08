package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/browsertest"
	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// browserWait is how long a step in the browser may take on a loaded
// machine; converse.js answers in well under a second on a quiet one.
const browserWait = 45 * time.Second

// converseChat logs alice in with converse.js in Chromium over the
// connection settings conn (websocket_url or bosh_service_url), sends bob
// a message that bob, on TCP with go-xmpp, receives and answers, and reads
// the answer from converse.js's chat box. It returns the browser, for
// more tabs.
func converseChat(t *testing.T, s *testServer, conn map[string]any) context.Context {
	t.Helper()
	dom := s.boot.Domain
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=alice&password=wonder%20land"))
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=bob&password=pw2"))
	bob := goxmpptest.Login(t, s.c2s, "bob@"+dom, "pw2", goxmpptest.Resource("tcp"))

	ctx := browsertest.Browser(t)
	settings := map[string]any{"auto_login": true, "jid": "alice@" + dom, "password": "wonder land"}
	for k, v := range conn {
		settings[k] = v
	}
	page := browsertest.Converse(t, settings)
	rctx, cancel := context.WithTimeout(ctx, browserWait)
	defer cancel()
	require.NoError(t, chromedp.Do(rctx, chromedp.Navigate(page)))
	browsertest.WaitJS(t, ctx, "converse.js to log in", `!!(window.xg && xg.api.connection.connected())`, browserWait)

	_, err := chromedp.Run(rctx, chromedp.Evaluate[bool](`xg.api.chats.open('bob@`+dom+`', {}, true).then(() => true)`,
		chromedp.EvalAwaitPromise))
	require.NoError(t, err)
	browsertest.WaitJS(t, ctx, "the chat box", `!!document.querySelector('textarea.chat-textarea')`, browserWait)
	require.NoError(t, chromedp.Do(rctx,
		chromedp.SendKeys(chromedp.CSS(`textarea.chat-textarea`), "hello bob, from the browser"),
		chromedp.SendKeys(chromedp.CSS(`textarea.chat-textarea`), kb.Enter)))

	got := bob.Expect(t, "alice's message from converse.js", goxmpptest.Chat("alice@"+dom+"/", "hello bob, from the browser"))
	_, err = bob.Send(goxmpp.Chat{Remote: got.(goxmpp.Chat).Remote, Type: "chat", Text: "hi alice, from TCP"})
	require.NoError(t, err)
	browsertest.WaitJS(t, ctx, "bob's reply in the chat box",
		`[...document.querySelectorAll('.chat-msg__text')].some(e => e.textContent.includes('hi alice, from TCP'))`, browserWait)
	return ctx
}

// converseWrongPassword opens converse.js in a new tab of browser with a
// wrong password and waits for its login error.
func converseWrongPassword(t *testing.T, s *testServer, browser context.Context, conn map[string]any) {
	t.Helper()
	settings := map[string]any{"auto_login": true, "jid": "alice@" + s.boot.Domain, "password": "not it"}
	for k, v := range conn {
		settings[k] = v
	}
	page := browsertest.Converse(t, settings)
	tab, cancel := chromedp.NewContext(browser)
	defer cancel()
	rctx, rcancel := context.WithTimeout(tab, browserWait)
	defer rcancel()
	require.NoError(t, chromedp.Do(rctx, chromedp.Navigate(page)))
	browsertest.WaitJS(t, tab, "converse.js's login error",
		`document.body.innerText.includes('Your XMPP address and/or password is incorrect')`, browserWait)
}

// TestIntegrationConverseWebSocket: converse.js in headless Chromium logs
// in over WebSocket, chats with a TCP client, and shows a wrong password's
// error; the session is listed as a websocket one.
func TestIntegrationConverseWebSocket(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	ws := map[string]any{"websocket_url": s.wsURL("/ws")}
	browser := converseChat(t, s, ws)
	var kinds []string
	for _, ss := range s.app.env.Live.Sessions(s.boot.Domain, "alice") {
		kinds = append(kinds, ss.Transport)
	}
	require.Equal(t, "websocket", strings.Join(kinds, ","))
	converseWrongPassword(t, s, browser, ws)
}
