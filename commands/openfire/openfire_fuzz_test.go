package openfire

import (
	"bytes"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/commandstest"
	"github.com/xmppgate/xmppgate/commands/fuzzseed"
	"github.com/xmppgate/xmppgate/commands/openfire/openfiretest"
)

// goldenFiles hold the requests of the seed corpus, one a line.
const goldenFiles = "../../testdata/openfire/*.txtar"

// unescapeNode undoes XEP-0106 escaping (the reference for EscapeNode).
func unescapeNode(s string) string {
	r := strings.NewReplacer(`\20`, " ", `\22`, `"`, `\26`, "&", `\27`, "'", `\2f`, "/", `\3a`, ":", `\3c`, "<",
		`\3e`, ">", `\40`, "@", `\5c`, `\`)
	return r.Replace(s)
}

// FuzzDecode is the query decoding of the legacy userservice: the query
// string and an urlencoded body read as a servlet does, then the raw
// arguments. Never panics; the domain is always the credential's; the
// username holds none of the characters a JID forbids, and unescaping it
// (XEP-0106) gives back the trimmed, lower-cased name where that name has
// no whitespace but plain spaces.
func FuzzDecode(f *testing.F) {
	for _, r := range fuzzseed.Seeds(f, goldenFiles, true) {
		_, target, _, body := fuzzseed.Split(r)
		_, q, _ := strings.Cut(target, "?")
		f.Add(q, body)
	}
	f.Add("username=%20A%5C40b%40c%09&groups=&groups=x", "username=other&type=add")
	f.Add("a=%zz&=&&b", "\xff=\x00")
	f.Fuzz(func(t *testing.T, query, body string) {
		r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1"+PathUserService, strings.NewReader(body))
		require.NoError(t, err)
		r.URL.RawQuery = query
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		params, err := params(httptest.NewRecorder(), r)
		require.NoError(t, err)
		raw := decode(params, "a.example")
		require.Equal(t, []string{"a.example"}, raw["domain"])
		if vs := raw["groups"]; len(vs) > 0 {
			require.NotEqual(t, "", vs[0], "an empty groups list reads as absent")
		}
		given := first(params, "username")
		vs := raw["username"]
		if given == "" {
			return
		}
		u := vs[0]
		require.False(t, strings.ContainsAny(u, "\"&'/:<>@"), "%q", u)
		for _, c := range u {
			require.False(t, javaSpace(c), "%q", u)
		}
		want := strings.ToLower(trimJava(given))
		hasOtherSpace := strings.ContainsFunc(want, func(c rune) bool { return c != ' ' && javaSpace(c) })
		if !hasOtherSpace && utf8.ValidString(want) {
			require.Equal(t, want, unescapeNode(u))
		}
	})
}

// wellFormed fails unless b is one well-formed XML element.
func wellFormed(t *testing.T, b []byte) {
	t.Helper()
	dec := xml.NewDecoder(bytes.NewReader(b))
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		require.NoError(t, err, "%q", b)
		switch tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
			}
			depth++
		case xml.EndElement:
			depth--
		}
	}
	require.Equal(t, 1, roots, "%q", b)
	require.True(t, utf8.Valid(b), "%q", b)
}

// FuzzXMLBody is the XML of the replies: for any group names and error
// name the body is well-formed XML and the names come back.
func FuzzXMLBody(f *testing.F) {
	for _, r := range fuzzseed.Seeds(f, goldenFiles, true) {
		_, target, _, _ := fuzzseed.Split(r)
		_, q, _ := strings.Cut(target, "?")
		p := url.Values{}
		addPairs(p, q)
		if g := strings.Split(first(p, "groups"), ","); len(g) >= 3 {
			f.Add(g[0], g[1], g[2])
		} else if len(g) > 0 {
			f.Add(g[0], first(p, "username"), first(p, "name"))
		}
	}
	f.Add("Sales", "a&b<c>", "\x00\x01")
	f.Add("\xff", "]]>", "\uFFFE")
	f.Fuzz(func(t *testing.T, g1, g2, g3 string) {
		rep := success(commands.Table{Columns: []string{"groupname"}, Rows: [][]any{{g1}, {g2}, {g3}}})
		wellFormed(t, []byte(rep.body))
		var res struct {
			Groups []string `xml:"groupname"`
		}
		require.NoError(t, xml.Unmarshal([]byte(rep.body), &res))
		require.Len(t, res.Groups, 3)
		for _, name := range []string{errIllegalArgument, errUserNotFound, errUserExists, errNotAuthorised, errDisabled, errSharedGroup, errInternal} {
			wellFormed(t, []byte(errorReply(200, name).body))
		}
	})
}

// newFuzzServer is commandstest's fuzz server with the legacy handler, its
// requests coming from 192.0.2.7, and openfiretest's fixture.
func newFuzzServer(f testing.TB) *commandstest.FuzzServer {
	f.Helper()
	s := commandstest.NewFuzzServer(f)
	s.Handler = New(s.Reg, s.Env)
	s.Request = func(method, target, headers string, body []byte) (*http.Request, error) {
		r, err := fuzzseed.NewRequest(method, target, headers, body, nil)
		if err == nil {
			r.RemoteAddr = "192.0.2.7:1234"
		}
		return r, err
	}
	openfiretest.Tenants(s.Fixture)
	method, target, _, _ := fuzzseed.Split(openfiretest.AddBob)
	status, _, body := s.Do(method, target, "", nil)
	require.Equal(f, 200, status, "%s", body)
	return s
}

// errorNames are the <error/> names docs/openfire.md lists (InternalError
// excluded: it is a 500).
var errorNames = map[string]bool{errIllegalArgument: true, errUserNotFound: true, errUserExists: true,
	errNotAuthorised: true, errDisabled: true, errSharedGroup: true}

// FuzzHandler sends random queries, bodies and headers to the real handler
// on a real store: no panic, no 5xx, one log line without an internal
// error, a right Content-Length, and a body that is well-formed XML: a
// <result> or an <error> with a documented name (or, for the restAPI path
// of a disabled credential and for 405, no body).
func FuzzHandler(f *testing.F) {
	s := newFuzzServer(f)
	for _, r := range fuzzseed.Seeds(f, goldenFiles, true) {
		method, target, headers, body := fuzzseed.Split(r)
		if !strings.HasPrefix(target, "/") {
			continue
		}
		f.Add(method, target, headers, []byte(body))
	}
	f.Add("POST", PathRestAPI+"?type=grouplist", "Content-Type: application/x-www-form-urlencoded", []byte("secret=acmesecret&groups=%01,%3C"))
	f.Fuzz(func(t *testing.T, method, target, headers string, body []byte) {
		rep, ok := s.Handle(t, method, target, headers, body)
		if !ok {
			return
		}
		status, header, out := rep.Status, rep.Header, rep.Body
		require.Less(t, status, 500, "%d %s", status, out)
		if len(out) == 0 {
			require.Contains(t, []int{403, 405}, status)
			return
		}
		require.Equal(t, "text/xml", header.Get("Content-Type"))
		wellFormed(t, out)
		if bytes.HasPrefix(out, []byte("<error>")) {
			name := strings.TrimSuffix(strings.TrimPrefix(string(out), "<error>"), "</error>\n")
			require.True(t, errorNames[name], "%q", out)
		} else {
			require.True(t, bytes.HasPrefix(out, []byte("<result>")), "%q", out)
		}
	})
}

// TestGroupNamesXMLSafe is FuzzXMLBody's finding: a group name with a
// control character or invalid UTF-8 (any String argument may carry one)
// made grouplist answer XML no parser accepts. Such characters now read as
// U+FFFD, through the real handler too.
func TestGroupNamesXMLSafe(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct{ in, want string }{
		0: {"Sales", "Sales"},
		1: {"a&b<c>", "a&amp;b&lt;c&gt;"},
		2: {"\x00\x01", "\uFFFD\uFFFD"},
		3: {"tab\there\r\n", "tab\there\r\n"},
		4: {"\xff", "\uFFFD"},
		5: {"\uFFFE\uFFFF", "\uFFFD\uFFFD"},
	} {
		body := success(commands.Table{Columns: []string{"groupname"}, Rows: [][]any{{tc.in}}}).body
		require.Equal(t, "<result><groupname>"+tc.want+"</groupname></result>\n", body, "row %d", i)
		wellFormed(t, []byte(body))
	}
	s := newFuzzServer(t)
	status, _, body := s.Do("GET", PathUserService+"?type=add&secret=acmesecret&username=carol&password=pw&groups=%01Sales%3C", "", nil)
	require.Equal(t, 200, status)
	require.Equal(t, "<result>ok</result>\n", string(body))
	status, _, body = s.Do("GET", PathUserService+"?type=usergrouplist&secret=acmesecret&username=carol", "", nil)
	require.Equal(t, 200, status)
	require.Equal(t, "<result><groupname>\uFFFDSales&lt;</groupname></result>\n", string(body))
	wellFormed(t, body)
}

// javaSpace reports whether EscapeNode writes c as \20 (Java's
// Character.isWhitespace).
func javaSpace(c rune) bool { return commands.EscapeNode(string(c)) == `\20` }
