package main

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/store"
)

// The tenant isolation matrix: every registry command, through every
// dialect that offers it, aimed at account B's data with the credentials of
// account A, of A without the right, and of the operator's admin. Whatever
// each call answers, B's data must be unchanged and the reply must not name
// anything of B's that the request did not name itself. Calls without the
// right must be refused outright.

// Names of B's that no request ever sends: finding one in a reply is a leak.
var isolationMarkers = []string{"zed-hidden", "quentin", "Beatrix", "b2-hidden.example"}

// Operator commands that would end or replace the shared test server; they
// are still sent with credentials that must be refused.
var isolationDisruptive = map[string]bool{
	"stop": true, "restart": true, "stop_kindly": true, "restore": true, "load": true,
	"import_piefxis": true, "import_prosody": true, "import_openfire": true, "reload_config": true, "set_loglevel": true,
}

// Purges that the operator runs over every domain: B's data changes when
// the operator calls them, as it should (the tenants' calls must not).
var isolationOperatorWide = map[string]bool{"delete_old_pubsub_items": true, "delete_expired_pubsub_items": true}

type tenantCreds struct {
	key      string // DreamHost key
	adminJID string // ejabberd Basic user
	adminPW  string
	secret   string // Openfire secret
	restUser string
	restPW   string
}

type isolationFixture struct {
	a, aNoRight, b, operator tenantCreds
	bToken                   string
}

