package console

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// clock is a settable time for the session and throttle tables.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func TestSessionsExpire(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := &sessions{m: map[[32]byte]*session{}, idle: 30 * time.Minute, max: 2 * time.Hour, now: clk.now}
	id, ses := s.create("admin@localhost")
	got, ok := s.get(id)
	require.True(t, ok)
	require.Same(t, ses, got)
	flipped := "A" + id[1:] // its first character changed
	if id[0] == 'A' {
		flipped = "B" + id[1:]
	}
	for _, bad := range []string{"", "x", id + "A", id[:len(id)-1], flipped} {
		_, ok := s.get(bad)
		require.False(t, ok, bad)
	}
	// Used every 20 minutes, it lives until the absolute limit.
	for i := 0; i < 5; i++ {
		clk.add(20 * time.Minute)
		_, ok = s.get(id)
		require.True(t, ok, i)
	}
	clk.add(21 * time.Minute)
	_, ok = s.get(id)
	require.False(t, ok, "past the absolute limit")
	require.Empty(t, s.m)

	id, _ = s.create("admin@localhost")
	clk.add(31 * time.Minute)
	_, ok = s.get(id)
	require.False(t, ok, "idle too long")

	id, _ = s.create("admin@localhost")
	s.remove(id)
	_, ok = s.get(id)
	require.False(t, ok, "logged out")
}

func TestSessionsBounded(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := &sessions{m: map[[32]byte]*session{}, idle: time.Hour, max: time.Hour, now: clk.now}
	first, _ := s.create("a@b")
	for i := 0; i < maxSessions+10; i++ {
		clk.add(time.Millisecond)
		s.create("a@b")
	}
	require.LessOrEqual(t, len(s.m), maxSessions)
	_, ok := s.get(first)
	require.False(t, ok, "the oldest went first")
}

func TestValidCSRF(t *testing.T) {
	t.Parallel()
	ses := &session{csrf: newSecret()}
	require.True(t, validCSRF(ses, ses.csrf))
	for _, bad := range []string{"", ses.csrf[:len(ses.csrf)-1], ses.csrf + "x", newSecret()} {
		require.False(t, validCSRF(ses, bad), bad)
	}
	require.False(t, validCSRF(&session{}, ""), "a session without a token accepts none")
}

func TestThrottle(t *testing.T) {
	t.Parallel()
	clk := &clock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	th := &throttle{m: map[string]*failures{}, limit: 3, window: time.Minute, now: clk.now}
	for i := 0; i < 3; i++ {
		require.False(t, th.blocked("192.0.2.1"), i)
		th.fail("192.0.2.1")
	}
	require.True(t, th.blocked("192.0.2.1"))
	require.False(t, th.blocked("192.0.2.2"), "per address")
	clk.add(61 * time.Second)
	require.False(t, th.blocked("192.0.2.1"), "the window passed")
}

func TestSameOrigin(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		host, origin, referer string
		want                  bool
	}{
		0:  {"127.0.0.1:5280", "http://127.0.0.1:5280", "", true},
		1:  {"chat.example.com", "https://chat.example.com", "", true},
		2:  {"Chat.Example.com", "https://chat.example.com", "", true},
		3:  {"127.0.0.1:5280", "http://127.0.0.1:5281", "", false},
		4:  {"127.0.0.1:5280", "https://evil.example", "http://127.0.0.1:5280/admin/", false},
		5:  {"127.0.0.1:5280", "", "http://127.0.0.1:5280/admin/users", true},
		6:  {"127.0.0.1:5280", "null", "http://127.0.0.1:5280/admin/users", true},
		7:  {"127.0.0.1:5280", "null", "", false},
		8:  {"127.0.0.1:5280", "", "", false},
		9:  {"127.0.0.1:5280", "javascript://127.0.0.1:5280", "", false},
		10: {"127.0.0.1:5280", "", "http://127.0.0.1:5280.evil.example/", false},
		11: {"127.0.0.1:5280", "http://user@127.0.0.1:5280", "", true},
		12: {"tls:127.0.0.1:5443", "https://127.0.0.1:5443", "", true},
		13: {"tls:127.0.0.1:5443", "http://127.0.0.1:5443", "", false},
		14: {"tls:127.0.0.1:5443", "", "http://127.0.0.1:5443/admin/", false},
	} {
		scheme := "http://"
		if host, ok := strings.CutPrefix(tc.host, "tls:"); ok {
			scheme, tc.host = "https://", host
		}
		r := httptest.NewRequest(http.MethodPost, scheme+tc.host+"/admin/login", nil)
		if tc.origin != "" {
			r.Header.Set("Origin", tc.origin)
		}
		if tc.referer != "" {
			r.Header.Set("Referer", tc.referer)
		}
		require.Equal(t, tc.want, sameOrigin(r), i)
	}
}
