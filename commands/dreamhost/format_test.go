package dreamhost

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/xmppgate/xmppgate/commands"
)

var update = flag.Bool("update", false, "rewrite golden files")

var formats = []Format{Tab, JSON, XML, Perl, PHP, YAML, HTML}

func envelopes() map[string]Envelope {
	list := &commands.Table{Columns: []string{"username", "domain", "password", "status"},
		Rows: [][]any{{"testuser", "example.com", "abc123", "active"}}}
	arrays := &commands.Table{Columns: []string{"cmd", "order", "args", "optargs"},
		Rows: [][]any{{"jabber-add_user", []string{"token"}, []string{"username", "domain", "password"}, []string{}}}}
	return map[string]Envelope{
		"list":   {OK: true, Table: list},
		"empty":  {OK: true, Table: &commands.Table{Columns: []string{"domain"}}},
		"token":  {OK: true, Table: &commands.Table{Columns: []string{"token"}, Rows: [][]any{{"gcnaBcD12eFgH34iJkL"}}}},
		"scalar": {OK: true, Scalar: "record_added"},
		"error":  {Scalar: "user_exists"},
		"badkey": {Scalar: "invalid_api_key", Reason: "The API key you provided does not exist."},
		"limit":  {Scalar: "slow_down_bucko", Reason: "jabber-*: 10 per hour", TabDetail: true},
		"arrays": {OK: true, Table: arrays},
	}
}

// TestEncodeGolden pins every format's bytes for each result shape:
// testdata/dreamhost/formats/<shape>.<format>.
func TestEncodeGolden(t *testing.T) {
	t.Parallel()
	dir := filepath.Join("..", "..", "testdata", "dreamhost", "formats")
	for name, env := range envelopes() {
		for _, f := range formats {
			t.Run(name+"_"+string(f), func(t *testing.T) {
				t.Parallel()
				got := Encode(f, env)
				path := filepath.Join(dir, name+"."+string(f))
				if *update {
					require.NoError(t, os.WriteFile(path, got, 0o644))
					return
				}
				want, err := os.ReadFile(path)
				require.NoError(t, err, "run go test -update")
				require.Equal(t, string(want), string(got))
			})
		}
	}
}

// The spec's byte strings for the shapes it confirms.
func TestEncodeMatchesSpec(t *testing.T) {
	t.Parallel()
	e := envelopes()
	for i, tc := range []struct {
		f    Format
		env  string
		want string
	}{
		0:  {Tab, "list", "success\nusername\tdomain\tpassword\tstatus\ntestuser\texample.com\tabc123\tactive\n"},
		1:  {Tab, "token", "success\ntoken\ngcnaBcD12eFgH34iJkL\n"},
		2:  {Tab, "scalar", "success\nrecord_added\n"},
		3:  {Tab, "error", "error\nuser_exists\n"},
		4:  {Tab, "badkey", "error\ninvalid_api_key\n"},
		5:  {JSON, "list", `{"data":[{"username":"testuser","domain":"example.com","password":"abc123","status":"active"}],"result":"success"}`},
		6:  {JSON, "token", `{"data":[{"token":"gcnaBcD12eFgH34iJkL"}],"result":"success"}`},
		7:  {JSON, "scalar", `{"data":"record_added","result":"success"}`},
		8:  {JSON, "error", `{"data":"user_exists","result":"error"}`},
		9:  {JSON, "badkey", `{"data":"invalid_api_key","reason":"The API key you provided does not exist.","result":"error"}`},
		10: {XML, "token", "<dreamhost>\n  <data>\n    <token>gcnaBcD12eFgH34iJkL</token>\n  </data>\n  <result>success</result>\n</dreamhost>\n"},
		11: {XML, "scalar", "<dreamhost>\n  <data>record_added</data>\n  <result>success</result>\n</dreamhost>\n"},
		12: {XML, "error", "<dreamhost>\n  <data>user_exists</data>\n  <result>error</result>\n</dreamhost>\n"},
		13: {Perl, "error", "$result = {\n  'data' => 'user_exists',\n  'result' => 'error'\n};\n"},
		14: {PHP, "list", `a:2:{s:4:"data";a:1:{i:0;a:4:{s:8:"username";s:8:"testuser";s:6:"domain";s:11:"example.com";s:8:"password";s:6:"abc123";s:6:"status";s:6:"active";}}s:6:"result";s:7:"success";}`},
		15: {PHP, "error", `a:2:{s:4:"data";s:11:"user_exists";s:6:"result";s:5:"error";}`},
		16: {YAML, "list", "---\ndata:\n  - username: testuser\n    domain: example.com\n    password: abc123\n    status: active\nresult: success\n"},
		17: {Tab, "limit", "error\nslow_down_bucko\tjabber-*: 10 per hour\n"},
	} {
		require.Equal(t, tc.want, string(Encode(tc.f, e[tc.env])), "row %d", i)
	}
}

// TestPerlEvalsToResult runs the perl format through a real perl, the way
// WWW::DreamHost::API reads it.
func TestPerlEvalsToResult(t *testing.T) {
	t.Parallel()
	perl, err := exec.LookPath("perl")
	if err != nil {
		t.Skip("perl not installed")
	}
	env := Envelope{OK: true, Table: &commands.Table{Columns: []string{"username", "password"},
		Rows: [][]any{{"al'ice\\", `$x @y "z" ${\ system('false')}`}}}}
	script := `local $/; my $body = <STDIN>; my $result; eval $body or die "eval: $@"; ` +
		`print join("|", $result->{result}, $result->{data}[0]{username}, $result->{data}[0]{password});`
	cmd := exec.Command(perl, "-e", script)
	cmd.Stdin = bytes.NewReader(Encode(Perl, env))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.Equal(t, `success|al'ice\|$x @y "z" ${\ system('false')}`, string(out))
}

