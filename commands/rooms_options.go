package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// ejabberd's room options (create_room_with_opts, change_room_option,
// get_room_options) over the room configuration the MUC service keeps
// (store.Room.Config, xmppcore/muc's JSON). An option the service
// implements maps onto its key; one it does not is kept as ejabberd shows
// it under roomExtrasKey, so get_room_options answers what was set. The
// configuration is handled as a JSON object so that keys this file does
// not know (the service's own) survive a change made here.

// roomExtrasKey holds, in a room's configuration, the ejabberd options the
// service does not implement, as their text.
const roomExtrasKey = "ejabberd"

// Keys of the service's room configuration (xmppcore/muc.Config).
const (
	cfgName          = "name"
	cfgDescription   = "description"
	cfgPersistent    = "persistent"
	cfgPublic        = "public"
	cfgMembersOnly   = "membersOnly"
	cfgModerated     = "moderated"
	cfgPassword      = "password"
	cfgMaxUsers      = "maxUsers"
	cfgWhois         = "whois"
	cfgAllowInvites  = "allowInvites"
	cfgChangeSubject = "changeSubject"
	cfgAllowPM       = "allowPM"
	cfgArchive       = "archive"
	cfgLang          = "lang"
)

// Bounds of the service (xmppcore/muc).
const (
	roomMaxUsersDefault = 200
	roomMaxUsersLimit   = 1000
)

// roomOption is one ejabberd room option.
type roomOption struct {
	name string
	kind optKind
	// key is the service's configuration key it maps to ("" for an
	// option kept as text under roomExtrasKey, shown as def until set).
	key string
	def string
}

type optKind int

const (
	optBool optKind = iota
	optInt
	optText
	optTerm // an Erlang term ejabberd parses (presence_broadcast's role list)
)

// roomOptions are ejabberd 23.01's options in the order get_room_options
// lists them.
var roomOptions = []roomOption{
	{"title", optText, cfgName, ""},
	{"description", optText, cfgDescription, ""},
	{"allow_change_subj", optBool, cfgChangeSubject, ""},
	{"allow_query_users", optBool, "", "true"},
	{"allow_private_messages", optBool, cfgAllowPM, ""},
	{"allow_private_messages_from_visitors", optText, "", "anyone"},
	{"allow_visitor_status", optBool, "", "true"},
	{"allow_visitor_nickchange", optBool, "", "true"},
	{"public", optBool, cfgPublic, ""},
	{"public_list", optBool, "", "true"},
	{"persistent", optBool, cfgPersistent, ""},
	{"moderated", optBool, cfgModerated, ""},
	{"captcha_protected", optBool, "", "false"},
	{"members_by_default", optBool, "", "true"},
	{"members_only", optBool, cfgMembersOnly, ""},
	{"allow_user_invites", optBool, cfgAllowInvites, ""},
	{"allow_subscription", optBool, "", "false"},
	{"password_protected", optBool, "", ""},
	{"password", optText, "", ""},
	{"anonymous", optBool, cfgWhois, ""},
	{"presence_broadcast", optTerm, "", "[moderator,participant,visitor]"},
	{"allow_voice_requests", optBool, "", "true"},
	{"voice_request_min_interval", optInt, "", "1800"},
	{"max_users", optInt, cfgMaxUsers, ""},
	{"logging", optBool, "", "false"},
	{"vcard", optText, "", ""},
	{"vcard_xupdate", optText, "", "undefined"},
	{"captcha_whitelist", optTerm, "", "{0,nil}"},
	{"mam", optBool, cfgArchive, ""},
	{"pubsub", optText, "", ""},
	{"enable_hats", optBool, "", "false"},
	{"lang", optText, cfgLang, ""},
}

func lookupOption(name string) (roomOption, bool) {
	for _, o := range roomOptions {
		if o.name == name {
			return o, true
		}
	}
	return roomOption{}, false
}

func mustOption(name string) roomOption {
	o, ok := lookupOption(name)
	if !ok {
		panic("commands: no room option " + name)
	}
	return o
}

// roomConfig is a room's configuration as a JSON object.
type roomConfig struct {
	m      map[string]json.RawMessage
	extras map[string]string
}

// newRoomConfig is a new room's configuration on d: the service's
// defaults, stated, with the archive following the domain's modMam.
func newRoomConfig(d store.Domain) roomConfig {
	c := decodeRoomConfig([]byte("{}"), d)
	return c
}

