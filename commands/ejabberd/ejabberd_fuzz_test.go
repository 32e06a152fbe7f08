package ejabberd

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/commandstest"
	"github.com/xmppgate/xmppgate/commands/fuzzseed"
	"github.com/xmppgate/xmppgate/store"
)

// goldenFiles hold the requests of the seed corpus.
const goldenFiles = "../../testdata/ejabberd/*.txtar"

// The error messages decodeBody may give (docs/ejabberd.md).
var bodyErrors = map[string]bool{"400 Bad Request": true}

// FuzzDecodeBody: never panics; errors are the documented ones; a decoded
// object's pairs, written back as an object, decode to the same pairs.
func FuzzDecodeBody(f *testing.F) {
	for _, r := range fuzzseed.Seeds(f, goldenFiles, false) {
		_, _, _, body := fuzzseed.Split(r)
		f.Add([]byte(body))
	}
	for _, s := range []string{"", " ", "[]", "[1]", "{}", `{"a":1,"a":2}`, `{"a":`, `"x"`, "null", `{"a":{"b":[1,{"c":null}]}}`, "\xff", `{"\u0000":"\ud800"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		pairs, err := decodeBody(body)
		if err != nil {
			require.True(t, bodyErrors[err.Error()], "undocumented error %q", err)
			require.Nil(t, pairs)
			return
		}
		var b bytes.Buffer
		b.WriteByte('{')
		for i, p := range pairs {
			require.True(t, json.Valid(p.Value), "value %q", p.Value)
			if i > 0 {
				b.WriteByte(',')
			}
			k, err := json.Marshal(p.Name)
			require.NoError(t, err)
			b.Write(k)
			b.WriteByte(':')
			b.Write(p.Value)
		}
		b.WriteByte('}')
		again, err := decodeBody(b.Bytes())
		require.NoError(t, err, "%s", b.Bytes())
		require.Equal(t, len(pairs), len(again))
		for i := range pairs {
			require.Equal(t, pairs[i].Name, again[i].Name)
			require.Equal(t, string(compact(pairs[i].Value)), string(compact(again[i].Value)))
		}
	})
}

// ejabberdDefs are the implemented commands of the ejabberd dialect, in
// registry order.
func ejabberdDefs(t testing.TB) []*commands.Def {
	reg := commands.MustNew(commands.All()...)
	var out []*commands.Def
	for _, d := range reg.Defs() {
		if _, ok := d.Names[commands.Ejabberd]; ok {
			out = append(out, d)
		}
	}
	require.NotEmpty(t, out)
	return out
}

// FuzzShape: for any implemented command and any JSON object, the
// request-shape check never panics, refuses only with the request-shape
// reasons (each a 400 with a valid JSON message), and what it accepts
// gives every required argument, each once, and nothing else.
func FuzzShape(f *testing.F) {
	defs := ejabberdDefs(f)
	byName := map[string]uint16{}
	for i, d := range defs {
		byName[d.Names[commands.Ejabberd]] = uint16(i)
	}
	for _, r := range fuzzseed.Seeds(f, goldenFiles, false) {
		_, target, _, body := fuzzseed.Split(r)
		cmd, _ := route(strings.SplitN(target, "?", 2)[0])
		if i, ok := byName[cmd]; ok {
			f.Add(i, []byte(body))
		}
	}
	f.Add(uint16(0), []byte(`{"user":1,"host":["a"],"password":null}`))
	shapeReasons := map[commands.Reason]bool{commands.ReasonMissing: true, commands.ReasonUnknownArg: true,
		commands.ReasonDuplicateArg: true, commands.ReasonWrongType: true, commands.ReasonMalformed: true}
	reg := commands.MustNew(commands.All()...)
	f.Fuzz(func(t *testing.T, which uint16, body []byte) {
		def := defs[int(which)%len(defs)]
		fields, err := decodeBody(body)
		if err != nil {
			return
		}
		req := &request{cmd: def.Names[commands.Ejabberd], def: def}
		req.fields = resolveAliases(def, req.version, fields)
		caller := commands.Caller{Dialect: commands.Ejabberd}
		err = reg.Shape(def, caller, commands.Input{JSON: req.fields, Strict: true})
		if err != nil {
			e, ok := err.(*commands.Error)
			require.True(t, ok, "%T %v", err, err)
			require.Equal(t, commands.Invalid, e.Kind)
			require.True(t, shapeReasons[e.Reason], "reason %q", e.Reason)
			rep := (&Handler{}).failure(err, req)
			require.Equal(t, http.StatusBadRequest, rep.status, "%s", rep.body)
			require.True(t, json.Valid(rep.body), "%q", rep.body)
			return
		}
		declared := map[string]commands.Arg{}
		for _, a := range def.ArgsIn(commands.Ejabberd) {
			if a.InEjabberd(req.version) {
				declared[a.WireName(commands.Ejabberd)] = a
			}
		}
		given := map[string]int{}
		for _, fl := range req.fields {
			_, ok := declared[fl.Name]
			require.True(t, ok, "undeclared %q", fl.Name)
			given[fl.Name]++
			require.Equal(t, 1, given[fl.Name], "%q twice", fl.Name)
		}
		for wire, a := range declared {
			if !a.Optional {
				require.Contains(t, given, wire)
			}
		}
	})
}

// FuzzResultEncoding: tuples and jsonReply give valid UTF-8 JSON for any
// strings, and the strings come back (invalid UTF-8 as U+FFFD).
func FuzzResultEncoding(f *testing.F) {
	var golden []string
	for _, r := range fuzzseed.Seeds(f, goldenFiles, false) {
		_, _, _, body := fuzzseed.Split(r)
		fields, _ := decodeBody([]byte(body))
		for _, p := range fields {
			var v string
			if json.Unmarshal(p.Value, &v) == nil {
				golden = append(golden, p.Name, v)
			}
		}
	}
	for i := 0; i+3 < len(golden); i += 4 {
		f.Add(golden[i], golden[i+1], golden[i+2], golden[i+3], int64(i))
	}
	f.Add("jid", "alice@a.example", "resource", "<&>\"'\u2028", int64(-1))
	f.Add("", "\xff\xfe", "\x00", "\\u0000", int64(1<<62))
	f.Fuzz(func(t *testing.T, col1, cell1, col2, cell2 string, n int64) {
		tab := tuples(commands.Table{Columns: []string{col1, col2, "n"}, Rows: [][]any{{cell1, cell2, n}, {cell2, cell1, n}}})
		for _, v := range []any{tab, cell1, map[string]any{col1: cell2}, []string{cell1, cell2}} {
			rep := jsonReply(http.StatusOK, v, "ok")
			require.NoError(t, rep.err)
			require.True(t, json.Valid(rep.body), "%q", rep.body)
			require.True(t, utf8.Valid(rep.body))
		}
		var back []map[string]any
		require.NoError(t, json.Unmarshal(jsonReply(200, tab, "").body, &back))
		require.Len(t, back, 2)
		// encoding/json writes each invalid byte as one U+FFFD.
		fix := func(s string) string { return string([]rune(s)) }
		if fix(col1) != fix(col2) && fix(col1) != "n" && fix(col2) != "n" {
			require.Equal(t, fix(cell1), back[0][fix(col1)])
			require.Equal(t, fix(cell2), back[0][fix(col2)])
		}
		for _, msg := range []string{cell1, "Arg " + cell2 + " is not in format binary"} {
			for _, rep := range []reply{bare(400, msg), object(404, 40, msg, "x")} {
				require.True(t, json.Valid(rep.body), "%q", rep.body)
			}
		}
	})
}

// newFuzzServer is commandstest's fuzz server with the ejabberd handler
// and the fixture of ejabberd_test.go's setup (accounts acme and other,
// their admins, a limited API user and a user without API permission). A
// header line "As: NAME" stands for NAME's Basic credentials.
func newFuzzServer(f testing.TB) *commandstest.FuzzServer {
	f.Helper()
	s := commandstest.NewFuzzServer(f)
	ctx, st := s.Ctx, s.Store
	s.Handler = New(s.Reg, s.Env)
	creds := map[string]string{}
	s.Request = func(method, target, headers string, body []byte) (*http.Request, error) {
		return fuzzseed.NewRequest(method, target, headers, body, func(r *http.Request, k, v string) bool {
			cred, known := creds[v]
			if k != "As" || !known {
				return false
			}
			r.Header.Add("Authorization", cred)
			return true
		})
	}
	basic := func(user, pw string) string {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
	}
	for _, a := range []struct {
		name    string
		domains []string
	}{{"acme", []string{"a.example", "a2.example"}}, {"other", []string{"b.example"}}} {
		jid, pw, err := commands.BootstrapAdmin(ctx, s.Env, s.Reg, s.Account(a.name, "", false, a.domains...), a.domains[0])
		require.NoError(f, err)
		creds[a.name] = basic(jid, pw)
	}
	for _, u := range []struct{ as, body string }{
		{"other", `{"user":"bob","host":"b.example","password":"bobpass"}`},
		{"acme", `{"user":"limited","host":"a.example","password":"limitedpass"}`},
		{"acme", `{"user":"noperm","host":"a.example","password":"nopermpass"}`},
	} {
		status, _, body := s.Do("POST", "/api/register", "As: "+u.as, []byte(u.body))
		require.Equal(f, 200, status, "%s", body)
	}
	creds["limited"] = basic("limited@a.example", "limitedpass")
	creds["noperm"] = basic("noperm@a.example", "nopermpass")
	usr, err := st.UserByJID(ctx, "a.example", "limited")
	require.NoError(f, err)
	acme, err := st.UserByJID(ctx, "a.example", commands.AdminUser)
	require.NoError(f, err)
	require.NoError(f, st.Write(ctx, func(tx *store.Tx) error {
		return tx.PutEjabberdPermission(ctx, store.EjabberdPermission{UserID: usr.ID, AccountID: acme.AccountID,
			What: []string{"[tag:session]", "check_account", "!kick_user"}})
	}))
	return s
}

// documented are the statuses docs/ejabberd.md lists.
var documented = map[int]bool{200: true, 400: true, 401: true, 403: true, 404: true, 409: true, 500: true, 501: true}

// FuzzHandler POSTs (and GETs, OPTIONs...) random bodies, paths and headers
// to the real handler on a real store: no panic, a documented status, a
// valid UTF-8 JSON body with a right Content-Length, and no 5xx but the
// documented ones (register's 500 code 10001, resource_num's out of range,
// 501 for refused commands) — never an internal error.
func FuzzHandler(f *testing.F) {
	s := newFuzzServer(f)
	fuzzseed.AddRequests(f, fuzzseed.Seeds(f, goldenFiles, false))
	f.Add("POST", "/api/v2/register", "As: acme\nContent-Type: text/plain", []byte(`{"user":"\u0000","host":"A.EXAMPLE.","password":"x"}`))
	f.Add("GET", "/api/v1/check_account?user=bob&host=b.example", "As: other", []byte(nil))
	f.Fuzz(func(t *testing.T, method, target, headers string, body []byte) {
		rep, ok := s.Handle(t, method, target, headers, body)
		if !ok {
			return
		}
		status, header, out, e := rep.Status, rep.Header, rep.Body, rep.Log
		require.True(t, documented[status], "undocumented status %d: %s", status, out)
		if len(out) == 0 {
			require.True(t, status == 200 && method == http.MethodOptions || status == 400, "status %d without a body", status)
			return
		}
		if status == 400 && method == http.MethodPost && out[0] == '<' { // a POST without data: ejabberd_http's page
			require.Equal(t, "text/html; charset=utf-8", header.Get("Content-Type"))
			return
		}
		require.Equal(t, "application/json", header.Get("Content-Type"))
		require.True(t, json.Valid(out), "%q", out)
		require.True(t, utf8.Valid(out), "%q", out)
		if status >= 500 {
			var obj struct{ Code int }
			_ = json.Unmarshal(out, &obj)
			result := e.ContextMap()["result"]
			ok := status == 501 && obj.Code == 0 || status == 500 && (obj.Code == 10001 || result == "out_of_range")
			require.True(t, ok, "undocumented %d: %s (result %v)", status, out, result)
		}
	})
}
