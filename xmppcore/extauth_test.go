package xmppcore_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore"
	"github.com/xmppgate/xmppgate/xmppcore/extauth/extauthtest"
)

const extDomain = "ext.test"

// extSetup is setup plus the domain ext.test, a short external timeout and
// an observed log.
func extSetup(t *testing.T) (*testBundle, *observer.ObservedLogs) {
	t.Helper()
	core, logs := observer.New(zapcore.DebugLevel)
	b := setup(t, func(c *xmppcore.Config) {
		c.ExtAuthTimeout = time.Second
		c.Logger = zap.New(core)
	})
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		d, err := tx.InsertDomain(b.ctx, b.account, extDomain)
		b.domains[extDomain] = d
		return err
	}))
	return b, logs
}

func (b *testBundle) setSettings(t *testing.T, fqdn string, settings map[string]any) {
	t.Helper()
	raw, err := json.Marshal(settings)
	require.NoError(t, err)
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		return tx.SetDomainSettings(b.ctx, b.domains[fqdn].ID, raw)
	}))
	b.srv.DomainSettingsChanged(fqdn)
}

func requireNoSecretsLogged(t *testing.T, logs *observer.ObservedLogs, secrets ...string) {
	t.Helper()
	for _, e := range logs.All() {
		line := e.Message
		for _, f := range e.Context {
			line += " " + f.Key + "=" + f.String
		}
		for _, s := range secrets {
			require.NotContains(t, line, s)
		}
	}
}

func TestExtAuthREST(t *testing.T) {
	t.Parallel()
	b, logs := extSetup(t)
	rest := extauthtest.NewREST(t, extDomain)
	b.user(t, extDomain, "alice", "local-pw", store.StatusActive)
	b.user(t, extDomain, "carol", "local-pw", store.StatusInactive)
	b.user(t, domain, "dave", "dave-pw", store.StatusActive)
	b.setSettings(t, extDomain, map[string]any{"authenticationMethod": "restapi", "authRestUrl": rest.URL + "/auth",
		"authRestSecret": extauthtest.Secret, "authRestMethod": "POST", "authRestCacheTtl": 60})
	ext := loginOpts{fqdn: extDomain, mech: "PLAIN"}

	// Only PLAIN is offered on the external domain; the local one keeps SCRAM.
	out := tlsScript(t, b.c2stls, []step{{strings.Replace(header, domain, extDomain, 1), "</stream:features>"}})
	require.Contains(t, out, "<mechanism>PLAIN</mechanism>")
	require.NotContains(t, out, "SCRAM")
	out = tlsScript(t, b.c2stls, []step{{header, "</stream:features>"}})
	require.Contains(t, out, "<mechanism>SCRAM-SHA-256</mechanism>")
	_, err := b.login(t, "alice", "pw", loginOpts{fqdn: extDomain, mech: "SCRAM-SHA-256"})
	require.Error(t, err, "SCRAM is not offered")

	// Accepted by the endpoint; the stored password no longer works.
	c := b.mustLogin(t, "alice", "pw", ext)
	c.Logout(t)
	require.EqualValues(t, 1, rest.Calls())
	_, err = b.login(t, "alice", "local-pw", ext)
	require.ErrorContains(t, err, "not-authorized")

	// The user must exist and be active: the endpoint is not even asked.
	calls := rest.Calls()
	_, err = b.login(t, "bob", "pw", ext)
	require.ErrorContains(t, err, "not-authorized")
	_, err = b.login(t, "carol", "pw", ext)
	require.ErrorContains(t, err, "not-authorized")
	require.Equal(t, calls, rest.Calls())

	// A local domain is unaffected.
	c = b.mustLogin(t, "dave", "dave-pw", loginOpts{mech: "SCRAM-SHA-256"})
	c.Logout(t)

	// Slow remote: refused after the timeout, while other logins go on.
	rest.SetSlow(true)
	slowDone := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := b.login(t, "alice", "pw-not-cached", ext)
		slowDone <- err
	}()
	time.Sleep(100 * time.Millisecond)
	t0 := time.Now()
	c = b.mustLogin(t, "dave", "dave-pw", loginOpts{mech: "PLAIN"})
	require.Less(t, time.Since(t0), 900*time.Millisecond, "the listener is not blocked")
	c.Logout(t)
	// The cached success works while the remote does not answer.
	t0 = time.Now()
	c = b.mustLogin(t, "alice", "pw", ext)
	require.Less(t, time.Since(t0), 900*time.Millisecond, "cached")
	c.Logout(t)
	err = <-slowDone
	require.ErrorContains(t, err, "authentication service unavailable")
	require.Less(t, time.Since(start), 4*time.Second)
	rest.SetSlow(false)

	// Dead remote: refused at once, with a log line; the cache still serves
	// the known password within its TTL.
	dead := extauthtest.DeadAddr(t)
	b.setSettings(t, extDomain, map[string]any{"authenticationMethod": "restapi", "authRestUrl": "http://" + dead + "/auth",
		"authRestSecret": extauthtest.Secret, "authRestCacheTtl": 60})
	start = time.Now()
	_, err = b.login(t, "alice", "pw", ext)
	require.ErrorContains(t, err, "authentication service unavailable", "another URL: the cache does not apply")
	require.Less(t, time.Since(start), time.Second)
	unavailable := logs.FilterMessage("external authentication unavailable, login refused").All()
	require.NotEmpty(t, unavailable)
	require.Equal(t, "http://"+dead+"/auth", unavailable[len(unavailable)-1].ContextMap()["endpoint"])

	b.setSettings(t, extDomain, map[string]any{"authenticationMethod": "restapi", "authRestUrl": rest.URL + "/auth",
		"authRestSecret": extauthtest.Secret, "authRestCacheTtl": 60})
	rest.Close()
	c = b.mustLogin(t, "alice", "pw", ext)
	c.Logout(t)
	_, err = b.login(t, "alice", "wrong", ext)
	require.ErrorContains(t, err, "authentication service unavailable")

	// Back to default: the stored password and SCRAM again.
	b.setSettings(t, extDomain, map[string]any{"authenticationMethod": "default"})
	c = b.mustLogin(t, "alice", "local-pw", loginOpts{fqdn: extDomain, mech: "SCRAM-SHA-256"})
	c.Logout(t)

	requireNoSecretsLogged(t, logs, "pw-not-cached", extauthtest.Secret, "local-pw", "dave-pw")
}

