package main

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/goldentest"
)

// testServer is a real xmppgate serve on a loopback port with its own data
// directory. The worker's schedule is an hour, so tests run it explicitly.
type testServer struct {
	t    testing.TB
	url  string
	app  *app
	data string
	// c2s and c2stls are the XMPP listeners (STARTTLS, direct TLS).
	c2s, c2stls string
	// ofURL is the second (Openfire-only) listener's base URL, if configured.
	ofURL string
	// https is the TLS HTTP listener's address, if https_addr is set.
	https string
	// metricsURL is the metrics_addr listener's base URL, if configured.
	metricsURL string
	// acmeHTTP is the ACME HTTP-01 listener's address, if acme is on.
	acmeHTTP string
	boot     Bootstrap
	// batch0 is the last batch the bootstrap made; tests number theirs after it.
	batch0 int64
}

func startServer(t *testing.T, mod func(*Config)) *testServer { return startServerTB(t, mod) }

func startServerTB(t testing.TB, mod func(*Config)) *testServer {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Data = filepath.Join(t.TempDir(), "data")
	cfg.HTTPAddr = "127.0.0.1:0"
	cfg.C2SAddr = "127.0.0.1:0"
	cfg.C2STLSAddr = "127.0.0.1:0"
	cfg.S2SAddr, cfg.S2STLSAddr = "", "" // federation tests turn it on, on a port of their own
	cfg.WorkerSchedule = "@every 1h"
	cfg.LogLevel = "error"
	cfg.Synchronous = "NORMAL"
	if os.Getenv("XMPPGATE_TEST_STORE") == "postgres" {
		cfg.Store = postgres(t) // the whole e2e suite on PostgreSQL, on request
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan served, 1)
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, io.Discard, func(s served) { ready <- s }) }()
	var s served
	select {
	case s = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("serve did not start")
	}
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	// The start-up recovery run would otherwise claim a test's first batch
	// whenever it is late (a loaded machine), before the test runs the worker.
	select {
	case <-s.Recovered:
	case <-time.After(30 * time.Second):
		t.Fatal("the start-up recovery did not finish")
	}
	ts := &testServer{t: t, url: "http://" + s.HTTP.String() + "/", app: s.App, data: cfg.Data, c2s: s.C2S.String(), c2stls: s.C2STLS.String()}
	if s.OpenfireHTTP != nil {
		ts.ofURL = "http://" + s.OpenfireHTTP.String()
	}
	if s.HTTPS != nil {
		ts.https = s.HTTPS.String()
	}
	if s.Metrics != nil {
		ts.metricsURL = "http://" + s.Metrics.String()
	}
	if s.ACMEHTTP != nil {
		ts.acmeHTTP = s.ACMEHTTP.String()
	}
	ts.boot = readBootstrapTB(t, cfg.Data)
	for id := int64(1); ; id++ {
		if _, err := s.App.env.Store.Batch(context.Background(), id); err != nil {
			break
		}
		ts.batch0 = id
	}
	return ts
}

// call sends GET /?params and returns status and body.
func (s *testServer) call(params url.Values) (int, string) {
	s.t.Helper()
	return s.do(http.MethodGet, "/?"+params.Encode(), "", nil)
}

// userService calls the Openfire User Service with the bootstrap
// account's secret and query q, and returns the answer's body.
func (s *testServer) userService(q string) string {
	s.t.Helper()
	_, body := s.do(http.MethodGet, "/plugins/userService/userservice?secret="+s.boot.OpenfireSecret+"&"+q, "", nil)
	return body
}

// do sends method path with body to the server, auth setting the
// credentials (nil: none), and returns status and body.
func (s *testServer) do(method, path, body string, auth func(*http.Request)) (int, string) {
	s.t.Helper()
	return request(s.t, method, strings.TrimSuffix(s.url, "/")+path, body, auth)
}

