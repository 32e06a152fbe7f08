package rest_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/commandstest"
	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/xmppcore"
)

// liveServer adapts a running xmppcore.Server to commands.Live, as serve.go
// does; the server is set once it runs.
type liveServer struct {
	srv     atomic.Pointer[xmppcore.Server]
	changed atomic.Int64 // DomainSettingsChanged calls
}

func (l *liveServer) Sessions(domain, username string) []commands.Session { return nil }
func (l *liveServer) Kick(domain, username, resource, reason string) int {
	if s := l.srv.Load(); s != nil {
		return s.Kick(domain, username, resource, reason)
	}
	return 0
}
func (l *liveServer) SendStanza(ctx context.Context, raw []byte) error { return nil }
func (l *liveServer) SendMessage(ctx context.Context, from, to, typ, subject, body string) error {
	return nil
}
func (l *liveServer) OnlineCount(domain string) int { return 0 }
func (l *liveServer) DomainSettingsChanged(fqdn string) {
	l.changed.Add(1)
	if s := l.srv.Load(); s != nil {
		s.DomainSettingsChanged(fqdn)
	}
}

// The admin API's stanza actions (unused by the REST API) go to the server.
func (l *liveServer) RouteStanza(ctx context.Context, from, to string, raw []byte) error {
	return l.srv.Load().RouteStanza(ctx, from, to, raw)
}
func (l *liveServer) SendToSession(domain, username, resource string, raw []byte) (bool, error) {
	return l.srv.Load().SendToSession(domain, username, resource, raw)
}
func (l *liveServer) SetPresence(domain, username, resource, typ, show, status string, priority int) (bool, error) {
	return l.srv.Load().SetPresence(domain, username, resource, typ, show, status, priority)
}

// The worker's effects (closing sessions) go to the same server.
func (l *liveServer) UserGone(domain, username string) {
	if s := l.srv.Load(); s != nil {
		s.UserGone(domain, username)
	}
}
func (l *liveServer) PasswordChanged(domain, username string) {
	if s := l.srv.Load(); s != nil {
		s.PasswordChanged(domain, username)
	}
}
func (l *liveServer) RosterChanged(domain, username, contact string) {
	if s := l.srv.Load(); s != nil {
		s.RosterChanged(domain, username, contact)
	}
}

var (
	_ commands.Live = (*liveServer)(nil)
	_ queue.Effects = (*liveServer)(nil)
)

// startXMPP runs an xmppcore server on loopback over the bundle's store.
func startXMPP(t *testing.T, b *testBundle, l *liveServer) string {
	t.Helper()
	srv, addr := commandstest.StartXMPP(t, b.Store)
	l.srv.Store(srv.Server)
	return addr
}

// errorCondition returns the stanza error of the last stanza with id,
// read from the client's transcript: go-xmpp does not parse it.
func errorCondition(c *goxmpptest.Client, id string) string {
	raw := c.Transcript()
	// The server quotes attributes with ", go-xmpp with ': only answers match.
	i := strings.LastIndex(raw, `id="`+id+`"`)
	if i < 0 {
		return ""
	}
	raw = raw[i:]
	if j := strings.Index(raw, "</iq>"); j >= 0 {
		raw = raw[:j]
	}
	for _, cond := range []string{"service-unavailable", "feature-not-implemented", "item-not-found", "bad-request"} {
		if strings.Contains(raw, "<"+cond) {
			return cond
		}
	}
	return ""
}

func login(t *testing.T, addr, jid, password string) *goxmpptest.Client {
	t.Helper()
	return goxmpptest.Login(t, addr, jid, password, goxmpptest.Resource("r"), goxmpptest.Transcript())
}

const (
	discoInfo = "<query xmlns='http://jabber.org/protocol/disco#info'/>"
	vcardGet  = "<vCard xmlns='vcard-temp'/>"
	pingGet   = "<ping xmlns='urn:xmpp:ping'/>"
	carbonsOn = "<enable xmlns='urn:xmpp:carbons:2'/>"
	privacyQ  = "<query xmlns='jabber:iq:privacy'/>"
)