// decodeRoomConfig reads a stored configuration over the service's
// defaults (xmppcore/muc.Default).
func decodeRoomConfig(b []byte, d store.Domain) roomConfig {
	c := roomConfig{m: map[string]json.RawMessage{}, extras: map[string]string{}}
	defaults := map[string]any{cfgPersistent: false, cfgPublic: true, cfgMembersOnly: false, cfgModerated: false,
		cfgMaxUsers: roomMaxUsersDefault, cfgWhois: "moderators", cfgAllowInvites: false, cfgChangeSubject: false,
		cfgAllowPM: "anyone", cfgArchive: EffectiveSettings(d).ModuleConfig.ModMam.Enabled}
	for k, v := range defaults {
		c.m[k], _ = json.Marshal(v)
	}
	var stored map[string]json.RawMessage
	if json.Unmarshal(b, &stored) == nil {
		for k, v := range stored {
			c.m[k] = v
		}
	}
	if raw, ok := c.m[roomExtrasKey]; ok {
		_ = json.Unmarshal(raw, &c.extras)
		if c.extras == nil {
			c.extras = map[string]string{}
		}
	}
	return c
}

func (c roomConfig) encode() json.RawMessage {
	if len(c.extras) > 0 {
		c.m[roomExtrasKey], _ = json.Marshal(c.extras)
	} else {
		delete(c.m, roomExtrasKey)
	}
	b, _ := json.Marshal(c.m)
	return b
}

func (c roomConfig) bool(key string) bool {
	var b bool
	_ = json.Unmarshal(c.m[key], &b)
	return b
}

func (c roomConfig) str(key string) string {
	var s string
	_ = json.Unmarshal(c.m[key], &s)
	return s
}

func (c roomConfig) int(key string) int64 {
	var n int64
	_ = json.Unmarshal(c.m[key], &n)
	return n
}

func (c roomConfig) put(key string, v any) { c.m[key], _ = json.Marshal(v) }

// get is an option's value as ejabberd shows it.
func (c roomConfig) get(o roomOption) string {
	switch o.name {
	case "allow_private_messages":
		return strconv.FormatBool(c.str(cfgAllowPM) != "none")
	case "anonymous":
		return strconv.FormatBool(c.str(cfgWhois) != "anyone")
	case "password":
		if v, ok := c.extras[o.name]; ok {
			return v
		}
		return c.str(cfgPassword)
	case "password_protected":
		if v, ok := c.extras[o.name]; ok {
			return v
		}
		return strconv.FormatBool(c.str(cfgPassword) != "")
	}
	if o.key == "" {
		if v, ok := c.extras[o.name]; ok {
			return v
		}
		return o.def
	}
	switch o.kind {
	case optBool:
		return strconv.FormatBool(c.bool(o.key))
	case optInt:
		return strconv.FormatInt(c.int(o.key), 10)
	}
	return c.str(o.key)
}

// errBadOption is a value an option does not take, or an option that
// does not exist.
func errBadOption(name, why string) *Error {
	return Errorf(Invalid, ReasonBadValue, "option", "Invalid option %s: %s", name, why)
}

// set sets an option from its text as ejabberd takes it.
func (c roomConfig) set(name, val string) error {
	o, ok := lookupOption(name)
	if !ok {
		return errBadOption(name, "no such option")
	}
	var b bool
	switch o.kind {
	case optBool:
		switch val {
		case "true":
			b = true
		case "false":
		default:
			return errBadOption(name, "true or false")
		}
	case optInt:
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || n < 0 {
			return errBadOption(name, "not a number")
		}
		if name == "max_users" && (n < 1 || n > roomMaxUsersLimit) {
			return errBadOption(name, fmt.Sprintf("from 1 to %d", roomMaxUsersLimit))
		}
	case optTerm:
		if name == "presence_broadcast" {
			if err := checkRoleList(val); err != nil {
				return errBadOption(name, err.Error())
			}
		}
	}
	switch name {
	case "allow_private_messages":
		switch {
		case !b:
			c.put(cfgAllowPM, "none")
		case c.str(cfgAllowPM) == "none":
			c.put(cfgAllowPM, "anyone")
		}
		return nil
	case "anonymous":
		if b {
			c.put(cfgWhois, "moderators")
		} else {
			c.put(cfgWhois, "anyone")
		}
		return nil
	case "password", "password_protected":
		c.extras[name] = val
		c.syncPassword()
		return nil
	}
	if o.key == "" {
		c.extras[name] = val
		return nil
	}
	switch o.kind {
	case optBool:
		c.put(o.key, b)
	case optInt:
		n, _ := strconv.ParseInt(val, 10, 64)
		c.put(o.key, n)
	default:
		c.put(o.key, val)
	}
	return nil
}

