package conformance

import (
	"fmt"
	"strings"
)

// The case table. Each command's cases run in order on both servers, after
// the cases of the commands before it, so the state a case sees is what
// the same calls left on both. Users are named after their command so one
// command's cases do not see another's; every state a case needs is set up
// through the API in its Setup. Commands that stop the node run last and
// only with requests both servers refuse before acting.

const (
	h1     = "one.example"
	h2     = "two.example"
	noHost = "nohost.example" // served by neither
)

// Why texts shared by several cases.
const (
	whyScram = "ejabberd stores SCRAM keys only (auth_password_format: scram) and refuses; xmppgate keeps a sealed " +
		"copy of the password and answers (docs/ejabberd.md, check_password_hash)"
	whyOutside = "ejabberd reads and writes any path of its host as its own user; xmppgate takes an absolute path " +
		"only inside transfer_dirs (here FILES), as the same commands are open to tenants (docs/backup.md)"
	whyNoFile = "the file does not exist: ejabberd 23.01 answers the Erlang error of the module that failed (for restore " +
		"and load Mnesia's message with 500, for the imports an atom such as enoent); xmppgate a 400 naming the path"
	whyOAuth = "ejabberd 23.01 answers 500 (its default oauth_access, none, lets nobody hold a token); xmppgate issues " +
		"tokens to admin JIDs (docs/ejabberd.md, OAuth)"
	whyV1 = "ejabberd 23.01 takes no API version in the path (any /vN segment: 400 \"Missing command name.\"); " +
		"xmppgate takes ejabberd 24.02's vN segment, here v1 (docs/ejabberd.md)"
	whyCount = "ejabberd 23.01's registeredusers statistic (Mnesia) does not count what registered_users lists (here it " +
		"counts only the users ejabberdctl registered); xmppgate counts the users registered_users lists"
	whyHost = "a host the server does not serve: ejabberd 23.01 answers as for a missing user (0, 1, [], 404) or " +
		"crashes (500), command by command; xmppgate always answers 400 \"Unknown virtual host\" (also for a host of " +
		"another tenant), as ejabberd's register does"
	whyNoUser = "ejabberd 23.01 writes the data of a user that does not exist and answers 0; xmppgate stores nothing " +
		"and answers 1 (docs/ejabberd.md)"
	whyBan = "ejabberd 23.01's ban_account creates the banned account when it does not exist (set_password); " +
		"xmppgate leaves a missing user alone and answers 0"
	whySubs       = "ejabberd 23.01 stores any subscription text; xmppgate takes none, from, to or both only"
	whyCrash      = "ejabberd 23.01 crashes (500 internal_error); xmppgate answers a 400 naming the argument"
	whyScalarList = "xmppgate takes a scalar as a one-item list, as ejabberd 25.10 does; 23.01 refuses it"
	whyXMLText    = "the XML parsers' error texts differ (ejabberd's fast_xml, Go's encoding/xml); both 400"
	whyEmptyJID   = "xmppgate takes an empty JID as a missing argument; ejabberd 23.01 parses it (JID malformed)"
	whyNoNS       = "xmppgate refuses private XML without a namespace (XEP-0049 keys storage by it); ejabberd 23.01 stores it"
	whyEmptyUser  = "ejabberd 23.01 registers a user with an empty name; xmppgate takes an empty user as missing"
	whyAlias      = "real clients (processone's ejabberd-api) send server for host; xmppgate takes the alias for every " +
		"command that has host, ejabberd 23.01 only where args_rename declares it (docs/ejabberd.md)"
	whyRoomDefaults = "a new room has the configuration of xmppgate's MUC service (xmppcore/muc): unmoderated, the " +
		"subject changed by moderators only, no language; ejabberd's default_room_options make it moderated, let " +
		"participants change the subject and set lang en (docs/ejabberd.md, rooms)"
	whyRoomOption = "ejabberd 23.01 keeps any option name and any atom as a boolean's value (the room then ignores it) " +
		"and answers 0 where it does not crash (500 for a number that does not parse); xmppgate refuses an unknown " +
		"option or a value the option does not take with a 400 naming the option"
	whyNoService = "a MUC service the server does not serve (or another tenant's): ejabberd 23.01 crashes (500); " +
		"xmppgate answers 400 \"Invalid 'service'\", ejabberd's answer to it in create_room"
	whyMsgType = "ejabberd 23.01 sends a message of a type XMPP does not define; xmppgate refuses it with the error " +
		"text of ejabberd's XMPP library"
)

func call(cmd, body string) Call { return Call{Cmd: cmd, Body: body} }

// js builds a JSON object body from name/value pairs, in order; a value
// that is a string is quoted, anything else is written with %v (numbers,
// raw JSON from raw()).
func js(kv ...any) string {
	var b strings.Builder
	b.WriteByte('{')
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:", kv[i])
		switch v := kv[i+1].(type) {
		case string:
			fmt.Fprintf(&b, "%q", v)
		default:
			fmt.Fprintf(&b, "%v", v)
		}
	}
	b.WriteByte('}')
	return b.String()
}

// raw is a JSON value written as is by js.
type raw string

func (r raw) String() string { return string(r) }

// reg registers user@host with password pw, after removing any user of
// that name (setup).
func reg(user, host, pw string) []Call {
	return []Call{call("unregister", js("user", user, "host", host)), call("register", js("user", user, "host", host, "password", pw))}
}

// storesForAnyone are the commands ejabberd 23.01 applies to a user that
// does not exist (it writes the data, answers 0), and xmppgate does not.
var storesForAnyone = map[string]bool{"set_vcard": true, "set_vcard2": true, "set_vcard2_multi": true, "set_nickname": true,
	"private_set": true, "set_last": true}

// userArgs are the common error cases of a command whose first arguments
// are user and host, with rest the other arguments' valid values.
func userArgs(cmd, known string, rest ...any) []Case {
	with := func(user, host any) string { return js(append([]any{"user", user, "host", host}, rest...)...) }
	cs := []Case{
		{Name: "unknown user", Call: call(cmd, with("nobody_"+cmd, h1))},
		{Name: "unknown host", Call: call(cmd, with(known, noHost))},
		{Name: "missing host", Call: call(cmd, js(append([]any{"user", known}, rest...)...))},
		{Name: "user not a string", Call: call(cmd, with(raw("5"), h1))},
		{Name: "unknown argument", Call: call(cmd, js(append([]any{"user", known, "host", h1, "bogus", 1}, rest...)...))},
	}
	for i := range cs {
		cs[i].Cmd = cmd
	}
	if storesForAnyone[cmd] {
		cs[0].Why = whyNoUser
	}
	return cs
}

