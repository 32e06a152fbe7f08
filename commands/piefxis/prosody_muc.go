package piefxis

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"sort"
	"strings"
)

// Prosody's MUC component keeps each persistent room in its config store
// (<service>/config/<room>.dat): room settings under _data, affiliations
// as top-level bare JID keys, reserved nicknames under _affiliation_data.
// Keys starting with "_" are Prosody's own; everything else is a JID.

// prosodyRooms reads the rooms of a component directory, or nil if it
// has no config store (not a MUC component).
func prosodyRooms(fsys fs.FS, dir, service string) ([]Room, error) {
	entries, err := fs.ReadDir(fsys, path.Join(dir, "config"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, prosodyErr(err)
	}
	var out []Room
	for _, e := range entries {
		base, ok := strings.CutSuffix(e.Name(), ".dat")
		if !ok || e.IsDir() {
			continue
		}
		name, err := url.PathUnescape(base)
		if err != nil {
			return nil, fmt.Errorf("%s/config/%s: %w", service, e.Name(), err)
		}
		t, err := loadDat(fsys, dir, "config", base)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", service, name, err)
		}
		r, ok, err := prosodyRoom(t, name+"@"+service)
		if err != nil {
			return nil, fmt.Errorf("%s/%s: %w", service, name, err)
		}
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// prosodyRoom reads one room's config store entry; ok is false for a
// room that is not persistent (Prosody saves those only while hibernating).
func prosodyRoom(t Table, jid string) (r Room, ok bool, err error) {
	if t == nil {
		return r, false, nil
	}
	data := t.Table("_data")
	if data == nil {
		return r, false, errors.New("no _data table")
	}
	if b, _ := data["persistent"].(bool); !b {
		return r, false, nil
	}
	flag := func(k string) bool { b, _ := data[k].(bool); return b }
	r = Room{JID: jid, Name: data.String("name"), Description: data.String("description"), Subject: data.String("subject"),
		Language: data.String("language"), Public: !flag("hidden"), MembersOnly: flag("members_only"), Moderated: flag("moderated"),
		Password: data.String("password"), Whois: "moderators", HistoryLength: -1, AllowInvites: flag("allow_member_invites"),
		ChangeSubject: flag("changesubject"), Affiliations: map[string]string{}, Nicks: map[string]string{}}
	if w := data.String("whois"); w == "anyone" {
		r.Whois = w
	}
	if n, ok := data.Int("history_length"); ok && n >= 0 {
		r.HistoryLength = int(n)
	}
	// subject_from is the occupant JID (room@service/nick) that set it.
	if _, nick, ok := strings.Cut(data.String("subject_from"), "/"); ok {
		r.SubjectBy = nick
	}
	for k, v := range t {
		key, ok := k.(string)
		if !ok || strings.HasPrefix(key, "_") {
			continue
		}
		aff, _ := v.(string)
		switch aff {
		case "owner", "admin", "member", "outcast":
			r.Affiliations[key] = aff
		default:
			return r, false, fmt.Errorf("affiliation %q of %s", aff, key)
		}
	}
	for k, v := range t.Table("_affiliation_data") {
		key, _ := k.(string)
		d, _ := v.(Table)
		if nick := d.String("reserved_nickname"); key != "" && nick != "" {
			r.Nicks[key] = nick
		}
	}
	return r, true, nil
}

// attachRooms gives each component's rooms to the host it serves (the
// component's JID without its first label): a host not in hosts is added
// with rooms only.
func attachRooms(hosts []Host, services map[string][]Room) []Host {
	names := make([]string, 0, len(services))
	for s := range services {
		names = append(names, s)
	}
	sort.Strings(names)
	for _, s := range names {
		_, parent, _ := strings.Cut(s, ".")
		i := sort.Search(len(hosts), func(i int) bool { return hosts[i].JID >= parent })
		if i == len(hosts) || hosts[i].JID != parent {
			hosts = append(hosts, Host{})
			copy(hosts[i+1:], hosts[i:])
			hosts[i] = Host{JID: parent}
		}
		hosts[i].Rooms = append(hosts[i].Rooms, services[s]...)
	}
	return hosts
}
