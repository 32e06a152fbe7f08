package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// TestTemporaryRoomThroughAPIs: a temporary room a client made (join,
// then the owner's form, both kept in memory: the service writes no row
// for them) is seen by every dialect's room commands as a stored room
// would be: ejabberd's muc_online_rooms and get_room_options, create_room
// refusing its name, change_room_option reaching the live room, Openfire's
// GET chatrooms; destroy_room removes its occupant with the destroy
// presence, and it is gone. The client is go-xmpp, not ours.
func TestTemporaryRoomThroughAPIs(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	admin := tenantCreds{adminJID: s.boot.AdminJID, adminPW: s.boot.AdminPassword}
	ejabberd := func(cmd, body string, want int) string {
		t.Helper()
		status, out := s.ejabberd(admin, cmd, body)
		require.Equal(t, want, status, "%s: %s", cmd, out)
		return out
	}
	openfire := func(path string) (int, string) {
		return s.do(http.MethodGet, "/plugins/restapi/v1/"+path, "", func(r *http.Request) {
			r.Header.Set("Authorization", s.boot.OpenfireSecret)
			r.Header.Set("Accept", "application/json")
		})
	}
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=alice&password=pw1"))
	const room = "tmp@conference.localhost"
	alice := goxmpptest.Login(t, s.c2s, "alice@localhost", "pw1", goxmpptest.Resource("e2e"), goxmpptest.Transcript())
	_, err := alice.SendOrg(`<presence to='` + room + `/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	require.NoError(t, err)
	alice.Expect(t, "alice's own presence in the new room", goxmpptest.Presence(room+"/Alice", ""))
	require.Contains(t, alice.Transcript(), `code="201"`)
	q := alice.Ask(t, "form", "set", room, `<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>`+
		`<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>`+
		`<field var='muc#roomconfig_roomname'><value>Temp Talk</value></field></x></query>`)
	require.Equal(t, "result", q.Type)

	require.Equal(t, `["`+room+`"]`, ejabberd("muc_online_rooms", `{"service":"global"}`, http.StatusOK))
	got := map[string]string{}
	require.NoError(t, json.Unmarshal([]byte(ejabberd("get_room_options", `{"name":"tmp","service":"conference.localhost"}`, http.StatusOK)), &got))
	require.Equal(t, "Temp Talk", got["title"], "the owner's form, kept in memory, is what the API reads")
	require.Equal(t, "false", got["persistent"])
	require.Equal(t, `"Room already exists"`, ejabberd("create_room", `{"name":"tmp","service":"conference.localhost","host":"localhost"}`,
		http.StatusBadRequest))
	status, body := openfire("chatrooms/tmp")
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"naturalName":"Temp Talk"`)

	// A change through the API reaches the running room (status 104).
	require.Equal(t, "0", ejabberd("change_room_option", `{"name":"tmp","service":"conference.localhost","option":"title","value":"Renamed"}`,
		http.StatusOK))
	alice.Expect(t, "the configuration change announced", func(st any) bool {
		return strings.Contains(alice.Transcript(), `code="104"`)
	})
	q = alice.Ask(t, "cfg", "get", room, `<query xmlns='http://jabber.org/protocol/muc#owner'/>`)
	require.Contains(t, string(q.Query), "<value>Renamed</value>")

	require.Equal(t, "0", ejabberd("destroy_room", `{"name":"tmp","service":"conference.localhost"}`, http.StatusOK))
	alice.ExpectWithin(t, "alice removed by the destruction", 15*time.Second, goxmpptest.Presence(room+"/Alice", "unavailable"))
	require.Contains(t, alice.Transcript(), "<destroy")
	require.Equal(t, `[]`, ejabberd("muc_online_rooms", `{"service":"global"}`, http.StatusOK))
}
