// Package fuzzseed reads the golden request files (testdata/<dialect>/*.txtar)
// as seed corpora of the fuzz targets, and turns fuzz inputs into requests
// (the server they go to is commandstest.FuzzServer). It is apart from
// goldentest, whose -update flag would clash with packages that define
// their own, and imports nothing of xmppgate, so the commands package's own
// fuzz tests may use it.
package fuzzseed

import (
	"bytes"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/tools/txtar"
)

// Requests returns the requests the golden files matching pattern send:
// each "request" section, and each request of a "setup" section (split on
// lines "----", or one per line when oneLine is set). Fuzz targets use them
// as their seed corpus, so every fuzzer starts from real traffic.
func Requests(pattern string, oneLine bool) ([]string, error) {
	files, err := filepath.Glob(pattern)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, file := range files {
		ar, err := txtar.ParseFile(file)
		if err != nil {
			return nil, err
		}
		for _, f := range ar.Files {
			text := strings.TrimRight(string(f.Data), "\n")
			switch {
			case text == "":
			case f.Name == "request":
				out = append(out, text)
			case f.Name == "setup" && oneLine:
				for _, l := range strings.Split(text, "\n") {
					if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
						out = append(out, l)
					}
				}
			case f.Name == "setup":
				out = append(out, strings.Split(text, "\n----\n")...)
			}
		}
	}
	return out, nil
}

// Seeds is Requests for a fuzz target: it fails t if the files cannot be
// read or hold no request.
func Seeds(t testing.TB, pattern string, oneLine bool) []string {
	t.Helper()
	reqs, err := Requests(pattern, oneLine)
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) == 0 {
		t.Fatalf("no requests in %s", pattern)
	}
	return reqs
}

// AddRequests adds each request of reqs to a FuzzHandler target's corpus,
// as its method, target, header lines and body.
func AddRequests(f *testing.F, reqs []string) {
	for _, r := range reqs {
		method, target, headers, body := Split(r)
		f.Add(method, target, headers, []byte(body))
	}
}

// Split cuts a request as the golden files write it ("METHOD /target",
// header lines, a blank line, the body) into its parts.
func Split(req string) (method, target, headers, body string) {
	head, body, _ := strings.Cut(req, "\n\n")
	line, headers, _ := strings.Cut(head, "\n")
	method, target, _ = strings.Cut(line, " ")
	return method, target, headers, body
}

// NewRequest builds a request to target from an input's parts. headers
// holds "Name: value" lines; each goes through header, which may act on
// it and say it handled it, and the others are added as given. Lines
// without a colon are skipped: a fuzzed input has many.
func NewRequest(method, target, headers string, body []byte, header func(r *http.Request, name, value string) bool) (*http.Request, error) {
	r, err := http.NewRequest(method, "http://127.0.0.1"+target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(headers, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if header == nil || !header(r, k, v) {
			r.Header.Add(k, v)
		}
	}
	return r, nil
}
