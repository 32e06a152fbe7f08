package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRoomsAPI drives the ejabberd room commands through the real HTTP
// server on a real SQLite file, in order: each step sees what the earlier
// ones left, as a client of ejabberd's API would.
func TestRoomsAPI(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	admin := tenantCreds{adminJID: s.boot.AdminJID, adminPW: s.boot.AdminPassword}
	const svc = "conference.localhost"
	require.NoError(t, os.MkdirAll(filepath.Join(s.data, "transfer"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(s.data, "transfer", "rooms.txt"),
		[]byte("f1@conference.localhost\n\nf2@conference.localhost\nf1@conference.localhost\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(s.data, "transfer", "bad.txt"), []byte("f3@conference.localhost\nno room\n"), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(s.data, "transfer", "foreign.txt"), []byte("f4@conference.elsewhere.example\n"), 0o600))

	steps := []struct {
		name, cmd, body string
		status          int
		want            string
	}{
		{"create", "create_room", `{"name":"Lobby","service":"` + svc + `","host":"localhost"}`, 200, `0`},
		{"exists (nodeprep)", "create_room", `{"name":"lobby","service":"` + svc + `","host":"localhost"}`, 400, `"Room already exists"`},
		{"bad name", "create_room", `{"name":"a@b","service":"` + svc + `","host":"localhost"}`, 400, `"Invalid 'name'"`},
		{"foreign service", "create_room", `{"name":"x","service":"conference.elsewhere.example","host":"localhost"}`, 400, `"Invalid 'service'"`},
		{"not a MUC service", "create_room", `{"name":"x","service":"pubsub.localhost","host":"localhost"}`, 400, `"Invalid 'service'"`},
		{"listed", "muc_online_rooms", `{"service":"global"}`, 200, `["lobby@conference.localhost"]`},
		{"with options", "create_room_with_opts", `{"name":"club","service":"` + svc + `","host":"localhost","options":[` +
			`{"name":"title","value":"The Club"},{"name":"members_only","value":"true"},{"name":"persistent","value":"true"},` +
			`{"name":"max_users","value":"25"},{"name":"anonymous","value":"false"},{"name":"logging","value":"true"},` +
			`{"name":"affiliations","value":"owner:olga@localhost,member:mark@example.org"},` +
			`{"name":"subscribers","value":"sam@localhost:Sam:urn:xmpp:mucsub:nodes:messages:urn:xmpp:mucsub:nodes:bogus"}]}`, 200, `0`},
		{"options", "get_room_options", `{"name":"club","service":"` + svc + `"}`, 200, `{"title":"The Club","description":"",` +
			`"allow_change_subj":"false","allow_query_users":"true","allow_private_messages":"true",` +
			`"allow_private_messages_from_visitors":"anyone","allow_visitor_status":"true","allow_visitor_nickchange":"true",` +
			`"public":"true","public_list":"true","persistent":"true","moderated":"false","captcha_protected":"false",` +
			`"members_by_default":"true","members_only":"true","allow_user_invites":"false","allow_subscription":"false",` +
			`"password_protected":"false","password":"","anonymous":"false","presence_broadcast":"[moderator,participant,visitor]",` +
			`"allow_voice_requests":"true","voice_request_min_interval":"1800","max_users":"25","logging":"true","vcard":"",` +
			`"vcard_xupdate":"undefined","captcha_whitelist":"{0,nil}","mam":"true","pubsub":"","enable_hats":"false","lang":""}`},
		{"options object form", "create_room_with_opts", `{"name":"obj","service":"` + svc + `","host":"localhost","options":{"description":"D"}}`, 200, `0`},
		{"bad option value: nothing created", "create_room_with_opts", `{"name":"bad","service":"` + svc + `","host":"localhost","options":[{"name":"public","value":"yes"}]}`,
			400, `"Invalid option public: true or false"`},
		{"options not tuples", "create_room_with_opts", `{"name":"bad","service":"` + svc + `","host":"localhost","options":["title"]}`,
			400, `"Arg [\"title\"] is not in format {list,{option,{tuple,[{name,binary},{value,binary}]}}}"`},
		{"unknown room options", "get_room_options", `{"name":"bad","service":"` + svc + `"}`, 200, `{}`},
		{"affiliations", "get_room_affiliations", `{"name":"club","service":"` + svc + `"}`, 200,
			`[{"username":"mark","domain":"example.org","affiliation":"member","reason":""},{"username":"olga","domain":"localhost","affiliation":"owner","reason":""}]`},
		{"subscribers from options", "get_subscribers", `{"name":"club","service":"` + svc + `"}`, 200, `["sam@localhost"]`},
		{"password", "change_room_option", `{"name":"club","service":"` + svc + `","option":"password","value":"s3cret"}`, 200, `0`},
		{"password protected", "change_room_option", `{"name":"club","service":"` + svc + `","option":"password_protected","value":"true"}`, 200, `0`},
		{"max_users out of range", "change_room_option", `{"name":"club","service":"` + svc + `","option":"max_users","value":"100000"}`, 400, `"Invalid option max_users: from 1 to 1000"`},
		{"presence_broadcast", "change_room_option", `{"name":"club","service":"` + svc + `","option":"presence_broadcast","value":"[moderator]"}`, 200, `0`},
		{"presence_broadcast not roles", "change_room_option", `{"name":"club","service":"` + svc + `","option":"presence_broadcast","value":"[king]"}`, 400, `"Invalid option presence_broadcast: a list of roles"`},
		{"affiliations not an option here", "change_room_option", `{"name":"club","service":"` + svc + `","option":"affiliations","value":"owner:a@localhost"}`, 400,
			`"Invalid option affiliations: set with set_room_affiliation or subscribe_room"`},
		{"room not found", "change_room_option", `{"name":"nope","service":"` + svc + `","option":"title","value":"x"}`, 400, `"Room not found"`},
		{"outcast", "set_room_affiliation", `{"name":"club","service":"` + svc + `","jid":"eve@localhost/phone","affiliation":"outcast"}`, 200, `0`},
		{"outcast read", "get_room_affiliation", `{"name":"club","service":"` + svc + `","jid":"eve@localhost"}`, 200, `{"affiliation":"outcast"}`},
		{"bad affiliation", "set_room_affiliation", `{"name":"club","service":"` + svc + `","jid":"eve@localhost","affiliation":"king"}`, 400, `"Invalid affiliation"`},
		{"affiliation, no room", "get_room_affiliation", `{"name":"nope","service":"` + svc + `","jid":"eve@localhost"}`, 400, `"The room does not exist."`},
		{"occupants (no one)", "get_room_occupants", `{"name":"club","service":"` + svc + `"}`, 200, `[]`},
		{"occupants, no room", "get_room_occupants_number", `{"name":"nope","service":"` + svc + `"}`, 400, `"room_not_found"`},
		{"subscriptions not allowed", "subscribe_room", `{"user":"ann@localhost","nick":"Ann","room":"club@` + svc + `","nodes":"urn:xmpp:mucsub:nodes:messages"}`,
			400, `"Subscriptions are not allowed"`},
		{"allow subscriptions", "change_room_option", `{"name":"club","service":"` + svc + `","option":"allow_subscription","value":"true"}`, 200, `0`},
		{"members only: not a member", "subscribe_room", `{"user":"ann@localhost","nick":"Ann","room":"club@` + svc + `","nodes":"urn:xmpp:mucsub:nodes:messages"}`,
			400, `"Membership is required to enter this room"`},
		{"member", "set_room_affiliation", `{"name":"club","service":"` + svc + `","jid":"ann@localhost","affiliation":"member"}`, 200, `0`},
		{"subscribe", "subscribe_room", `{"user":"ann@localhost/pc","nick":"Ann","room":"club@` + svc + `","nodes":"urn:xmpp:mucsub:nodes:messages,x,urn:xmpp:mucsub:nodes:subject"}`,
			200, `["urn:xmpp:mucsub:nodes:messages","urn:xmpp:mucsub:nodes:subject"]`},
		{"nick of another subscriber", "subscribe_room", `{"user":"mark@example.org","nick":"Ann","room":"club@` + svc + `","nodes":""}`,
			400, `"That nickname is already in use by another occupant"`},
		{"outcast refused", "subscribe_room", `{"user":"eve@localhost","nick":"Eve","room":"club@` + svc + `","nodes":""}`, 400, `"You have been banned from this room"`},
		{"many", "subscribe_room_many", `{"users":[{"jid":"mark@example.org","nick":"Mark"},{"jid":"olga@localhost","nick":"Olga"}],"room":"club@` + svc + `","nodes":"urn:xmpp:mucsub:nodes:presence"}`, 200, `0`},
		{"many: one nick taken, none subscribed", "subscribe_room_many", `{"users":[{"jid":"ann@localhost","nick":"Ann2"},{"jid":"olga@localhost","nick":"Mark"}],"room":"club@` + svc + `","nodes":""}`,
			400, `"That nickname is already in use by another occupant"`},
		{"subscribers", "get_subscribers", `{"name":"club","service":"` + svc + `"}`, 200, `["ann@localhost","mark@example.org","olga@localhost","sam@localhost"]`},
		{"user subscriptions", "get_user_subscriptions", `{"user":"ann","host":"localhost"}`, 200,
			`[{"roomjid":"club@conference.localhost","usernick":"Ann","nodes":["urn:xmpp:mucsub:nodes:messages","urn:xmpp:mucsub:nodes:subject"]}]`},
		{"unsubscribe", "unsubscribe_room", `{"user":"ann@localhost","room":"club@` + svc + `"}`, 200, `0`},
		{"unsubscribe again", "unsubscribe_room", `{"user":"ann@localhost","room":"club@` + svc + `"}`, 200, `0`},
		{"malformed room", "unsubscribe_room", `{"user":"ann@localhost","room":"club"}`, 400, `"Malformed room JID"`},
		{"user rooms (no sessions)", "get_user_rooms", `{"user":"ann","host":"localhost"}`, 200, `[]`},
		{"register nick", "muc_register_nick", `{"nick":"Annie","jid":"ann@localhost","service":"` + svc + `"}`, 200, `0`},
		{"nick taken", "muc_register_nick", `{"nick":"Annie","jid":"bob@localhost","service":"` + svc + `"}`, 400, `"Nick already registered"`},
		{"registered nick guards subscriptions", "subscribe_room", `{"user":"mark@example.org","nick":"Annie","room":"club@` + svc + `","nodes":""}`,
			400, `"That nickname is registered by another person"`},
		{"unregister by empty nick", "muc_register_nick", `{"nick":"","jid":"ann@localhost","service":"` + svc + `"}`, 200, `0`},
		{"nick free again", "muc_register_nick", `{"nick":"Annie","jid":"bob@localhost","service":"` + svc + `"}`, 200, `0`},
		{"unregister", "muc_unregister_nick", `{"jid":"bob@localhost","service":"` + svc + `"}`, 200, `0`},
		{"regex", "muc_online_rooms_by_regex", `{"service":"` + svc + `","regex":"^(club|obj)$"}`, 200,
			`[{"jid":"club@conference.localhost","public":"true","participants":0},{"jid":"obj@conference.localhost","public":"true","participants":0}]`},
		{"bad regex", "muc_online_rooms_by_regex", `{"service":"global","regex":"(("}`, 400, `"Invalid 'regex'"`},
		{"history (none running)", "get_room_history", `{"name":"club","service":"` + svc + `"}`, 200, `[]`},
		{"invite, no room", "send_direct_invitation", `{"name":"nope","service":"` + svc + `","password":"none","reason":"none","users":"ann@localhost"}`, 400, `"room_not_found"`},
		{"invite, bad JID", "send_direct_invitation", `{"name":"club","service":"` + svc + `","password":"none","reason":"none","users":"ann@localhost:@"}`, 400, `"Invalid 'users'"`},
		{"invite", "send_direct_invitation", `{"name":"club","service":"` + svc + `","password":"s3cret","reason":"Come","users":"ann@localhost:olga@localhost"}`, 200, `0`},
		{"invite, remote", "send_direct_invitation", `{"name":"club","service":"` + svc + `","password":"none","reason":"none","users":"mark@example.org:ann@localhost"}`, 400,
			`"recipient domain is not hosted here"`},
		{"unused for 10 days", "rooms_unused_list", `{"service":"global","days":10}`, 200, `[]`},
		{"unused now", "rooms_unused_list", `{"service":"` + svc + `","days":0}`, 200,
			`["club@conference.localhost","lobby@conference.localhost","obj@conference.localhost"]`},
		{"rooms file", "create_rooms_file", `{"file":"rooms.txt"}`, 200, `0`},
		{"rooms file again (exist)", "create_rooms_file", `{"file":"rooms.txt"}`, 200, `0`},
		{"rooms file with a bad line", "create_rooms_file", `{"file":"bad.txt"}`, 400, `"transfer/bad.txt: line 2 is not a room JID"`},
		{"rooms file of another service", "create_rooms_file", `{"file":"foreign.txt"}`, 400,
			`"transfer/foreign.txt: f4@conference.elsewhere.example is not a room of this account's MUC services"`},
		{"rooms file missing", "create_rooms_file", `{"file":"none.txt"}`, 400, `"transfer/none.txt does not exist"`},
		{"after files", "muc_online_rooms", `{"service":"` + svc + `"}`, 200,
			`["club@conference.localhost","f1@conference.localhost","f2@conference.localhost","lobby@conference.localhost","obj@conference.localhost"]`},
		{"destroy file", "destroy_rooms_file", `{"file":"rooms.txt"}`, 200, `0`},
		{"destroy file again", "destroy_rooms_file", `{"file":"rooms.txt"}`, 400, `"Room doesn't exists"`},
		{"destroy", "destroy_room", `{"name":"lobby","service":"` + svc + `"}`, 200, `0`},
		{"destroy again", "destroy_room", `{"name":"lobby","service":"` + svc + `"}`, 400, `"Room doesn't exists"`},
		{"empty rooms (archived, no history)", "rooms_empty_list", `{"service":"global"}`, 200, `["club@conference.localhost","obj@conference.localhost"]`},
		{"destroy empty rooms", "rooms_empty_destroy", `{"service":"` + svc + `"}`, 200, `["club@conference.localhost","obj@conference.localhost"]`},
		{"none left", "muc_online_rooms", `{"service":"global"}`, 200, `[]`},
		{"affiliations went with the room", "get_room_affiliations", `{"name":"club","service":"` + svc + `"}`, 400, `"The room does not exist."`},
		{"subscriptions went with the room", "get_user_subscriptions", `{"user":"olga","host":"localhost"}`, 200, `[]`},
		{"unused destroy, none", "rooms_unused_destroy", `{"service":"global","days":0}`, 200, `[]`},
	}
	for _, st := range steps {
		status, body := s.ejabberd(admin, st.cmd, st.body)
		require.Equal(t, st.status, status, "%s (%s): %s", st.name, st.cmd, body)
		require.Equal(t, st.want, body, "%s (%s)", st.name, st.cmd)
	}
}

// TestRoomsCtl: xmppgate ctl takes create_room_with_opts' options as
// name=value items and prints get_room_options a name and value a line.
func TestRoomsCtl(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	code, out, errText := s.ctl("create_room_with_opts", "hall", "conference.localhost", "localhost", "title=Main hall;persistent=true;max_users=9")
	require.Equal(t, 0, code, errText)
	require.Empty(t, out)
	code, out, _ = s.ctl("get_room_options", "hall", "conference.localhost")
	require.Equal(t, 0, code)
	require.Contains(t, out, "title\tMain hall\n")
	require.Contains(t, out, "max_users\t9\n")
	code, out, _ = s.ctl("muc_online_rooms_by_regex", "global", "^h")
	require.Equal(t, 0, code)
	require.Equal(t, "hall@conference.localhost\ttrue\t0\n", out)
	code, _, errText = s.ctl("create_room_with_opts", "hall2", "conference.localhost", "localhost", "public=perhaps")
	require.Equal(t, 1, code)
	require.Contains(t, errText, "Invalid option public: true or false")
}

// BenchmarkRoomCommands: ejabberd room commands through the HTTP server on
// a real SQLite file. create_destroy is two queued changes applied before
// each answer; options is a read.
func BenchmarkRoomCommands(b *testing.B) {
	s := startServerTB(b, nil)
	admin := tenantCreds{adminJID: s.boot.AdminJID, adminPW: s.boot.AdminPassword}
	call := func(cmd, body string) {
		if status, out := s.ejabberd(admin, cmd, body); status != 200 {
			b.Fatalf("%s: %d %s", cmd, status, out)
		}
	}
	b.Run("create_destroy", func(b *testing.B) {
		for range b.N {
			call("create_room", `{"name":"bench","service":"conference.localhost","host":"localhost"}`)
			call("destroy_room", `{"name":"bench","service":"conference.localhost"}`)
		}
	})
	call("create_room_with_opts", `{"name":"opts","service":"conference.localhost","host":"localhost","options":{"title":"T","persistent":"true"}}`)
	b.Run("get_room_options", func(b *testing.B) {
		for range b.N {
			call("get_room_options", `{"name":"opts","service":"conference.localhost"}`)
		}
	})
}