// Cases returns every case, in the order they run.
func Cases() []Case {
	var all []Case
	add := func(cmd string, cs ...Case) {
		for _, c := range cs {
			c.Command = cmd
			if c.Cmd == "" {
				c.Cmd = cmd
			}
			all = append(all, c)
		}
	}
	ok := func(name, body string, setup ...Call) Case {
		return Case{Name: name, Call: Call{Body: body}, Setup: setup}
	}
	v1 := func(name, body string, setup ...Call) Case {
		return Case{Name: name, Call: Call{Body: body, Version: 1}, Setup: setup, Why: whyV1}
	}

	// The request itself (mod_http_api's checks before any command).
	add("registered_vhosts",
		ok("no body", ""),
		ok("invalid JSON", "{"),
		ok("JSON array", "[]"),
		ok("JSON string", `"x"`),
	)
	add("no_such_command", ok("unknown command", "{}"),
		Case{Name: "unknown command, no credentials", Call: Call{Body: "{}"}, Auth: AuthNone})
	// Authentication, before the arguments are looked at.
	add("registered_users",
		Case{Name: "no credentials", Call: Call{Body: js("host", h1)}, Auth: AuthNone},
		Case{Name: "wrong password", Call: Call{Body: js("host", h1)}, Auth: AuthWrong},
		Case{Name: "wrong password, bad arguments", Call: Call{Body: js("bogus", 1)}, Auth: AuthWrong},
		Case{Name: "no credentials, bad arguments", Call: Call{Body: js("bogus", 1)}, Auth: AuthNone},
	)

	// accounts
	add("register",
		ok("ok", js("user", "reg1", "host", h1, "password", "pw1"), call("unregister", js("user", "reg1", "host", h1))),
		ok("exists", js("user", "reg1", "host", h1, "password", "pw1")),
		ok("second vhost", js("user", "reg1", "host", h2, "password", "pw1"), call("unregister", js("user", "reg1", "host", h2))),
		ok("unknown host", js("user", "reg2", "host", noHost, "password", "pw")),
		ok("malformed user", js("user", "a b@c", "host", h1, "password", "pw")),
		Case{Name: "empty user", Call: call("", js("user", "", "host", h1, "password", "pw")), Why: whyEmptyUser},
		ok("missing password", js("user", "reg3", "host", h1), call("unregister", js("user", "", "host", h1))),
		ok("password not a string", js("user", "reg3", "host", h1, "password", raw("123"))),
		Case{Name: "server alias", Call: call("", js("user", "reg4", "server", h1, "password", "pw")), Why: whyAlias},
		v1("v1 ok", js("user", "reg5", "host", h1, "password", "pw"), call("unregister", js("user", "reg5", "host", h1)), call("unregister", js("user", "reg4", "host", h1))),
	)
	add("unregister",
		ok("ok", js("user", "unreg1", "host", h1), reg("unreg1", h1, "pw")...),
		ok("unknown user", js("user", "nobody", "host", h1)),
		ok("unknown host", js("user", "unreg1", "host", noHost)),
		ok("missing user", js("host", h1)),
	)
	add("check_account",
		ok("exists", js("user", "chk", "host", h1), reg("chk", h1, "pw")...),
		ok("other vhost", js("user", "chk", "host", h2)),
	)
	add("check_account", userArgs("check_account", "chk")...)
	add("check_password",
		ok("right", js("user", "chk", "host", h1, "password", "pw")),
		ok("wrong", js("user", "chk", "host", h1, "password", "nope")),
		ok("empty", js("user", "chk", "host", h1, "password", "")),
	)
	add("check_password", userArgs("check_password", "chk", "password", "pw")...)
	add("check_password_hash",
		Case{Name: "md5 right", Call: call("", js("user", "chk", "host", h1, "passwordhash", "8FE4C11451281C094A6578E6DDBF5EED", "hashmethod", "md5")), Why: whyScram},
		Case{Name: "unknown method", Call: call("", js("user", "chk", "host", h1, "passwordhash", "00", "hashmethod", "crc32")), Why: whyScram},
	)
	add("check_password_hash", userArgs("check_password_hash", "chk", "passwordhash", "00", "hashmethod", "md5")...)
	add("change_password",
		ok("ok", js("user", "chpw", "host", h1, "newpass", "new"), reg("chpw", h1, "old")...),
		Case{Name: "new one works", Call: call("check_password", js("user", "chpw", "host", h1, "password", "new"))},
		Case{Name: "old one not", Call: call("check_password", js("user", "chpw", "host", h1, "password", "old"))},
		ok("empty", js("user", "chpw", "host", h1, "newpass", "")),
		ok("newpass not a string", js("user", "chpw", "host", h1, "newpass", raw("7"))),
	)
	add("change_password", userArgs("change_password", "chpw", "newpass", "x")...)
	add("ban_account",
		ok("ok", js("user", "ban1", "host", h1, "reason", "spam"), reg("ban1", h1, "pw")...),
		Case{Name: "banned cannot log in", Call: call("check_password", js("user", "ban1", "host", h1, "password", "pw"))},
		ok("missing reason", js("user", "ban1", "host", h1)),
	)
	ban := userArgs("ban_account", "ban1", "reason", "x")
	ban[0].Why = whyBan
	add("ban_account", ban...)
	add("registered_users",
		// The users only one server made above (ejabberd's banned one,
		// xmppgate's v1 one) go first.
		ok("one", js("host", h1), call("unregister", js("user", "nobody_ban_account", "host", h1)), call("unregister", js("user", "reg5", "host", h1))),
		ok("two", js("host", h2)),
		ok("unknown host", js("host", noHost)),
		ok("missing host", "{}"),
		ok("host not a string", js("host", raw("1"))),
	)
	add("registered_vhosts", ok("ok", "{}"), ok("unknown argument", js("host", h1)))
	// GET: the arguments in the query string, every value a text.
	get := func(name, query string) Case { return Case{Name: name, Call: Call{Body: query, GET: true}} }
	add("registered_users", get("GET", "host="+h1), get("GET unknown argument", "host="+h1+"&x=1"), get("GET missing host", ""))
	add("check_account", get("GET", "user=chk&host="+h1), get("GET escaped", "user=c%68k&host="+h1))

	// statistics
	add("stats",
		Case{Name: "registeredusers", Call: call("", js("name", "registeredusers")), Why: whyCount},
		v1("registeredusers v1", js("name", "registeredusers")),
		ok("onlineusers", js("name", "onlineusers")),
		ok("onlineusersnode", js("name", "onlineusersnode")),
		ok("uptimeseconds", js("name", "uptimeseconds")),
		ok("processes", js("name", "processes")),
		ok("unknown name", js("name", "bogus")),
		ok("missing name", "{}"),
	)
	add("stats_host",
		Case{Name: "registeredusers", Call: call("", js("name", "registeredusers", "host", h1)), Why: whyCount},
		ok("onlineusers", js("name", "onlineusers", "host", h2)),
		v1("registeredusers v1", js("name", "registeredusers", "host", h1)),
		ok("unknown host", js("name", "registeredusers", "host", noHost)),
		ok("unknown name", js("name", "bogus", "host", h1)),
	)
	add("incoming_s2s_number", ok("v0", "{}"), v1("v1", "{}"))
	add("outgoing_s2s_number", ok("v0", "{}"), v1("v1", "{}"))

	// sessions: neither server has a live session here.
	add("connected_users", ok("none", "{}"))
	add("connected_users_info", ok("none", "{}"))
	add("connected_users_number", ok("v0", "{}"), v1("v1", "{}"))
	add("connected_users_vhost", ok("none", js("host", h1)), ok("unknown host", js("host", noHost)), ok("missing host", "{}"))
	add("num_resources", ok("v0", js("user", "chk", "host", h1)), v1("v1", js("user", "chk", "host", h1)))
	add("num_resources", userArgs("num_resources", "chk")...)
	add("kick_user", ok("v0", js("user", "chk", "host", h1)), v1("v1", js("user", "chk", "host", h1)))
	add("kick_user", userArgs("kick_user", "chk")...)
	add("kick_session", ok("no session", js("user", "chk", "host", h1, "resource", "r", "reason", "bye")))
	add("kick_session", userArgs("kick_session", "chk", "resource", "r", "reason", "bye")...)
	add("resource_num",
		ok("no session", js("user", "chk", "host", h1, "num", 1)),
		ok("zero", js("user", "chk", "host", h1, "num", 0)),
		ok("num not a number", js("user", "chk", "host", h1, "num", "one")),
	)
	add("resource_num", userArgs("resource_num", "chk", "num", 1)...)
	getNum := get("GET num", "user=chk&host="+h1+"&num=1")
	getNum.Why = "xmppgate takes a decimal string for an integer argument, as ejabberd 25.10 does, so GET can pass " +
		"one; ejabberd 23.01 refuses every integer given by GET"
	add("resource_num", getNum)
	add("user_resources", ok("none", js("user", "chk", "host", h1)))
	add("user_resources", userArgs("user_resources", "chk")...)
	add("user_sessions_info", ok("none", js("user", "chk", "host", h1)))
	add("user_sessions_info", userArgs("user_sessions_info", "chk")...)
	add("get_presence", ok("offline", js("user", "chk", "host", h1)))
	add("get_presence", userArgs("get_presence", "chk")...)
	add("set_presence",
		ok("no session", js("user", "chk", "host", h1, "resource", "r", "type", "available", "show", "away", "status", "out", "priority", 1)),
		Case{Why: whyCrash, Name: "priority not a number", Call: call("", js("user", "chk", "host", h1, "resource", "r", "type", "available", "show", "away", "status", "out", "priority", "high"))},
	)
	add("set_presence", userArgs("set_presence", "chk", "resource", "r", "type", "available", "show", "away", "status", "out", "priority", 1)...)
	add("status_list", ok("available", js("status", "available")), ok("all", js("status", "all")), ok("missing status", "{}"))
	add("status_list_host", ok("available", js("host", h1, "status", "available")), ok("unknown host", js("host", noHost, "status", "available")))
	add("status_num", ok("v0", js("status", "available")), v1("v1", js("status", "available")))
	add("status_num_host", ok("v0", js("host", h1, "status", "available")), v1("v1", js("host", h2, "status", "available")),
		ok("unknown host", js("host", noHost, "status", "available")))

	// roster
	rosterSetup := append(reg("ros", h1, "pw"), reg("rosv1", h1, "pw")...)
	add("add_rosteritem",
		ok("ok", js("localuser", "ros", "localhost", h1, "user", "c1", "host", h2, "nick", "C One", "group", "Friends", "subs", "both"), rosterSetup...),
		ok("no group", js("localuser", "ros", "localhost", h1, "user", "c2", "host", h2, "nick", "", "group", "", "subs", "none")),
		ok("groups joined", js("localuser", "ros", "localhost", h1, "user", "c3", "host", h2, "nick", "N", "group", "A;B", "subs", "to")),
		v1("v1 groups", js("localuser", "rosv1", "localhost", h1, "user", "c4", "host", h2, "nick", "N", "groups", raw(`["A","B"]`), "subs", "from")),
		v1("v1 group is v0's", js("localuser", "rosv1", "localhost", h1, "user", "c5", "host", h2, "nick", "N", "group", "A", "subs", "from")),
		Case{Why: whySubs, Name: "bad subs", Call: call("", js("localuser", "rosv1", "localhost", h1, "user", "c6", "host", h2, "nick", "N", "group", "A", "subs", "maybe"))},
		Case{Why: whyNoUser, Name: "unknown local user", Call: call("", js("localuser", "nobody_add_rosteritem", "localhost", h1, "user", "c1", "host", h2, "nick", "N", "group", "A", "subs", "both"))},
		ok("unknown local host", js("localuser", "ros", "localhost", noHost, "user", "c1", "host", h2, "nick", "N", "group", "A", "subs", "both")),
		ok("missing subs", js("localuser", "ros", "localhost", h1, "user", "c1", "host", h2, "nick", "N", "group", "A")),
	)
	add("get_roster",
		ok("items", js("user", "ros", "host", h1)),
		v1("items v1", js("user", "ros", "host", h1)),
		ok("empty", js("user", "chk", "host", h1)),
	)
	add("get_roster", userArgs("get_roster", "ros")...)
	add("delete_rosteritem",
		ok("ok", js("localuser", "ros", "localhost", h1, "user", "c2", "host", h2)),
		ok("not there", js("localuser", "ros", "localhost", h1, "user", "c2", "host", h2)),
		ok("unknown local user", js("localuser", "nobody", "localhost", h1, "user", "c1", "host", h2)),
		ok("missing host", js("localuser", "ros", "localhost", h1, "user", "c1")),
	)
	add("process_rosteritems",
		ok("list all", js("action", "list", "subs", "any", "asks", "any", "users", "ros@"+h1, "contacts", "any")),
		// ejabberd's roster of the user it does not have (add_rosteritem above) goes first.
		ok("list both", js("action", "list", "subs", "both", "asks", "any", "users", "any", "contacts", "any"),
			call("delete_rosteritem", js("localuser", "nobody_add_rosteritem", "localhost", h1, "user", "c1", "host", h2))),
		Case{Why: whyCrash, Name: "bad action", Call: call("", js("action", "print", "subs", "any", "asks", "any", "users", "any", "contacts", "any"))},
		ok("delete to", js("action", "delete", "subs", "to", "asks", "any", "users", "ros@"+h1, "contacts", "any")),
		Case{Name: "after delete", Call: call("get_roster", js("user", "ros", "host", h1)), Why: "ejabberd 23.01 answers the " +
			"items process_rosteritems delete matched, but its roster still has them afterwards; xmppgate deletes them"},
	)
	add("push_alltoall",
		ok("ok", js("host", h2, "group", "Everyone"), append(reg("pa1", h2, "pw"), reg("pa2", h2, "pw")...)...),
		Case{Name: "roster after", Call: call("get_roster", js("user", "pa1", "host", h2))},
		ok("unknown host", js("host", noHost, "group", "G")),
	)
	add("push_roster",
		ok("absolute file", js("file", FilesDir+"/roster.txt", "user", "pr1", "host", h1), reg("pr1", h1, "pw")...),
		Case{Name: "roster after", Call: call("get_roster", js("user", "pr1", "host", h1))},
		Case{Name: "file missing", Call: call("", js("file", FilesDir+"/no-roster.txt", "user", "pr1", "host", h1)), Why: whyNoFile},
		Case{Name: "outside transfer_dirs", Call: call("", js("file", OutsideDir+"/roster.txt", "user", "pr1", "host", h1)), Why: whyOutside},
		ok("missing file argument", js("user", "pr1", "host", h1)),
	)
	add("push_roster_all",
		ok("absolute file", js("file", FilesDir+"/roster.txt"), append(reg("pr2", h1, "pw"), reg("pr3", h1, "pw")...)...),
		Case{Name: "roster after", Call: call("get_roster", js("user", "pr2", "host", h1))},
		ok("file not a string", js("file", raw("1"))),
	)

	// vcard
	vc := append(reg("vc", h1, "pw"), reg("vc2", h1, "pw")...)
	add("set_vcard",
		ok("FN", js("user", "vc", "host", h1, "name", "FN", "content", "Vee Cee"), vc...),
		ok("NICKNAME", js("user", "vc", "host", h1, "name", "NICKNAME", "content", "vee")),
		ok("missing content", js("user", "vc", "host", h1, "name", "FN")),
	)
	add("set_vcard", userArgs("set_vcard", "vc", "name", "FN", "content", "x")...)
	add("get_vcard",
		ok("FN", js("user", "vc", "host", h1, "name", "FN")),
		v1("FN v1", js("user", "vc", "host", h1, "name", "FN")),
		ok("not set", js("user", "vc", "host", h1, "name", "TITLE")),
		ok("no vcard", js("user", "chk", "host", h1, "name", "FN")),
	)
	add("get_vcard", userArgs("get_vcard", "vc", "name", "FN")...)
	add("set_vcard2",
		ok("N FAMILY", js("user", "vc", "host", h1, "name", "N", "subname", "FAMILY", "content", "Cee")),
		ok("ORG ORGNAME", js("user", "vc", "host", h1, "name", "ORG", "subname", "ORGNAME", "content", "Acme")),
	)
	add("set_vcard2", userArgs("set_vcard2", "vc", "name", "N", "subname", "GIVEN", "content", "x")...)
	add("get_vcard2",
		ok("N FAMILY", js("user", "vc", "host", h1, "name", "N", "subname", "FAMILY")),
		v1("N FAMILY v1", js("user", "vc", "host", h1, "name", "N", "subname", "FAMILY")),
		ok("not set", js("user", "vc", "host", h1, "name", "N", "subname", "MIDDLE")),
	)
	add("get_vcard2", userArgs("get_vcard2", "vc", "name", "N", "subname", "FAMILY")...)
	add("set_vcard2_multi",
		ok("TEL NUMBER", js("user", "vc", "host", h1, "name", "TEL", "subname", "NUMBER", "contents", raw(`["1","2"]`))),
		Case{Why: whyScalarList, Name: "contents not a list", Call: call("", js("user", "vc2", "host", h1, "name", "TEL", "subname", "NUMBER", "contents", "1"))},
	)
	add("set_vcard2_multi", userArgs("set_vcard2_multi", "vc", "name", "TEL", "subname", "NUMBER", "contents", raw(`["1"]`))...)
	add("get_vcard2_multi",
		ok("TEL NUMBER", js("user", "vc", "host", h1, "name", "TEL", "subname", "NUMBER")),
		ok("none", js("user", "vc", "host", h1, "name", "EMAIL", "subname", "USERID")),
	)
	add("get_vcard2_multi", userArgs("get_vcard2_multi", "vc", "name", "TEL", "subname", "NUMBER")...)
	add("set_nickname",
		ok("ok", js("user", "vc", "host", h1, "nickname", "newnick")),
		Case{Name: "nickname after", Call: call("get_vcard", js("user", "vc", "host", h1, "name", "NICKNAME"))},
		Case{Name: "FN after", Call: call("get_vcard", js("user", "vc", "host", h1, "name", "FN"))},
	)
	add("set_nickname", userArgs("set_nickname", "vc", "nickname", "n")...)

	// private
	add("private_set",
		ok("ok", js("user", "vc", "host", h1, "element", `<storage xmlns="storage:bookmarks"><conference jid="r@conf.example" autojoin="true"/></storage>`)),
		ok("not XML", js("user", "vc", "host", h1, "element", "<storage")),
		Case{Why: whyNoNS, Name: "no namespace", Call: call("", js("user", "vc2", "host", h1, "element", "<storage/>"))},
	)
	add("private_set", userArgs("private_set", "vc", "element", `<x xmlns="a:b"/>`)...)
	add("private_get",
		ok("ok", js("user", "vc", "host", h1, "element", "storage", "ns", "storage:bookmarks")),
		v1("ok v1", js("user", "vc", "host", h1, "element", "storage", "ns", "storage:bookmarks")),
		ok("none", js("user", "vc", "host", h1, "element", "query", "ns", "a:b")),
	)
	add("private_get", userArgs("private_get", "vc", "element", "storage", "ns", "storage:bookmarks")...)

	// PEP (vc's bookmarks were stored by private_set above)
	add("bookmarks_to_pep",
		ok("ok", js("user", "vc", "host", h1)),
		ok("no bookmarks", js("user", "chk", "host", h1)),
	)
	add("bookmarks_to_pep", userArgs("bookmarks_to_pep", "vc")...)
	add("delete_old_pubsub_items", ok("ok", js("number", 1000)), ok("number not a number", js("number", "x")), ok("missing number", "{}"))
	add("delete_expired_pubsub_items", ok("ok", "{}"))

	// last
	add("set_last",
		ok("ok", js("user", "vc", "host", h1, "timestamp", 1700000000, "status", "gone")),
		ok("timestamp not a number", js("user", "vc", "host", h1, "timestamp", "yesterday", "status", "gone")),
	)
	add("set_last", userArgs("set_last", "vc", "timestamp", 1700000000, "status", "s")...)
	add("get_last",
		ok("set", js("user", "vc", "host", h1)),
		ok("never", js("user", "chk", "host", h1)),
	)
	add("get_last", userArgs("get_last", "vc")...)

	// stanzas and offline storage: vc has no session, so messages wait offline.
	add("send_message",
		ok("chat", js("type", "chat", "from", "chk@"+h1, "to", "vc@"+h1, "subject", "", "body", "hello")),
		ok("normal", js("type", "normal", "from", "chk@"+h1, "to", "vc@"+h1, "subject", "S", "body", "hi")),
		Case{Name: "bad type", Call: call("", js("type", "shout", "from", "chk@"+h1, "to", "msgsink@"+h1, "subject", "", "body", "x")), Why: whyMsgType},
		ok("bad from", js("type", "chat", "from", "@@", "to", "vc@"+h1, "subject", "", "body", "x")),
		ok("missing body", js("type", "chat", "from", "chk@"+h1, "to", "vc@"+h1, "subject", "")),
	)
	add("get_offline_count",
		ok("two", js("user", "vc", "host", h1)),
		v1("two v1", js("user", "vc", "host", h1)),
		ok("none", js("user", "chk", "host", h1)),
	)
	add("get_offline_count", userArgs("get_offline_count", "vc")...)
	add("send_stanza",
		ok("message", js("from", "chk@"+h1, "to", "vc@"+h1, "stanza", `<message type="chat"><body>third</body></message>`)),
		Case{Name: "count after", Call: call("get_offline_count", js("user", "vc", "host", h1))},
		Case{Why: whyXMLText, Name: "not XML", Call: call("", js("from", "chk@"+h1, "to", "vc@"+h1, "stanza", "<message"))},
		Case{Why: whyEmptyJID, Name: "bad to", Call: call("", js("from", "chk@"+h1, "to", "", "stanza", "<message/>"))},
	)
	add("send_stanza_c2s",
		ok("no session", js("user", "vc", "host", h1, "resource", "r", "stanza", "<message/>")),
		Case{Why: whyCrash, Name: "not XML", Call: call("", js("user", "vc", "host", h1, "resource", "r", "stanza", "<x"))},
	)
	add("send_stanza_c2s", userArgs("send_stanza_c2s", "vc", "resource", "r", "stanza", "<message/>")...)
	add("privacy_set",
		Case{Name: "other list", Call: call("", js("user", "vc", "host", h1, "xmlquery", `<query xmlns="jabber:iq:privacy"><list name="l"><item type="jid" value="x@y" action="deny" order="1"/></list></query>`))},
		ok("block list", js("user", "vc", "host", h1, "xmlquery", `<query xmlns="jabber:iq:privacy"><list name="Blocked contacts"><item type="jid" value="x@y" action="deny" order="1"/></list></query>`)),
		ok("not XML", js("user", "vc", "host", h1, "xmlquery", "<query")),
	)
	add("privacy_set", userArgs("privacy_set", "vc", "xmlquery", `<query xmlns="jabber:iq:privacy"/>`)...)

	// purge
	add("delete_expired_messages", ok("ok", "{}"))
	add("delete_old_messages", ok("ok", js("days", 30)), ok("days not a number", js("days", "x")), ok("missing days", "{}"))
	add("delete_old_messages_status", ok("none", js("host", h1)), v1("none v1", js("host", h1)), ok("unknown host", js("host", noHost)))
	add("abort_delete_old_messages", ok("none", js("host", h1)), v1("none v1", js("host", h1)))
	add("delete_old_messages_batch",
		ok("unknown host", js("host", noHost, "days", 30, "batch_size", 100, "rate", 10)),
		ok("days not a number", js("host", h1, "days", "x", "batch_size", 100, "rate", 10)),
		ok("missing rate", js("host", h1, "days", 30, "batch_size", 100)),
	)
	// the message archive (mod_mam): no case starts a batch task, whose
	// progress would race the next case.
	add("delete_old_mam_messages", ok("all", js("type", "all", "days", 30)), ok("chat", js("type", "chat", "days", 0)),
		ok("unsupported type", js("type", "bogus", "days", 30)), ok("days not a number", js("type", "all", "days", "x")),
		ok("missing type", js("days", 30)))
	add("delete_old_mam_messages_status", ok("none", js("host", h1)), ok("unknown host", js("host", noHost)))
	add("abort_delete_old_mam_messages", ok("none", js("host", h1)))
	add("delete_old_mam_messages_batch",
		ok("unknown host", js("host", noHost, "type", "all", "days", 30, "batch_size", 100, "rate", 10)),
		Case{Name: "unsupported type", Call: Call{Body: js("host", h1, "type", "bogus", "days", 30, "batch_size", 100, "rate", 10)},
			Why: whyCrash},
		ok("days not a number", js("host", h1, "type", "all", "days", "x", "batch_size", 100, "rate", 10)),
		ok("missing rate", js("host", h1, "type", "all", "days", 30, "batch_size", 100)),
	)
	add("remove_mam_for_user", ok("no archive", js("user", "mamuser", "host", h1)),
		ok("unknown host", js("user", "mamuser", "host", noHost)), ok("missing user", js("host", h1)))
	add("remove_mam_for_user_with_peer", ok("no archive", js("user", "mamuser", "host", h1, "with", "anne@example.com")),
		ok("invalid peer", js("user", "mamuser", "host", h1, "with", "@@bad")),
		ok("missing with", js("user", "mamuser", "host", h1)))
	add("delete_old_users", ok("days not a number", js("days", "x")), ok("missing days", "{}"))
	add("delete_old_push_sessions", ok("ok", js("days", 30)), ok("days 0", js("days", 0)),
		ok("days not a number", js("days", "x")), ok("missing days", "{}"))
	add("delete_old_users_vhost",
		ok("unknown host", js("host", noHost, "days", 10000)),
		ok("days not a number", js("host", h1, "days", "x")),
	)

	// shared roster groups
	add("srg_create",
		ok("ok", js("group", "team", "host", h1, "label", "Team", "description", "The team", "display", raw(`["team"]`))),
		ok("name alias", js("group", "team2", "host", h1, "name", "Team 2", "description", "", "display", raw(`[]`))),
		ok("unknown host", js("group", "g", "host", noHost, "label", "G", "description", "", "display", raw(`[]`))),
		ok("display not a list", js("group", "g", "host", h1, "label", "G", "description", "", "display", "team")),
		ok("missing label", js("group", "g", "host", h1, "description", "", "display", raw(`[]`))),
	)
	add("srg_list", ok("two", js("host", h1)), ok("none", js("host", h2)), ok("unknown host", js("host", noHost)))
	add("srg_get_info", ok("ok", js("group", "team", "host", h1)), ok("unknown group", js("group", "nope", "host", h1)))
	add("srg_user_add",
		ok("ok", js("user", "chk", "host", h1, "group", "team", "grouphost", h1)),
		ok("other vhost user", js("user", "pa1", "host", h2, "group", "team", "grouphost", h1)),
		ok("all", js("user", "@all@", "host", h1, "group", "team2", "grouphost", h1)),
		Case{Name: "unknown group", Call: call("", js("user", "chk", "host", h1, "group", "nope_add", "grouphost", h1)),
			Why: "ejabberd 23.01 adds a member to a group that does not exist and answers 0; xmppgate answers 1"},
		ok("unknown grouphost", js("user", "chk", "host", h1, "group", "team", "grouphost", noHost)),
	)
	add("srg_get_members", ok("ok", js("group", "team", "host", h1)), ok("all", js("group", "team2", "host", h1)),
		ok("unknown group", js("group", "nope", "host", h1)))
	add("srg_user_del",
		ok("ok", js("user", "pa1", "host", h2, "group", "team", "grouphost", h1)),
		ok("not a member", js("user", "pa1", "host", h2, "group", "team", "grouphost", h1)),
		Case{Name: "members after", Call: call("srg_get_members", js("group", "team", "host", h1))},
	)
	add("srg_delete", ok("ok", js("group", "team2", "host", h1)), ok("unknown group", js("group", "team2", "host", h1)),
		Case{Name: "list after", Call: call("srg_list", js("host", h1))})

	// oauth
	add("oauth_issue_token",
		Case{Name: "admin", Call: call("", js("jid", "admin@"+h1, "ttl", 3600, "scopes", "ejabberd:admin")), Why: whyOAuth},
		Case{Name: "scopes a list in v0", Call: call("", js("jid", "admin@"+h1, "ttl", 3600, "scopes", raw(`["ejabberd:admin"]`))),
			Why: "ejabberd 23.01 answers 500 to every token request here (above); xmppgate refuses a list where v0 declares the scopes a string"},
		ok("ttl not a number", js("jid", "admin@"+h1, "ttl", "long", "scopes", raw(`["ejabberd:admin"]`))),
		ok("missing scopes", js("jid", "admin@"+h1, "ttl", 3600)),
	)
	add("oauth_list_tokens", Case{Name: "ok", Call: call("", "{}"), Why: whyOAuth})
	add("oauth_revoke_token", ok("unknown token", js("token", "0123456789abcdefghijklmnopqrstuv")), ok("missing token", "{}"))
	add("oauth_add_client_password",
		ok("ok", js("client_id", "cli1", "client_name", "Client", "secret", "s3cret")),
		ok("missing secret", js("client_id", "cli1", "client_name", "Client")),
	)
	add("oauth_add_client_implicit",
		ok("ok", js("client_id", "cli2", "client_name", "Client", "redirect_uri", "https://example.org/cb")),
	)
	add("oauth_remove_client", ok("ok", js("client_id", "cli1")), ok("unknown", js("client_id", "nope")))

	// server, logs, config, documentation
	add("status", ok("ok", "{}"), v1("v1", "{}"), get("GET", ""))
	add("get_loglevel", ok("v0", "{}"), v1("v1", "{}"))
	add("set_loglevel", ok("warning", js("loglevel", "warning")),
		Case{Name: "level after", Call: call("get_loglevel", "{}")}, ok("bad level", js("loglevel", "loud")), ok("missing", "{}"))
	add("reopen_log", ok("ok", "{}"))
	add("rotate_log", ok("ok", "{}"))
	add("reload_config", ok("ok", "{}"), Case{Name: "configured level again", Call: call("get_loglevel", "{}")})
	add("dump_config",
		ok("absolute file", js("out", FilesDir+"/config.yml")),
		Case{Name: "outside transfer_dirs", Call: call("", js("out", OutsideDir+"/config.yml")), Why: whyOutside},
		ok("missing out", "{}"),
	)
	add("gen_markdown_doc_for_tags",
		ok("absolute file", js("file", FilesDir+"/tags.md")),
		ok("missing file", "{}"),
	)
	add("gen_markdown_doc_for_commands",
		ok("absolute file", js("file", FilesDir+"/cmds.md", "regexp", "status", "examples", "json")),
		ok("missing examples", js("file", FilesDir+"/cmds.md", "regexp", "status")),
		ok("file not a string", js("file", raw("1"), "regexp", "", "examples", "none")),
		ok("examples none", js("file", FilesDir+"/cmds-none.md", "regexp", "status", "examples", "none")),
		ok("examples unknown language", js("file", FilesDir+"/cmds-cobol.md", "regexp", "status", "examples", "cobol")),
	)
	add("gen_html_doc_for_commands",
		ok("absolute file", js("file", FilesDir+"/cmds.html", "regexp", "status", "examples", "json")),
		ok("missing examples", js("file", FilesDir+"/cmds.html", "regexp", "status")),
	)
	add("man", Case{Name: "ok", Call: call("", "{}"), Why: "ejabberd 23.01 builds its man page with asciidoc's a2x (not installed with Debian's package: 400); " +
		"xmppgate writes its own man page into the data directory (docs/ejabberd.md)"})

	// MUC rooms (mod_muc_admin) on the services conference.<host>. Rooms
	// are persistent where a later case needs them, so neither server
	// drops them when empty.
	s1, s2, noSvc := "conference."+h1, "conference."+h2, "conference."+noHost
	room := func(name, service string) string { return js("name", name, "service", service) }
	persistent := func(name, service, host string, opts ...string) Call {
		o := `[{"name":"persistent","value":"true"}`
		for i := 0; i+1 < len(opts); i += 2 {
			o += fmt.Sprintf(`,{"name":%q,"value":%q}`, opts[i], opts[i+1])
		}
		return call("create_room_with_opts", js("name", name, "service", service, "host", host, "options", raw(o+"]")))
	}
	dv := func(why string, c Case) Case { c.Why = why; return c }
	destroy := func(name, service string) Call { return call("destroy_room", room(name, service)) }
	add("create_room",
		ok("ok", js("name", "cr1", "service", s1, "host", h1)),
		ok("exists", js("name", "cr1", "service", s1, "host", h1)),
		ok("upper case name", js("name", "CR2", "service", s1, "host", h1)),
		Case{Name: "listed", Call: call("muc_online_rooms", js("service", s1))},
		ok("malformed name", js("name", "a b@c", "service", s1, "host", h1)),
		ok("service of another host", js("name", "cr3", "service", s2, "host", h1)),
		ok("service not served", js("name", "cr3", "service", noSvc, "host", h1)),
		ok("unknown host", js("name", "cr3", "service", s1, "host", noHost)),
		ok("missing host", js("name", "cr3", "service", s1)),
		ok("name not a string", js("name", raw("1"), "service", s1, "host", h1)),
	)
	add("destroy_room",
		ok("ok", room("cr1", s1)),
		ok("gone", room("cr1", s1)),
		ok("normalised name", room("CR2", s1)),
		ok("service not served", room("cr1", noSvc)),
		ok("missing service", js("name", "cr1")),
		Case{Name: "listed after", Call: call("muc_online_rooms", js("service", s1))},
	)
	add("create_room_with_opts",
		ok("list", js("name", "co1", "service", s1, "host", h1, "options", raw(`[{"name":"persistent","value":"true"},{"name":"title","value":"Room One"},{"name":"members_only","value":"true"},{"name":"max_users","value":"50"}]`))),
		Case{Name: "options after", Call: call("get_room_options", room("co1", s1)), Why: whyRoomDefaults},
		ok("object", js("name", "co2", "service", s1, "host", h1, "options", raw(`{"persistent":"true","description":"Two"}`))),
		ok("empty", js("name", "co3", "service", s1, "host", h1, "options", raw(`[]`))),
		ok("exists", js("name", "co1", "service", s1, "host", h1, "options", raw(`[]`))),
		dv(whyRoomOption, ok("unknown option", js("name", "co4", "service", s1, "host", h1, "options", raw(`[{"name":"bogus","value":"true"}]`)))),
		dv(whyRoomOption, ok("boolean not true or false", js("name", "co5", "service", s1, "host", h1, "options", raw(`[{"name":"public","value":"maybe"}]`)))),
		dv(whyRoomOption, ok("max_users not a number", js("name", "co6", "service", s1, "host", h1, "options", raw(`[{"name":"max_users","value":"many"}]`)))),
		dv("ejabberd 23.01 cannot start a room given affiliations as text (400 \"Unable to start room\"); xmppgate takes ejabberd 23.04's affiliation:jid items", ok("affiliations", js("name", "co7", "service", s1, "host", h1, "options", raw(`[{"name":"persistent","value":"true"},{"name":"affiliations","value":"owner:own@`+h1+`,member:mem@`+h2+`"}]`)))),
		ok("options not a list", js("name", "co8", "service", s1, "host", h1, "options", "persistent")),
		ok("service not served", js("name", "co9", "service", noSvc, "host", h1, "options", raw(`[]`))),
		ok("missing options", js("name", "co9", "service", s1, "host", h1)),
		Case{Name: "cleanup", Call: call("muc_online_rooms_by_regex", js("service", s1, "regex", "^co")),
			Setup: []Call{destroy("co2", s1), destroy("co3", s1), destroy("co4", s1), destroy("co5", s1), destroy("co7", s1)}},
	)
	add("get_room_options",
		dv(whyRoomDefaults, ok("ok", room("co1", s1))),
		ok("unknown room", room("nope", s1)),
		ok("service not served", room("co1", noSvc)),
		ok("missing name", js("service", s1)),
	)
	add("change_room_option",
		ok("title", js("name", "co1", "service", s1, "option", "title", "value", "Renamed")),
		ok("members_only", js("name", "co1", "service", s1, "option", "members_only", "value", "false")),
		ok("max_users", js("name", "co1", "service", s1, "option", "max_users", "value", "7")),
		ok("password", js("name", "co1", "service", s1, "option", "password", "value", "secret")),
		ok("password_protected", js("name", "co1", "service", s1, "option", "password_protected", "value", "true")),
		ok("anonymous", js("name", "co1", "service", s1, "option", "anonymous", "value", "false")),
		ok("allow_subscription", js("name", "co1", "service", s1, "option", "allow_subscription", "value", "true")),
		Case{Name: "options after", Call: call("get_room_options", room("co1", s1)), Why: whyRoomDefaults},
		dv(whyRoomOption, ok("unknown option", js("name", "co1", "service", s1, "option", "bogus", "value", "1"))),
		dv(whyRoomOption, ok("max_users not a number", js("name", "co1", "service", s1, "option", "max_users", "value", "x"))),
		dv(whyRoomOption, ok("boolean not true or false", js("name", "co1", "service", s1, "option", "public", "value", "maybe"))),
		ok("unknown room", js("name", "nope", "service", s1, "option", "title", "value", "x")),
		ok("service not served", js("name", "co1", "service", noSvc, "option", "title", "value", "x")),
		ok("missing value", js("name", "co1", "service", s1, "option", "title")),
	)
	add("set_room_affiliation",
		ok("owner", js("name", "co1", "service", s1, "jid", "own@"+h1, "affiliation", "owner")),
		ok("member of another server", js("name", "co1", "service", s1, "jid", "mem@"+h2+"/res", "affiliation", "member")),
		ok("outcast", js("name", "co1", "service", s1, "jid", "out@"+h1, "affiliation", "outcast")),
		ok("none", js("name", "co1", "service", s1, "jid", "gone@"+h1, "affiliation", "none")),
		ok("invalid affiliation", js("name", "co1", "service", s1, "jid", "x@"+h1, "affiliation", "king")),
		dv(whyCrash, ok("malformed jid", js("name", "co1", "service", s1, "jid", "@@", "affiliation", "member"))),
		ok("unknown room", js("name", "nope", "service", s1, "jid", "x@"+h1, "affiliation", "member")),
	)
	add("get_room_affiliations",
		ok("ok", room("co1", s1)),
		ok("none", room("co1", s1), call("set_room_affiliation", js("name", "co1", "service", s1, "jid", "own@"+h1, "affiliation", "none")),
			call("set_room_affiliation", js("name", "co1", "service", s1, "jid", "mem@"+h2, "affiliation", "none")),
			call("set_room_affiliation", js("name", "co1", "service", s1, "jid", "out@"+h1, "affiliation", "none"))),
		ok("unknown room", room("nope", s1)),
		ok("service not served", room("co1", noSvc)),
	)
	add("get_room_affiliation",
		ok("member", js("name", "co1", "service", s1, "jid", "mem@"+h2),
			call("set_room_affiliation", js("name", "co1", "service", s1, "jid", "mem@"+h2, "affiliation", "member"))),
		ok("full jid", js("name", "co1", "service", s1, "jid", "mem@"+h2+"/r")),
		ok("none", js("name", "co1", "service", s1, "jid", "nobody@"+h1)),
		dv(whyCrash, ok("malformed jid", js("name", "co1", "service", s1, "jid", "@@"))),
		ok("unknown room", js("name", "nope", "service", s1, "jid", "x@"+h1)),
	)
	add("get_room_occupants", ok("empty", room("co1", s1)), ok("unknown room", room("nope", s1)), ok("service not served", room("co1", noSvc)))
	add("get_room_occupants_number", ok("empty", room("co1", s1)), v1("empty v1", room("co1", s1)), ok("unknown room", room("nope", s1)))
	add("get_room_history", dv("ejabberd 23.04 added get_room_history (23.01: 404 \"Endpoint not found.\"); xmppgate answers it as 23.04 does", ok("empty", room("co1", s1))))
	add("send_direct_invitation",
		ok("ok", js("name", "co1", "service", s1, "password", "none", "reason", "Join us", "users", "inv1@"+h1+":inv2@"+h2)),
		ok("with password", js("name", "co1", "service", s1, "password", "secret", "reason", "none", "users", "inv1@"+h1)),
		dv(whyCrash, ok("malformed user", js("name", "co1", "service", s1, "password", "none", "reason", "none", "users", "@@"))),
		ok("unknown room", js("name", "nope", "service", s1, "password", "none", "reason", "none", "users", "inv1@"+h1)),
	)
	sub := func(user, nick, room string) string {
		return js("user", user, "nick", nick, "room", room, "nodes", "urn:xmpp:mucsub:nodes:messages,urn:xmpp:mucsub:nodes:subject")
	}
	add("subscribe_room",
		ok("not allowed", sub("sub1@"+h1, "s1", "sb1@"+s1), persistent("sb1", s1, h1)),
		ok("ok", sub("sub1@"+h1, "s1", "sb1@"+s1),
			call("change_room_option", js("name", "sb1", "service", s1, "option", "allow_subscription", "value", "true"))),
		ok("again, other nick", sub("sub1@"+h1+"/res", "s1b", "sb1@"+s1)),
		ok("unknown nodes", js("user", "sub2@"+h2, "nick", "s2", "room", "sb1@"+s1, "nodes", "bogus,urn:xmpp:mucsub:nodes:presence")),
		ok("nick in use", sub("sub3@"+h1, "s1b", "sb1@"+s1)),
		ok("empty nick", sub("sub3@"+h1, "", "sb1@"+s1)),
		ok("outcast", sub("sub4@"+h1, "s4", "sb1@"+s1),
			call("set_room_affiliation", js("name", "sb1", "service", s1, "jid", "sub4@"+h1, "affiliation", "outcast"))),
		ok("malformed user", sub("@@", "s5", "sb1@"+s1)),
		ok("malformed room", sub("sub5@"+h1, "s5", "@@")),
		ok("unknown room", sub("sub5@"+h1, "s5", "nope@"+s1)),
		ok("service not served", sub("sub5@"+h1, "s5", "sb1@"+noSvc)),
	)
	add("subscribe_room_many",
		ok("ok", js("users", raw(`[{"jid":"many1@`+h1+`","nick":"m1"},{"jid":"many2@`+h2+`","nick":"m2"}]`), "room", "sb1@"+s1, "nodes", "urn:xmpp:mucsub:nodes:messages")),
		ok("nick in use", js("users", raw(`[{"jid":"many3@`+h1+`","nick":"m1"}]`), "room", "sb1@"+s1, "nodes", "urn:xmpp:mucsub:nodes:messages")),
		ok("malformed user", js("users", raw(`[{"jid":"@@","nick":"m4"}]`), "room", "sb1@"+s1, "nodes", "urn:xmpp:mucsub:nodes:messages")),
		ok("none", js("users", raw(`[]`), "room", "sb1@"+s1, "nodes", "urn:xmpp:mucsub:nodes:messages")),
		ok("unknown room", js("users", raw(`[{"jid":"many4@`+h1+`","nick":"m4"}]`), "room", "nope@"+s1, "nodes", "urn:xmpp:mucsub:nodes:messages")),
		ok("users not a list", js("users", "many5@"+h1, "room", "sb1@"+s1, "nodes", "urn:xmpp:mucsub:nodes:messages")),
	)
	add("get_subscribers",
		ok("one", room("sb2", s1), persistent("sb2", s1, h1, "allow_subscription", "true"),
			call("subscribe_room", sub("gs1@"+h1, "g1", "sb2@"+s1))),
		ok("none", room("co1", s1)),
		ok("unknown room", room("nope", s1)),
	)
	add("get_user_subscriptions",
		ok("two", js("user", "sub1", "host", h1), call("subscribe_room", sub("sub1@"+h1, "s1c", "sb2@"+s1))),
		ok("none", js("user", "nosub", "host", h1)),
		ok("unknown host", js("user", "sub1", "host", noHost)),
	)
	add("unsubscribe_room",
		ok("ok", js("user", "sub1@"+h1, "room", "sb2@"+s1)),
		ok("not subscribed", js("user", "sub1@"+h1, "room", "sb2@"+s1)),
		Case{Name: "subscribers after", Call: call("get_subscribers", room("sb2", s1))},
		ok("malformed user", js("user", "@@", "room", "sb2@"+s1)),
		ok("malformed room", js("user", "sub1@"+h1, "room", "@@")),
		ok("unknown room", js("user", "sub1@"+h1, "room", "nope@"+s1)),
	)
	add("get_user_rooms", ok("none", js("user", "sub1", "host", h1)), ok("unknown host", js("user", "sub1", "host", noHost)))
	add("muc_online_rooms",
		ok("one", js("service", s2), persistent("on1", s2, h2)),
		dv(whyNoService, ok("service not served", js("service", noSvc))),
		dv(whyNoService, ok("not a service", js("service", "nohost"))),
		ok("missing service", "{}"),
	)
	add("muc_online_rooms_by_regex",
		ok("match", js("service", "global", "regex", "^on")),
		ok("no match", js("service", s2, "regex", "^zz")),
		dv(whyCrash, ok("bad regex", js("service", s2, "regex", "(("))),
		dv(whyNoService, ok("service not served", js("service", noSvc, "regex", "a"))),
	)
	add("rooms_unused_list",
		ok("days 0", js("service", s2, "days", 0)),
		ok("days 10", js("service", s2, "days", 10)),
		dv(whyNoService, ok("service not served", js("service", noSvc, "days", 0))),
		ok("days not a number", js("service", s2, "days", "x")),
	)
	add("rooms_unused_destroy",
		ok("days 10", js("service", s2, "days", 10)),
		ok("days 0", js("service", s2, "days", 0)),
		Case{Name: "listed after", Call: call("muc_online_rooms", js("service", s2))},
		dv(whyNoService, ok("service not served", js("service", noSvc, "days", 0))),
	)
	add("rooms_empty_list",
		ok("one", js("service", s2), persistent("em1", s2, h2)),
		dv(whyNoService, ok("service not served", js("service", noSvc))),
	)
	add("rooms_empty_destroy",
		ok("one", js("service", s2)),
		Case{Name: "listed after", Call: call("muc_online_rooms", js("service", s2))},
		dv(whyNoService, ok("service not served", js("service", noSvc))),
	)
	add("muc_register_nick",
		ok("ok", js("nick", "Nicky", "jid", "nick1@"+h1, "service", s1)),
		ok("taken", js("nick", "Nicky", "jid", "nick2@"+h1, "service", s1)),
		ok("other case", js("nick", "nicky", "jid", "nick2@"+h1, "service", s1)),
		ok("replaces", js("nick", "Other", "jid", "nick1@"+h1, "service", s1)),
		ok("full jid of another server", js("nick", "Far", "jid", "nick3@"+h2+"/r", "service", s1)),
		ok("malformed jid", js("nick", "X", "jid", "@@", "service", s1)),
		ok("service not served", js("nick", "Y", "jid", "nick4@"+h1, "service", noSvc)),
		ok("empty nick", js("nick", "", "jid", "nick4@"+h1, "service", s1)),
	)
	add("muc_unregister_nick",
		ok("ok", js("jid", "nick1@"+h1, "service", s1)),
		ok("none", js("jid", "nick1@"+h1, "service", s1)),
		ok("malformed jid", js("jid", "@@", "service", s1)),
		ok("service not served", js("jid", "nick1@"+h1, "service", noSvc)),
	)
	add("create_rooms_file",
		ok("absolute file", js("file", FilesDir+"/rooms.txt")),
		dv("ejabberd 23.01 only notes the file for its next start and answers 0 whatever it holds; xmppgate creates the rooms at once and refuses a file with a line that is not a room JID, creating none", ok("bad line", js("file", FilesDir+"/rooms-bad.txt"))),
		Case{Name: "no such file", Call: call("", js("file", FilesDir+"/no-rooms.txt")), Why: whyNoFile},
		ok("missing file", "{}"),
	)
	add("destroy_rooms_file",
		ok("absolute file", js("file", FilesDir+"/rooms.txt")),
		ok("room missing", js("file", FilesDir+"/rooms.txt")),
		Case{Name: "no such file", Call: call("", js("file", FilesDir+"/no-rooms.txt")), Why: whyNoFile},
		Case{Name: "cleanup", Call: call("muc_online_rooms", js("service", s1)),
			Setup: []Call{destroy("co1", s1), destroy("sb1", s1), destroy("sb2", s1)}},
	)

	// mnesia family: absolute paths inside transfer_dirs (FILES); the
	// formats are each server's own (docs/backup.md).
	add("backup", ok("absolute file", js("file", FilesDir+"/backup")),
		Case{Name: "outside transfer_dirs", Call: call("", js("file", OutsideDir+"/backup")), Why: whyOutside},
		ok("missing file", "{}"), ok("file not a string", js("file", raw("2"))))
	add("restore", ok("absolute file", js("file", FilesDir+"/backup")),
		Case{Name: "no such file", Call: call("", js("file", FilesDir+"/no-such-backup")), Why: whyNoFile},
		ok("missing file", "{}"), ok("file not a string", js("file", raw("2"))))
	add("dump", ok("absolute file", js("file", FilesDir+"/dump")), ok("file not a string", js("file", raw("2"))))
	add("load", ok("absolute file", js("file", FilesDir+"/dump")),
		Case{Name: "no such file", Call: call("", js("file", FilesDir+"/no-such-dump")), Why: whyNoFile},
		ok("missing file", "{}"), ok("file not a string", js("file", raw("2"))))
	add("export_piefxis", ok("absolute dir", js("dir", FilesDir+"/piefxis")), ok("missing dir", "{}"))
	add("export_piefxis_host",
		ok("absolute dir", js("dir", FilesDir+"/piefxis1", "host", h1)),
		ok("missing host", js("dir", FilesDir+"/piefxis1")),
	)
	add("import_piefxis", ok("absolute file", js("file", FilesDir+"/import.xml")),
		Case{Name: "imported password", Call: call("check_password", js("user", "pief", "host", h1, "password", "piefpw"))},
		Case{Name: "imported roster", Call: call("get_roster", js("user", "pief", "host", h1))},
		Case{Name: "imported vcard", Call: call("get_vcard", js("user", "pief", "host", h1, "name", "FN"))},
		Case{Name: "no such file", Call: call("", js("file", FilesDir+"/no-such.xml")), Why: whyNoFile},
		ok("missing file", "{}"), ok("file not a string", js("file", raw("3"))))
	add("import_prosody", ok("absolute dir", js("dir", FilesDir+"/prosody")),
		Case{Name: "imported password", Call: call("check_password", js("user", "pros", "host", h1, "password", "prospw"))},
		Case{Name: "imported vcard", Call: call("get_vcard", js("user", "pros", "host", h1, "name", "FN"))},
		Case{Name: "no such dir", Call: call("", js("dir", FilesDir+"/no-such-dir")), Why: whyNoFile},
		ok("missing dir", "{}"))
	add("import_openfire", Case{Name: "missing file", Call: Call{Body: "{}"},
		Why: "xmppgate's own command (Openfire's user export); ejabberd 23.01 has none: 404 \"Endpoint not found.\""})

	// Last: commands that stop or restart the node, only with requests
	// refused before they act.
	add("stop_kindly", ok("delay not a number", js("delay", "soon", "announcement", "bye")), ok("missing announcement", js("delay", 1)))
	add("stop", ok("unknown argument", js("now", true)))
	add("restart", ok("unknown argument", js("now", true)))
	for i := range all {
		if all[i].Why == "" && strings.HasPrefix(all[i].Name, "unknown") && strings.HasSuffix(all[i].Name, "host") {
			all[i].Why = whyHost // cleared where the answers are equal (register's)
		}
	}
	return all
}