func (s *testServer) isolationFixture(t *testing.T) isolationFixture {
	ctx := context.Background()
	env := s.app.env
	var f isolationFixture
	tenant := func(name string, domains ...string) (store.Account, tenantCreds) {
		acc, err := commands.CreateAccount(ctx, env, name, 0, false)
		require.NoError(t, err)
		for _, d := range domains {
			_, err := commands.CreateDomain(ctx, env, d, acc.ID)
			require.NoError(t, err)
		}
		var c tenantCreds
		c.key, _, err = commands.CreateKey(ctx, env, commands.KeySpec{Account: acc.ID, Cmds: []string{"*"}, Comment: name})
		require.NoError(t, err)
		c.secret, _, err = commands.SetOpenfire(ctx, env, commands.OpenfireSpec{Account: acc.ID, Random: true})
		require.NoError(t, err)
		c.restUser = name
		c.restPW, err = commands.SetRESTPassword(ctx, env, acc.ID, "")
		require.NoError(t, err)
		c.adminJID, c.adminPW, err = commands.BootstrapAdmin(ctx, env, s.app.reg, acc.ID, domains[0])
		require.NoError(t, err)
		return acc, c
	}
	accA, credsA := tenant("acme", "a.example")
	_, f.b = tenant("other", "b.example", "b2-hidden.example")
	f.a = credsA

	// A's credentials without the right: a key for another module, a user
	// with no api permission, a wrong secret and a wrong password.
	noRight, _, err := commands.CreateKey(ctx, env, commands.KeySpec{Account: accA.ID, Cmds: []string{"dns-*"}, Comment: "no right"})
	require.NoError(t, err)
	s.dh(credsA.key, "jabber-add_user", "username", "noperm", "domain", "a.example", "password", "nopermpw").token(t)
	f.aNoRight = tenantCreds{key: noRight, adminJID: "noperm@a.example", adminPW: "nopermpw",
		secret: "wrong-" + credsA.secret, restUser: "acme", restPW: "wrong-" + credsA.restPW}
	f.operator = tenantCreds{key: s.boot.Key, adminJID: s.boot.AdminJID, adminPW: s.boot.AdminPassword,
		secret: s.boot.OpenfireSecret, restUser: s.boot.RESTUser, restPW: s.boot.RESTPassword}

	// B's data: users, a roster item and a vCard whose names are markers.
	f.bToken = s.dh(f.b.key, "jabber-add_user", "username", "bob", "domain", "b.example", "password", "bobpass").token(t)
	s.dh(f.b.key, "jabber-add_user", "username", "zed-hidden", "domain", "b.example", "password", "zedpass").token(t)
	s.dh(f.b.key, "jabber-add_user", "username", "carol", "domain", "b2-hidden.example", "password", "carolpass").token(t)
	s.runWorker()
	status, body := s.ejabberd(f.b, "add_rosteritem", `{"localuser":"bob","localhost":"b.example","user":"quentin","host":"elsewhere.example","nick":"Quentin","group":"Friends","subs":"both"}`)
	require.Equal(t, 200, status, body)
	bob, err := env.Store.UserByJID(ctx, "b.example", "bob")
	require.NoError(t, err)
	require.NoError(t, env.Store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.SetVCard(ctx, bob.ID, []byte(`<vCard xmlns="vcard-temp"><FN>Beatrix Hidden</FN></vCard>`)); err != nil {
			return err
		}
		// An archived message (XEP-0313), too recent for the operator's
		// purges of every domain (days 1), in reach of A's.
		if err := tx.InsertArchive(ctx, []store.ArchiveRow{{ID: time.Now().UnixMicro(), UserID: bob.ID, Peer: "quentin@elsewhere.example",
			Stanza: []byte(`<message xmlns="jabber:client" from="quentin@elsewhere.example"><body>Beatrix</body></message>`)}}); err != nil {
			return err
		}
		// PEP items the pubsub purges could reach, and bookmarks for bookmarks_to_pep.
		if err := tx.SetPrivateXML(ctx, bob.ID, "storage:bookmarks",
			[]byte(`<storage xmlns="storage:bookmarks"><conference jid="zed-hidden@muc.b.example"/></storage>`)); err != nil {
			return err
		}
		n, err := tx.CreatePubsubNode(ctx, store.PubsubNode{UserID: bob.ID, Name: "urn:isolation", Config: []byte(`{}`), MaxItems: 10, ItemExpire: 86400})
		if err != nil {
			return err
		}
		// And a node of B's pubsub service, owned by bob.
		sn, err := tx.CreateServiceNode(ctx, store.PubsubNode{DomainID: bob.DomainID, Name: "isolation", Config: []byte(`{}`), MaxItems: 10, ItemExpire: 86400}, bob.ID)
		if err != nil {
			return err
		}
		if _, err := tx.Subscribe(ctx, sn.ID, bob.ID, "bob@b.example", "sub1"); err != nil {
			return err
		}
		for _, id := range []string{"1", "2"} {
			if err := tx.PublishPubsubItem(ctx, n.ID, store.PubsubItem{ID: id, Payload: []byte(`<x xmlns="urn:isolation"/>`), Publisher: "bob@b.example"}); err != nil {
				return err
			}
			if err := tx.PublishServiceItem(ctx, sn.ID, store.PubsubItem{ID: id, Payload: []byte(`<x xmlns="urn:isolation"/>`), Publisher: "bob@b.example"}); err != nil {
				return err
			}
		}
		// Rooms of B's MUC service: lobby, which the room commands aim at,
		// holds markers (title, an affiliation, a subscriber, a registered
		// nick); zed-hidden must not show in anyone else's listings.
		for _, name := range []string{"lobby", "zed-hidden"} {
			r, err := tx.CreateRoom(ctx, store.Room{DomainID: bob.DomainID, Name: name,
				Config: []byte(`{"name":"Beatrix","persistent":true,"archive":true,"ejabberd":{"allow_subscription":"true"}}`)})
			if err != nil {
				return err
			}
			if err := tx.SetRoomAffiliation(ctx, r.ID, "quentin@elsewhere.example", store.MUCAffMember, "Beatrix"); err != nil {
				return err
			}
			if err := tx.SubscribeRoom(ctx, r.ID, "bob@b.example", "Beatrix", []string{"urn:xmpp:mucsub:nodes:messages"}); err != nil {
				return err
			}
		}
		if err := tx.RegisterRoomNick(ctx, bob.DomainID, "quentin@elsewhere.example", "Beatrix"); err != nil {
			return err
		}
		// An audit line of B's, for the audit log readers (Openfire's
		// security log): actor and detail are markers.
		d, err := tx.DomainByFQDN(ctx, "b.example")
		if err != nil {
			return err
		}
		return tx.Audit(ctx, d.AccountID, "zed-hidden", "isolation", "Beatrix")
	}))
	return f
}

