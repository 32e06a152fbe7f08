package piefxis

import (
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/xmppgate/xmppgate/xmlel"
)

// ReadProsodyDir reads a Prosody 0.12 data directory (internal storage):
// every <host>/accounts/<user>.dat, with the user's roster, vcard and
// private .dat files and offline .list, and the persistent rooms of MUC
// components (<service>/config/<room>.dat), given to the host the service
// is a subdomain of. Host and user names are %-encoded in file names
// (example%2ecom). Other directories (_global, other components) are left out. Every file is read
// through an os.Root of dir: a symbolic link leading out of it is an error.
func ReadProsodyDir(dir string) ([]Host, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	fsys := root.FS()
	entries, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return nil, prosodyErr(err)
	}
	var out []Host
	rooms := map[string][]Room{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		jid, err := url.PathUnescape(e.Name())
		if err != nil {
			return nil, fmt.Errorf("host directory %q: %w", e.Name(), err)
		}
		if st, err := fs.Stat(fsys, path.Join(e.Name(), "accounts")); err != nil || !st.IsDir() {
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, prosodyErr(err)
			}
			rs, err := prosodyRooms(fsys, e.Name(), jid)
			if err != nil {
				return nil, err
			}
			if len(rs) > 0 {
				rooms[jid] = rs
			}
			continue
		}
		h, err := readProsodyHost(fsys, e.Name(), jid)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	if len(out) == 0 {
		return nil, errors.New("no host directory with an accounts store")
	}
	sort.Slice(out, func(i, j int) bool { return out[i].JID < out[j].JID })
	return attachRooms(out, rooms), nil
}

// prosodyErr names the error of a read that os.Root refused, without the
// path (callers name the directory).
func prosodyErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "escapes") {
		return fmt.Errorf("%s: a symbolic link leads out of the directory", pe.Path)
	}
	return err
}

func readProsodyHost(fsys fs.FS, dir, jid string) (Host, error) {
	h := Host{JID: jid}
	entries, err := fs.ReadDir(fsys, path.Join(dir, "accounts"))
	if err != nil {
		return h, prosodyErr(err)
	}
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".dat")
		if !ok || e.IsDir() {
			continue
		}
		name, err := url.PathUnescape(base)
		if err != nil {
			return h, fmt.Errorf("%s/accounts/%s: %w", jid, e.Name(), err)
		}
		u, err := readProsodyUser(fsys, dir, base, name)
		if err != nil {
			return h, fmt.Errorf("%s/%s: %w", jid, name, err)
		}
		h.Users = append(h.Users, u)
	}
	return h, nil
}

// loadDat parses dir/store/file.dat; a missing file is nil.
func loadDat(fsys fs.FS, dir, store, file string) (Table, error) {
	b, err := fs.ReadFile(fsys, path.Join(dir, store, file+".dat"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, prosodyErr(err)
	}
	v, err := ParseReturn(string(b))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", store, err)
	}
	if v == nil {
		return nil, nil
	}
	t, ok := v.(Table)
	if !ok {
		return nil, fmt.Errorf("%s: %w", store, errNotTable)
	}
	return t, nil
}

