package extauth

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/xmppcore/extauth/extauthtest"
)

func TestREST(t *testing.T) {
	t.Parallel()
	srv := extauthtest.NewREST(t, "example.test")
	a := &Authenticator{Timeout: time.Second}
	ctx := context.Background()
	cfg := Config{Method: REST, RestURL: srv.URL + "/auth?x=1", RestSecret: "s3cret", RestMethod: "POST"}
	tests := []struct {
		method, user, pw, secret string
		ok, unavailable          bool
	}{
		0: {"POST", "alice", "pw", "s3cret", true, false},
		1: {"POST", "alice", "nope", "s3cret", false, false},
		2: {"GET", "alice", "pw", "s3cret", true, false},
		3: {"GET", "alice", "pw", "wrong", false, false}, // 403: a refusal
		4: {"POST", "boom", "pw", "s3cret", false, true}, // 500: no verdict
		5: {"POST", "odd", "pw", "s3cret", false, true},  // unexpected body
	}
	for i, tt := range tests {
		c := cfg
		c.RestMethod, c.RestSecret = tt.method, tt.secret
		ok, hit, err := a.Check(ctx, c, "example.test", tt.user, tt.pw)
		require.Equal(t, tt.ok, ok, "row %d", i)
		require.False(t, hit, "row %d", i)
		require.Equal(t, tt.unavailable, err != nil, "row %d: %v", i, err)
		if err != nil {
			require.ErrorIs(t, err, ErrUnavailable)
		}
		require.Equal(t, tt.pw, srv.Seen(tt.method).Get("password"), "row %d", i)
	}
	require.Equal(t, srv.URL+"/auth", cfg.Endpoint())
}

func TestRESTDownSlowRedirect(t *testing.T) {
	t.Parallel()
	a := &Authenticator{Timeout: 300 * time.Millisecond}
	ctx := context.Background()

	dead := extauthtest.DeadAddr(t)
	start := time.Now()
	ok, _, err := a.Check(ctx, Config{Method: REST, RestURL: "http://" + dead + "/a", RestMethod: "GET", RestSecret: "s3cret"},
		"example.test", "alice", "hunter2")
	require.False(t, ok)
	require.ErrorIs(t, err, ErrUnavailable)
	require.Less(t, time.Since(start), 2*time.Second)
	require.NotContains(t, err.Error(), "hunter2")
	require.NotContains(t, err.Error(), "s3cret")

	slow := extauthtest.NewREST(t, "example.test")
	slow.SetSlow(true)
	start = time.Now()
	ok, _, err = a.Check(ctx, Config{Method: REST, RestURL: slow.URL, RestMethod: "GET"}, "example.test", "alice", "hunter2")
	require.False(t, ok)
	require.ErrorIs(t, err, ErrUnavailable)
	require.Less(t, time.Since(start), 2*time.Second)
	require.NotContains(t, err.Error(), "hunter2")

	redir := httptest.NewServer(http.RedirectHandler("http://127.0.0.1:1/steal", http.StatusFound))
	t.Cleanup(redir.Close)
	ok, _, err = a.Check(ctx, Config{Method: REST, RestURL: redir.URL}, "example.test", "alice", "pw")
	require.False(t, ok)
	require.NoError(t, err) // a 302 is a refusal, not followed
}

func TestSlowRemoteDoesNotBlockOthers(t *testing.T) {
	t.Parallel()
	srv := extauthtest.NewREST(t, "example.test")
	a := &Authenticator{Timeout: 2 * time.Second}
	slow := extauthtest.NewREST(t, "example.test")
	slow.SetSlow(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Check(context.Background(), Config{Method: REST, RestURL: slow.URL}, "example.test", "alice", "pw")
	}()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	ok, _, err := a.Check(context.Background(), Config{Method: REST, RestURL: srv.URL, RestSecret: "s3cret"}, "example.test", "alice", "pw")
	require.NoError(t, err)
	require.True(t, ok)
	require.Less(t, time.Since(start), time.Second)
	slow.Release()
	<-done
}

func TestCache(t *testing.T) {
	t.Parallel()
	srv := extauthtest.NewREST(t, "example.test")
	a := &Authenticator{Timeout: 500 * time.Millisecond}
	ctx := context.Background()
	cfg := Config{Method: REST, RestURL: srv.URL, RestSecret: "s3cret", RestCacheTTL: 300 * time.Millisecond}
	ok, hit, err := a.Check(ctx, cfg, "example.test", "alice", "pw")
	require.True(t, ok && !hit)
	require.NoError(t, err)
	srv.Close() // the remote goes down

	ok, hit, err = a.Check(ctx, cfg, "example.test", "alice", "pw")
	require.True(t, ok && hit, "cached within the TTL")
	require.NoError(t, err)
	_, _, err = a.Check(ctx, cfg, "example.test", "alice", "other")
	require.ErrorIs(t, err, ErrUnavailable, "another password is not the cached one")
	c2 := cfg
	c2.RestSecret = "changed"
	_, _, err = a.Check(ctx, c2, "example.test", "alice", "pw")
	require.ErrorIs(t, err, ErrUnavailable, "changed settings do not reuse the cache")
	c0 := cfg
	c0.RestCacheTTL = 0
	_, _, err = a.Check(ctx, c0, "example.test", "alice", "pw")
	require.ErrorIs(t, err, ErrUnavailable, "TTL 0 disables the cache")

	time.Sleep(350 * time.Millisecond)
	_, _, err = a.Check(ctx, cfg, "example.test", "alice", "pw")
	require.ErrorIs(t, err, ErrUnavailable, "expired")
}

