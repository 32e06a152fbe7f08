package xmppcore_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
	"github.com/xmppgate/xmppgate/xmppcore"
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
}

// setup starts a server on loopback over a fresh SQLite file with the
// domains example.test (enabled) and disabled.test (switched off).
func setup(t *testing.T, opts ...func(*xmppcore.Config)) *testBundle {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "x.db"), store.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	b := &testBundle{ctx: ctx, st: st, domains: map[string]store.Domain{}}
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
	b.dataDir = t.TempDir()
	cfg := xmppcore.Config{C2SAddr: "127.0.0.1:0", C2STLSAddr: "127.0.0.1:0", DataDir: b.dataDir}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := xmppcore.New(cfg, st)
	require.NoError(t, err)
	require.NoError(t, srv.Start(ctx))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		st.Close()
	})
	b.srv = srv
	a1, a2 := srv.Addrs()
	b.c2s, b.c2stls = a1.String(), a2.String()
	return b
}

func (b *testBundle) user(t *testing.T, fqdn, name, password string, status store.Status) store.User {
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

// client is a go-xmpp client whose stanzas a goroutine collects.
type client struct {
	*goxmpp.Client
	in  chan any
	end chan struct{}
	err error
}

type loginOpts struct {
	mech     string
	resource string
	direct   bool
	fqdn     string
}

func (b *testBundle) login(user, password string, o loginOpts) (*client, error) {
	if o.fqdn == "" {
		o.fqdn = domain
	}
	opts := goxmpp.Options{
		Host: b.c2s, User: user + "@" + o.fqdn, Password: password, Resource: o.resource,
		NoTLS: true, StartTLS: true,
		TLSConfig:   &tls.Config{InsecureSkipVerify: true, ServerName: o.fqdn},
		Mechanism:   o.mech,
		NoPLAIN:     o.mech != "" && o.mech != "PLAIN",
		DialTimeout: 5 * time.Second, Session: true,
	}
	if o.direct {
		opts.Host, opts.NoTLS, opts.StartTLS = b.c2stls, false, false
	}
	c, err := opts.NewClient()
	if err != nil {
		return nil, err
	}
	cl := &client{Client: c, in: make(chan any, 1000), end: make(chan struct{})}
	go func() {
		defer close(cl.end)
		for {
			st, err := c.Recv()
			if err != nil {
				cl.err = err
				return
			}
			select {
			case cl.in <- st:
			default: // a test that stopped reading must not block this goroutine
			}
		}
	}()
	return cl, nil
}

func (b *testBundle) mustLogin(t *testing.T, user, password string, o loginOpts) *client {
	t.Helper()
	c, err := b.login(user, password, o)
	require.NoError(t, err)
	return c
}

// expect waits for a stanza matching pred.
func (c *client) expect(t *testing.T, what string, pred func(any) bool) any {
	t.Helper()
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	for {
		select {
		case st := <-c.in:
			if pred(st) {
				return st
			}
		case <-c.end:
			for {
				select {
				case st := <-c.in:
					if pred(st) {
						return st
					}
				default:
					require.Failf(t, "stream ended", "waiting for %s: %v", what, c.err)
				}
			}
		case <-timer.C:
			require.Failf(t, "timeout", "waiting for %s", what)
		}
	}
}

// ended waits for the stream to end and returns the error that ended it.
func (c *client) ended(t *testing.T) error {
	t.Helper()
	select {
	case <-c.end:
		return c.err
	case <-time.After(5 * time.Second):
		require.FailNow(t, "stream did not end")
		return nil
	}
}

func presence(from, typ string) func(any) bool {
	return func(st any) bool {
		p, ok := st.(goxmpp.Presence)
		return ok && strings.HasPrefix(p.From, from) && p.Type == typ
	}
}

func chat(from, text string) func(any) bool {
	return func(st any) bool {
		m, ok := st.(goxmpp.Chat)
		return ok && strings.HasPrefix(m.Remote, from) && m.Text == text
	}
}

func iq(id, typ, contains string) func(any) bool {
	return func(st any) bool {
		q, ok := st.(goxmpp.IQ)
		return ok && (id == "" || q.ID == id) && q.Type == typ && strings.Contains(string(q.Query), contains)
	}
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