func TestExtAuthPOP3(t *testing.T) {
	t.Parallel()
	b, logs := extSetup(t)
	p := extauthtest.NewPOP3(t, nil, map[string]string{"alice@mail.test": "pw"})
	host, portN := extauthtest.HostPort(t, p.Addr)
	b.user(t, extDomain, "alice", "local-pw", store.StatusActive)
	b.user(t, domain, "dave", "dave-pw", store.StatusActive)
	settings := map[string]any{"authenticationMethod": "pop3", "authPop3Host": host, "authPop3Port": portN,
		"authPop3UseSsl": false, "authPop3AppendDomain": "mail.test", "authPop3CacheTtl": 60}
	b.setSettings(t, extDomain, settings)
	ext := loginOpts{fqdn: extDomain, mech: "PLAIN"}

	out := tlsScript(t, b.c2stls, []step{{strings.Replace(header, domain, extDomain, 1), "</stream:features>"}})
	require.NotContains(t, out, "SCRAM")
	_, err := b.login(t, "alice", "pw", loginOpts{fqdn: extDomain, mech: "SCRAM-SHA-1"})
	require.Error(t, err)

	c := b.mustLogin(t, "alice", "pw", ext)
	c.Logout(t)
	require.Equal(t, []string{"alice@mail.test"}, p.Users())
	_, err = b.login(t, "alice", "local-pw", ext)
	require.ErrorContains(t, err, "not-authorized")
	_, err = b.login(t, "nobody", "pw", ext)
	require.ErrorContains(t, err, "not-authorized")

	// Silent server: refused after the timeout, the cached password still works.
	p.SetSilent(true)
	start := time.Now()
	_, err = b.login(t, "alice", "pw2", ext)
	require.ErrorContains(t, err, "authentication service unavailable")
	require.Less(t, time.Since(start), 3*time.Second)
	c = b.mustLogin(t, "alice", "pw", ext)
	c.Logout(t)

	// Dead server (another port: the cache does not apply).
	_, settings["authPop3Port"] = extauthtest.HostPort(t, extauthtest.DeadAddr(t))
	b.setSettings(t, extDomain, settings)
	start = time.Now()
	_, err = b.login(t, "alice", "pw", ext)
	require.ErrorContains(t, err, "authentication service unavailable")
	require.Less(t, time.Since(start), time.Second)
	require.NotEmpty(t, logs.FilterMessage("external authentication unavailable, login refused").
		FilterField(zap.String("method", "pop3")).All())

	// The local domain is unaffected.
	c = b.mustLogin(t, "dave", "dave-pw", loginOpts{mech: "SCRAM-SHA-256"})
	c.Logout(t)
	requireNoSecretsLogged(t, logs, "pw2", "local-pw", "dave-pw")
}
