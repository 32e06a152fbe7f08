package ejabberd_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// TestEjabberdSessions drives the sessions family against a real XMPP
// server: a user registered through /api logs in twice, the commands see
// both sessions (and another account sees none), then kick_session and
// kick_user close them.
func TestEjabberdSessions(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	b.register("carol@a.example", "carolpw")
	r1 := goxmpptest.Login(t, b.XMPPAddr, "carol@a.example", "carolpw", goxmpptest.Resource("r1"))
	r2 := goxmpptest.Login(t, b.XMPPAddr, "carol@a.example", "carolpw", goxmpptest.Resource("r2"))
	_, err := r1.SendPresence(goxmpp.Presence{})
	require.NoError(t, err)
	_, err = r2.SendPresence(goxmpp.Presence{Show: "dnd", Status: "busy"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return b.ok("POST /api/status_num\nAs: acme\n\n"+`{"status":"dnd"}`) == `{"users":1}` &&
			b.ok("POST /api/status_num\nAs: acme\n\n"+`{"status":"available"}`) == `{"users":1}`
	}, 5*time.Second, 20*time.Millisecond)

	for i, tc := range []struct{ req, want string }{
		0:  {"POST /api/connected_users\nAs: acme\n\n{}", `["carol@a.example/r1","carol@a.example/r2"]`},
		1:  {"POST /api/connected_users\nAs: other\n\n{}", `[]`},
		2:  {"POST /api/connected_users_number\nAs: acme\n\n{}", `{"num_sessions":2}`},
		3:  {"POST /api/connected_users_number/v1\nAs: acme\n\n{}", `2`},
		4:  {"POST /api/connected_users_number\nAs: other\n\n{}", `{"num_sessions":0}`},
		5:  {"POST /api/connected_users_vhost\nAs: acme\n\n" + `{"host":"a.example"}`, `["carol@a.example/r1","carol@a.example/r2"]`},
		6:  {"POST /api/connected_users_vhost\nAs: acme\n\n" + `{"host":"a2.example"}`, `[]`},
		7:  {"POST /api/user_resources\nAs: acme\n\n" + `{"user":"carol","host":"a.example"}`, `["r1","r2"]`},
		8:  {"POST /api/user_resources\nAs: acme\n\n" + `{"user":"carol","server":"a.example"}`, `["r1","r2"]`},
		9:  {"POST /api/num_resources\nAs: acme\n\n" + `{"user":"carol","host":"a.example"}`, `{"resources":2}`},
		10: {"POST /api/resource_num\nAs: acme\n\n" + `{"user":"carol","host":"a.example","num":2}`, `{"resource":"r2"}`},
		11: {"POST /api/resource_num/v1\nAs: acme\n\n" + `{"user":"carol","host":"a.example","num":1}`, `"r1"`},
		12: {"POST /api/status_num\nAs: acme\n\n" + `{"status":"all"}`, `{"users":2}`},
		13: {"POST /api/status_num_host\nAs: acme\n\n" + `{"host":"a.example","status":"dnd"}`, `{"users":1}`},
		14: {"POST /api/status_num_host\nAs: acme\n\n" + `{"host":"a2.example","status":"all"}`, `{"users":0}`},
		15: {"POST /api/connected_users_info\nAs: other\n\n{}", `[]`},
		16: {"POST /api/user_sessions_info\nAs: acme\n\n" + `{"user":"nobody","host":"a.example"}`, `[]`},
	} {
		require.Equal(t, tc.want, b.ok(tc.req), "row %d: %s", i, tc.req)
	}
	status, _, body := b.send("POST /api/resource_num\nAs: acme\n\n" + `{"user":"carol","host":"a.example","num":3}`)
	require.Equal(t, 500, status)
	require.Equal(t, `"internal_error"`, body)
	// Another account's vhost looks unknown, for every session command.
	status, _, body = b.send("POST /api/user_resources\nAs: other\n\n" + `{"user":"carol","host":"a.example"}`)
	require.Equal(t, 400, status)
	require.Equal(t, `"Unknown virtual host"`, body)

	var info []map[string]any
	require.NoError(t, json.Unmarshal([]byte(b.ok("POST /api/connected_users_info\nAs: acme\n\n{}")), &info))
	require.Len(t, info, 2)
	keys := []string{"jid", "connection", "ip", "port", "priority", "node", "uptime", "status", "resource", "statustext"}
	for _, s := range info {
		require.Len(t, s, len(keys))
		for _, k := range keys {
			require.Contains(t, s, k)
		}
	}
	require.Equal(t, "carol@a.example/r2", info[1]["jid"])
	require.Equal(t, "dnd", info[1]["status"])
	require.Equal(t, "busy", info[1]["statustext"])
	require.Equal(t, "127.0.0.1", info[1]["ip"])
	require.Equal(t, "xmppgate@localhost", info[1]["node"])
	var mine []map[string]any
	require.NoError(t, json.Unmarshal([]byte(b.ok("POST /api/user_sessions_info\nAs: acme\n\n"+`{"user":"carol","host":"a.example"}`)), &mine))
	require.Len(t, mine, 2)
	require.NotContains(t, mine[0], "jid")
	require.Equal(t, "r1", mine[0]["resource"])

	// Another account cannot kick; kick_session closes one session, kick_user the rest.
	status, _, _ = b.send("POST /api/kick_user\nAs: other\n\n" + `{"user":"carol","host":"a.example"}`)
	require.Equal(t, 400, status)
	require.Equal(t, "0", b.ok("POST /api/kick_session\nAs: acme\n\n"+`{"user":"carol","host":"a.example","resource":"r1","reason":"Stuck connection"}`))
	r1.Ended(t)
	require.Equal(t, "0", b.ok("POST /api/kick_session\nAs: acme\n\n"+`{"user":"carol","host":"a.example","resource":"nope","reason":"x"}`))
	require.Equal(t, `{"num_resources":1}`, b.ok("POST /api/kick_user\nAs: acme\n\n"+`{"user":"carol","host":"a.example"}`))
	r2.Ended(t)
	require.Eventually(t, func() bool {
		return b.ok("POST /api/connected_users_number\nAs: acme\n\n{}") == `{"num_sessions":0}`
	}, 5*time.Second, 20*time.Millisecond)
}

// change_password through /api closes the user's live sessions (the queue
// effect), and the new password logs in.
func TestEjabberdChangePasswordKicks(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	b.register("carol@a.example", "old")
	c := goxmpptest.Login(t, b.XMPPAddr, "carol@a.example", "old", goxmpptest.Resource("r"))
	require.Eventually(t, func() bool {
		return b.ok("POST /api/num_resources\nAs: acme\n\n"+`{"user":"carol","host":"a.example"}`) == `{"resources":1}`
	}, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, "0", b.ok("POST /api/change_password\nAs: acme\n\n"+`{"user":"carol","host":"a.example","newpass":"new"}`))
	c.Ended(t)
	goxmpptest.Login(t, b.XMPPAddr, "carol@a.example", "new", goxmpptest.Resource("r"))
}
