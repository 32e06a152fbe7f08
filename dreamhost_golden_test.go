package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/tools/txtar"
)

var update = flag.Bool("update", false, "rewrite golden files")

var timeRE = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)

// TestDreamHostGolden walks testdata/dreamhost/*.txtar. Each case runs on a
// fresh server with the fixture of addFixture: the "setup" section's lines
// (requests, or "worker" to apply the queue), then the "request" section,
// whose status, content type, body and newly queued changes must match
// byte for byte. Keys, tokens and times are shown as placeholders.
func TestDreamHostGolden(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/dreamhost/*.txtar")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			runGolden(t, file)
		})
	}
}

func section(a *txtar.Archive, name string) (string, bool) {
	for _, f := range a.Files {
		if f.Name == name {
			return string(f.Data), true
		}
	}
	return "", false
}

func runGolden(t *testing.T, file string) {
	ar, err := txtar.ParseFile(file)
	require.NoError(t, err)
	s := startServer(t, nil)
	fx := s.addFixture()
	expand := func(v string) string {
		for name, key := range fx.keys {
			v = strings.ReplaceAll(v, "{{"+name+"}}", key)
		}
		for i, tok := range s.tokens() {
			v = strings.ReplaceAll(v, "{{token"+strconv.Itoa(i+1)+"}}", tok)
		}
		return v
	}
	setup, _ := section(ar, "setup")
	for _, line := range strings.Split(setup, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case line == "worker":
			s.runWorker()
		default:
			status, body := s.send(expand(line))
			require.Equal(t, 200, status, "setup %q: %s", line, body)
		}
	}
	before := s.pendingChanges()
	reqText, ok := section(ar, "request")
	require.True(t, ok, "no request section")
	status, header, body := s.sendFull(expand(strings.TrimRight(reqText, "\n")))
	queued := newItems(before, s.pendingChanges())

	// Placeholders for what changes from run to run.
	got := body
	for name, key := range fx.keys {
		got = strings.ReplaceAll(got, key, "{{"+name+"}}")
	}
	for i, tok := range s.tokens() {
		got = strings.ReplaceAll(got, tok, "{{token"+strconv.Itoa(i+1)+"}}")
	}
	got = timeRE.ReplaceAllString(got, "{{time}}")
	queuedText := "none\n"
	if len(queued) > 0 {
		queuedText = strings.Join(queued, "\n") + "\n"
	}
	want := map[string]string{
		"status":       strconv.Itoa(status) + "\n",
		"content-type": header.Get("Content-Type") + "\n",
		"body":         got,
		"queued":       queuedText,
	}
	if *update {
		var files []txtar.File
		for _, f := range ar.Files {
			if f.Name == "setup" || f.Name == "request" {
				files = append(files, f)
			}
		}
		for _, name := range []string{"status", "content-type", "body"} {
			data := want[name]
			files = append(files, txtar.File{Name: name, Data: []byte(data)})
			if name == "body" && !strings.HasSuffix(data, "\n") {
				files[len(files)-1].Data = append([]byte(data), '\n')
				files = append(files, txtar.File{Name: "no-final-newline"})
			}
		}
		files = append(files, txtar.File{Name: "queued", Data: []byte(queuedText)})
		ar.Files = files
		require.NoError(t, os.WriteFile(file, txtar.Format(ar), 0o644))
		return
	}
	for _, name := range []string{"status", "content-type", "body", "queued"} {
		exp, ok := section(ar, name)
		require.True(t, ok, "no %s section (run with -update)", name)
		if _, trim := section(ar, "no-final-newline"); trim && name == "body" {
			exp = strings.TrimSuffix(exp, "\n")
		}
		require.Equal(t, exp, want[name], "section %s", name)
	}
}

func newItems(before, after []string) []string {
	seen := map[string]int{}
	for _, b := range before {
		seen[b]++
	}
	var out []string
	for _, a := range after {
		if seen[a] > 0 {
			seen[a]--
			continue
		}
		out = append(out, a)
	}
	return out
}

// tokens lists the tokens of the batches made after the bootstrap, oldest first.
func (s *testServer) tokens() []string {
	var out []string
	for id := s.batch0 + 1; ; id++ {
		b, err := s.app.env.Store.Batch(t0(), id)
		if err != nil {
			return out
		}
		out = append(out, b.Token)
	}
}

func (s *testServer) send(req string) (int, string) {
	status, _, body := s.sendFull(req)
	return status, body
}

// sendFull sends a request written as "METHOD /path?query", optionally
// followed by header lines, a blank line and a body. "POST-MULTIPART /path"
// takes name=value lines and sends them as multipart/form-data.
func (s *testServer) sendFull(req string) (int, http.Header, string) {
	s.t.Helper()
	head, body, _ := strings.Cut(req, "\n\n")
	lines := strings.Split(head, "\n")
	method, target, ok := strings.Cut(lines[0], " ")
	require.True(s.t, ok, "request line %q", lines[0])
	base := strings.TrimSuffix(s.url, "/")
	var r *http.Request
	var err error
	if method == "POST-MULTIPART" {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, l := range lines[1:] {
			k, v, _ := strings.Cut(l, "=")
			require.NoError(s.t, mw.WriteField(k, v))
		}
		require.NoError(s.t, mw.Close())
		r, err = http.NewRequest(http.MethodPost, base+target, &buf)
		require.NoError(s.t, err)
		r.Header.Set("Content-Type", mw.FormDataContentType())
	} else {
		r, err = http.NewRequest(method, base+target, strings.NewReader(body))
		require.NoError(s.t, err)
		for _, l := range lines[1:] {
			k, v, _ := strings.Cut(l, ":")
			r.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
		}
	}
	resp, err := http.DefaultClient.Do(r)
	require.NoError(s.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(s.t, err)
	return resp.StatusCode, resp.Header, string(b)
}

// TestGoldenCasesAreNamed keeps the case list readable: every file has a
// comment saying what it shows.
func TestGoldenCasesAreNamed(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("testdata/dreamhost/*.txtar")
	require.NoError(t, err)
	sort.Strings(files)
	for _, f := range files {
		ar, err := txtar.ParseFile(f)
		require.NoError(t, err)
		require.NotEmpty(t, strings.TrimSpace(string(ar.Comment)), fmt.Sprintf("%s has no comment", f))
	}
}
