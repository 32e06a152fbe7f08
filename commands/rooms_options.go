package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/muc"
)

// ejabberd's room options (create_room_with_opts, change_room_option,
// get_room_options) over the room configuration the MUC service keeps
// (store.Room.Config, xmppcore/muc.Config). An option the service acts on
// maps onto its field; one it does not is kept as ejabberd shows it in
// Config.Extra, so get_room_options answers what was set and an owner's
// form leaves it alone.

// roomOption is one ejabberd room option.
type roomOption struct {
	name string
	kind optKind
	// def is how an option kept in Extra shows until it is set; "" with
	// mapped true for one the service acts on.
	def    string
	mapped bool
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
	{"title", optText, "", true},
	{"description", optText, "", true},
	{"allow_change_subj", optBool, "", true},
	{"allow_query_users", optBool, "true", false},
	{"allow_private_messages", optBool, "", true},
	{"allow_private_messages_from_visitors", optText, "anyone", false},
	{"allow_visitor_status", optBool, "true", false},
	{"allow_visitor_nickchange", optBool, "true", false},
	{"public", optBool, "", true},
	{"public_list", optBool, "true", false},
	{"persistent", optBool, "", true},
	{"moderated", optBool, "", true},
	{"captcha_protected", optBool, "false", false},
	{"members_by_default", optBool, "true", false},
	{"members_only", optBool, "", true},
	{"allow_user_invites", optBool, "", true},
	{"allow_subscription", optBool, "false", false},
	{"password_protected", optBool, "", true},
	{"password", optText, "", true},
	{"anonymous", optBool, "", true},
	{"presence_broadcast", optTerm, "[moderator,participant,visitor]", false},
	{"allow_voice_requests", optBool, "true", false},
	{"voice_request_min_interval", optInt, "1800", false},
	{"max_users", optInt, "", true},
	{"logging", optBool, "false", false},
	{"vcard", optText, "", false},
	{"vcard_xupdate", optText, "undefined", false},
	{"captcha_whitelist", optTerm, "{0,nil}", false},
	{"mam", optBool, "", true},
	{"pubsub", optText, "", false},
	{"enable_hats", optBool, "false", false},
	{"lang", optText, "", true},
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

// roomArchives says whether a new room of d is archived, as the service
// decides it (the domain's modMam).
func roomArchives(d store.Domain) bool { return modcfg.Parse(d).On(modcfg.Mam) }

// newRoomConfig is a new room's configuration on d: the service's defaults.
func newRoomConfig(d store.Domain) *muc.Config {
	c := muc.Default(roomArchives(d))
	return &c
}

// decodeRoomConfig reads a stored configuration over the service's defaults.
func decodeRoomConfig(b []byte, d store.Domain) *muc.Config {
	c := muc.Decode(b, roomArchives(d))
	return &c
}

// getRoomOption is an option's value as ejabberd shows it.
func getRoomOption(c *muc.Config, o roomOption) string {
	if !o.mapped {
		if v, ok := c.Extra[o.name]; ok {
			return v
		}
		return o.def
	}
	b := strconv.FormatBool
	switch o.name {
	case "title":
		return c.Name
	case "description":
		return c.Description
	case "allow_change_subj":
		return b(c.ChangeSubject)
	case "allow_private_messages":
		return b(c.AllowPM != muc.PMNone)
	case "public":
		return b(c.Public)
	case "persistent":
		return b(c.Persistent)
	case "moderated":
		return b(c.Moderated)
	case "members_only":
		return b(c.MembersOnly)
	case "allow_user_invites":
		return b(c.AllowInvites)
	case "password_protected":
		return b(c.Password != "")
	case "password":
		// Set while the room is not protected, it waits in Extra.
		if v, ok := c.Extra[o.name]; ok && c.Password == "" {
			return v
		}
		return c.Password
	case "anonymous":
		return b(!c.NonAnonymous())
	case "max_users":
		return strconv.Itoa(c.MaxUsers)
	case "mam":
		return b(c.Archive)
	case "lang":
		return c.Lang
	}
	return ""
}

// errBadOption is a value an option does not take, or an option that
// does not exist.
func errBadOption(name, why string) *Error {
	return Errorf(Invalid, ReasonBadValue, "option", "Invalid option %s: %s", name, why)
}

// setRoomOption sets an option from its text as ejabberd takes it.
func setRoomOption(c *muc.Config, name, val string) error {
	o, ok := lookupOption(name)
	if !ok {
		return errBadOption(name, "no such option")
	}
	if !utf8.ValidString(val) {
		return errBadOption(name, "not valid UTF-8")
	}
	var b bool
	var n int64
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
		var err error
		if n, err = strconv.ParseInt(val, 10, 64); err != nil || n < 0 {
			return errBadOption(name, "not a number")
		}
		if name == "max_users" && (n < 1 || n > muc.MaxMaxUsers) {
			return errBadOption(name, fmt.Sprintf("from 1 to %d", muc.MaxMaxUsers))
		}
	case optTerm:
		if name == "presence_broadcast" {
			if err := checkRoleList(val); err != nil {
				return errBadOption(name, err.Error())
			}
		}
	}
	if !o.mapped {
		if c.Extra == nil {
			c.Extra = map[string]string{}
		}
		c.Extra[name] = val
		return nil
	}
	switch name {
	case "title":
		if len(val) > muc.MaxNameLen {
			return errBadOption(name, fmt.Sprintf("at most %d bytes", muc.MaxNameLen))
		}
		c.Name = val
	case "description":
		if len(val) > muc.MaxDescLen {
			return errBadOption(name, fmt.Sprintf("at most %d bytes", muc.MaxDescLen))
		}
		c.Description = val
	case "allow_change_subj":
		c.ChangeSubject = b
	case "allow_private_messages":
		switch {
		case !b:
			c.AllowPM = muc.PMNone
		case c.AllowPM == muc.PMNone:
			c.AllowPM = muc.PMAnyone
		}
	case "public":
		c.Public = b
	case "persistent":
		c.Persistent = b
	case "moderated":
		c.Moderated = b
	case "members_only":
		c.MembersOnly = b
	case "allow_user_invites":
		c.AllowInvites = b
	case "anonymous":
		c.Whois = muc.WhoisModerators
		if !b {
			c.Whois = muc.WhoisAnyone
		}
	case "max_users":
		c.MaxUsers = int(n)
	case "mam":
		c.Archive = b
	case "lang":
		c.Lang = val
	case "password", "password_protected":
		return setRoomPassword(c, name, val, b)
	}
	return nil
}

