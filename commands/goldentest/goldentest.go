// Package goldentest walks the byte-exact request/response cases kept as
// txtar files under testdata/<dialect>/: one walker for every dialect's
// golden test, so a new edge case is a new file.
//
// A case file has a comment saying what it shows, then sections. Its input
// sections (any the test reads, typically "setup" and "request") are kept
// as written; its output sections are compared with what the test got, or
// rewritten when the test runs with -update. An output "body" that does not
// end in a newline is stored with one and a "no-final-newline" marker.
package goldentest

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/tools/txtar"

	"github.com/xmppgate/xmppgate/store"
)

// Update rewrites the output sections instead of comparing them.
var Update = flag.Bool("update", false, "rewrite golden files")

const noFinalNewline = "no-final-newline"

// Case is one golden file.
type Case struct {
	t    *testing.T
	file string
	ar   *txtar.Archive
}

// Walk runs run on every file matching pattern, each as a parallel subtest
// named after the file.
func Walk(t *testing.T, pattern string, run func(t *testing.T, c *Case)) {
	t.Helper()
	files, err := filepath.Glob(pattern)
	require.NoError(t, err)
	require.NotEmpty(t, files, "no golden files match %s", pattern)
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txtar"), func(t *testing.T) {
			t.Parallel()
			ar, err := txtar.ParseFile(file)
			require.NoError(t, err)
			require.NotEmpty(t, strings.TrimSpace(string(ar.Comment)), "%s: a case says what it shows", file)
			run(t, &Case{t: t, file: file, ar: ar})
		})
	}
}

// Section returns a section's text.
func (c *Case) Section(name string) (string, bool) {
	for _, f := range c.ar.Files {
		if f.Name == name {
			return string(f.Data), true
		}
	}
	return "", false
}

// Lines returns a section's non-empty lines that are not # comments.
func (c *Case) Lines(name string) []string {
	text, _ := c.Section(name)
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return out
}

// Check compares the output sections named in order with got, or under
// -update rewrites the file with the input sections kept and got written.
func (c *Case) Check(got map[string]string, order []string) {
	c.t.Helper()
	if *Update {
		isOutput := map[string]bool{noFinalNewline: true}
		for _, name := range order {
			isOutput[name] = true
		}
		var files []txtar.File
		for _, f := range c.ar.Files {
			if !isOutput[f.Name] {
				files = append(files, f)
			}
		}
		for _, name := range order {
			data := got[name]
			if name == "body" && !strings.HasSuffix(data, "\n") {
				files = append(files, txtar.File{Name: name, Data: []byte(data + "\n")}, txtar.File{Name: noFinalNewline})
				continue
			}
			files = append(files, txtar.File{Name: name, Data: []byte(data)})
		}
		c.ar.Files = files
		require.NoError(c.t, os.WriteFile(c.file, txtar.Format(c.ar), 0o644))
		return
	}
	for _, name := range order {
		want, ok := c.Section(name)
		require.True(c.t, ok, "%s: no %s section (run with -update)", c.file, name)
		if _, trim := c.Section(noFinalNewline); trim && name == "body" {
			want = strings.TrimSuffix(want, "\n")
		}
		require.Equal(c.t, want, got[name], "%s: section %s", c.file, name)
	}
}

// Send sends the case's "request" section with send and returns the
// answer and the "queued" section: what the request queued in st.
func (c *Case) Send(st *store.Store, send func(req string) (int, http.Header, string)) (status int, header http.Header, body, queued string) {
	c.t.Helper()
	before := len(Changes(c.t, st))
	req, ok := c.Section("request")
	require.True(c.t, ok, "no request section")
	status, header, body = send(strings.TrimRight(req, "\n"))
	return status, header, body, Queued(Changes(c.t, st), before)
}

// Headers is a case's "headers" section: "Name: value" for each of names
// that h has, one a line.
func Headers(h http.Header, names ...string) string {
	var out []string
	for _, name := range names {
		if v := h.Get(name); v != "" {
			out = append(out, name+": "+v)
		}
	}
	return strings.Join(out, "\n") + "\n"
}

// Request builds the request a case writes as "METHOD /path?query", header
// lines "Name: value", a blank line and a body, against base. Each header
// line goes through header, which may act on it and say it handled it;
// unhandled lines (or all, if header is nil) are set as given.
func Request(t testing.TB, base, text string, header func(r *http.Request, name, value string) bool) *http.Request {
	t.Helper()
	head, body, _ := strings.Cut(text, "\n\n")
	lines := strings.Split(head, "\n")
	method, target, ok := strings.Cut(lines[0], " ")
	require.True(t, ok, "request line %q", lines[0])
	r, err := http.NewRequest(method, strings.TrimSuffix(base, "/")+target, strings.NewReader(body))
	require.NoError(t, err)
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if header == nil || !header(r, k, v) {
			r.Header[k] = []string{v}
		}
	}
	return r
}

// Do sends r and returns the status, headers and body of the answer.
func Do(t testing.TB, r *http.Request) (int, http.Header, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(r)
	require.NoError(t, err)
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(raw)
}

// Changes lists every queued change of st as "command status (batch
// status)", oldest first: the "queued" section of the dialects' cases.
func Changes(t testing.TB, st *store.Store) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	for id := int64(1); ; id++ {
		batch, err := st.Batch(ctx, id)
		if err != nil {
			return out
		}
		cs, err := st.Changes(ctx, batch.ID)
		require.NoError(t, err)
		for _, c := range cs {
			out = append(out, fmt.Sprintf("%s %s (batch %s)", c.Command, c.Status, batch.Status))
		}
	}
}

// Queued is a case's "queued" section: the entries of after (Changes once
// the request ran) beyond the first before, one a line, or "none". Where
// the queue shrank (restore and load replace it) it shows all of after.
func Queued(after []string, before int) string {
	if len(after) < before {
		before = 0
	}
	if len(after) == before {
		return "none\n"
	}
	return strings.Join(after[before:], "\n") + "\n"
}
