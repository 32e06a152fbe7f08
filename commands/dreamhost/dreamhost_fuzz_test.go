package dreamhost

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"
	"gopkg.in/yaml.v3"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/commandstest"
	"github.com/xmppgate/xmppgate/commands/fuzzseed"
)

const multipartBoundary = "fuzzboundary"

// goldenSeeds are the requests of testdata/dreamhost as (method, target,
// headers, body), the multipart ones encoded for real.
func goldenSeeds(f *testing.F) [][4]string {
	f.Helper()
	reqs, err := fuzzseed.Requests("../../testdata/dreamhost/*.txtar", false)
	require.NoError(f, err)
	var out [][4]string
	for _, r := range reqs {
		for _, one := range strings.Split(r, "\n") {
			if strings.HasPrefix(r, "POST") {
				one = r // a POST request spans lines; setup lines are GETs
			}
			one = strings.TrimSpace(one)
			if one == "" || one == "worker" || strings.HasPrefix(one, "#") {
				continue
			}
			method, target, headers, body := fuzzseed.Split(one)
			if method == "POST-MULTIPART" {
				var buf bytes.Buffer
				mw := multipart.NewWriter(&buf)
				require.NoError(f, mw.SetBoundary(multipartBoundary))
				for _, l := range strings.Split(headers, "\n") {
					k, v, _ := strings.Cut(l, "=")
					require.NoError(f, mw.WriteField(k, v))
				}
				require.NoError(f, mw.Close())
				method, headers, body = "POST", "Content-Type: "+mw.FormDataContentType(), buf.String()
			}
			out = append(out, [4]string{method, target, headers, body})
			if strings.HasPrefix(r, "POST") {
				break
			}
		}
	}
	require.NotEmpty(f, out)
	return out
}

// fuzzServer is commandstest's fuzz server with the DreamHost handler
// and the fixture of the golden tests (harness_test.go addFixture): acme
// (a.example) with its sub-account (sub.a.example) and other (b.example,
// user bob), and the keys keyA (*), keyJabber (jabber-*), keyDNS (dns-*),
// keyIP (*, 192.0.2.0/24) and keyB (other's *). The worker runs after
// every input.
type fuzzServer struct {
	*commandstest.FuzzServer
	h    *Handler
	keys map[string]string
}

func newFuzzServer(f testing.TB) *fuzzServer {
	f.Helper()
	s := &fuzzServer{FuzzServer: commandstest.NewFuzzServer(f), keys: map[string]string{}}
	s.h = New(s.Reg, s.Env, Config{})
	s.Handler, s.Request = s.h, s.request
	s.Settle = func() error {
		_, err := s.Env.Worker.RunOnce(context.Background())
		return err
	}
	acme := s.Account("acme", "", false, "a.example")
	s.Account("acme-sub", "acme", false, "sub.a.example")
	other := s.Account("other", "", false, "b.example")
	for _, k := range []struct {
		name string
		acc  int64
		cmds []string
		ip   string
	}{
		{"keyA", acme, []string{"*"}, ""},
		{"keyJabber", acme, []string{"jabber-*"}, ""},
		{"keyDNS", acme, []string{"dns-*"}, ""},
		{"keyIP", acme, []string{"*"}, "192.0.2.0/24"},
		{"keyB", other, []string{"*"}, ""},
	} {
		s.keys[k.name] = s.Key(commands.KeySpec{Account: k.acc, Cmds: k.cmds, IPAllow: k.ip, Comment: k.name})
	}
	status, _, body := s.Do("GET", "/?key={{keyB}}&cmd=jabber-add_user&username=bob&domain=b.example&password=bobpass", "", nil)
	require.Equal(f, 200, status, "%s", body)
	require.NoError(f, s.Settle())
	return s
}

// expand puts the fixture's keys and the store's batch tokens in place of
// the golden files' placeholders.
func (s *fuzzServer) expand(v string) string {
	if !strings.Contains(v, "{{") {
		return v
	}
	for name, key := range s.keys {
		v = strings.ReplaceAll(v, "{{"+name+"}}", key)
	}
	for id := int64(1); strings.Contains(v, "{{token"); id++ {
		b, err := s.Store.Batch(context.Background(), id)
		if err != nil {
			break
		}
		v = strings.ReplaceAll(v, "{{token"+strconv.FormatInt(id, 10)+"}}", b.Token)
	}
	return v
}