// decoders for the fuzz checks: each parses a value back out of its format.

func perlUnquote(s string) (string, int, error) {
	if !strings.HasPrefix(s, "'") {
		return "", 0, fmt.Errorf("no quote")
	}
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			if i+1 < len(s) && (s[i+1] == '\\' || s[i+1] == '\'') {
				b.WriteByte(s[i+1])
				i++
				continue
			}
			b.WriteByte('\\')
		case '\'':
			return b.String(), i + 1, nil
		default:
			b.WriteByte(s[i])
		}
	}
	return "", 0, fmt.Errorf("unterminated")
}

func phpUnstring(s string) (string, int, error) {
	if !strings.HasPrefix(s, "s:") {
		return "", 0, fmt.Errorf("not a string")
	}
	colon := strings.IndexByte(s[2:], ':')
	if colon < 0 {
		return "", 0, fmt.Errorf("no length")
	}
	n, err := strconv.Atoi(s[2 : 2+colon])
	if err != nil {
		return "", 0, err
	}
	start := 2 + colon + 2
	if len(s) < start+n+2 || s[start+n:start+n+2] != `";` {
		return "", 0, fmt.Errorf("bad length %d", n)
	}
	return s[start : start+n], start + n + 2, nil
}

func FuzzEncode(f *testing.F) {
	for _, s := range []string{"abc", "", "it's <me> & \"you\"", "tab\there", "nl\nx", "\x00\x01\xff", "ü€😀", "'0'", "yes", "- x", "a: b", "\u2028", "\ufeff",
		"a \u2028", " lead", "trail ", "x\u2029 y", "nel\u0085", "\u0085 ", "\ufffe", "# c", "a #b", "'q'", `"q"`, "\r\n", "null", "~", "0x1F", "1e3", ".inf", "<<", "=", "- ", "? k", "!tag", "&a", "*a", "|", ">", "%d", "@x", "`x", "[a]", "{a: 1}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		valid := strings.ToValidUTF8(v, "\uFFFD")
		table := Envelope{OK: true, Table: &commands.Table{Columns: []string{"value", "list"}, Rows: [][]any{{v, []string{v, "x"}}}}}
		scalar := Envelope{Scalar: v, Reason: v}

		for _, env := range []Envelope{table, scalar} {
			// json: valid, and the value comes back (invalid UTF-8 replaced).
			var j struct {
				Data   json.RawMessage `json:"data"`
				Reason string          `json:"reason"`
				Result string          `json:"result"`
			}
			out := Encode(JSON, env)
			require.True(t, json.Valid(out), "%q", out)
			require.NoError(t, json.Unmarshal(out, &j))
			require.True(t, utf8.Valid(out))
			if env.Table == nil {
				require.Equal(t, valid, j.Reason)
			}

			// xml: well-formed, UTF-8.
			dec := xml.NewDecoder(bytes.NewReader(Encode(XML, env)))
			for {
				_, err := dec.Token()
				if err != nil {
					require.Equal(t, "EOF", err.Error())
					break
				}
			}
			require.True(t, utf8.Valid(Encode(XML, env)))

			// yaml: parses, and every copy of the value round-trips as a
			// string (cell, list item, data and reason).
			var y map[string]any
			yout := Encode(YAML, env)
			require.NoError(t, yaml.Unmarshal(yout, &y), "%q", yout)
			if env.Table != nil {
				row := y["data"].([]any)[0].(map[string]any)
				require.Equal(t, valid, row["value"], "%q", yout)
				require.Equal(t, []any{valid, "x"}, row["list"], "%q", yout)
			} else {
				require.Equal(t, valid, y["data"], "%q", yout)
				if v != "" {
					require.Equal(t, valid, y["reason"], "%q", yout)
				}
			}

			// html: valid UTF-8, no raw < from the value.
			h := Encode(HTML, env)
			require.True(t, utf8.Valid(h))
			plain := ""
			if v != "" {
				plain = "x"
			}
			ref := Envelope{OK: env.OK, Scalar: plain}
			if env.Reason != "" {
				ref.Reason = plain
			}
			if env.Table != nil {
				ref.Table = &commands.Table{Columns: env.Table.Columns, Rows: [][]any{{plain, []string{plain, "x"}}}}
			}
			require.Equal(t, strings.Count(string(Encode(HTML, ref)), "<"), strings.Count(string(h), "<"))
		}

		// perl: the value comes back out of its quotes.
		p := string(Encode(Perl, scalar))
		i := strings.Index(p, "'data' => ")
		got, _, err := perlUnquote(p[i+len("'data' => "):])
		require.NoError(t, err)
		require.Equal(t, valid, got)

		// php: byte lengths are right.
		php := string(Encode(PHP, scalar))
		i = strings.Index(php, `s:4:"data";`)
		got, _, err = phpUnstring(php[i+len(`s:4:"data";`):])
		require.NoError(t, err)
		require.Equal(t, valid, got)

		// tab: always exactly the lines it should have.
		tab := string(Encode(Tab, table))
		require.Equal(t, 3, strings.Count(tab, "\n"), "%q", tab)
		require.Equal(t, 2, strings.Count(strings.Split(tab, "\n")[2], "\t")+1)
	})
}

func FuzzLenientQuery(f *testing.F) {
	for _, s := range []string{"key=A&cmd=b", "a=%zz&b=50%", "=&&=x", "k=a+b%20c", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		v := lenientQuery(q)
		// Whatever was decoded re-encodes and decodes to the same values.
		require.Equal(t, v, lenientQuery(v.Encode()))
	})
}