// syncPassword makes the service's password what ejabberd's two options
// say: the password when protected, none otherwise.
func (c roomConfig) syncPassword() {
	pw, hasPW := c.extras["password"]
	if !hasPW {
		pw = c.str(cfgPassword)
	}
	prot, hasProt := c.extras["password_protected"]
	on := prot == "true" || !hasProt && c.str(cfgPassword) != ""
	if on {
		c.put(cfgPassword, pw)
	} else {
		c.put(cfgPassword, "")
	}
}

// checkRoleList checks an Erlang list of roles ([moderator,participant]).
func checkRoleList(s string) error {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "[") || !strings.HasSuffix(t, "]") {
		// ejabberd also takes a single role atom.
		t = "[" + t + "]"
	}
	inner := strings.TrimSpace(t[1 : len(t)-1])
	if inner == "" {
		return nil
	}
	for _, r := range strings.Split(inner, ",") {
		switch strings.TrimSpace(r) {
		case "moderator", "participant", "visitor", "none":
		default:
			return errors.New("a list of roles")
		}
	}
	return nil
}

// parseAffiliationsOption reads create_room_with_opts' affiliations:
// affiliation:jid items separated by ',' or ';'.
func parseAffiliationsOption(val string) ([]roomAffiliation, error) {
	var out []roomAffiliation
	for _, it := range strings.FieldsFunc(val, func(r rune) bool { return r == ',' || r == ';' }) {
		aff, j, ok := strings.Cut(strings.TrimSpace(it), ":")
		switch aff {
		case store.MUCAffOwner, store.MUCAffAdmin, store.MUCAffMember, store.MUCAffOutcast:
		default:
			ok = false
		}
		bare, err := ParseBareJID(j)
		if !ok || err != nil {
			return nil, errBadOption("affiliations", "affiliation:jid items")
		}
		out = append(out, roomAffiliation{JID: bare, Aff: aff})
	}
	return out, nil
}

// parseSubscribersOption reads create_room_with_opts' subscribers:
// jid:nick:node:node... items separated by ',' or ';'.
func parseSubscribersOption(val string) ([]roomSubscriber, error) {
	var out []roomSubscriber
	for _, it := range strings.FieldsFunc(val, func(r rune) bool { return r == ',' || r == ';' }) {
		parts := strings.Split(strings.TrimSpace(it), ":")
		if len(parts) < 2 {
			return nil, errBadOption("subscribers", "jid:nick:node... items")
		}
		bare, err := ParseBareJID(parts[0])
		if err != nil || parts[1] == "" {
			return nil, errBadOption("subscribers", "jid:nick:node... items")
		}
		out = append(out, roomSubscriber{JID: bare, Nick: parts[1], Nodes: mucSubNodes(parts[2:])})
	}
	return out, nil
}

// ChangeRoomOption is mod_muc_admin's change_room_option.
var ChangeRoomOption = &Def{
	Name: "change_room_option",
	Doc: "Sets one option of the room name@service (the names and values get_room_options shows; booleans true or " +
		"false, max_users 1 to 1000), applied before it answers 0; occupants see the consequences at once (status 104, " +
		"and who may no longer stay is removed). A room that does not exist answers \"Room not found\"; an unknown " +
		"option or a value it does not take answers why.",
	Args: []Arg{argRoomName, argService, {Name: "option", Type: String, Doc: "The option's name."},
		{Name: "value", Type: String, Doc: "Its value, as text."}},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "change_room_option"},
	Handle:  changeRoomOption,
	Apply:   applyRoomOptions,
}

// roomOptionsChange is the change record of change_room_option.
type roomOptionsChange struct {
	roomRef
	Options [][2]string `json:"options"`
	// Openfire's PUT chatrooms/{roomName} (rooms_openfire.go) also sets
	// settings of its own the service does not act on (kept beside
	// ejabberd's), replaces the holders of the affiliations listed in
	// Replace by those of Affs, and sets the subject.
	Extras  map[string]string `json:"extras,omitempty"`
	Replace []string          `json:"replace,omitempty"`
	Affs    []roomAffiliation `json:"affs,omitempty"`
	Subject *string           `json:"subject,omitempty"`
}

