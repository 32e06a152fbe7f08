package rest

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/commandstest"
	"github.com/xmppgate/xmppgate/commands/fuzzseed"
	"github.com/xmppgate/xmppgate/commands/rest/resttest"
)

// goldenRequests are the requests of testdata/rest (setup requests are
// separated by "---" lines there).
func goldenRequests(f *testing.F) []string {
	f.Helper()
	var out []string
	for _, r := range fuzzseed.Seeds(f, "../../testdata/rest/*.txtar", false) {
		for _, one := range strings.Split(r, "\n---\n") {
			if one = strings.TrimSpace(one); one != "" && !strings.HasPrefix(one, "#") {
				out = append(out, one)
			}
		}
	}
	require.NotEmpty(f, out)
	return out
}

// FuzzParsePath: never panics; a parsed route has at most four non-empty
// segments, and escaping them again gives a path that parses the same.
func FuzzParsePath(f *testing.F) {
	for _, r := range goldenRequests(f) {
		_, target, _, _ := fuzzseed.Split(r)
		u, err := url.Parse(target)
		if err == nil {
			f.Add(u.EscapedPath())
		}
	}
	for _, s := range []string{base, base + "/", base + "//", base + "/%", base + "/a%2Fb/users/%40x", base + "x", base + "/a/b/c/d/e", "/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		rt, ok := parsePath(p)
		if !ok {
			return
		}
		require.LessOrEqual(t, rt.depth, 4)
		segs := []string{rt.fqdn, rt.sub, rt.username, rt.tail}[:rt.depth]
		for _, s := range segs {
			require.NotEmpty(t, s)
		}
		again := base
		for _, s := range segs {
			again += "/" + url.PathEscape(s)
		}
		rt2, ok := parsePath(again)
		require.True(t, ok, "%q", again)
		require.Equal(t, rt, rt2)
	})
}

// FuzzPatchSettings is the domain object decoder (PUT and POST bodies):
// never panics, refuses only with an Invalid error, and what it accepts is
// valid, encodes as JSON and is a fixed point (PUT of the whole object
// changes nothing).
func FuzzPatchSettings(f *testing.F) {
	for _, r := range goldenRequests(f) {
		if _, target, _, body := fuzzseed.Split(r); strings.HasPrefix(target, base) && body != "" {
			f.Add([]byte(body))
		}
	}
	f.Add([]byte(`{"moduleConfig":{"modMuc":{"validMucAcl":["all"]},"enableFederation":"x"},"enableFederation":1}`))
	f.Add([]byte(`{"authPop3Host":"xn--bcher-kva.example","authPop3AppendDomain":"B\u00dcCHER.example"}`))
	cur := commands.DefaultDomainSettings("a.example")
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := commands.PatchSettings(cur, body)
		if err != nil {
			require.Equal(t, commands.Invalid, commands.AsError(err).Kind, "%v", err)
			return
		}
		require.NoError(t, commands.ValidateSettings(out))
		obj := newDomainObject(commands.DomainInfo{Settings: out, FQDN: "a.example"})
		b, err := encode(obj)
		require.NoError(t, err)
		require.True(t, json.Valid(b), "%s", b)
		again, err := commands.PatchSettings(out, b)
		require.NoError(t, err, "%s", b)
		require.Equal(t, out, again)
	})
}