func (s *testServer) ejabberd(c tenantCreds, cmd, body string) (int, string) {
	return s.do(http.MethodPost, "/api/"+cmd, body, func(r *http.Request) { r.SetBasicAuth(c.adminJID, c.adminPW) })
}

// tenantDigest hashes every row of the database that belongs to account's
// domains, users or itself, discovered by column name, so tables added
// later are covered without listing them here.
func tenantDigest(t *testing.T, db *sql.DB, account int64) string {
	t.Helper()
	tables := queryStrings(t, db, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`)
	sort.Strings(tables)
	h := sha256.New()
	for _, table := range tables {
		cols := queryStrings(t, db, `SELECT name FROM pragma_table_info(?)`, table)
		var where string
		switch {
		case table == "accounts":
			where = "id = ?"
		case table == "domains":
			where = "account_id = ?"
		case table == "users":
			where = "domain_id IN (SELECT id FROM domains WHERE account_id = ?)"
		case contains(cols, "user_id"):
			where = "user_id IN (SELECT u.id FROM users u JOIN domains d ON d.id = u.domain_id WHERE d.account_id = ?)"
		case contains(cols, "domain_id"):
			where = "domain_id IN (SELECT id FROM domains WHERE account_id = ?)"
		case table == "pubsub_items":
			where = "node_id IN (SELECT n.id FROM pubsub_nodes n JOIN users u ON u.id = n.user_id JOIN domains d ON d.id = u.domain_id WHERE d.account_id = ?)"
		case table == "pubsub_service_items":
			where = "node_id IN (SELECT n.id FROM pubsub_service_nodes n JOIN domains d ON d.id = n.domain_id WHERE d.account_id = ?)"
		case table == "pubsub_service_affiliations" || table == "pubsub_service_subscriptions":
			where = "node_id IN (SELECT n.id FROM pubsub_service_nodes n JOIN domains d ON d.id = n.domain_id WHERE d.account_id = ?)"
		case contains(cols, "room_id"):
			where = "room_id IN (SELECT r.id FROM muc_rooms r JOIN domains d ON d.id = r.domain_id WHERE d.account_id = ?)"
		case contains(cols, "group_id"):
			where = "group_id IN (SELECT g.id FROM shared_groups g JOIN domains d ON d.id = g.domain_id WHERE d.account_id = ?)"
		case contains(cols, "account_id") && table != "audit" && table != "batches":
			where = "account_id = ?"
		default:
			continue
		}
		rows, err := db.Query(fmt.Sprintf(`SELECT * FROM %q WHERE %s ORDER BY 1, 2`, table, where), account)
		require.NoError(t, err, table)
		n := len(cols)
		for rows.Next() {
			vals := make([]any, n)
			ptrs := make([]any, n)
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			require.NoError(t, rows.Scan(ptrs...))
			fmt.Fprintf(h, "%s:%v\n", table, vals)
		}
		require.NoError(t, rows.Err())
		rows.Close()
	}
	return hex.EncodeToString(h.Sum(nil))
}

func queryStrings(t *testing.T, db *sql.DB, q string, args ...any) []string {
	rows, err := db.Query(q, args...)
	require.NoError(t, err)
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		require.NoError(t, rows.Scan(&s))
		out = append(out, s)
	}
	return out
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// isolationOverrides are values for arguments whose generic value would be
// refused before the command looks at any account's data (ejabberd answers
// an unknown statistic with a 500, as it does).
var isolationOverrides = map[string]any{"stats.name": "registeredusers", "stats_host.name": "onlineusers",
	// MAM purges of every type, and a peer of bob's archived message.
	"delete_old_mam_messages.type": "all", "delete_old_mam_messages_batch.type": "all",
	"remove_mam_for_user_with_peer.with": "quentin@elsewhere.example"}

// The room commands aim at B's room lobby on B's MUC service, and the
// listings and clean-ups at every service the caller reaches (global), where
// B's rooms must not show nor go.
func init() {
	for _, cmd := range []string{"create_room", "create_room_with_opts", "destroy_room", "change_room_option",
		"get_room_options", "get_room_affiliation", "get_room_affiliations", "set_room_affiliation", "get_room_occupants",
		"get_room_occupants_number", "get_room_history", "send_direct_invitation", "subscribe_room",
		"subscribe_room_many", "unsubscribe_room", "get_subscribers", "muc_register_nick", "muc_unregister_nick"} {
		isolationOverrides[cmd+".name"] = "lobby"
		isolationOverrides[cmd+".service"] = "conference.b.example"
		isolationOverrides[cmd+".room"] = "lobby@conference.b.example"
	}
	for _, cmd := range []string{"muc_online_rooms", "muc_online_rooms_by_regex", "rooms_empty_list", "rooms_empty_destroy",
		"rooms_unused_list", "rooms_unused_destroy"} {
		isolationOverrides[cmd+".service"] = "global"
	}
	isolationOverrides["muc_online_rooms_by_regex.regex"] = "."
	// The security log read whole: no actor filter, no time bound, where
	// B's audit line (markers) would show.
	for arg, v := range map[string]any{"username": "", "offset": 0, "limit": 1000, "startTime": 0, "endTime": 0} {
		isolationOverrides["GET logs/security."+arg] = v
	}
	isolationOverrides["rooms_unused_list.days"] = 0
	isolationOverrides["rooms_unused_destroy.days"] = 0
	isolationOverrides["create_room_with_opts.options"] = []map[string]string{{"name": "title", "value": "x"}}
	isolationOverrides["subscribe_room_many.users"] = []map[string]string{{"jid": "bob@b.example", "nick": "bobby"}}
	isolationOverrides["subscribe_room.user"] = "bob@b.example"
	isolationOverrides["unsubscribe_room.user"] = "bob@b.example"
	isolationOverrides["send_direct_invitation.users"] = "bob@b.example"
	// Openfire's chat rooms aim at a room named as B's lobby on the
	// credential's own service (servicename=conference.b.example is a
	// golden case: an unknown service); type all lists every room.
	for _, d := range commands.All() {
		if wire := d.Names[commands.OpenfireREST]; strings.Contains(wire, " chatrooms") {
			isolationOverrides[wire+".roomName"] = "lobby"
			isolationOverrides[wire+".servicename"] = "conference"
			isolationOverrides[wire+".type"] = "all"
			isolationOverrides[wire+".search"] = "o"
		}
	}
}

// isolationValue is the value an argument gets: whatever names B's data.
func isolationValue(a commands.Arg, wire string, token string) any {
	switch a.Type {
	case commands.Domain:
		return "b.example"
	case commands.Localpart:
		return "bob"
	case commands.Password:
		return "Isolation-pw1"
	case commands.Int:
		return int64(1)
	case commands.Token:
		return token
	case commands.List:
		return []string{"bob@b.example"}
	}
	w := strings.ToLower(wire)
	switch {
	case strings.Contains(w, "stanza"):
		return `<message to="bob@b.example" type="chat"><body>isolation</body></message>`
	case strings.Contains(w, "jid") || w == "from" || w == "to" || w == "member":
		return "bob@b.example"
	case strings.Contains(w, "host") || strings.Contains(w, "server") || strings.Contains(w, "domain"):
		return "b.example"
	case strings.Contains(w, "user"):
		return "bob"
	case strings.Contains(w, "file") || strings.Contains(w, "dir") || strings.Contains(w, "path"):
		return "isolation-test"
	}
	return "x"
}

// isolationRequest builds def's request in dialect d with creds; ok is
// false if the dialect's wire name cannot be turned into a request.
func isolationRequest(def *commands.Def, d commands.Dialect, c tenantCreds, token string) (method, path, body string, auth func(*http.Request), ok bool) {
	wire := def.Names[d]
	args := map[string]any{}
	for _, a := range def.ArgsIn(d) {
		if d == commands.Ejabberd && !a.InEjabberd(0) {
			continue // the default API version is 0
		}
		if v, ok := isolationOverrides[wire+"."+a.WireName(d)]; ok {
			args[a.WireName(d)] = v
			continue
		}
		args[a.WireName(d)] = isolationValue(a, a.WireName(d), token)
		// A list that v0 takes as a separated string (oauth_issue_token's scopes).
		if d == commands.Ejabberd && a.EjabberdListSince > 0 {
			args[a.WireName(d)] = strings.Join(isolationValue(a, a.WireName(d), token).([]string), a.Sep)
		}
		// An integer that v0 takes as a decimal string (set_presence's priority).
		if d == commands.Ejabberd && a.EjabberdIntSince > 0 {
			args[a.WireName(d)] = "1"
		}
	}
	text := func(v any) string {
		switch v := v.(type) {
		case []string:
			return strings.Join(v, ",")
		case int64:
			return fmt.Sprint(v)
		}
		return v.(string)
	}
	switch d {
	case commands.DreamHost:
		q := url.Values{"key": {c.key}, "cmd": {wire}}
		for k, v := range args {
			q.Set(k, text(v))
		}
		return http.MethodGet, "/?" + q.Encode(), "", nil, true
	case commands.Ejabberd:
		b, _ := json.Marshal(args)
		return http.MethodPost, "/api/" + wire, string(b), func(r *http.Request) { r.SetBasicAuth(c.adminJID, c.adminPW) }, true
	case commands.Openfire:
		q := url.Values{"type": {wire}, "secret": {c.secret}}
		for k, v := range args {
			q.Set(k, text(v))
		}
		return http.MethodGet, "/plugins/userService/userservice?" + q.Encode(), "", nil, true
	case commands.OpenfireREST:
		// "METHOD route" with {variable} segments named after arguments
		// and an optional trailing "[/{variable}]"; other arguments go in
		// the JSON body.
		m, pattern, _ := strings.Cut(wire, " ")
		pattern, _, _ = strings.Cut(pattern, "[/")
		segs := strings.Split(pattern, "/")
		for i, seg := range segs {
			if strings.HasPrefix(seg, "{") {
				name := strings.Trim(seg, "{}")
				segs[i] = url.PathEscape(text(args[name]))
				delete(args, name)
			}
		}
		b, _ := json.Marshal(args)
		return m, "/plugins/restapi/v1/" + strings.Join(segs, "/"), string(b), func(r *http.Request) {
			r.Header.Set("Authorization", c.secret)
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Accept", "application/json")
		}, true
	case commands.REST:
		// "METHOD path[ field[=value]]", path segments <fqdn> and <username>.
		parts := strings.Fields(wire)
		if len(parts) < 2 {
			return "", "", "", nil, false
		}
		p := parts[1]
		p = strings.ReplaceAll(p, "[/<fqdn>]", "/b.example")
		p = strings.ReplaceAll(p, "[/<username>]", "/bob")
		p = strings.ReplaceAll(p, "<fqdn>", "b.example")
		p = strings.ReplaceAll(p, "<username>", "bob")
		fields := map[string]any{}
		for k, v := range args {
			if k != "domain" && k != "username" && k != "fqdn" {
				fields[k] = v
			}
		}
		for _, extra := range parts[2:] {
			if k, v, ok := strings.Cut(extra, "="); ok {
				fields[k] = v == "true"
			} else {
				fields[extra] = "Isolation-pw1"
			}
		}
		b, _ := json.Marshal(fields)
		return parts[0], "/api/1.0/" + p, string(b), func(r *http.Request) { r.SetBasicAuth(c.restUser, c.restPW) }, true
	}
	return "", "", "", nil, false
}

// refused reports whether a reply is the dialect's refusal of the caller.
func refused(d commands.Dialect, status int, body string) bool {
	switch d {
	case commands.DreamHost:
		return strings.HasPrefix(body, "error")
	case commands.Ejabberd, commands.REST, commands.OpenfireREST:
		return status == http.StatusUnauthorized || status == http.StatusForbidden
	case commands.Openfire:
		return strings.Contains(body, "RequestNotAuthorised")
	}
	return false
}

func TestTenantIsolationMatrix(t *testing.T) {
	t.Parallel()
	// SQLite even when the suite runs on PostgreSQL: the digest reads the file.
	s := startServer(t, func(c *Config) { c.Store = "" })
	f := s.isolationFixture(t)
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(s.data, dbFile)+"?mode=ro&_busy_timeout=5000")
	require.NoError(t, err)
	defer db.Close()
	bAccount := func() int64 {
		var id int64
		require.NoError(t, db.QueryRow(`SELECT id FROM accounts WHERE name = 'other'`).Scan(&id))
		return id
	}()
	before := tenantDigest(t, db, bAccount)

	reg := commands.MustNew(commands.All()...)
	calls := 0
	for _, def := range reg.Defs() {
		for _, d := range []commands.Dialect{commands.DreamHost, commands.Ejabberd, commands.Openfire, commands.REST, commands.OpenfireREST} {
			if _, offered := def.Names[d]; !offered {
				continue
			}
			for _, who := range []struct {
				name  string
				creds tenantCreds
			}{{"A", f.a}, {"A-no-right", f.aNoRight}, {"operator", f.operator}} {
				if who.name == "operator" && def.Operator && isolationDisruptive[def.Names[d]] {
					continue
				}
				method, path, body, auth, ok := isolationRequest(def, d, who.creds, f.bToken)
				require.True(t, ok, "%s %s: no request shape", d, def.Name)
				status, reply := s.do(method, path, body, auth)
				calls++
				where := fmt.Sprintf("%s %s as %s: %d %s", d, def.Names[d], who.name, status, reply)
				// ejabberd's own register failure is a 500 (code 10001) and a
				// refused command a 501; no other 5xx.
				require.True(t, status < 500 || status == 501 || strings.Contains(reply, `"code":10001`), where)
				for _, m := range isolationMarkers {
					require.NotContains(t, reply, m, "leak: "+where)
				}
				if who.name == "A-no-right" && !(d == commands.DreamHost && (def.AlwaysAllowed)) {
					require.True(t, refused(d, status, reply), "not refused: "+where)
				}
				if def.Operator && who.name != "operator" && d == commands.Ejabberd {
					require.Contains(t, []int{400, 401, 403}, status, "operator-only: "+where)
				}
				if def.Mutates {
					s.runWorker()
				}
				after := tenantDigest(t, db, bAccount)
				if after != before && who.name == "operator" && isolationOperatorWide[def.Name] {
					before = after // the operator's purge covers every domain, B's included
					continue
				}
				if after != before {
					t.Fatalf("B's data changed by %s", where)
				}
			}
		}
	}
	t.Logf("%d calls, B's data unchanged, no leak", calls)
	offered := 0
	for _, def := range reg.Defs() {
		offered += len(def.Names)
	}
	require.Greater(t, calls, 2*offered, "most commands are called by all three callers")
	require.Equal(t, before, tenantDigest(t, db, bAccount))
	var items int
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM pubsub_items`).Scan(&items))
	require.Equal(t, 1, items, "the operator's delete_old_pubsub_items (number 1) reached B's node, so A's calls spared it for a reason")
	require.NoError(t, db.QueryRow(`SELECT count(*) FROM pubsub_service_items`).Scan(&items))
	require.Equal(t, 1, items, "the operator's delete_old_pubsub_items reached B's service node too")
}

