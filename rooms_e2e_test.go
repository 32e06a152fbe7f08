package main

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/slixmpptest"
)

// TestRoomsAPIWithClients: rooms made and changed through ejabberd's API
// are what independent clients (slixmpp's xep_0045 and xep_0249) find at
// once: create_room_with_opts makes a members-only room a member joins and
// a stranger cannot, get_room_occupants shows who is in, an invitation
// arrives, set_room_affiliation outcast removes an occupant with 301, and
// destroy_room removes the rest with the destroy presence.
func TestRoomsAPIWithClients(t *testing.T) {
	t.Parallel()
	slixmpptest.Require(t)
	s := startServer(t, nil)
	admin := tenantCreds{adminJID: s.boot.AdminJID, adminPW: s.boot.AdminPassword}
	api := func(cmd, body string) string {
		t.Helper()
		status, out := s.ejabberd(admin, cmd, body)
		require.Equal(t, http.StatusOK, status, "%s: %s", cmd, out)
		return out
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		api("register", `{"user":"`+u+`","host":"localhost","password":"pw-`+u+`"}`)
	}
	const room = "club@conference.localhost"
	require.Equal(t, "0", api("create_room_with_opts", `{"name":"club","service":"conference.localhost","host":"localhost","options":[`+
		`{"name":"title","value":"The Club"},{"name":"members_only","value":"true"},{"name":"persistent","value":"true"},`+
		`{"name":"affiliations","value":"member:alice@localhost,member:bob@localhost"}]}`))

	clients := map[string]*slixmpptest.Driver{}
	for _, u := range []string{"alice", "bob", "carol"} {
		d := slixmpptest.DriveMUC(t, u+"@localhost/pc", "pw-"+u)
		require.Equal(t, "session_start", d.Connect(s.c2s, false))
		clients[u] = d
	}
	alice, bob, carol := clients["alice"], clients["bob"], clients["carol"]
	selfPresence := func(d *slixmpptest.Driver, nick string) slixmpptest.Event {
		t.Helper()
		return d.Wait(nick+"'s own presence", 15*time.Second, func(e slixmpptest.Event) bool {
			return e.S("event") == "muc_presence" && e.S("from") == room+"/"+nick && codes(e, "110")
		})
	}

	// Joinable at once, with its options in force.
	alice.Do("join", "room", room, "nick", "Alice")
	e := selfPresence(alice, "Alice")
	require.Equal(t, "member", e.S("affiliation"))
	require.Equal(t, "participant", e.S("role"))
	carol.Do("join", "room", room, "nick", "Carol")
	e = carol.Wait("carol refused", 15*time.Second, func(e slixmpptest.Event) bool {
		return e.S("event") == "muc_presence" && e.S("type") == "error"
	})
	require.Equal(t, "registration-required", e.S("condition"), "members-only from create_room_with_opts")
	bob.Do("join", "room", room, "nick", "Bob")
	selfPresence(bob, "Bob")

	var occ []map[string]string
	require.NoError(t, json.Unmarshal([]byte(api("get_room_occupants", `{"name":"club","service":"conference.localhost"}`)), &occ))
	slices.SortFunc(occ, func(a, b map[string]string) int { return strings.Compare(a["nick"], b["nick"]) })
	require.Equal(t, []map[string]string{
		{"jid": "alice@localhost/pc", "nick": "Alice", "role": "participant"},
		{"jid": "bob@localhost/pc", "nick": "Bob", "role": "participant"},
	}, occ)
	require.Equal(t, `{"occupants":2}`, api("get_room_occupants_number", `{"name":"club","service":"conference.localhost"}`))
	require.Equal(t, `["`+room+`"]`, api("get_user_rooms", `{"user":"alice","host":"localhost"}`))

	// What is said is the room's history, and the room is no longer empty.
	require.Equal(t, `["`+room+`"]`, api("rooms_empty_list", `{"service":"conference.localhost"}`))
	alice.Do("say", "room", room, "body", "hello club")
	bob.Wait("alice's message", 15*time.Second, func(e slixmpptest.Event) bool {
		return e.S("event") == "groupchat" && e.S("body") == "hello club"
	})
	var hist []map[string]string
	require.NoError(t, json.Unmarshal([]byte(api("get_room_history", `{"name":"club","service":"conference.localhost"}`)), &hist))
	require.Len(t, hist, 1)
	require.Contains(t, hist[0]["message"], "hello club")
	_, err := time.Parse(time.RFC3339, hist[0]["timestamp"])
	require.NoError(t, err)
	require.Equal(t, `[]`, api("rooms_empty_list", `{"service":"conference.localhost"}`))

	// XEP-0249, as ejabberd sends it: from the room.
	require.Equal(t, "0", api("send_direct_invitation", `{"name":"club","service":"conference.localhost","password":"none",`+
		`"reason":"Join us","users":"carol@localhost"}`))
	e = carol.Wait("the invitation", 15*time.Second, slixmpptest.Is("invite"))
	require.Equal(t, room, e.S("room"))
	require.Equal(t, room, e.S("from"))
	require.Equal(t, "Join us", e.S("reason"))

	// An outcast is removed at once with 301; the others see it go.
	require.Equal(t, "0", api("set_room_affiliation", `{"name":"club","service":"conference.localhost","jid":"bob@localhost","affiliation":"outcast"}`))
	e = bob.Wait("bob banned", 15*time.Second, func(e slixmpptest.Event) bool {
		return e.S("event") == "muc_presence" && e.S("type") == "unavailable" && e.S("from") == room+"/Bob"
	})
	require.True(t, codes(e, "301"), "status codes %v", e["codes"])
	require.True(t, codes(e, "110"), "bob's own presence says so")
	alice.Wait("bob's ban seen", 15*time.Second, func(e slixmpptest.Event) bool {
		return e.S("event") == "muc_presence" && e.S("type") == "unavailable" && e.S("from") == room+"/Bob" && codes(e, "301")
	})
	require.Equal(t, `{"occupants":1}`, api("get_room_occupants_number", `{"name":"club","service":"conference.localhost"}`))

	// A configuration change reaches the running room: not members-only
	// any more, carol gets in.
	require.Equal(t, "0", api("change_room_option", `{"name":"club","service":"conference.localhost","option":"members_only","value":"false"}`))
	carol.Do("join", "room", room, "nick", "Carol")
	selfPresence(carol, "Carol")

	// destroy_room removes the occupants with the destroy presence.
	require.Equal(t, "0", api("destroy_room", `{"name":"club","service":"conference.localhost"}`))
	for _, who := range []struct {
		d    *slixmpptest.Driver
		nick string
	}{{alice, "Alice"}, {carol, "Carol"}} {
		e := who.d.Wait(who.nick+" removed by the destruction", 15*time.Second, func(e slixmpptest.Event) bool {
			return e.S("event") == "muc_presence" && e.S("type") == "unavailable" && e.S("from") == room+"/"+who.nick
		})
		require.Equal(t, true, e["destroy"], "XEP-0045 10.9: <destroy/> in the unavailable presence: %s", e.S("xml"))
	}
	require.Equal(t, `[]`, api("muc_online_rooms", `{"service":"global"}`))
	status, out := s.ejabberd(admin, "get_room_occupants", `{"name":"club","service":"conference.localhost"}`)
	require.Equal(t, http.StatusBadRequest, status)
	require.Equal(t, `"room_not_found"`, out)
}

// codes reports whether a muc_presence event carries status code c.
func codes(e slixmpptest.Event, c string) bool {
	l, _ := e["codes"].([]any)
	for _, x := range l {
		if x == c {
			return true
		}
	}
	return false
}