// request builds an input's request with the placeholders expanded, from
// the address a header line "X-Remote-Addr: ip:port" gives (a documentation
// address by default).
func (s *fuzzServer) request(method, target, headers string, body []byte) (*http.Request, error) {
	addr := "198.51.100.9:4321"
	r, err := fuzzseed.NewRequest(method, s.expand(target), headers, []byte(s.expand(string(body))), func(r *http.Request, k, v string) bool {
		if k != "X-Remote-Addr" {
			return false
		}
		addr = v
		return true
	})
	if err != nil {
		return nil, err
	}
	r.RemoteAddr = addr
	return r, nil
}

// format is the format the handler answers r in, read as it reads it.
func (s *fuzzServer) format(method, target, headers string, body []byte) Format {
	r, err := s.request(method, target, headers, body)
	if err != nil {
		return Tab
	}
	params, _ := s.h.params(httptest.NewRecorder(), r)
	return ParseFormat(first(params, "format"))
}

// FuzzHandler sends random query strings, POST bodies (urlencoded and
// multipart) and headers through the real handler on a real store, and
// runs the worker after each: no panic, no 5xx, one log line without an
// internal error, the format's Content-Type and a valid document in it
// (tab, json, xml, perl, php, yaml, html) saying success or error.
func FuzzHandler(f *testing.F) {
	s := newFuzzServer(f)
	for _, sd := range goldenSeeds(f) {
		f.Add(sd[0], sd[1], sd[2], []byte(sd[3]))
	}
	for _, format := range []Format{Tab, JSON, XML, Perl, PHP, YAML, HTML} {
		f.Add("GET", "/?key={{keyA}}&cmd=jabber-add_user&username=%00%3C'%5C&domain=a.example&password=x&format="+string(format), "", []byte(nil))
		f.Add("POST", "/?format="+string(format), "Content-Type: application/x-www-form-urlencoded", []byte("key={{keyA}}&cmd=jabber-list_users&format="+string(format)))
	}
	f.Fuzz(func(t *testing.T, method, target, headers string, body []byte) {
		format := s.format(method, target, headers, body)
		rep, ok := s.Handle(t, method, target, headers, body)
		if !ok {
			return
		}
		status, header, out := rep.Status, rep.Header, rep.Body
		require.Contains(t, []int{200, 413}, status, "%s", out)
		require.Equal(t, format.ContentType(), header.Get("Content-Type"))
		require.True(t, utf8.Valid(out), "%q", out)
		checkFormat(t, format, out)
	})
}

// checkFormat fails unless out is a valid reply document in format f.
func checkFormat(t *testing.T, f Format, out []byte) {
	t.Helper()
	isResult := func(v any) { require.Contains(t, []any{"success", "error"}, v, "%s: %q", f, out) }
	switch f {
	case JSON:
		var v map[string]any
		require.NoError(t, json.Unmarshal(out, &v), "%q", out)
		isResult(v["result"])
	case YAML:
		var v map[string]any
		require.NoError(t, yaml.Unmarshal(out, &v), "%q", out)
		isResult(v["result"])
	case XML:
		var v struct {
			XMLName xml.Name `xml:"dreamhost"`
			Result  string   `xml:"result"`
		}
		require.NoError(t, xml.Unmarshal(out, &v), "%q", out)
		isResult(v.Result)
		dec := xml.NewDecoder(bytes.NewReader(out))
		for {
			_, err := dec.Token()
			if err == io.EOF {
				break
			}
			require.NoError(t, err, "%q", out)
		}
	case Perl:
		v, err := parsePerl(string(out))
		require.NoError(t, err, "%q", out)
		isResult(v["result"])
	case PHP:
		v, rest, err := parsePHP(string(out))
		require.NoError(t, err, "%q", out)
		require.Empty(t, rest, "%q", out)
		isResult(v.(map[string]any)["result"])
	case HTML:
		allowed := map[string]bool{"html": true, "head": true, "meta": true, "title": true, "body": true, "p": true,
			"table": true, "tr": true, "th": true, "td": true}
		z := html.NewTokenizer(bytes.NewReader(out))
		for {
			tt := z.Next()
			if tt == html.ErrorToken {
				require.Equal(t, io.EOF, z.Err())
				break
			}
			if tt == html.StartTagToken || tt == html.EndTagToken || tt == html.SelfClosingTagToken {
				name, _ := z.TagName()
				require.True(t, allowed[string(name)], "tag %q in %q", name, out)
			}
		}
	default:
		lines := strings.Split(string(out), "\n")
		require.Equal(t, "", lines[len(lines)-1], "%q ends with a newline", out)
		lines = lines[:len(lines)-1]
		isResult(lines[0])
		if len(lines) > 2 { // a table: every row has the header's columns
			cols := strings.Count(lines[1], "\t")
			for _, l := range lines[2:] {
				require.Equal(t, cols, strings.Count(l, "\t"), "%q", out)
			}
		} else {
			require.Len(t, lines, 2, "%q", out)
		}
	}
}

