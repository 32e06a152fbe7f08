package openfirerest_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/xmppgate/xmppgate/commands"
)

// goldenLive stands in for the XMPP server in the session and broadcast
// goldens, whose bodies show the sessions' dates byte for byte; the real
// server's sessions are tested end to end in the root package
// (openfire_sessions_e2e_test.go). It holds fixed sessions of two
// tenants and records what the handlers did to it. Methods the goldens
// must not reach panic (the nil embedded interface).
type goldenLive struct {
	commands.Live
	mu   sync.Mutex
	ss   []commands.Session
	done []string
}

func newGoldenLive() *goldenLive {
	at := func(s string) time.Time {
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			panic(err)
		}
		return t
	}
	return &goldenLive{ss: []commands.Session{
		{JID: "alice@a.example/desk", Domain: "a.example", Username: "alice", Resource: "desk", IP: "192.0.2.10", Port: 50123,
			Priority: 5, Connected: at("2026-01-02T03:04:05.250Z"), LastActive: at("2026-01-02T03:14:05.500Z"),
			Status: "On the train & away", Show: "away", TLS: true, Available: true},
		{JID: "alice@a.example/phone", Domain: "a.example", Username: "alice", Resource: "phone", IP: "2001:db8::7", Port: 40000,
			Connected: at("2026-01-02T04:00:00Z"), LastActive: at("2026-01-02T04:00:00Z"), TLS: true},
		{JID: "x7k2@a.example/guest", Domain: "a.example", Username: "x7k2", Resource: "guest", IP: "192.0.2.11", Port: 50200,
			Priority: -1, Connected: at("2026-01-02T05:00:00Z"), LastActive: at("2026-01-02T05:01:00Z"), Show: "dnd",
			TLS: true, Available: true, Anonymous: true},
		{JID: "bob@b.example/home", Domain: "b.example", Username: "bob", Resource: "home", IP: "198.51.100.4", Port: 50300,
			Connected: at("2026-01-02T06:00:00Z"), LastActive: at("2026-01-02T06:00:00Z"), Show: "chat", TLS: true, Available: true},
	}}
}

func (l *goldenLive) Sessions(domain, username string) []commands.Session {
	var out []commands.Session
	for _, s := range l.ss {
		if (domain == "" || s.Domain == domain) && (username == "" || s.Username == username) {
			out = append(out, s)
		}
	}
	return out
}

func (l *goldenLive) Kick(domain, username, resource, reason string) int {
	n := len(l.Sessions(domain, username))
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = append(l.done, fmt.Sprintf("kick %s@%s resource=%q reason=%q: %d", username, domain, resource, reason, n))
	return n
}

func (l *goldenLive) SendMessage(_ context.Context, from, to, typ, subject, body string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.done = append(l.done, fmt.Sprintf("message from=%s to=%s type=%q subject=%q body=%q", from, to, typ, subject, body))
	return nil
}

// String lists what was done, one a line ("none" for nothing).
func (l *goldenLive) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.done) == 0 {
		return "none\n"
	}
	return strings.Join(l.done, "\n") + "\n"
}
