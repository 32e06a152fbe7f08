package main

import (
	"encoding/json"
	"encoding/xml"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// TestOpenfireRoomsThroughRESTAndXMPP: a room made through the restAPI
// plugin's POST /chatrooms is joinable at once with its options (members
// only: the member gets in, unlocked and without status 201; a
// non-member is refused), participants and occupants show the client,
// a mediated invitation reaches another user, its groupchat message is
// the room's history, PUT changes the subject
// in front of it, DELETE removes it with XEP-0045's destroy presence,
// and with modMuc off the service is unknown to the endpoints.
// The client is go-xmpp, not ours.
func TestOpenfireRoomsThroughRESTAndXMPP(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=alice&password=pw1"))
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=bob&password=pw2"))
	api := func(method, path, accept, body string) (int, string) {
		return s.do(method, "/plugins/restapi/v1/"+path, body, func(r *http.Request) {
			r.Header.Set("Authorization", s.boot.OpenfireSecret)
			r.Header.Set("Content-Type", "application/json")
			if accept != "" {
				r.Header.Set("Accept", accept)
			}
		})
	}
	status, body := api(http.MethodPost, "chatrooms", "", `{"roomName":"lobby","naturalName":"The Lobby","subject":"Welcome",`+
		`"persistent":true,"publicRoom":true,"membersOnly":true,"members":["alice"]}`)
	require.Equal(t, http.StatusCreated, status, body)

	const room = "lobby@conference.localhost"
	alice := goxmpptest.Login(t, s.c2s, "alice@localhost", "pw1", goxmpptest.Resource("e2e"), goxmpptest.Transcript())
	_, err := alice.SendOrg(`<presence to='` + room + `/Alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	require.NoError(t, err)
	alice.Expect(t, "alice's own presence in the room", goxmpptest.Presence(room+"/Alice", ""))
	alice.Expect(t, "the room's subject", func(st any) bool {
		m, ok := st.(goxmpp.Chat)
		return ok && m.Remote == room && m.Subject == "Welcome"
	})
	tr := alice.Transcript()
	require.Contains(t, tr, `code="110"`, "self-presence")
	require.NotContains(t, tr, `code="201"`, "the room existed (and was unlocked) before alice came")

	// Members only: bob is no member.
	bob := goxmpptest.Login(t, s.c2s, "bob@localhost", "pw2", goxmpptest.Resource("e2e"), goxmpptest.Transcript())
	_, err = bob.SendOrg(`<presence to='` + room + `/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>`)
	require.NoError(t, err)
	bob.Expect(t, "bob's refusal", goxmpptest.Presence(room+"/Bob", "error"))
	require.Contains(t, bob.Transcript(), "registration-required")

	// A mediated invitation from the room (POST invite/{jid}, a username of the domain).
	status, body = api(http.MethodPost, "chatrooms/lobby/invite/bob", "", `{"reason":"come in"}`)
	require.Equal(t, http.StatusOK, status, body)
	bob.Expect(t, "the invitation", func(st any) bool {
		m, ok := st.(goxmpp.Chat)
		return ok && m.Remote == room
	})
	require.Regexp(t, `<invite from=["']`+room+`["']><reason>come in</reason></invite>`, bob.Transcript())

	status, body = api(http.MethodGet, "chatrooms/lobby/participants", "application/json", "")
	require.Equal(t, http.StatusOK, status, body)
	require.JSONEq(t, `{"participants":[{"jid":"`+room+`/Alice","role":"participant","affiliation":"member"}]}`, body)
	status, body = api(http.MethodGet, "chatrooms/lobby/occupants", "application/xml", "")
	require.Equal(t, http.StatusOK, status, body)
	require.Equal(t, `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><occupants><occupant><jid>`+room+
		`/Alice</jid><userAddress>alice@localhost/e2e</userAddress><role>participant</role><affiliation>member</affiliation></occupant></occupants>`, body)

	// The room's configuration as the plugin shows it, dates included.
	status, body = api(http.MethodGet, "chatrooms/lobby", "application/json", "")
	require.Equal(t, http.StatusOK, status, body)
	var entity struct {
		RoomName     string   `json:"roomName"`
		NaturalName  string   `json:"naturalName"`
		Subject      string   `json:"subject"`
		CreationDate int64    `json:"creationDate"`
		MembersOnly  bool     `json:"membersOnly"`
		Members      []string `json:"members"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &entity), body)
	require.Equal(t, "The Lobby", entity.NaturalName)
	require.True(t, entity.MembersOnly)
	require.Equal(t, []string{"alice@localhost"}, entity.Members)
	require.WithinDuration(t, time.Now(), time.UnixMilli(entity.CreationDate), time.Minute)
	_, body = api(http.MethodGet, "chatrooms/lobby", "application/xml", "")
	var x struct {
		Created string `xml:"creationDate"`
	}
	require.NoError(t, xml.Unmarshal([]byte(body), &x), body)
	created, err := time.Parse(time.RFC3339Nano, x.Created)
	require.NoError(t, err, "JAXB's xsd:dateTime %q", x.Created)
	require.Equal(t, entity.CreationDate, created.UnixMilli())

	// A groupchat message becomes the room's history.
	_, err = alice.Send(goxmpp.Chat{Remote: room, Type: "groupchat", Text: "hello room"})
	require.NoError(t, err)
	alice.Expect(t, "the message reflected", goxmpptest.Chat(room+"/Alice", "hello room"))
	status, body = api(http.MethodGet, "chatrooms/lobby/chathistory", "application/json", "")
	require.Equal(t, http.StatusOK, status, body)
	var hist struct {
		Message []map[string]string `json:"message"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &hist), body)
	require.Len(t, hist.Message, 1, body)
	require.Equal(t, room+"/Alice", hist.Message[0]["from"])
	require.Equal(t, "groupchat", hist.Message[0]["type"])
	require.Equal(t, "hello room", hist.Message[0]["body"])
	require.NotEmpty(t, hist.Message[0]["delay_stamp"])

	// PUT replaces the configuration; the occupant sees the new subject.
	status, body = api(http.MethodPut, "chatrooms/lobby", "", `{"roomName":"lobby","naturalName":"The Lobby","subject":"Moved on",`+
		`"persistent":true,"publicRoom":true,"membersOnly":true,"members":["alice"]}`)
	require.Equal(t, http.StatusOK, status, body)
	alice.Expect(t, "the new subject", func(st any) bool {
		m, ok := st.(goxmpp.Chat)
		return ok && strings.HasPrefix(m.Remote, room) && m.Subject == "Moved on"
	})

	// DELETE: the occupant gets the destroy presence, the room is gone.
	status, body = api(http.MethodDelete, "chatrooms/lobby", "", "")
	require.Equal(t, http.StatusOK, status, body)
	alice.Expect(t, "the room's end", goxmpptest.Presence(room+"/Alice", "unavailable"))
	require.Contains(t, alice.Transcript(), "<destroy")
	status, body = api(http.MethodGet, "chatrooms/lobby", "application/json", "")
	require.Equal(t, http.StatusNotFound, status, body)
	require.Contains(t, body, "RoomNotFoundException")

	// modMuc off through the REST domains API: the service is gone for the
	// Openfire endpoints too, without a restart; a label the domain's
	// service does not have never was one.
	status, body = s.do(http.MethodPut, "/api/1.0/xmppdomains/"+s.boot.Domain, `{"moduleConfig": {"modMuc": {"enabled": false}}}`,
		func(r *http.Request) {
			r.SetBasicAuth(s.boot.RESTUser, s.boot.RESTPassword)
			r.Header.Set("Content-Type", "application/json")
		})
	require.Equal(t, http.StatusOK, status, body)
	status, body = api(http.MethodPost, "chatrooms", "application/json", `{"roomName":"again"}`)
	require.Equal(t, http.StatusNotFound, status, body)
	require.JSONEq(t, `{"resource":"conference","message":"Chat service does not exist or is not accessible.","exception":"MUCServiceNotFoundException"}`, body)
}
