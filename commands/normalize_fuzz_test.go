package commands

import (
	"encoding/json"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/commands/fuzzseed"
)

// goldenValues are the argument values the golden requests of every
// dialect send (JSON strings, query and form values, path segments): the
// seed corpus of the normalisation fuzzers.
func goldenValues(f *testing.F) []string {
	f.Helper()
	jsonString := regexp.MustCompile(`"((?:[^"\\]|\\.)*)"`)
	param := regexp.MustCompile(`(?:^|[?&\n])[A-Za-z_]+=([^&\s]*)`)
	seen := map[string]bool{}
	for _, dialect := range []string{"dreamhost", "ejabberd", "openfire", "rest"} {
		reqs, err := fuzzseed.Requests("../testdata/"+dialect+"/*.txtar", dialect != "ejabberd")
		require.NoError(f, err)
		for _, r := range reqs {
			for _, m := range jsonString.FindAllStringSubmatch(r, -1) {
				var s string
				if json.Unmarshal([]byte(`"`+m[1]+`"`), &s) == nil {
					seen[s] = true
				}
			}
			for _, m := range param.FindAllStringSubmatch(r, -1) {
				if s, err := url.QueryUnescape(m[1]); err == nil {
					seen[s] = true
				}
			}
			if _, target, ok := strings.Cut(strings.SplitN(r, "\n", 2)[0], " "); ok {
				path, _, _ := strings.Cut(target, "?")
				for _, seg := range strings.Split(path, "/") {
					if s, err := url.PathUnescape(seg); err == nil {
						seen[s] = true
					}
				}
			}
		}
	}
	out := make([]string, 0, len(seen))
	for s := range seen {
		if s != "" && !strings.HasPrefix(s, "{{") {
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// edgeValues are hand-picked inputs next to the real ones.
var edgeValues = []string{
	"", " ", ".", "..", "a.", "-a.example", "a-.example", "A.EXAMPLE.", " a.example ", "xn--bcher-kva.example",
	"bücher.example", "BÜCHER.example", "a\u00a0b.example", "a\u2028.example", "a\x00b", "\xff.example",
	"a\u3002example", "\u212Bngstrom", "user@host", "user@host/res", "user@host/", "@host", "u@@h", "u@h@h",
	"\"&'/:<>@", "a,b, c ,,", `["x","y"]`, `[]`, `[1]`, `["a",null]`, " [\"\\u00ff\"]", strings.Repeat("a", 64) + ".example",
	strings.Repeat("a.", 127) + "a",
}

// checkDomain: what NormalizeDomain returns is a domain name it accepts
// unchanged, in lower case, made only of letters, marks, digits, '-' and
// the dots between labels.
func checkDomain(t *testing.T, d string) {
	t.Helper()
	again, err := NormalizeDomain(d)
	require.NoError(t, err, "%q", d)
	require.Equal(t, d, again, "not idempotent")
	require.True(t, utf8.ValidString(d), "%q", d)
	require.LessOrEqual(t, len(d), 253)
	for _, label := range strings.Split(d, ".") {
		require.NotEmpty(t, label, "%q", d)
		require.LessOrEqual(t, len(label), 63)
		require.False(t, strings.HasPrefix(label, "-") || strings.HasSuffix(label, "-"), "%q", d)
	}
	for _, r := range d {
		ok := r == '.' || r == '-' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' ||
			r >= 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.M, r))
		require.True(t, ok, "%q contains %U", d, r)
		require.False(t, unicode.IsUpper(r), "%q contains upper-case %U", d, r)
	}
}

// FuzzNormalizeDomain: never panics; a normalised domain is idempotent and
// holds no forbidden character (spaces, controls, punctuation, invalid UTF-8).
func FuzzNormalizeDomain(f *testing.F) {
	for _, s := range append(goldenValues(f), edgeValues...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := NormalizeDomain(s)
		if err != nil {
			return
		}
		checkDomain(t, d)
	})
}