// parsePerl reads the reply's Perl: "$result = {...};" with single-quoted
// strings, arrays and hashes only.
func parsePerl(s string) (map[string]any, error) {
	rest, ok := strings.CutPrefix(s, "$result = ")
	if !ok {
		return nil, fmt.Errorf("no $result")
	}
	p := &perlParser{s: rest}
	v, err := p.value()
	if err != nil {
		return nil, err
	}
	p.space()
	if p.s != ";\n" {
		return nil, fmt.Errorf("trailing %q", p.s)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("not a hash")
	}
	return m, nil
}

type perlParser struct{ s string }

func (p *perlParser) space() { p.s = strings.TrimLeft(p.s, " \n") }

func (p *perlParser) eat(tok string) bool {
	p.space()
	if strings.HasPrefix(p.s, tok) {
		p.s = p.s[len(tok):]
		return true
	}
	return false
}

func (p *perlParser) value() (any, error) {
	p.space()
	switch {
	case p.eat("'"):
		var b strings.Builder
		for i := 0; i < len(p.s); i++ {
			switch c := p.s[i]; {
			case c == '\\' && i+1 < len(p.s) && (p.s[i+1] == '\\' || p.s[i+1] == '\''):
				b.WriteByte(p.s[i+1])
				i++
			case c == '\\':
				return nil, fmt.Errorf("bare backslash")
			case c == '\'':
				p.s = p.s[i+1:]
				return b.String(), nil
			default:
				b.WriteByte(c)
			}
		}
		return nil, fmt.Errorf("unterminated string")
	case p.eat("["):
		var out []any
		for !p.eat("]") {
			v, err := p.value()
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			if !p.eat(",") && !strings.HasPrefix(strings.TrimLeft(p.s, " \n"), "]") {
				return nil, fmt.Errorf("array at %q", p.s)
			}
		}
		return out, nil
	case p.eat("{"):
		out := map[string]any{}
		for !p.eat("}") {
			k, err := p.value()
			if err != nil {
				return nil, err
			}
			ks, ok := k.(string)
			if !ok || !p.eat("=>") {
				return nil, fmt.Errorf("hash at %q", p.s)
			}
			if out[ks], err = p.value(); err != nil {
				return nil, err
			}
			if !p.eat(",") && !strings.HasPrefix(strings.TrimLeft(p.s, " \n"), "}") {
				return nil, fmt.Errorf("hash at %q", p.s)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("value at %q", p.s)
}

// parsePHP reads PHP serialize() output: arrays, strings and integer keys.
func parsePHP(s string) (any, string, error) {
	switch {
	case strings.HasPrefix(s, "s:"):
		n, rest, ok := strings.Cut(s[2:], ":\"")
		l, err := strconv.Atoi(n)
		if !ok || err != nil || len(rest) < l+2 || rest[l:l+2] != "\";" {
			return nil, "", fmt.Errorf("string at %q", s)
		}
		return rest[:l], rest[l+2:], nil
	case strings.HasPrefix(s, "i:"):
		n, rest, ok := strings.Cut(s[2:], ";")
		i, err := strconv.Atoi(n)
		if !ok || err != nil {
			return nil, "", fmt.Errorf("int at %q", s)
		}
		return strconv.Itoa(i), rest, nil
	case strings.HasPrefix(s, "a:"):
		n, rest, ok := strings.Cut(s[2:], ":{")
		l, err := strconv.Atoi(n)
		if !ok || err != nil {
			return nil, "", fmt.Errorf("array at %q", s)
		}
		out := map[string]any{}
		for range l {
			k, r, err := parsePHP(rest)
			if err != nil {
				return nil, "", err
			}
			ks, ok := k.(string)
			if !ok {
				return nil, "", fmt.Errorf("key at %q", rest)
			}
			if out[ks], rest, err = parsePHP(r); err != nil {
				return nil, "", err
			}
		}
		if !strings.HasPrefix(rest, "}") {
			return nil, "", fmt.Errorf("array end at %q", rest)
		}
		return out, rest[1:], nil
	}
	return nil, "", fmt.Errorf("value at %q", s)
}