// TestRESTLiveModuleConfig switches modVcard, modPing and modCarbons off and on through
// PUT while an independent client stays connected: disco stops and starts
// advertising them and requests get service-unavailable, without restart.
func TestRESTLiveModuleConfig(t *testing.T) {
	t.Parallel()
	l := &liveServer{}
	b := setup(t, l)
	addr := startXMPP(t, b, l)
	alice := login(t, addr, "alice@a.example", "alicepw")

	q := alice.Ask(t, "d0", "get", "a.example", discoInfo)
	require.Equal(t, "result", q.Type)
	require.Contains(t, string(q.Query), `var="vcard-temp"`)
	require.Contains(t, string(q.Query), `var="urn:xmpp:ping"`)
	require.Contains(t, string(q.Query), `var="urn:xmpp:carbons:2"`)
	require.Contains(t, string(q.Query), `var="jabber:iq:privacy"`)
	require.Equal(t, "result", alice.Ask(t, "v0", "get", "", vcardGet).Type)
	require.Equal(t, "result", alice.Ask(t, "p0", "get", "a.example", pingGet).Type)

	status, _, body := b.send("PUT /api/1.0/xmppdomains/a.example\n\n{\"moduleConfig\": {\"modVcard\": {\"enabled\": false}, \"modPing\": false, \"modCarbons\": false, \"modPrivacy\": false}}")
	require.Equal(t, 200, status, body)
	require.Positive(t, l.changed.Load())

	q = alice.Ask(t, "d1", "get", "a.example", discoInfo)
	require.Equal(t, "result", q.Type)
	require.NotContains(t, string(q.Query), "vcard-temp")
	require.NotContains(t, string(q.Query), "urn:xmpp:ping")
	require.NotContains(t, string(q.Query), "urn:xmpp:carbons:2")
	require.NotContains(t, string(q.Query), "jabber:iq:privacy")
	require.Contains(t, string(q.Query), "jabber:iq:version", "other modules stay")
	for _, tt := range []struct{ id, typ, to, body string }{{"v1", "get", "", vcardGet}, {"p1", "get", "a.example", pingGet}, {"c1", "set", "", carbonsOn}, {"pr1", "get", "", privacyQ}} {
		q := alice.Ask(t, tt.id, tt.typ, tt.to, tt.body)
		require.Equal(t, "error", q.Type, tt.id)
		require.Equal(t, "service-unavailable", errorCondition(alice, tt.id), "%s: %s", tt.id, tail(alice.Transcript()))
	}
	// Another domain keeps its modules.
	bob := login(t, addr, "bob@b.example", "bobpw")
	require.Contains(t, string(bob.Ask(t, "bd", "get", "b.example", discoInfo).Query), "vcard-temp")

	status, _, body = b.send("PUT /api/1.0/xmppdomains/a.example\n\n{\"moduleConfig\": {\"modVcard\": true, \"modPing\": {\"enabled\": true}, \"modCarbons\": true, \"modPrivacy\": true}}")
	require.Equal(t, 200, status, body)
	q = alice.Ask(t, "d2", "get", "a.example", discoInfo)
	require.Contains(t, string(q.Query), `var="vcard-temp"`)
	require.Contains(t, string(q.Query), `var="urn:xmpp:ping"`)
	require.Contains(t, string(q.Query), `var="urn:xmpp:carbons:2"`)
	require.Equal(t, "result", alice.Ask(t, "v2", "get", "", vcardGet).Type)
	require.Equal(t, "result", alice.Ask(t, "c2", "set", "", carbonsOn).Type)
	require.Equal(t, "result", alice.Ask(t, "pr2", "get", "", privacyQ).Type)
}

// TestRESTLiveLogin: a user created through REST logs in over XMPP with the
// password it was given; disabled through PUT, it is disconnected and
// cannot log in; enabled again, it can; a new password replaces the old.
func TestRESTLiveLogin(t *testing.T) {
	t.Parallel()
	l := &liveServer{}
	b := setup(t, l)
	addr := startXMPP(t, b, l)

	status, _, body := b.send("POST /api/1.0/xmppdomains/a.example/users/carol?password=carolpw")
	require.Equal(t, 200, status, body)
	carol := login(t, addr, "carol@a.example", "carolpw")
	require.Equal(t, "result", carol.Ask(t, "p", "get", "a.example", pingGet).Type)

	status, _, body = b.send("PUT /api/1.0/xmppdomains/a.example/users/carol\n\n{\"enabled\": false}")
	require.Equal(t, 200, status, body)
	require.Contains(t, body, `"enabled": false`)
	select {
	case <-carol.Done():
	case <-time.After(5 * time.Second):
		require.FailNow(t, "a disabled user's session stays open")
	}
	_, err := goxmpptest.Dial(addr, "carol@a.example", "carolpw", goxmpptest.Resource("r"))
	require.Error(t, err, "a disabled user logs in")

	status, _, body = b.send("PUT /api/1.0/xmppdomains/a.example/users/carol\n\n{\"enabled\": true, \"password\": \"newpw\"}")
	require.Equal(t, 200, status, body)
	_, err = goxmpptest.Dial(addr, "carol@a.example", "carolpw", goxmpptest.Resource("r"))
	require.Error(t, err, "the old password still works")
	login(t, addr, "carol@a.example", "newpw")

	// Generated name and password work too.
	status, _, body = b.send("POST /api/1.0/xmppdomains/a.example/users")
	require.Equal(t, 200, status, body)
	jid := field(t, body, "jid")
	login(t, addr, jid, field(t, body, "password"))
}

func tail(s string) string { return s[max(0, len(s)-1500):] }

func field(t *testing.T, body, name string) string {
	t.Helper()
	_, rest, ok := strings.Cut(body, `"`+name+`": "`)
	require.True(t, ok, "no %s in %s", name, body)
	return rest[:strings.IndexByte(rest, '"')]
}
