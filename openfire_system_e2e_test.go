package main

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// TestOpenfireSessionsAndBroadcast drives the restAPI plugin's sessions,
// broadcast and security log through the real server, with independent
// XMPP clients (go-xmpp) logged in on two tenants' domains: the listing
// shows the real session, the broadcast reaches the online user of the
// credential's domain and no one else, DELETE closes the user's stream
// (and only the credential's domain's), and the audit log shows it all to
// its own account only.
func TestOpenfireSessionsAndBroadcast(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	ctx := context.Background()
	secret, domain := s.boot.OpenfireSecret, s.boot.Domain
	acc, err := commands.CreateAccount(ctx, s.app.env, "other", 0, false)
	require.NoError(t, err)
	_, err = commands.CreateDomain(ctx, s.app.env, "other.example", acc.ID)
	require.NoError(t, err)
	otherSecret, _, err := commands.SetOpenfire(ctx, s.app.env, commands.OpenfireSpec{Account: acc.ID, Random: true})
	require.NoError(t, err)

	api := func(secret, method, path, accept, body string) (int, string) {
		t.Helper()
		return request(t, method, s.url+"plugins/restapi/v1/"+path, body, func(r *http.Request) {
			r.Header.Set("Authorization", secret)
			if accept != "" {
				r.Header.Set("Accept", accept)
			}
			if body != "" {
				r.Header.Set("Content-Type", "application/json")
			}
		})
	}
	for _, u := range []struct{ secret, name string }{{secret, "alice"}, {otherSecret, "carol"}, {otherSecret, "alice"}} {
		status, body := api(u.secret, "POST", "users", "", `{"username":"`+u.name+`","password":"pw"}`)
		require.Equal(t, 201, status, body)
	}
	alice := goxmpptest.Login(t, s.c2s, "alice@"+domain, "pw", goxmpptest.Resource("desk"))
	carol := goxmpptest.Login(t, s.c2s, "carol@other.example", "pw", goxmpptest.Resource("phone"))
	otherAlice := goxmpptest.Login(t, s.c2s, "alice@other.example", "pw", goxmpptest.Resource("desk"))

	// The listing: alice's real session, in JSON and XML, and nothing of the other tenant's.
	type session struct {
		SessionID, Username, Resource, Node, SessionStatus, PresenceStatus, HostAddress string
		Priority                                                                        int
		CreationDate, LastActionDate                                                    int64
		Secure                                                                          bool
	}
	var list struct{ Sessions []session }
	status, body := api(secret, "GET", "sessions", "application/json", "")
	require.Equal(t, 200, status, body)
	require.NoError(t, json.Unmarshal([]byte(body), &list), body)
	require.Len(t, list.Sessions, 1, body)
	got := list.Sessions[0]
	require.Equal(t, "alice@"+domain+"/desk", got.SessionID)
	require.Equal(t, []string{"alice", "desk", "Local", "Authenticated", "127.0.0.1"},
		[]string{got.Username, got.Resource, got.Node, got.SessionStatus, got.HostAddress})
	require.True(t, got.Secure, "STARTTLS")
	require.InDelta(t, time.Now().UnixMilli(), got.CreationDate, float64(time.Hour/time.Millisecond))
	require.GreaterOrEqual(t, got.LastActionDate, got.CreationDate)
	require.NotContains(t, body, "other.example")

	var xmlList struct {
		Sessions []struct {
			SessionID string `xml:"sessionId"`
		} `xml:"session"`
	}
	status, body = api(otherSecret, "GET", "sessions/alice", "", "")
	require.Equal(t, 200, status, body)
	require.NoError(t, xml.Unmarshal([]byte(body), &xmlList), body)
	require.Len(t, xmlList.Sessions, 1, body)
	require.Equal(t, "alice@other.example/desk", xmlList.Sessions[0].SessionID, "the other tenant's alice, not ours")

	// The broadcast reaches the credential's domain only: carol's first
	// message is her own tenant's broadcast, sent after ours.
	status, body = api(secret, "POST", "messages/users", "", `{"body":"maintenance at 22:00"}`)
	require.Equal(t, 201, status, body)
	msg := alice.Expect(t, "the broadcast", func(st any) bool { m, ok := st.(goxmpp.Chat); return ok && m.Text != "" }).(goxmpp.Chat)
	require.Equal(t, domain, msg.Remote)
	require.Equal(t, "maintenance at 22:00", msg.Text)
	status, body = api(otherSecret, "POST", "messages/users", "", `{"body":"other's notice"}`)
	require.Equal(t, 201, status, body)
	for _, c := range []*goxmpptest.Client{carol, otherAlice} {
		msg = c.Expect(t, "the other broadcast", func(st any) bool { m, ok := st.(goxmpp.Chat); return ok && m.Text != "" }).(goxmpp.Chat)
		require.Equal(t, "other's notice", msg.Text, "the first broadcast did not reach the other tenant")
		require.Equal(t, "other.example", msg.Remote)
	}

	// DELETE with our secret closes our alice, not the other tenant's.
	status, body = api(secret, "DELETE", "sessions/alice", "", "")
	require.Equal(t, 200, status, body)
	select {
	case <-alice.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("DELETE /sessions/alice did not close the stream")
	}
	status, body = api(otherSecret, "POST", "messages/users", "", `{"body":"still there?"}`)
	require.Equal(t, 201, status, body)
	msg = otherAlice.Expect(t, "a broadcast after the other tenant's DELETE", func(st any) bool { m, ok := st.(goxmpp.Chat); return ok && m.Text != "" }).(goxmpp.Chat)
	require.Equal(t, "still there?", msg.Text)
	status, body = api(secret, "GET", "sessions/alice", "application/json", "")
	require.Equal(t, 200, status, body)
	require.Equal(t, `{"sessions":[]}`, body)
	// The account stays active: alice logs in again.
	goxmpptest.Login(t, s.c2s, "alice@"+domain, "pw").Close()

	// The audit log shows the close and the broadcast to our account only.
	status, body = api(secret, "GET", "logs/security?"+url.Values{"username": {"openfirerest:" + strconv.FormatInt(s.boot.Account, 10)}}.Encode(), "application/json", "")
	require.Equal(t, 200, status, body)
	var logs struct {
		Logs []struct{ Summary, Details string }
	}
	require.NoError(t, json.Unmarshal([]byte(body), &logs), body)
	var summaries []string
	for _, l := range logs.Logs {
		summaries = append(summaries, l.Summary+": "+l.Details)
	}
	require.Equal(t, []string{"openfire close sessions: alice@" + domain + " (1 sessions)", "openfire broadcast: " + domain + " (1 sessions)"}, summaries)
	status, body = api(secret, "GET", "logs/security", "application/json", "")
	require.Equal(t, 200, status, body)
	require.NotContains(t, body, "other.example")
	require.False(t, strings.Contains(body, "carol"))
}
