package piefxis

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseLua: data files come from another server; the reader may refuse
// them but never panic or loop.
func FuzzParseLua(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "prosody", "*", "*", "*"))
	for _, file := range files {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(string(b))
		}
	}
	f.Add(`return { [false] = { "a"; [2] = "\065" } };`)
	f.Fuzz(func(t *testing.T, src string) {
		if v, err := ParseReturn(src); err == nil {
			if tab, ok := v.(Table); ok {
				_, _ = stanza(tab, "")
			}
		}
		_, _ = ParseItems(src)
	})
}
