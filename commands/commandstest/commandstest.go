// Package commandstest builds what every dialect's tests run on, so each
// test file says only what its dialect adds: a real SQLite store in a
// temporary folder, a fresh sealing key, the whole command registry, a
// queue worker, accounts with their domains and credentials, handlers on a
// loopback HTTP server and, where a test needs one, a live XMPP server
// (xmpp.go).
package commandstest

import (
	"context"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/sealbox"
)

// Options say how a fixture differs from the plain one (store synced
// NORMAL, no log, no live server, a worker, no data directory).
type Options struct {
	// Log is the handlers' logger; nil logs nothing.
	Log *zap.Logger
	// Live is what handlers reach as the running XMPP server; if it is
	// also a queue.Effects, the worker's effects go to it.
	Live commands.Live
	// XMPP starts a real XMPP server on loopback over the store and makes
	// it Live (see Fixture.XMPP); it overrides Live.
	XMPP bool
	// DataDir gives Env a temporary data directory.
	DataDir bool
	// NoWorker leaves Env.Worker nil, as main has it before the worker starts.
	NoWorker bool
	// Synchronous is SQLite's synchronous setting; "" is NORMAL. Fuzz
	// targets use OFF: they open a store per input.
	Synchronous string
}

// Fixture is one test's server parts.
type Fixture struct {
	T     testing.TB
	Ctx   context.Context
	Store *store.Store
	Env   *commands.Env
	Reg   *commands.Registry
	// Accs maps the names of the accounts Account created to their ids.
	Accs map[string]int64
	// XMPP is the live server and XMPPAddr its C2S address, with Options.XMPP.
	XMPP     *XMPPServer
	XMPPAddr string
}

// New builds a fixture; everything it opens is closed when t ends.
func New(t testing.TB, o Options) *Fixture {
	t.Helper()
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return open(t, o, filepath.Join(t.TempDir(), "x.db"), key)
}

// open builds a fixture on the store file path (new or a template's copy)
// sealing with key.
func open(t testing.TB, o Options, path string, key []byte) *Fixture {
	t.Helper()
	ctx := context.Background()
	sync := o.Synchronous
	if sync == "" {
		sync = "NORMAL"
	}
	st, err := store.Open(ctx, path, store.Options{Synchronous: sync})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	box, err := sealbox.New(key)
	require.NoError(t, err)
	f := &Fixture{T: t, Ctx: ctx, Store: st, Accs: map[string]int64{}}
	live := o.Live
	if o.XMPP {
		f.XMPP, f.XMPPAddr = StartXMPP(t, st)
		live = f.XMPP
	}
	f.Reg = commands.MustNew(commands.All()...)
	f.Env = &commands.Env{Store: st, Box: box, Log: o.Log, Live: live}
	if o.DataDir {
		f.Env.DataDir = t.TempDir()
	}
	if !o.NoWorker {
		var effects queue.Effects
		if e, ok := live.(queue.Effects); ok {
			effects = e
		}
		f.Env.Worker = queue.NewWorker(st, f.Reg.Appliers(f.Env), effects, queue.Options{})
	}
	return f
}

// Serve runs h on a loopback HTTP server for the test and returns its URL.
func (f *Fixture) Serve(h http.Handler) string {
	srv := httptest.NewServer(h)
	f.T.Cleanup(srv.Close)
	return srv.URL
}

// Account creates the account name (a sub-account of the account named
// parent, unless parent is "") owning domains, and records it in Accs.
func (f *Fixture) Account(name, parent string, operator bool, domains ...string) int64 {
	f.T.Helper()
	acc, err := commands.CreateAccount(f.Ctx, f.Env, name, f.Accs[parent], operator)
	require.NoError(f.T, err)
	f.Accs[name] = acc.ID
	for _, d := range domains {
		_, err := commands.CreateDomain(f.Ctx, f.Env, d, acc.ID)
		require.NoError(f.T, err)
	}
	return acc.ID
}

// Openfire gives account acc its Openfire secret, allowed addresses ("" is
// any) and enabled flag.
func (f *Fixture) Openfire(acc int64, secret, ipAllow string, enabled bool) {
	f.T.Helper()
	_, _, err := commands.SetOpenfire(f.Ctx, f.Env, commands.OpenfireSpec{Account: acc, Secret: secret, IPAllow: &ipAllow, Enabled: &enabled})
	require.NoError(f.T, err)
}

// RESTPassword gives account acc its REST API password.
func (f *Fixture) RESTPassword(acc int64, password string) {
	f.T.Helper()
	_, err := commands.SetRESTPassword(f.Ctx, f.Env, acc, password)
	require.NoError(f.T, err)
}

// Key creates a DreamHost API key and returns its text.
func (f *Fixture) Key(spec commands.KeySpec) string {
	f.T.Helper()
	text, _, err := commands.CreateKey(f.Ctx, f.Env, spec)
	require.NoError(f.T, err)
	return text
}

// Observe returns a logger keeping what it logs at level and above.
func Observe(level zapcore.Level) (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(level)
	return zap.New(core), logs
}