// setRoomPassword keeps ejabberd's two options in the service's one
// password, required when not empty: a password set while the room is not
// protected waits in Extra until password_protected is true; protection
// turned off keeps the password there.
func setRoomPassword(c *muc.Config, name, val string, on bool) error {
	if len(val) > muc.MaxPasswordLen {
		return errBadOption(name, fmt.Sprintf("at most %d bytes", muc.MaxPasswordLen))
	}
	if c.Extra == nil {
		c.Extra = map[string]string{}
	}
	protected := c.Password != "" || c.Extra["password_protected"] == "true"
	pw := c.Password
	if pw == "" {
		pw = c.Extra["password"]
	}
	if name == "password" {
		pw = val
	} else {
		protected = on
	}
	c.Password, c.Extra["password"] = "", pw
	if protected && pw != "" {
		c.Password = pw
		delete(c.Extra, "password")
	}
	c.Extra["password_protected"] = strconv.FormatBool(protected)
	if pw == "" {
		delete(c.Extra, "password")
	}
	return nil
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

func (ch roomOptionsChange) apply(cfg *muc.Config) error {
	for _, o := range ch.Options {
		if o[0] == "affiliations" || o[0] == "subscribers" {
			return errBadOption(o[0], "set with set_room_affiliation or subscribe_room")
		}
		if err := setRoomOption(cfg, o[0], o[1]); err != nil {
			return err
		}
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
	if err := tx.ConfigureRoom(ctx, r.ID, cfg.Encode()); err != nil {
		return err
	}
	roomChanged(w, ch.roomRef)
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
		t.Rows = append(t.Rows, []any{o.name, getRoomOption(cfg, o)})
	}
	return t, nil
}
