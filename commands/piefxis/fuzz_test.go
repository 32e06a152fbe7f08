package piefxis

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParseLua: data files come from another server; the reader may refuse
// them but never panic or loop.
func FuzzParseLua(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(fixtures, "prosody", "*", "*", "*"))
	real, _ := filepath.Glob(filepath.Join(migrated, "prosody-0.12", "data", "*", "*", "*"))
	files = append(files, real...)
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

// FuzzReadOpenfire: an Openfire export comes from another server; the
// reader may refuse it but never panic, and what it accepts is usable:
// every user has a name, every roster item a JID and a subscription of
// RFC 6121, every key set all four parts.
func FuzzReadOpenfire(f *testing.F) {
	if b, err := os.ReadFile(filepath.Join(migrated, "openfire", "users.xml")); err == nil {
		f.Add(string(b))
	}
	f.Add(`<Openfire><User><Username>a</Username><Roster><Item jid="b@c" substatus="3" askstatus="0" recvstatus="1"/></Roster></User></Openfire>`)
	f.Fuzz(func(t *testing.T, src string) {
		file, err := ReadOpenfire(strings.NewReader(src))
		if err != nil {
			return
		}
		for _, u := range file.Users {
			if strings.TrimSpace(u.Name) == "" {
				t.Fatalf("a user without name: %+v", u)
			}
			for _, s := range u.SCRAM {
				if len(s.Salt) == 0 || len(s.StoredKey) == 0 || len(s.ServerKey) == 0 || s.Iterations <= 0 {
					t.Fatalf("partial keys: %+v", s)
				}
			}
			for _, it := range u.Roster {
				switch it.Subscription {
				case "none", "to", "from", "both":
				default:
					t.Fatalf("subscription %q", it.Subscription)
				}
				if it.JID == "" {
					t.Fatal("an item without JID")
				}
			}
		}
	})
}

// FuzzReadFile: an XEP-0227 file comes from another server (ejabberd 23.01
// writes its SCRAM values base64 twice); the reader may refuse it but never
// panic, and the users it accepts have a name and complete SCRAM keys.
func FuzzReadFile(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join(migrated, "ejabberd-23.01", "*", "*", "*_*.xml"))
	more, _ := filepath.Glob(filepath.Join(fixtures, "*.xml"))
	for _, file := range append(seeds, more...) {
		if b, err := os.ReadFile(file); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "in.xml")
		if err := os.WriteFile(path, src, 0o600); err != nil {
			t.Fatal(err)
		}
		hosts, err := ReadFile(path, dir)
		if err != nil {
			return
		}
		for _, h := range hosts {
			for _, u := range h.Users {
				if u.Name == "" {
					t.Fatalf("a user without name in %s", h.JID)
				}
				for _, s := range u.SCRAM {
					if len(s.Salt) == 0 || len(s.StoredKey) == 0 || len(s.ServerKey) == 0 || s.Iterations <= 0 {
						t.Fatalf("user %s: partial keys %+v", u.Name, s)
					}
				}
			}
		}
	})
}