// request sends method url with body, auth setting the credentials (nil:
// none), and returns status and body.
func request(t testing.TB, method, url, body string, auth func(*http.Request)) (int, string) {
	t.Helper()
	r, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if auth != nil {
		auth(r)
	}
	status, _, out := goldentest.Do(t, r)
	return status, out
}

// runWorker applies every waiting batch now.
func (s *testServer) runWorker() {
	s.t.Helper()
	_, err := s.app.env.Worker.RunOnce(context.Background())
	require.NoError(s.t, err)
}

// fixture is a set of tenants used by the golden and isolation tests.
type fixture struct {
	keys map[string]string // placeholder name -> key text
}

// addFixture creates: account acme (domain a.example, sub-account acme-sub
// with sub.a.example) with keys keyA (*), keyJabber (jabber-*), keyDNS
// (dns-*), keyIP (*, only from 192.0.2.0/24); account other (b.example, user
// bob active) with keyB (*).
func (s *testServer) addFixture() fixture {
	s.t.Helper()
	ctx := context.Background()
	env := s.app.env
	f := fixture{keys: map[string]string{}}
	acme, err := commands.CreateAccount(ctx, env, "acme", 0, false)
	require.NoError(s.t, err)
	sub, err := commands.CreateAccount(ctx, env, "acme-sub", acme.ID, false)
	require.NoError(s.t, err)
	other, err := commands.CreateAccount(ctx, env, "other", 0, false)
	require.NoError(s.t, err)
	for _, d := range []struct {
		fqdn string
		acc  int64
	}{{"a.example", acme.ID}, {"sub.a.example", sub.ID}, {"b.example", other.ID}} {
		_, err := commands.CreateDomain(ctx, env, d.fqdn, d.acc)
		require.NoError(s.t, err)
	}
	for _, k := range []struct {
		name string
		acc  int64
		cmds []string
		ip   string
	}{
		{"keyA", acme.ID, []string{"*"}, ""},
		{"keyJabber", acme.ID, []string{"jabber-*"}, ""},
		{"keyDNS", acme.ID, []string{"dns-*"}, ""},
		{"keyIP", acme.ID, []string{"*"}, "192.0.2.0/24"},
		{"keyB", other.ID, []string{"*"}, ""},
	} {
		text, _, err := commands.CreateKey(ctx, env, commands.KeySpec{Account: k.acc, Cmds: k.cmds, IPAllow: k.ip, Comment: k.name})
		require.NoError(s.t, err)
		f.keys[k.name] = text
	}
	status, body := s.call(url.Values{"key": {f.keys["keyB"]}, "cmd": {"jabber-add_user"}, "username": {"bob"}, "domain": {"b.example"}, "password": {"bobpass"}})
	require.Equal(s.t, 200, status)
	require.True(s.t, strings.HasPrefix(body, "success\n"), body)
	s.runWorker()
	return f
}

// users returns "user@domain status" for every user but the bootstrap
// ejabberd admin, sorted.
func (s *testServer) users() []string {
	s.t.Helper()
	us, err := s.app.env.Store.Users(context.Background(), nil)
	require.NoError(s.t, err)
	var out []string
	for _, u := range us {
		if u.AccountID == s.boot.Account && u.Username == "admin" {
			continue
		}
		out = append(out, u.Username+"@"+u.Domain+" "+string(u.Status))
	}
	return out
}

// pendingChanges lists "command user@domain" for changes of waiting batches.
func (s *testServer) pendingChanges() []string {
	s.t.Helper()
	ctx := context.Background()
	st := s.app.env.Store
	cs, err := st.WaitingChanges(ctx)
	require.NoError(s.t, err)
	var out []string
	for _, c := range cs {
		who := "?"
		if u, err := st.UserByID(ctx, c.UserID); err == nil {
			who = u.Username + "@" + u.Domain
		}
		out = append(out, c.Command+" "+who)
	}
	return out
}

func t0() context.Context { return context.Background() }