// FuzzParseBareJID: never panics; the bare JID parses to itself, has no
// resource, at most one '@', a localpart NormalizeLocalpart keeps and a
// domain NormalizeDomain keeps; and the XMPP server's JID parser (mellium)
// reads it as the same bare JID, so whatever the API accepts can log in.
func FuzzParseBareJID(f *testing.F) {
	for _, s := range append(goldenValues(f), edgeValues...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		j, err := ParseBareJID(s)
		if err != nil {
			return
		}
		again, err := ParseBareJID(j)
		require.NoError(t, err, "%q", j)
		require.Equal(t, j, again, "not idempotent")
		require.NotContains(t, j, "/")
		require.LessOrEqual(t, strings.Count(j, "@"), 1)
		local, domain, hasLocal := strings.Cut(j, "@")
		if !hasLocal {
			local, domain = "", j
		}
		checkDomain(t, domain)
		if hasLocal {
			l, err := NormalizeLocalpart(local)
			require.NoError(t, err)
			require.Equal(t, local, l)
		}
		m, err := jid.Parse(j)
		require.NoError(t, err, "mellium refuses %q", j)
		require.Equal(t, j, m.String(), "mellium reads %q differently", j)
	})
}

// FuzzEjabberdJID: ejJID (user and host given apart) agrees with
// ParseBareJID of the joined form, and its result is a fixed point.
func FuzzEjabberdJID(f *testing.F) {
	vals := goldenValues(f)
	for i, s := range append(vals, edgeValues...) {
		f.Add(s, vals[(i*7)%len(vals)])
	}
	f.Fuzz(func(t *testing.T, user, host string) {
		j, err := ejJID(user, host)
		if err != nil {
			return
		}
		require.True(t, strings.Contains(j, "@"), "%q", j)
		again, err := ParseBareJID(j)
		require.NoError(t, err)
		require.Equal(t, j, again)
	})
}

// FuzzParseList: never panics; items are valid UTF-8; the comma form gives
// trimmed, non-empty items without commas that read back the same; every
// result reads back the same from its JSON form (how ejabberd passes it).
func FuzzParseList(f *testing.F) {
	for _, s := range append(goldenValues(f), edgeValues...) {
		f.Add(s)
	}
	a := Arg{Name: "items", Type: List}
	f.Fuzz(func(t *testing.T, s string) {
		items, err := parseList(a, s)
		if err != nil {
			var e *Error
			require.ErrorAs(t, err, &e)
			require.Equal(t, ReasonMalformed, e.Reason)
			return
		}
		require.NotNil(t, items)
		for _, it := range items {
			require.True(t, utf8.ValidString(it), "%q", it)
		}
		js, err := json.Marshal(items)
		require.NoError(t, err)
		back, err := parseList(a, string(js))
		require.NoError(t, err)
		require.Equal(t, items, back, "JSON form %s", js)
		if strings.HasPrefix(strings.TrimSpace(s), "[") {
			return
		}
		for _, it := range items {
			require.NotEmpty(t, it)
			require.Equal(t, strings.TrimSpace(it), it)
			require.NotContains(t, it, ",")
		}
		back, err = parseList(a, strings.Join(items, ","))
		require.NoError(t, err)
		require.Equal(t, items, back, "not idempotent")
	})
}

// TestDomainFuzzFindings are FuzzNormalizeDomain's and FuzzParseBareJID's
// findings: spaces, separators, invalid UTF-8 and punctuation were kept in
// domain names (not idempotent: U+00A0 was trimmed on the second pass), and
// an A-label was stored as given while the XMPP server (mellium, RFC 7622
// section 3.2) reads its U-label, so its users could never log in.
func TestDomainFuzzFindings(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct{ in, want string }{
		0: {"a\u00a0b.example", ""},
		1: {"a\u2028.example", ""},
		2: {"\xff.example", ""},
		3: {"a!b.example", ""},
		4: {"xn--bcher-kva.example", "bücher.example"},
		5: {"BÜCHER.Example.", "bücher.example"},
		6: {"a\u3002example", "a.example"}, // IDNA maps the ideographic full stop
		7: {" A.EXAMPLE ", "a.example"},
		8: {"xn--zzzz-.example", ""},
	} {
		got, err := NormalizeDomain(tc.in)
		if tc.want == "" {
			require.Error(t, err, "row %d: %q", i, got)
			continue
		}
		require.NoError(t, err, "row %d", i)
		require.Equal(t, tc.want, got, "row %d", i)
	}
	for i, tc := range []struct{ in, want string }{
		0: {"User@xn--bcher-kva.example/res", "user@bücher.example"},
		1: {"user@a\u00a0b.example", ""},
		2: {"user@ a.example", ""},
		3: {"a.example", "a.example"},
	} {
		got, err := ParseBareJID(tc.in)
		if tc.want == "" {
			require.Error(t, err, "row %d: %q", i, got)
			continue
		}
		require.NoError(t, err, "row %d", i)
		require.Equal(t, tc.want, got, "row %d", i)
	}
}
