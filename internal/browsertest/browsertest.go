// Package browsertest runs web chat clients in a real browser for tests:
// headless Chromium (Debian's chromium package) driven through chromedp,
// and converse.js (npm, the version pinned in package.json) served from a
// page of the test's own. `make deps` installs both; nothing is fetched
// while a test runs. A test whose browser or converse.js is missing is
// skipped with a message that says how to install them.
package browsertest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// ChromiumPath finds the browser: $XMPPGATE_CHROMIUM, else chromium or
// chromium-browser on PATH.
func ChromiumPath() (string, error) {
	if p := os.Getenv("XMPPGATE_CHROMIUM"); p != "" {
		return p, nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium on PATH (make deps installs Debian's chromium)")
}

// ConverseDist is converse.js's dist directory, installed by make deps
// under this package's node_modules.
func ConverseDist() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("cannot locate the browsertest package")
	}
	dir := filepath.Join(filepath.Dir(file), "node_modules", "converse.js", "dist")
	if _, err := os.Stat(filepath.Join(dir, "converse.min.js")); err != nil {
		return "", fmt.Errorf("converse.js is not installed in %s (make deps installs it)", dir)
	}
	return dir, nil
}

// Browser starts a headless Chromium for t and returns the chromedp
// context of its first tab, cancelled when t ends. It skips t when
// Chromium is missing. Chromium's sandbox cannot run as root (CI runs
// tests as root), so it is turned off there.
func Browser(t testing.TB) context.Context {
	t.Helper()
	path, err := ChromiumPath()
	if err != nil {
		t.Skip("browser test skipped: " + err.Error())
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	// The first Run starts the browser, for the context's lifetime (so
	// without a timeout): fail here, with the cause, rather than in the
	// test's first step.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return ctx
}

// Converse serves a page that runs converse.js with settings (merged over
// a test-friendly base: English, no sounds or notifications, no
// connection discovery) and returns its URL. The page's plugin puts the
// running _converse on window.xg for the test to drive. It skips t when
// converse.js is not installed.
func Converse(t testing.TB, settings map[string]any) string {
	t.Helper()
	dist, err := ConverseDist()
	if err != nil {
		t.Skip("browser test skipped: " + err.Error())
	}
	base := map[string]any{
		"assets_path":                 "/converse/",
		"i18n":                        "en",
		"loglevel":                    "error",
		"view_mode":                   "fullscreen",
		"play_sounds":                 false,
		"show_desktop_notifications":  false,
		"discover_connection_methods": false,
		"allow_non_roster_messaging":  true,
		"whitelisted_plugins":         []string{"xg-test"},
	}
	for k, v := range settings {
		base[k] = v
	}
	js, err := json.Marshal(base)
	if err != nil {
		t.Fatal(err)
	}
	page := strings.Replace(pageHTML, "SETTINGS", string(js), 1)
	mux := http.NewServeMux()
	mux.Handle("/converse/", http.StripPrefix("/converse/", http.FileServer(http.Dir(dist))))
	mux.HandleFunc("/{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(page))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/"
}

const pageHTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>xmppgate browser test</title>
<link rel="stylesheet" href="/converse/converse.min.css">
<script src="/converse/converse.min.js"></script>
</head><body class="converse-fullscreen">
<script>
converse.plugins.add('xg-test', { initialize() { window.xg = this._converse; } });
converse.initialize(SETTINGS);
</script>
</body></html>
`

// WaitJS polls expr (a JavaScript expression) in the page until it is
// true, or fails t with what after timeout; the page's text is in the
// failure, which is most of what converse.js says about its state.
func WaitJS(t testing.TB, ctx context.Context, what, expr string, timeout time.Duration) {
	t.Helper()
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_, err := chromedp.Run(wctx, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(timeout)))
	if err != nil {
		text, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
		t.Fatalf("waiting for %s: %v\npage text:\n%s", what, err, text)
	}
}
