package xmppcore_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
	"github.com/xmppgate/xmppgate/xmppcore"
	"github.com/xmppgate/xmppgate/xmppcore/upload"
)

const domain = "example.test"

type testBundle struct {
	ctx     context.Context
	st      *store.Store
	srv     *xmppcore.Server
	c2s     string
	c2stls  string
	dataDir string
	account int64
	domains map[string]store.Domain
	files   *upload.Service
}

// setup starts a server on loopback over a fresh SQLite file with the
// domains example.test (enabled) and disabled.test (switched off).
func setup(t testing.TB, opts ...func(*xmppcore.Config)) *testBundle {
	t.Helper()
	b := openBundle(t, "NORMAL")
	ctx, st := b.ctx, b.st
	require.NoError(t, st.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.InsertAccount(ctx, "acme", 0)
		if err != nil {
			return err
		}
		b.account = a.ID
		for _, fqdn := range []string{domain, "disabled.test"} {
			d, err := tx.InsertDomain(ctx, a.ID, fqdn)
			if err != nil {
				return err
			}
			b.domains[fqdn] = d
		}
		return tx.SetDomainEnabled(ctx, b.domains["disabled.test"].ID, false)
	}))
	// The HTTP side of uploads, wired as the program wires it.
	mux := http.NewServeMux()
	hs := httptest.NewServer(mux)
	t.Cleanup(hs.Close)
	files, err := upload.New(st, filepath.Join(b.dataDir, "upload"), hs.URL+"/upload", nil)
	require.NoError(t, err)
	mux.Handle("/upload/", files)
	b.files = files
	cfg := xmppcore.Config{C2SAddr: "127.0.0.1:0", C2STLSAddr: "127.0.0.1:0", DataDir: b.dataDir, Upload: files}
	for _, o := range opts {
		o(&cfg)
	}
	b.serve(t, cfg)
	return b
}

// openBundle opens a fresh SQLite file with the given synchronous setting,
// for setup and the fuzz server to fill before serve.
func openBundle(tb testing.TB, synchronous string) *testBundle {
	tb.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(tb.TempDir(), "x.db"), store.Options{Synchronous: synchronous})
	require.NoError(tb, err)
	return &testBundle{ctx: ctx, st: st, domains: map[string]store.Domain{}, dataDir: tb.TempDir()}
}

// serve starts the server over the bundle's store until tb ends, then
// closes both.
func (b *testBundle) serve(tb testing.TB, cfg xmppcore.Config) {
	tb.Helper()
	srv, err := xmppcore.New(cfg, b.st)
	require.NoError(tb, err)
	require.NoError(tb, srv.Start(b.ctx))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(tb, srv.Shutdown(ctx))
		b.st.Close()
	})
	b.srv = srv
	a1, a2 := srv.Addrs()
	b.c2s, b.c2stls = a1.String(), a2.String()
}

func (b *testBundle) user(t testing.TB, fqdn, name, password string, status store.Status) store.User {
	t.Helper()
	cred, err := credential.New(password)
	require.NoError(t, err)
	var u store.User
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		var err error
		u, err = tx.InsertUser(b.ctx, store.User{DomainID: b.domains[fqdn].ID, Username: name, Status: status})
		if err != nil {
			return err
		}
		return tx.SetUserCredentials(b.ctx, u.ID, cred, nil)
	}))
	return u
}

func (b *testBundle) setModules(t *testing.T, mods map[string]bool) {
	t.Helper()
	mc := map[string]any{}
	for k, v := range mods {
		mc[k] = map[string]bool{"enabled": v}
	}
	raw, err := json.Marshal(map[string]any{"moduleConfig": mc})
	require.NoError(t, err)
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		return tx.SetDomainSettings(b.ctx, b.domains[domain].ID, raw)
	}))
	b.srv.DomainSettingsChanged(domain)
}

// loginOpts are how xmppcore's tests vary a login.
type loginOpts struct {
	mech     string // "" lets the client pick
	resource string // "" lets the server assign one
	direct   bool   // over the direct TLS listener
	fqdn     string // the user's domain; "" is example.test
}

// login logs user in with the independent client (go-xmpp).
func (b *testBundle) login(t testing.TB, user, password string, o loginOpts) (*goxmpptest.Client, error) {
	if o.fqdn == "" {
		o.fqdn = domain
	}
	addr, opts := b.c2s, []goxmpptest.Option{goxmpptest.Mechanism(o.mech), goxmpptest.Resource(o.resource)}
	if o.direct {
		addr, opts = b.c2stls, append(opts, goxmpptest.DirectTLS())
	}
	return goxmpptest.TryLogin(t, addr, user+"@"+o.fqdn, password, opts...)
}

func (b *testBundle) mustLogin(t testing.TB, user, password string, o loginOpts) *goxmpptest.Client {
	t.Helper()
	c, err := b.login(t, user, password, o)
	require.NoError(t, err)
	return c
}

// raw opens a plain TCP connection, writes in and returns everything the
// server sent until it closed the connection.
func raw(t *testing.T, addr string, in ...string) string {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(5 * time.Second))
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for _, s := range in {
			if _, err := io.WriteString(nc, s); err != nil {
				return
			}
		}
	}()
	out, _ := io.ReadAll(nc)
	wg.Wait()
	return string(out)
}

const header = "<?xml version='1.0'?>\n<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='" +
	domain + "' version='1.0'>\n"

// befriend gives users a and c mutual presence subscriptions (both).
func (b *testBundle) befriend(t testing.TB, a, c store.User) {
	t.Helper()
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		if _, err := tx.PutRosterItem(b.ctx, a.ID, store.RosterItem{Contact: c.Username + "@" + domain, Subscription: store.SubBoth, Visible: true}); err != nil {
			return err
		}
		_, err := tx.PutRosterItem(b.ctx, c.ID, store.RosterItem{Contact: a.Username + "@" + domain, Subscription: store.SubBoth, Visible: true})
		return err
	}))
}
