package piefxis

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/xmppgate/xmppgate/xmlel"
)

// MaxUserBytes bounds one user element (a vCard photo included).
const MaxUserBytes = 16 << 20

// maxIncludeDepth bounds nested xi:include.
const maxIncludeDepth = 4

// ReadFile reads an XEP-0227 file as ejabberd writes it (a server-data
// main file whose xi:include elements name host files beside it, or one
// host file) or as Prosody does (server-data > host > user, one file per
// user). Included files must lie inside root. Hosts named more than once
// are merged.
func ReadFile(path, root string) ([]Host, error) {
	r := reader{root: root, hosts: map[string]*Host{}}
	if err := r.file(path, 0); err != nil {
		return nil, err
	}
	out := make([]Host, 0, len(r.order))
	for _, jid := range r.order {
		out = append(out, *r.hosts[jid])
	}
	return out, nil
}

type reader struct {
	root  string
	hosts map[string]*Host
	order []string
}

func (r *reader) host(jid string) *Host {
	h, ok := r.hosts[jid]
	if !ok {
		h = &Host{JID: jid}
		r.hosts[jid] = h
		r.order = append(r.order, jid)
	}
	return h
}

func (r *reader) file(path string, depth int) error {
	// Errors name files relative to root, never where root is.
	name, err := filepath.Rel(r.root, path)
	if err != nil {
		name = filepath.Base(path)
	}
	name = filepath.ToSlash(name)
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("%s: %w", name, os.ErrNotExist)
		}
		return fmt.Errorf("%s: cannot be read", name)
	}
	defer f.Close()
	d := xml.NewDecoder(f)
	var host *Host
	level, hostLevel := 0, 0 // depth of the current element, and of the open host
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			if level != 0 || depth == 0 && len(r.order) == 0 && host == nil {
				return fmt.Errorf("%s: no XEP-0227 data", name)
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			level++
			switch {
			case level == 1 && t.Name.Local == "server-data":
				if t.Name.Space != NS && t.Name.Space != NSOld {
					return fmt.Errorf("%s: unknown server-data namespace %q", name, t.Name.Space)
				}
			case level == 1 && t.Name.Local == "host", level == 2 && t.Name.Local == "host":
				if t.Name.Space != NS && t.Name.Space != NSOld {
					return fmt.Errorf("%s: unknown host namespace %q", name, t.Name.Space)
				}
				jid := attr(t, "jid")
				if jid == "" {
					return fmt.Errorf("%s: a host without jid", name)
				}
				host, hostLevel = r.host(jid), level
			case level == 2 && t.Name.Local == "include" && (t.Name.Space == NSXInc || t.Name.Space == "xi"):
				if err := r.include(name, path, attr(t, "href"), depth); err != nil {
					return err
				}
				if err := d.Skip(); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				level--
			case host != nil && t.Name.Local == "user" && level == hostLevel+1:
				el, err := xmlel.Read(d, t, off, MaxUserBytes)
				if err != nil {
					return fmt.Errorf("%s: user %q: %w", name, attr(t, "name"), err)
				}
				level--
				u, err := readUser(el)
				if err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				host.Users = append(host.Users, u)
			case level == 1:
				return fmt.Errorf("%s: not an XEP-0227 file (root element %s)", name, t.Name.Local)
			default:
				if err := d.Skip(); err != nil {
					return fmt.Errorf("%s: %w", name, err)
				}
				level--
			}
		case xml.EndElement:
			if level == hostLevel {
				host = nil
			}
			level--
		}
	}
}

// include reads the file an xi:include of file name (at path) names.
func (r *reader) include(name, from, href string, depth int) error {
	if depth >= maxIncludeDepth {
		return fmt.Errorf("%s: xi:include nested too deeply", name)
	}
	if href == "" || filepath.IsAbs(href) || strings.Contains(href, "://") {
		return fmt.Errorf("%s: xi:include href %q: only relative file names are followed", name, href)
	}
	path := filepath.Join(filepath.Dir(from), filepath.FromSlash(href))
	if !inside(r.root, path) {
		return fmt.Errorf("%s: xi:include href %q leads outside the folder being imported", name, href)
	}
	// A symbolic link may lead out too: the real file must stay inside.
	if real, err := filepath.EvalSymlinks(path); err == nil && !inside(r.root, real) {
		return fmt.Errorf("%s: xi:include href %q is a symbolic link leading outside the folder being imported", name, href)
	}
	return r.file(path, depth+1)
}