func readProsodyUser(fsys fs.FS, dir, file, name string) (User, error) {
	u := User{Name: name}
	acc, err := loadDat(fsys, dir, "accounts", file)
	if err != nil {
		return u, err
	}
	u.Password = acc.String("password")
	if stored, server := acc.String("stored_key"), acc.String("server_key"); stored != "" || server != "" {
		s := SCRAM{Salt: []byte(acc.String("salt"))}
		n, _ := acc.Int("iteration_count")
		s.Iterations = int(n)
		s.StoredKey, err = hex.DecodeString(stored)
		if err == nil {
			s.ServerKey, err = hex.DecodeString(server)
		}
		if err != nil || len(s.Salt) == 0 || s.Iterations <= 0 || len(s.StoredKey) != len(s.ServerKey) {
			return u, errors.New("accounts: incomplete SCRAM keys")
		}
		// Prosody keeps one mechanism (its password_hash option); the key
		// size says which.
		switch len(s.StoredKey) {
		case 20:
			s.Mechanism = ScramSHA1
		case 32:
			s.Mechanism = ScramSHA256
		default:
			return u, fmt.Errorf("accounts: unknown SCRAM key size %d", len(s.StoredKey))
		}
		u.SCRAM = append(u.SCRAM, s)
	}

	roster, err := loadDat(fsys, dir, "roster", file)
	if err != nil {
		return u, err
	}
	var contacts []string
	for k := range roster {
		if c, ok := k.(string); ok {
			contacts = append(contacts, c)
		}
	}
	sort.Strings(contacts)
	for _, c := range contacts {
		it := roster.Table(c)
		if it == nil {
			continue
		}
		item := Item{JID: c, Name: it.String("name"), Subscription: it.String("subscription"), Ask: it.String("ask") == "subscribe"}
		if item.Subscription == "" {
			item.Subscription = "none"
		}
		for g := range it.Table("groups") {
			if g, ok := g.(string); ok {
				item.Groups = append(item.Groups, g)
			}
		}
		sort.Strings(item.Groups)
		u.Roster = append(u.Roster, item)
	}
	for from := range roster.Table(false).Table("pending") {
		if from, ok := from.(string); ok {
			u.Pending = append(u.Pending, from)
		}
	}
	sort.Strings(u.Pending)

	vcard, err := loadDat(fsys, dir, "vcard", file)
	if err != nil {
		return u, err
	}
	if vcard != nil {
		if u.VCard, err = stanza(vcard, ""); err != nil {
			return u, fmt.Errorf("vcard: %w", err)
		}
	} else if u.VCard, err = vcardFromPEP(fsys, dir, file); err != nil {
		return u, fmt.Errorf("vcard from PEP: %w", err)
	}

	private, err := loadDat(fsys, dir, "private", file)
	if err != nil {
		return u, err
	}
	var keys []string
	for k := range private {
		if k, ok := k.(string); ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		el, err := stanza(private.Table(k), "")
		if err != nil {
			return u, fmt.Errorf("private %s: %w", k, err)
		}
		u.Private = append(u.Private, el)
	}

	b, err := fs.ReadFile(fsys, path.Join(dir, "offline", file+".list"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return u, prosodyErr(err)
	}
	if err == nil {
		items, err := ParseItems(string(b))
		if err != nil {
			return u, fmt.Errorf("offline: %w", err)
		}
		for _, it := range items {
			t, ok := it.(Table)
			if !ok {
				return u, fmt.Errorf("offline: %w", errNotTable)
			}
			o, err := prosodyOffline(t)
			if err != nil {
				return u, fmt.Errorf("offline: %w", err)
			}
			u.Offline = append(u.Offline, o)
		}
	}
	return u, nil
}

// prosodyOffline turns an archive item (a stanza with when, with, key and
// the stamp attribute mod_storage_internal adds) into a message.
func prosodyOffline(t Table) (Offline, error) {
	var o Offline
	if w, ok := t.Int("when"); ok {
		o.Stamp = time.Unix(w, 0).UTC()
	} else if f, ok := t["when"].(float64); ok {
		o.Stamp = time.Unix(int64(f), 0).UTC()
	}
	attrs := t.Table("attr")
	if s := attrs.String("stamp"); s != "" && o.Stamp.IsZero() {
		if ts, err := time.Parse(time.RFC3339, s); err == nil {
			o.Stamp = ts.UTC()
		}
	}
	m, err := stanza(t, NSClient)
	if err != nil {
		return o, err
	}
	if m.Name.Local != "message" {
		return o, fmt.Errorf("a stored %s, not a message", m.Name.Local)
	}
	m.Set("stamp", "")
	o.Message = m
	return o, nil
}

// stanza rebuilds an element from Prosody's preserialized form: name,
// attr (xmlns among them; "ns\1name" for a namespaced attribute) and the
// children as array items, strings for text.
func stanza(t Table, parentNS string) (*xmlel.Element, error) {
	return stanzaDepth(t, parentNS, 0)
}

func stanzaDepth(t Table, parentNS string, depth int) (*xmlel.Element, error) {
	if depth > xmlel.MaxDepth {
		return nil, errors.New("stanza nested too deeply")
	}
	name := t.String("name")
	if name == "" {
		return nil, errors.New("a stanza table without name")
	}
	attrs := t.Table("attr")
	ns := attrs.String("xmlns")
	if ns == "" {
		ns = parentNS
	}
	el := &xmlel.Element{Name: xml.Name{Space: ns, Local: name}}
	var anames []string
	for k := range attrs {
		if k, ok := k.(string); ok && k != "xmlns" {
			anames = append(anames, k)
		}
	}
	sort.Strings(anames)
	for _, k := range anames {
		a := xml.Attr{Name: xml.Name{Local: k}, Value: attrs.String(k)}
		if space, local, ok := strings.Cut(k, "\x01"); ok {
			a.Name = xml.Name{Space: space, Local: local}
		}
		el.Attr = append(el.Attr, a)
	}
	for i := 1; i <= t.Len(); i++ {
		switch c := t[int64(i)].(type) {
		case string:
			el.Add(c)
		case Table:
			child, err := stanzaDepth(c, ns, depth+1)
			if err != nil {
				return nil, err
			}
			el.Add(child)
		}
	}
	return el, nil
}