// FuzzUserBody is the user object decoder of POST and PUT .../users:
// jsonBody and its members never panic, refuse with Invalid errors that
// map to 400, and hand the binder valid JSON (whose types the binder
// checks: commands.FuzzFromJSON).
func FuzzUserBody(f *testing.F) {
	for _, r := range goldenRequests(f) {
		if _, target, _, body := fuzzseed.Split(r); strings.Contains(target, "/users") && body != "" {
			f.Add([]byte(body))
		}
	}
	f.Add([]byte(`{"username":null,"password":1,"enabled":"yes"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		x := &exchange{body: body}
		m, err := x.jsonBody()
		if err != nil {
			require.Equal(t, http.StatusBadRequest, (&Handler{}).failure(err, &logLine{}).status)
			return
		}
		for _, name := range []string{"username", "password", "enabled"} {
			f, ok := member(m, name)
			if ok {
				require.Equal(t, name, f.Name)
				require.True(t, json.Valid(f.Value), "%q", f.Value)
			}
		}
	})
}

// newFuzzServer is commandstest's fuzz server with the REST handler and
// resttest's fixture. A header line "Auth: user password" sets Basic
// credentials ("Auth: none": none); the default is acme's.
func newFuzzServer(f testing.TB) *commandstest.FuzzServer {
	f.Helper()
	s := commandstest.NewFuzzServer(f)
	s.Handler = New(s.Reg, s.Env, Config{})
	s.Request = func(method, target, headers string, body []byte) (*http.Request, error) {
		auth := true
		r, err := fuzzseed.NewRequest(method, target, headers, body, func(r *http.Request, k, v string) bool {
			if k != "Auth" {
				return false
			}
			auth = false
			if user, pw, ok := strings.Cut(v, " "); ok {
				r.SetBasicAuth(user, pw)
			}
			return true
		})
		if err == nil && auth {
			r.SetBasicAuth("acme", "acmepass")
		}
		return r, err
	}
	resttest.Tenants(s.Fixture)
	for _, r := range resttest.Users {
		method, target, headers, body := fuzzseed.Split(r)
		status, _, out := s.Do(method, target, headers, []byte(body))
		require.Equal(f, 200, status, "%s", out)
	}
	return s
}

// documented are the statuses docs/rest.md lists.
var documented = map[int]bool{200: true, 400: true, 401: true, 403: true, 404: true, 405: true, 409: true, 501: true}

// FuzzHandler sends random methods, paths, headers and bodies to the real
// handler on a real store: no panic, a documented status (no 500), one
// log line without an internal error, a JSON body (the only format
// offered, also for ?format=xml) with the error shape on errors, the
// headers a 401 and a 405 need, a right Content-Length.
func FuzzHandler(f *testing.F) {
	s := newFuzzServer(f)
	fuzzseed.AddRequests(f, goldenRequests(f))
	f.Add("PUT", "/api/1.0/xmppdomains/A.EXAMPLE./users/%C3%84", "Content-Type: application/x-www-form-urlencoded", []byte("password=%zz&enabled=1"))
	f.Fuzz(func(t *testing.T, method, target, headers string, body []byte) {
		rep, ok := s.Handle(t, method, target, headers, body)
		if !ok {
			return
		}
		status, header, out := rep.Status, rep.Header, rep.Body
		require.True(t, documented[status], "undocumented status %d: %s", status, out)
		require.Equal(t, "application/json", header.Get("Content-Type"))
		require.True(t, json.Valid(out), "%q", out)
		require.True(t, utf8.Valid(out), "%q", out)
		if status != 200 {
			var e errorBody
			require.NoError(t, json.Unmarshal(out, &e))
			require.Equal(t, "error", e.Status)
			require.NotEmpty(t, e.Message)
		}
		if status == 401 {
			require.NotEmpty(t, header.Get("WWW-Authenticate"))
		}
		if status == 405 {
			require.NotEmpty(t, header.Get("Allow"))
		}
	})
}

// FuzzEncode is the REST output encoder: for any strings every object the
// API answers (error, user, ACL, domain, deletion) is valid UTF-8 JSON
// with a final newline, and the strings come back (each invalid byte as
// U+FFFD, as encoding/json writes it).
func FuzzEncode(f *testing.F) {
	for _, r := range goldenRequests(f) {
		_, target, _, _ := fuzzseed.Split(r)
		if u, err := url.Parse(target); err == nil {
			if rt, ok := parsePath(u.EscapedPath()); ok {
				f.Add(rt.username, rt.fqdn)
			}
		}
	}
	f.Add("alice", "a.example")
	f.Add("<&>\"'\u2028\\", "\xff\x00")
	f.Fuzz(func(t *testing.T, a, b string) {
		fix := func(s string) string { return string([]rune(s)) }
		for _, v := range []any{
			errorBody{Message: a, Status: "error"},
			newUserObject(commands.UserInfo{Username: a, Domain: b, Password: b}),
			aclObject{ACL: map[string]bool{a: true}, ACLLabels: map[string]string{a: b}, Username: a},
			deleted{Status: "success", Message: "user " + a + "@" + b + " deleted"},
			newDomainObject(commands.DomainInfo{Settings: commands.DomainSettings{DisplayName: a}, FQDN: b, Owner: a}),
		} {
			out, err := encode(v)
			require.NoError(t, err)
			require.True(t, json.Valid(out), "%q", out)
			require.True(t, utf8.Valid(out), "%q", out)
			require.True(t, bytes.HasSuffix(out, []byte("\n")))
			var m map[string]any
			require.NoError(t, json.Unmarshal(out, &m))
			switch v.(type) {
			case errorBody:
				require.Equal(t, fix(a), m["message"])
			case userObject:
				require.Equal(t, fix(a), m["username"])
				require.Equal(t, fix(b), m["password"])
			case domainObject:
				require.Equal(t, fix(a), m["displayName"])
				require.Equal(t, fix(b), m["fqdn"])
			}
		}
	})
}
