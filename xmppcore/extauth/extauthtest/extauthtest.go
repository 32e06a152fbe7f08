// Package extauthtest runs fake external authentication services on
// loopback: the web service of spec §6 and a POP3 server (RFC 1939). The
// extauth unit tests and the xmppcore login tests both check logins
// against them, so both speak to the same fakes.
package extauthtest

import (
	"bufio"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The web service accepts user User with password Password of the
// service's domain, asked with secret Secret.
const (
	User     = "alice"
	Password = "pw"
	Secret   = "s3cret"
)

// REST is the web service. It answers a JSON boolean; a wrong secret gets
// 403, user "boom" 500 and user "odd" a body that is no boolean. While
// slow, it holds every request until released or given up by the caller.
type REST struct {
	*httptest.Server
	calls   atomic.Int32
	slow    atomic.Bool
	seen    sync.Map // method -> url.Values
	release chan struct{}
	once    sync.Once
}

// NewREST runs the web service for domain until t ends.
func NewREST(t testing.TB, domain string) *REST {
	t.Helper()
	e := &REST{release: make(chan struct{})}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.calls.Add(1)
		if e.slow.Load() {
			// Reading the body lets the server notice the client giving up.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-e.release:
			case <-r.Context().Done():
			}
			return
		}
		if r.ParseForm() != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		e.seen.Store(r.Method, r.Form)
		switch r.Form.Get("username") {
		case "boom":
			w.WriteHeader(http.StatusInternalServerError)
			return
		case "odd":
			_, _ = w.Write([]byte("maybe"))
			return
		}
		if r.Form.Get("secret") != Secret {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		// Both spellings a service may use: with and without a newline.
		if r.Form.Get("username") == User && r.Form.Get("domain") == domain && r.Form.Get("password") == Password {
			_, _ = w.Write([]byte("true\n"))
		} else {
			_, _ = w.Write([]byte("false"))
		}
	}))
	t.Cleanup(func() { e.Release(); e.Close() })
	return e
}

// Calls counts the requests so far.
func (e *REST) Calls() int32 { return e.calls.Load() }

// SetSlow makes the service hold requests (or answer again).
func (e *REST) SetSlow(slow bool) { e.slow.Store(slow) }

// Release lets every held request go, once.
func (e *REST) Release() { e.once.Do(func() { close(e.release) }) }

// Seen is the form of the last request with method.
func (e *REST) Seen(method string) url.Values {
	v, _ := e.seen.Load(method)
	form, _ := v.(url.Values)
	return form
}

// POP3 is the POP3 server: it records each USER and accepts the logins
// it was given. While silent it greets nobody and answers nothing.
type POP3 struct {
	Addr   string
	accept map[string]string // USER -> PASS
	silent atomic.Bool
	mu     sync.Mutex
	users  []string
}

// NewPOP3 serves POP3 (over TLS with tlsCfg, if not nil) on loopback until
// t ends, accepting the user/password pairs of accept.
func NewPOP3(t testing.TB, tlsCfg *tls.Config, accept map[string]string) *POP3 {
	t.Helper()
	var l net.Listener
	var err error
	if tlsCfg != nil {
		l, err = tls.Listen("tcp", "127.0.0.1:0", tlsCfg)
	} else {
		l, err = net.Listen("tcp", "127.0.0.1:0")
	}
	require.NoError(t, err)
	p := &POP3{Addr: l.Addr().String(), accept: accept}
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

func (p *POP3) serve(nc net.Conn) {
	_ = nc.SetDeadline(time.Now().Add(3 * time.Second))
	if p.silent.Load() {
		_, _ = nc.Read(make([]byte, 1))
		return
	}
	r := bufio.NewReader(nc)
	w := func(s string) { _, _ = nc.Write([]byte(s + "\r\n")) }
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
			p.users = append(p.users, arg)
			p.mu.Unlock()
			w("+OK")
		case "PASS":
			if pw, ok := p.accept[user]; ok && arg == pw {
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

// SetSilent makes the server mute (or speak again).
func (p *POP3) SetSilent(silent bool) { p.silent.Store(silent) }

// Users are the USER arguments so far, oldest first.
func (p *POP3) Users() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.users...)
}

// LastUser is the latest USER argument, or "".
func (p *POP3) LastUser() string {
	us := p.Users()
	if len(us) == 0 {
		return ""
	}
	return us[len(us)-1]
}

// HostPort splits a loopback address as the POP3 settings take it.
func HostPort(t testing.TB, addr string) (string, int) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	n, err := strconv.Atoi(port)
	require.NoError(t, err)
	return host, n
}

// DeadAddr is a loopback address nothing listens on.
func DeadAddr(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}
