package extauth

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// restServer accepts alice/pw on example.test with secret s3cret.
func restServer(t *testing.T) (*httptest.Server, *sync.Map) {
	t.Helper()
	var seen sync.Map // method -> url.Values
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ParseForm() != nil {
			w.WriteHeader(400)
			return
		}
		seen.Store(r.Method, r.Form)
		if r.Form.Get("username") == "boom" {
			w.WriteHeader(500)
			return
		}
		if r.Form.Get("username") == "odd" {
			w.Write([]byte("maybe"))
			return
		}
		if r.Form.Get("secret") != "s3cret" {
			w.WriteHeader(403)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		ok := r.Form.Get("username") == "alice" && r.Form.Get("domain") == "example.test" && r.Form.Get("password") == "pw"
		if ok {
			w.Write([]byte("true\n"))
		} else {
			w.Write([]byte("false"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

func TestREST(t *testing.T) {
	t.Parallel()
	srv, seen := restServer(t)
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
		v, _ := seen.Load(tt.method)
		require.Equal(t, tt.pw, v.(url.Values).Get("password"), "row %d", i)
	}
	require.Equal(t, srv.URL+"/auth", cfg.Endpoint())
}

func TestRESTDownSlowRedirect(t *testing.T) {
	t.Parallel()
	a := &Authenticator{Timeout: 300 * time.Millisecond}
	ctx := context.Background()

	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := l.Addr().String()
	l.Close()
	start := time.Now()
	ok, _, err := a.Check(ctx, Config{Method: REST, RestURL: "http://" + dead + "/a", RestMethod: "GET", RestSecret: "s3cret"},
		"example.test", "alice", "hunter2")
	require.False(t, ok)
	require.ErrorIs(t, err, ErrUnavailable)
	require.Less(t, time.Since(start), 2*time.Second)
	require.NotContains(t, err.Error(), "hunter2")
	require.NotContains(t, err.Error(), "s3cret")

	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	t.Cleanup(func() { close(release) })
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
	srv, _ := restServer(t)
	a := &Authenticator{Timeout: 2 * time.Second}
	release := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
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
	close(release)
	<-done
}

func TestCache(t *testing.T) {
	t.Parallel()
	srv, _ := restServer(t)
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

// pop3Server is a tiny RFC 1939 responder: alice@mail.test / pw (or alice
// when append is off) logs in; silent connections never get a greeting.
type pop3Server struct {
	addr   string
	mu     sync.Mutex
	logins []string
	silent bool
}

func newPOP3(t *testing.T, tlsCfg *tls.Config) *pop3Server {
	t.Helper()
	var l net.Listener
	var err error
	if tlsCfg != nil {
		l, err = tls.Listen("tcp", "127.0.0.1:0", tlsCfg)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	require.NoError(t, err)
	p := &pop3Server{addr: l.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				p.serve(nc)
			}()
		}
	}()
	return p
}

func (p *pop3Server) serve(nc net.Conn) {
	nc.SetDeadline(time.Now().Add(3 * time.Second))
	p.mu.Lock()
	silent := p.silent
	p.mu.Unlock()
	if silent {
		buf := make([]byte, 1)
		nc.Read(buf)
		return
	}
	r := bufio.NewReader(nc)
	w := func(s string) { nc.Write([]byte(s + "\r\n")) }
	w("+OK POP3 ready")
	var user string
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd, arg, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		switch strings.ToUpper(cmd) {
		case "USER":
			user = arg
			p.mu.Lock()
			p.logins = append(p.logins, arg)
			p.mu.Unlock()
			w("+OK")
		case "PASS":
			if (user == "alice@mail.test" || user == "alice") && arg == "pw" {
				w("+OK maildrop locked")
			} else {
				w("-ERR invalid login")
			}
		case "QUIT":
			w("+OK bye")
			return
		default:
			w("-ERR unknown command")
		}
	}
}

func (p *pop3Server) lastLogin() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.logins) == 0 {
		return ""
	}
	return p.logins[len(p.logins)-1]
}

func hostPort(t *testing.T, addr string) (string, int) {
	h, p, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	var port int
	for _, c := range p {
		port = port*10 + int(c-'0')
	}
	return h, port
}

func TestPOP3(t *testing.T) {
	t.Parallel()
	p := newPOP3(t, nil)
	host, port := hostPort(t, p.addr)
	a := &Authenticator{Timeout: time.Second}
	ctx := context.Background()
	cfg := Config{Method: POP3, Pop3Host: host, Pop3Port: port}

	ok, _, err := a.Check(ctx, cfg, "example.test", "alice", "pw")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "alice", p.lastLogin())

	cfg.Pop3AppendDomain = "mail.test"
	ok, _, err = a.Check(ctx, cfg, "example.test", "alice", "pw")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, "alice@mail.test", p.lastLogin())

	ok, _, err = a.Check(ctx, cfg, "example.test", "alice", "bad")
	require.NoError(t, err)
	require.False(t, ok)

	ok, _, err = a.Check(ctx, cfg, "example.test", "alice", "pw\r\nDELE 1")
	require.NoError(t, err)
	require.False(t, ok, "a line break is never sent")
	require.Equal(t, "pop3://"+p.addr, cfg.Endpoint())
}

func TestPOP3S(t *testing.T) {
	t.Parallel()
	// httptest's certificate covers 127.0.0.1; borrow it and its root.
	hs := httptest.NewTLSServer(http.NotFoundHandler())
	t.Cleanup(hs.Close)
	p := newPOP3(t, &tls.Config{Certificates: hs.TLS.Certificates})
	host, port := hostPort(t, p.addr)
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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	host, port := hostPort(t, l.Addr().String())
	l.Close()
	ok, _, err := a.Check(context.Background(), Config{Method: POP3, Pop3Host: host, Pop3Port: port}, "d", "alice", "hunter2")
	require.False(t, ok)
	require.ErrorIs(t, err, ErrUnavailable)
	require.NotContains(t, err.Error(), "hunter2")

	p := newPOP3(t, nil)
	p.mu.Lock()
	p.silent = true
	p.mu.Unlock()
	host, port = hostPort(t, p.addr)
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