// pop3Logins are what the POP3 fake accepts: alice with the domain
// appended, or alone when appending is off.
var pop3Logins = map[string]string{"alice@mail.test": "pw", "alice": "pw"}

func TestPOP3(t *testing.T) {
	t.Parallel()
	p := extauthtest.NewPOP3(t, nil, pop3Logins)
	host, port := extauthtest.HostPort(t, p.Addr)
	a := &Authenticator{Timeout: time.Second}
	ctx := context.Background()
	cfg := Config{Method: POP3, Pop3Host: host, Pop3Port: port}

	ok, _, err := a.Check(ctx, cfg, "example.test", "alice", "pw")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "alice", p.LastUser())

	cfg.Pop3AppendDomain = "mail.test"
	ok, _, err = a.Check(ctx, cfg, "example.test", "alice", "pw")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "alice@mail.test", p.LastUser())

	ok, _, err = a.Check(ctx, cfg, "example.test", "alice", "bad")
	require.NoError(t, err)
	require.False(t, ok)

	ok, _, err = a.Check(ctx, cfg, "example.test", "alice", "pw\r\nDELE 1")
	require.NoError(t, err)
	require.False(t, ok, "a line break is never sent")
	require.Equal(t, "pop3://"+p.Addr, cfg.Endpoint())
}

func TestPOP3S(t *testing.T) {
	t.Parallel()
	// httptest's certificate covers 127.0.0.1; borrow it and its root.
	hs := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(hs.Close)
	p := extauthtest.NewPOP3(t, &tls.Config{Certificates: hs.TLS.Certificates}, pop3Logins)
	host, port := extauthtest.HostPort(t, p.Addr)
	roots := hs.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	a := &Authenticator{Timeout: time.Second, TLSConfig: &tls.Config{RootCAs: roots}}
	cfg := Config{Method: POP3, Pop3Host: host, Pop3Port: port, Pop3SSL: true}
	ok, _, err := a.Check(context.Background(), cfg, "example.test", "alice", "pw")
	require.NoError(t, err)
	require.True(t, ok)

	// Without the root the certificate is refused: no verdict.
	ok, _, err = (&Authenticator{Timeout: time.Second}).Check(context.Background(), cfg, "example.test", "alice", "pw")
	require.False(t, ok)
	require.ErrorIs(t, err, ErrUnavailable)
}

func TestPOP3DownAndSilent(t *testing.T) {
	t.Parallel()
	a := &Authenticator{Timeout: 300 * time.Millisecond}
	host, port := extauthtest.HostPort(t, extauthtest.DeadAddr(t))
	ok, _, err := a.Check(context.Background(), Config{Method: POP3, Pop3Host: host, Pop3Port: port}, "d", "alice", "hunter2")
	require.False(t, ok)
	require.ErrorIs(t, err, ErrUnavailable)
	require.NotContains(t, err.Error(), "hunter2")

	p := extauthtest.NewPOP3(t, nil, pop3Logins)
	p.SetSilent(true)
	host, port = extauthtest.HostPort(t, p.Addr)
	start := time.Now()
	ok, _, err = a.Check(context.Background(), Config{Method: POP3, Pop3Host: host, Pop3Port: port}, "d", "alice", "hunter2")
	require.False(t, ok)
	require.ErrorIs(t, err, ErrUnavailable)
	require.Less(t, time.Since(start), 2*time.Second)
	require.Contains(t, err.Error(), "no answer within")
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	require.False(t, Config{Method: Default}.External())
	require.Equal(t, "pop3s://h:995", Config{Method: POP3, Pop3Host: "h", Pop3SSL: true}.Endpoint())
	require.Equal(t, "pop3://h:110", Config{Method: POP3, Pop3Host: "h"}.Endpoint())
	require.Equal(t, "https://h/p", Config{Method: REST, RestURL: "https://u:pw@h/p?secret=x#f"}.Endpoint())
	_, _, err := (&Authenticator{}).Check(context.Background(), Config{}, "d", "u", "p")
	require.Error(t, err)
}