func changeRoomOption(ctx context.Context, c *Call) (any, error) {
	if _, found, err := serviceDomain(ctx, c, c.Args.String("service")); err != nil {
		return nil, err
	} else if !found {
		return nil, badValue("service", msgBadService)
	}
	f, err := namedRoom(ctx, c, "Room not found")
	if err != nil {
		return nil, err
	}
	opt, val := c.Args.String("option"), c.Args.String("value")
	ch := roomOptionsChange{roomRef: f.ref(), Options: [][2]string{{opt, val}}}
	// Checked here for the answer, again in the worker on the row as it is then.
	if err := ch.apply(decodeRoomConfig(f.Room.Config, f.Domain)); err != nil {
		return nil, err
	}
	return queueRoomChange(ctx, c, ch)
}

func (ch roomOptionsChange) apply(cfg roomConfig) error {
	for _, o := range ch.Options {
		if o[0] == "affiliations" || o[0] == "subscribers" {
			return errBadOption(o[0], "set with set_room_affiliation or subscribe_room")
		}
		if err := cfg.set(o[0], o[1]); err != nil {
			return err
		}
	}
	for k, v := range ch.Extras {
		cfg.extras[k] = v
	}
	return nil
}

func applyRoomOptions(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var ch roomOptionsChange
	if err := json.Unmarshal(w.Args, &ch); err != nil {
		return err
	}
	r, err := storedRoom(ctx, tx, ch.roomRef, "Room not found")
	if err != nil {
		return err
	}
	d, err := tx.DomainByFQDN(ctx, ch.Domain)
	if err != nil {
		return err
	}
	cfg := decodeRoomConfig(r.Config, d)
	if err := ch.apply(cfg); err != nil {
		return err
	}
	if err := tx.ConfigureRoom(ctx, r.ID, cfg.encode()); err != nil {
		return err
	}
	if err := ch.replaceAffiliations(ctx, tx, r.ID); err != nil {
		return err
	}
	if ch.Subject != nil {
		if err := tx.SetRoomSubject(ctx, r.ID, *ch.Subject, ""); err != nil {
			return err
		}
	}
	roomChanged(w, ch.roomRef)
	return nil
}

// replaceAffiliations removes the holders of the affiliations in Replace
// that Affs does not name, then sets Affs.
func (ch roomOptionsChange) replaceAffiliations(ctx context.Context, tx *store.Tx, roomID int64) error {
	if len(ch.Replace) == 0 {
		return nil
	}
	keep := map[string]bool{}
	for _, a := range ch.Affs {
		keep[a.JID] = true
	}
	old, err := tx.RoomAffiliations(ctx, roomID)
	if err != nil {
		return err
	}
	for _, a := range old {
		if slices.Contains(ch.Replace, a.Aff) && !keep[a.JID] {
			if err := tx.SetRoomAffiliation(ctx, roomID, a.JID, store.MUCAffNone, ""); err != nil {
				return err
			}
		}
	}
	for _, a := range ch.Affs {
		if err := tx.SetRoomAffiliation(ctx, roomID, a.JID, a.Aff, ""); err != nil {
			return err
		}
	}
	return nil
}

// GetRoomOptions is mod_muc_admin's get_room_options.
var GetRoomOptions = &Def{
	Name: "get_room_options",
	Doc: "Lists the options of the room name@service as ejabberd names and shows them (booleans true or false), in " +
		"ejabberd's order; a room that does not exist has none.",
	Args:   []Arg{argRoomName, argService},
	Result: Result{Kind: ResultTable, Name: "options", Columns: []string{"name", "value"}},
	Names:  map[Dialect]string{Ejabberd: "get_room_options"},
	Handle: getRoomOptions,
}

func getRoomOptions(ctx context.Context, c *Call) (any, error) {
	t := Table{Columns: []string{"name", "value"}}
	f, found, err := lookupRoom(ctx, c, c.Args.String("service"), c.Args.String("name"))
	if err != nil || !found {
		return t, err
	}
	cfg := decodeRoomConfig(f.Room.Config, f.Domain)
	for _, o := range roomOptions {
		t.Rows = append(t.Rows, []any{o.name, cfg.get(o)})
	}
	return t, nil
}
