package upload

import (
	"strings"
	"testing"
)

// FuzzParsePath: any request path splits into a well-formed slot id and
// a name, or is refused; nothing outside the id alphabet reaches the file
// system.
func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"/upload/AAAAAAAAAAAAAAAAAAAAAAAA/a.txt", "/upload/../../x.db", "/upload/%2e%2e/%2f", "/", "",
		"/upload/AAAAAAAAAAAAAAAAAAAAAAAA/%C3%BCn%20x.txt", "/upload/AAAAAAAAAAAAAAAAAAAAAAA/a"} {
		f.Add(s)
	}
	var s Service
	f.Fuzz(func(t *testing.T, p string) {
		id, name, ok := s.parsePath(p)
		if !ok {
			return
		}
		if len(id) != 24 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
			t.Fatalf("id %q from %q", id, p)
		}
		_ = name // compared with the stored name, never used as a path
	})
}

// FuzzCleanName: a name that passes holds no separator or control
// character and fits a path segment.
func FuzzCleanName(f *testing.F) {
	for _, s := range []string{"a.txt", "../x", "a\x00b", "..", " ", "ü.jpg", strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, ok := cleanName(in)
		if !ok {
			return
		}
		if n == "" || n == "." || n == ".." || len(n) > maxName || strings.ContainsAny(n, "/\\\x00") {
			t.Fatalf("%q passed as %q", in, n)
		}
	})
}