// TestTenantIsolationConsole: the commands the operator's console calls,
// through the registry as the console binds them (every argument aimed at
// B's data, as in the matrix), by A's admin, by A's admin without an api
// permission, and by the operator's admin. A tenant's reads never name
// B's data and Operator-only ones are refused; the console's own door
// lets neither A's admin nor a wrong password in; only the operator's
// actions change B's data, and the others change nothing.
func TestTenantIsolationConsole(t *testing.T) {
	t.Parallel()
	// SQLite even when the suite runs on PostgreSQL: the digest reads the file.
	s := startServer(t, func(c *Config) { c.Console, c.Store = true, "" })
	f := s.isolationFixture(t)
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(s.data, dbFile)+"?mode=ro&_busy_timeout=5000")
	require.NoError(t, err)
	defer db.Close()
	var bAccount int64
	require.NoError(t, db.QueryRow(`SELECT id FROM accounts WHERE name = 'other'`).Scan(&bAccount))
	before := tenantDigest(t, db, bAccount)
	// A refused login of B's name: a line only the operator may read.
	require.NoError(t, commands.RecordLoginFailure(t0(), s.app.env, commands.Console, "zed-hidden@b.example", "192.0.2.1", commands.ReasonBadCredentials))

	for _, who := range []struct {
		name  string
		creds tenantCreds
	}{{"A", f.a}, {"A-no-right", f.aNoRight}} {
		c := s.consoleClient(t)
		rep := c.login(who.creds.adminJID, who.creds.adminPW)
		require.Equal(t, http.StatusUnauthorized, rep.status, "%s logs in to the console: %s", who.name, rep.body)
	}

	ctx := context.Background()
	reg := s.app.reg
	operator, ok, err := commands.ConsoleCaller(ctx, s.app.env, f.operator.adminJID)
	require.NoError(t, err)
	require.True(t, ok)
	calls := 0
	for _, def := range reg.Dialect(commands.Console) {
		for _, who := range []string{"A", "A-no-right", "operator"} {
			var caller commands.Caller
			switch who {
			case "operator":
				caller = operator
			case "A":
				caller, err = commands.AuthenticateAdmin(ctx, s.app.env, f.a.adminJID, f.a.adminPW)
				require.NoError(t, err)
			case "A-no-right":
				caller, err = commands.AuthenticateAdmin(ctx, s.app.env, f.aNoRight.adminJID, f.aNoRight.adminPW)
				require.NoError(t, err)
			}
			caller.Dialect = commands.Console
			raw := commands.Raw{}
			for _, a := range def.ArgsIn(commands.Console) {
				v := isolationValue(a, a.WireName(commands.Console), f.bToken)
				switch v := v.(type) {
				case int64:
					raw[a.Name] = []string{fmt.Sprint(v)}
				case []string:
					raw[a.Name] = []string{strings.Join(v, ",")}
				default:
					raw[a.Name] = []string{fmt.Sprint(v)}
				}
			}
			if def.Name == "audit_log" {
				raw["account"] = []string{fmt.Sprint(bAccount)}
				raw["actor"] = nil // every actor: B's lines must still not show
			}
			res, err := func() (any, error) {
				args, err := reg.Bind(ctx, s.app.env, caller, def, commands.Input{Text: raw})
				if err != nil {
					return nil, err
				}
				return (&commands.Call{Def: def, Caller: caller, Env: s.app.env, Reg: reg, Args: args}).RunNow(ctx)
			}()
			calls++
			where := fmt.Sprintf("console %s as %s: %v %v", def.Name, who, res, err)
			if who == "operator" {
				if def.Mutates {
					before = tenantDigest(t, db, bAccount) // the operator may act on B's users
				}
				continue
			}
			if err != nil {
				require.NotEqual(t, commands.Internal, commands.AsError(err).Kind, where)
			}
			for _, m := range isolationMarkers {
				require.NotContains(t, fmt.Sprint(res), m, "leak: "+where)
			}
			if def.Operator {
				require.Equal(t, commands.Forbidden, commands.AsError(err).Kind, "operator-only: "+where)
			}
			require.Equal(t, before, tenantDigest(t, db, bAccount), "B's data changed by "+where)
		}
	}
	require.Greater(t, calls, 20)
	// What the operator's console reads does name B's data: its reads do
	// reach every account.
	res, err := func() (any, error) {
		def, _ := reg.Lookup(commands.Console, "login_failures")
		args, err := reg.Bind(ctx, s.app.env, operator, def, commands.Input{})
		if err != nil {
			return nil, err
		}
		return (&commands.Call{Def: def, Caller: operator, Env: s.app.env, Reg: reg, Args: args}).Run(ctx)
	}()
	require.NoError(t, err)
	require.Contains(t, fmt.Sprint(res), "zed-hidden@b.example")
}