// inside reports whether path lies in root, by name.
func inside(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

func attr(t xml.StartElement, name string) string {
	for _, a := range t.Attr {
		if a.Name.Space == "" && a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// readUser reads a user element: every child it does not know (privacy
// lists, PEP, archives) is left out.
func readUser(el *xmlel.Element) (User, error) {
	u := User{Name: el.Get("name")}
	if u.Name == "" {
		return u, errors.New("a user without name")
	}
	pw := el.Get("password")
	if old, ok := strings.CutPrefix(pw, "scram:"); ok {
		// ejabberd's old form: [sha256,|sha512,]stored,server,salt,iterations (base64).
		s, err := oldScram(old)
		if err != nil {
			return u, fmt.Errorf("user %q: %w", u.Name, err)
		}
		u.SCRAM = append(u.SCRAM, s)
	} else {
		u.Password = pw
	}
	for _, c := range el.Elements() {
		switch {
		case c.Name.Local == "scram-credentials" && c.Name.Space == NSScram:
			s, err := scramElement(c)
			if err != nil {
				return u, fmt.Errorf("user %q: %w", u.Name, err)
			}
			u.SCRAM = append(u.SCRAM, s)
		case c.Name.Local == "query" && c.Name.Space == NSRoster:
			for _, it := range c.Elements() {
				if it.Name.Local != "item" {
					continue
				}
				item := Item{JID: it.Get("jid"), Name: it.Get("name"), Subscription: it.Get("subscription"), Ask: it.Get("ask") == "subscribe"}
				if item.Subscription == "" {
					item.Subscription = "none"
				}
				for _, g := range it.Elements() {
					if g.Name.Local == "group" {
						item.Groups = append(item.Groups, g.InnerText())
					}
				}
				u.Roster = append(u.Roster, item)
			}
		case c.Name.Local == "presence" && c.Name.Space == NSClient && c.Get("type") == "subscribe":
			if from := c.Get("from"); from != "" {
				u.Pending = append(u.Pending, from)
			}
		case c.Name.Local == "vCard" && c.Name.Space == NSVCard:
			u.VCard = c
		case c.Name.Local == "query" && c.Name.Space == NSPrivate:
			u.Private = append(u.Private, c.Elements()...)
		case c.Name.Local == "offline-messages":
			for _, m := range c.Elements() {
				if m.Name.Local != "message" {
					continue
				}
				if m.Name.Space == "" || m.Name.Space == NS || m.Name.Space == NSOld {
					m.Name.Space = NSClient
				}
				u.Offline = append(u.Offline, offline(m))
			}
		}
	}
	return u, nil
}

// offline takes the delay stamp out of a stored message.
func offline(m *xmlel.Element) Offline {
	o := Offline{Message: m}
	kept := m.Children[:0]
	for _, c := range m.Children {
		if d, ok := c.(*xmlel.Element); ok && d.Name.Local == "delay" && d.Name.Space == NSDelay {
			if t, err := time.Parse(time.RFC3339, d.Get("stamp")); err == nil && o.Stamp.IsZero() {
				o.Stamp = t.UTC()
			}
			continue
		}
		kept = append(kept, c)
	}
	m.Children = kept
	return o
}

// keySize is the StoredKey and ServerKey size of a mechanism, 0 if unknown.
func keySize(mech string) int {
	switch mech {
	case ScramSHA1:
		return sha1.Size
	case ScramSHA256:
		return sha256.Size
	case "SCRAM-SHA-512":
		return sha512.Size
	}
	return 0
}

// scramElement reads a scram-credentials element. XEP-0227 has each value
// in base64; ejabberd 23.01 writes base64 of the base64 text (its Mnesia
// keeps the text), so
//
//	<salt>bVFDQkw3Q3hwOUVpUVJNUHczVGVhQT09</salt>
//
// is the 16-byte salt whose base64 is "mQCBL7Cxp9EiQRMPw3TeaA==". Which of
// the two a file uses shows in the stored key: once decoded, it has the
// mechanism's size, or it is the base64 text of a key that does; every
// value of the element is then decoded as often.
func scramElement(c *xmlel.Element) (SCRAM, error) {
	s := SCRAM{Mechanism: c.Get("mechanism")}
	field := func(name string) ([]byte, error) {
		v, err := base64.StdEncoding.DecodeString(strings.TrimSpace(c.ChildText(NSScram, name)))
		switch {
		case err != nil:
			return nil, fmt.Errorf("scram-credentials %s: %s is not base64", s.Mechanism, name)
		case len(v) == 0:
			return nil, fmt.Errorf("scram-credentials %s: %s is missing", s.Mechanism, name)
		}
		return v, nil
	}
	var err error
	if s.StoredKey, err = field("stored-key"); err != nil {
		return s, err
	}
	if s.ServerKey, err = field("server-key"); err != nil {
		return s, err
	}
	if s.Salt, err = field("salt"); err != nil {
		return s, err
	}
	if size := keySize(s.Mechanism); size > 0 && len(s.StoredKey) != size {
		if k, e := base64.StdEncoding.DecodeString(string(s.StoredKey)); e == nil && len(k) == size {
			for _, f := range []struct {
				name string
				v    *[]byte
			}{{"stored-key", &s.StoredKey}, {"server-key", &s.ServerKey}, {"salt", &s.Salt}} {
				inner, e := base64.StdEncoding.DecodeString(string(*f.v))
				if e != nil || len(inner) == 0 {
					return s, fmt.Errorf("scram-credentials %s: %s is base64 once where stored-key is base64 twice", s.Mechanism, f.name)
				}
				*f.v = inner
			}
		}
	}
	if s.Iterations, err = strconv.Atoi(strings.TrimSpace(c.ChildText(NSScram, "iter-count"))); err != nil || s.Iterations <= 0 {
		return s, fmt.Errorf("scram-credentials %s: iter-count %q is not a positive number", s.Mechanism, strings.TrimSpace(c.ChildText(NSScram, "iter-count")))
	}
	return s, nil
}

func oldScram(v string) (SCRAM, error) {
	parts := strings.Split(v, ",")
	s := SCRAM{Mechanism: ScramSHA1}
	switch {
	case len(parts) == 5 && parts[0] == "sha256":
		s.Mechanism, parts = ScramSHA256, parts[1:]
	case len(parts) == 5 && parts[0] == "sha512":
		s.Mechanism, parts = "SCRAM-SHA-512", parts[1:]
	case len(parts) != 4:
		return s, errors.New("malformed scram: password")
	}
	var err error
	dec := func(p string) []byte {
		b, e := base64.StdEncoding.DecodeString(p)
		if e != nil && err == nil {
			err = errors.New("malformed scram: password")
		}
		return b
	}
	s.StoredKey, s.ServerKey, s.Salt = dec(parts[0]), dec(parts[1]), dec(parts[2])
	if s.Iterations, _ = strconv.Atoi(parts[3]); s.Iterations <= 0 && err == nil {
		err = errors.New("malformed scram: password")
	}
	return s, err
}
