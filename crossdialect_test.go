package main

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestOneStoreForAllDialects: a user made through one dialect is seen, with
// the same status, through the others.
func TestOneStoreForAllDialects(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	b := s.boot
	ejabberd := func(cmd, body string) string {
		status, out := s.do(http.MethodPost, "/api/"+cmd, body, func(r *http.Request) { r.SetBasicAuth(b.AdminJID, b.AdminPassword) })
		require.Equal(t, 200, status, out)
		return out
	}
	openfire := s.userService

	// DreamHost creates dave; once applied the others see him.
	s.dh(b.Key, "jabber-add_user", "username", "dave", "domain", "localhost", "password", "pw").token(t)
	// Pending: the name is taken, but no password works until the worker ran.
	require.Equal(t, "0", ejabberd("check_account", `{"user":"dave","host":"localhost"}`))
	require.Equal(t, "1", ejabberd("check_password", `{"user":"dave","host":"localhost","password":"pw"}`))
	s.runWorker()
	require.Equal(t, "0", ejabberd("check_account", `{"user":"dave","host":"localhost"}`))
	require.Equal(t, "0", ejabberd("check_password", `{"user":"dave","host":"localhost","password":"pw"}`))

	// Openfire disables him; DreamHost and REST see inactive.
	require.Equal(t, "<result>ok</result>\n", openfire("type=disable&username=dave"))
	rows := s.dh(b.Key, "jabber-list_users_no_pw").rows(t)
	var status string
	for _, r := range rows {
		if r["username"] == "dave" {
			status = r["status"]
		}
	}
	require.Equal(t, "inactive", status)
	code, out := s.do(http.MethodGet, "/api/1.0/xmppdomains/localhost/users/dave", "", func(r *http.Request) { r.SetBasicAuth(b.RESTUser, b.RESTPassword) })
	require.Equal(t, 200, code, out)
	require.Contains(t, out, `"enabled": false`)

	// ejabberd removes him; every dialect agrees he is gone.
	ejabberd("unregister", `{"user":"dave","host":"localhost"}`)
	require.Equal(t, "<error>UserNotFoundException</error>\n", openfire("type=enable&username=dave"))
	require.Equal(t, `"user_does_not_exist"`, string(s.dh(b.Key, "jabber-remove_user", "username", "dave", "domain", "localhost").Data))
	code, _ = s.do(http.MethodGet, "/api/1.0/xmppdomains/localhost/users/dave", "", func(r *http.Request) { r.SetBasicAuth(b.RESTUser, b.RESTPassword) })
	require.Equal(t, 404, code)
}
