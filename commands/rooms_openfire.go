package commands

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"sort"
	"strconv"
	"strings"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/muc"
)

// The chat rooms of Openfire's restAPI plugin (/plugins/restapi/v1/chatrooms)
// over the same stored rooms and the same changes as ejabberd's room
// commands: a new room is a roomCreate (applyRoomCreate), a PUT a
// roomOptionsChange (applyRoomOptions), an affiliation a roomAffChange
// (applyRoomAffiliation), a DELETE a roomDestroy (applyRoomDestroy). The
// plugin's MUCRoomEntity is mapped onto ejabberd's option names so that both
// dialects read and write one configuration; what only Openfire has is kept
// under "openfire.<field>" beside ejabberd's own extras. The credential
// names one domain (the front end binds it as domain), and servicename is
// the label of that domain's MUC service: any other name, another tenant's
// service included, is a service that does not exist (docs/openfire.md).

var openfireRoomDefs = []*Def{OpenfireRoomList, OpenfireRoomGet, OpenfireRoomCreate, OpenfireRoomUpdate,
	OpenfireRoomDelete, OpenfireRoomParticipants, OpenfireRoomOccupants, OpenfireRoomHistory, OpenfireRoomInvite,
	OpenfireRoomOwnerAdd, OpenfireRoomAdminAdd, OpenfireRoomMemberAdd, OpenfireRoomOutcastAdd,
	OpenfireRoomOwnerDelete, OpenfireRoomAdminDelete, OpenfireRoomMemberDelete, OpenfireRoomOutcastDelete,
	OpenfireRoomOwnerGroupAdd, OpenfireRoomAdminGroupAdd, OpenfireRoomMemberGroupAdd, OpenfireRoomOutcastGroupAdd,
	OpenfireRoomOwnerGroupDelete, OpenfireRoomAdminGroupDelete, OpenfireRoomMemberGroupDelete, OpenfireRoomOutcastGroupDelete}

// Reasons of the Openfire room endpoints (ReasonNoRoom is shared with
// ejabberd's room commands).
const (
	ReasonNoMucService Reason = "no_muc_service" // servicename is not the domain's MUC service
	ReasonRoomExists   Reason = "room_exists"    // a room of that name exists
)

// The plugin's texts.
const (
	msgOFNoService   = "Chat service does not exist or is not accessible."
	msgOFNoRoom      = "Chat room does not exist or is not accessible."
	msgOFRoomExists  = "Could not create the channel"
	msgOFNoGroupAffs = "User groups cannot hold room affiliations here: affiliate the members' JIDs"
)

// openfireExtra is the key of an Openfire-only setting in a room's extras.
func openfireExtra(field string) string { return "openfire." + field }

var (
	argOFService = Arg{Name: "servicename", Type: String, Optional: true,
		Doc: "The MUC service's label: conference (the default), or the domain's moduleConfig.modMuc.conferenceSubdomain."}
	argOFRoom = Arg{Name: "room_name", Type: String, Names: map[Dialect]string{OpenfireREST: "roomName"},
		Doc: "The room's name (the localpart of its JID), nodeprep-normalised."}
	argOFExpand = Arg{Name: "expandGroups", Type: Bool, Optional: true,
		Doc: "Accepted for compatibility; rooms have no group affiliations here, so there is nothing to expand."}
	argOFJID = Arg{Name: "jid", Type: String,
		Doc: "A JID, or a username of the credential's domain (Openfire's reading of a value without @)."}

	// The MUCRoomEntity's fields that POST and PUT take; booleans absent are
	// false and strings absent empty, as the plugin reads a whole entity.
	ofRoomFields = []Arg{
		{Name: "naturalName", Type: String, Optional: true, Doc: "The room's title."},
		{Name: "description", Type: String, Optional: true, Doc: "The room's description."},
		{Name: "subject", Type: String, Optional: true, Doc: "The room's subject."},
		{Name: "password", Type: String, Optional: true, Secret: true, Doc: "The room's password; empty: none."},
		{Name: "maxUsers", Type: Int, Optional: true, Doc: "At most this many occupants, 1 to 1000; 0 or absent (Openfire: no limit) is 1000."},
		{Name: "persistent", Type: Bool, Optional: true, Doc: "Kept when the last occupant leaves."},
		{Name: "publicRoom", Type: Bool, Optional: true, Doc: "Listed in the service's disco#items."},
		{Name: "registrationEnabled", Type: Bool, Optional: true, Doc: "Kept and shown; the service lets any user register a nickname."},
		{Name: "canAnyoneDiscoverJID", Type: Bool, Optional: true, Doc: "Occupants' real JIDs are shown to everyone (non-anonymous)."},
		{Name: "canOccupantsChangeSubject", Type: Bool, Optional: true, Doc: "Participants may change the subject."},
		{Name: "canOccupantsInvite", Type: Bool, Optional: true, Doc: "Occupants may invite others."},
		{Name: "canChangeNickname", Type: Bool, Optional: true, Doc: "Kept and shown; the service lets occupants change nicknames."},
		{Name: "logEnabled", Type: Bool, Optional: true, Doc: "The room's messages are archived (XEP-0313)."},
		{Name: "loginRestrictedToNickname", Type: Bool, Optional: true, Doc: "Kept and shown; not enforced."},
		{Name: "membersOnly", Type: Bool, Optional: true, Doc: "Only members may join."},
		{Name: "moderated", Type: Bool, Optional: true, Doc: "Only occupants with voice may speak."},
		{Name: "broadcastPresenceRoles", Type: List, Optional: true, Doc: "Roles whose presence is broadcast (moderator, participant, visitor); kept and shown."},
		{Name: "owners", Type: List, Optional: true, Doc: "Owners' JIDs; given, they replace the owners."},
		{Name: "admins", Type: List, Optional: true, Doc: "Admins' JIDs; given, they replace the admins."},
		{Name: "members", Type: List, Optional: true, Doc: "Members' JIDs; given, they replace the members."},
		{Name: "outcasts", Type: List, Optional: true, Doc: "Outcasts' JIDs (banned); given, they replace the outcasts."},
		{Name: "ownerGroups", Type: List, Optional: true, Doc: "Refused unless empty: user groups hold no affiliations here."},
		{Name: "adminGroups", Type: List, Optional: true, Doc: "Refused unless empty."},
		{Name: "memberGroups", Type: List, Optional: true, Doc: "Refused unless empty."},
		{Name: "outcastGroups", Type: List, Optional: true, Doc: "Refused unless empty."},
	}
)

// ofRoomColumns are the MUCRoomEntity's fields in the plugin's order.
var ofRoomColumns = []string{"roomName", "naturalName", "description", "password", "subject", "creationDate",
	"modificationDate", "maxUsers", "persistent", "publicRoom", "registrationEnabled", "canAnyoneDiscoverJID",
	"canOccupantsChangeSubject", "canOccupantsInvite", "canChangeNickname", "logEnabled",
	"loginRestrictedToNickname", "membersOnly", "moderated", "broadcastPresenceRoles", "owners", "admins",
	"members", "outcasts", "ownerGroups", "adminGroups", "memberGroups", "outcastGroups"}

// ofAffLists are the entity's affiliation lists and what they hold.
var ofAffLists = []struct{ field, aff string }{
	{"owners", store.MUCAffOwner}, {"admins", store.MUCAffAdmin}, {"members", store.MUCAffMember}, {"outcasts", store.MUCAffOutcast},
}

// ofService resolves servicename on the credential's domain.
func ofService(c *Call) (store.Domain, error) {
	d := c.Args.Domain("domain")
	name := c.Args.String("servicename")
	if name == "" {
		name = DefaultMucLabel
	}
	if !modcfg.Parse(d).On(modcfg.Muc) ||
		!strings.EqualFold(name, DefaultMucLabel) && !strings.EqualFold(name, mucLabel(d)) {
		return d, Errorf(NotFound, ReasonNoMucService, "servicename", "%s", msgOFNoService)
	}
	storeRooms(c, d)
	return d, nil
}

// ofRoom finds the call's room on its service.
func ofRoom(ctx context.Context, c *Call) (foundRoom, error) {
	d, err := ofService(c)
	if err != nil {
		return foundRoom{}, err
	}
	missing := Errorf(NotFound, ReasonNoRoom, "room_name", "%s", msgOFNoRoom)
	name, ok := roomName(c.Args.String("room_name"))
	if !ok {
		return foundRoom{}, missing
	}
	r, err := c.Env.Store.Room(ctx, d.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return foundRoom{}, missing
	}
	return foundRoom{Domain: d, Room: r}, err
}

// ofJID reads a JID as the plugin does: a value without @ is a username of
// the server (here: of the credential's domain).
func ofJID(d store.Domain, s, arg string) (string, error) {
	if !strings.Contains(s, "@") {
		s += "@" + d.FQDN
	}
	j, err := ParseBareJID(s)
	if err != nil {
		return "", Errorf(Invalid, ReasonMalformed, arg, "%q is not a JID", s)
	}
	return j, nil
}

// --- reads

// OpenfireRoomList is GET chatrooms.
var OpenfireRoomList = &Def{
	Name: "openfire_room_list",
	Doc: "Lists the rooms of the domain's MUC service with their configuration and affiliations, by name: type " +
		"public (the default) only those listed in the directory, all every room; search keeps the names containing it.",
	Args: []Arg{argDomain, argOFService,
		{Name: "type", Type: String, Optional: true, Doc: "public (default) or all; any other value lists nothing, as the plugin does."},
		{Name: "search", Type: String, Optional: true, Doc: "Keep the rooms whose name contains this text."},
		argOFExpand},
	Result: Result{Kind: ResultTable, Columns: ofRoomColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET chatrooms"},
	Handle: openfireRoomList,
}

func openfireRoomList(ctx context.Context, c *Call) (any, error) {
	d, err := ofService(c)
	if err != nil {
		return nil, err
	}
	typ := c.Args.String("type")
	if typ == "" {
		typ = "public"
	}
	rs, err := c.Env.Store.Rooms(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].Name < rs[j].Name })
	t := Table{Columns: ofRoomColumns, Rows: [][]any{}}
	search := c.Args.String("search")
	for _, r := range rs {
		if search != "" && !strings.Contains(r.Name, search) {
			continue
		}
		cfg := decodeRoomConfig(r.Config, d)
		if typ != "all" && (typ != "public" || !cfg.Public) {
			continue
		}
		row, err := ofRoomRow(ctx, c.Env.Store.Reader, r, cfg)
		if err != nil {
			return nil, err
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// OpenfireRoomGet is GET chatrooms/{roomName}.
var OpenfireRoomGet = &Def{
	Name:   "openfire_room_get",
	Doc:    "Shows a room of the domain's MUC service: its configuration as Openfire names it, and its affiliations.",
	Args:   []Arg{argDomain, argOFRoom, argOFService, argOFExpand},
	Result: Result{Kind: ResultTable, Columns: ofRoomColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET chatrooms/{roomName}"},
	Handle: openfireRoomGet,
}

func openfireRoomGet(ctx context.Context, c *Call) (any, error) {
	f, err := ofRoom(ctx, c)
	if err != nil {
		return nil, err
	}
	row, err := ofRoomRow(ctx, c.Env.Store.Reader, f.Room, decodeRoomConfig(f.Room.Config, f.Domain))
	return Table{Columns: ofRoomColumns, Rows: [][]any{row}}, err
}

// ofRoomRow is a stored room as a MUCRoomEntity.
func ofRoomRow(ctx context.Context, rd store.Reader, r store.Room, cfg *muc.Config) ([]any, error) {
	affs, err := rd.RoomAffiliations(ctx, r.ID)
	if err != nil {
		return nil, err
	}
	lists := map[string][]string{}
	for _, a := range affs {
		lists[a.Aff] = append(lists[a.Aff], a.JID)
	}
	extra := func(field string, def bool) bool {
		if v, ok := cfg.Extra[openfireExtra(field)]; ok {
			return v == "true"
		}
		return def
	}
	list := func(aff string) []string {
		l := lists[aff]
		if l == nil {
			l = []string{}
		}
		sort.Strings(l)
		return l
	}
	return []any{r.Name, cfg.Name, cfg.Description, cfg.Password, r.Subject, r.Created, r.LastActive, cfg.MaxUsers,
		cfg.Persistent, cfg.Public, extra("registrationEnabled", true), cfg.Whois == muc.WhoisAnyone, cfg.ChangeSubject,
		cfg.AllowInvites, extra("canChangeNickname", true), cfg.Archive, extra("loginRestrictedToNickname", false),
		cfg.MembersOnly, cfg.Moderated, roleList(getRoomOption(cfg, mustOption("presence_broadcast"))),
		list(store.MUCAffOwner), list(store.MUCAffAdmin), list(store.MUCAffMember), list(store.MUCAffOutcast),
		[]string{}, []string{}, []string{}, []string{}}, nil
}

// roleList reads ejabberd's role list term ([moderator,participant]).
func roleList(term string) []string {
	out := []string{}
	for _, r := range strings.Split(strings.Trim(strings.TrimSpace(term), "[]"), ",") {
		if r = strings.TrimSpace(r); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// --- create, update, delete

// OpenfireRoomCreate is POST chatrooms.
var OpenfireRoomCreate = &Def{
	Name: "openfire_room_create",
	Doc: "Creates a room on the domain's MUC service from a MUCRoomEntity, unlocked and joinable at once, applied " +
		"before it answers 201. A room of that name answers 409 AlreadyExistsException.",
	Args: append([]Arg{{Name: "room_name", Type: String, Names: map[Dialect]string{OpenfireREST: "roomName"},
		Doc: "The room's name (the localpart of its JID); Openfire lower-cases it."}, argDomain, argOFService}, ofRoomFields...),
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{OpenfireREST: "POST chatrooms"},
	Handle:  openfireRoomCreate,
	Apply:   applyRoomCreate,
}

func openfireRoomCreate(ctx context.Context, c *Call) (any, error) {
	d, err := ofService(c)
	if err != nil {
		return nil, err
	}
	name, ok := roomName(c.Args.String("room_name"))
	if !ok {
		return nil, Errorf(Invalid, ReasonMalformed, "room_name", "%q is not a room name", c.Args.String("room_name"))
	}
	opts, extras, err := ofRoomOptions(c)
	if err != nil {
		return nil, err
	}
	cfg := newRoomConfig(d)
	if err := (roomOptionsChange{Options: opts, Extras: extras}).apply(cfg); err != nil {
		return nil, err
	}
	subject, err := ofSubject(c)
	if err != nil {
		return nil, err
	}
	nr := newRoom{roomRef: roomRef{DomainID: d.ID, Domain: d.FQDN, Room: name}, Config: cfg.Encode(), Subject: subject}
	if nr.Affs, _, err = ofAffiliations(c, d); err != nil {
		return nil, err
	}
	if _, err := c.Env.Store.Room(ctx, d.ID, name); err == nil {
		return nil, Errorf(Conflict, ReasonRoomExists, "room_name", "%s", msgOFRoomExists)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return queueRoomChange(ctx, c, roomCreate{Rooms: []newRoom{nr}})
}

// ofRoomOptions maps the entity's settings onto ejabberd's options (and
// Openfire's own extras).
func ofRoomOptions(c *Call) ([][2]string, map[string]string, error) {
	for _, g := range []string{"ownerGroups", "adminGroups", "memberGroups", "outcastGroups"} {
		if len(c.Args.List(g)) > 0 {
			return nil, nil, Errorf(NotImplemented, ReasonRefused, g, "%s", msgOFNoGroupAffs)
		}
	}
	b := func(name string) string { return strconv.FormatBool(c.Args.Bool(name)) }
	maxUsers := c.Args.Int("maxUsers")
	if maxUsers == 0 {
		maxUsers = muc.MaxMaxUsers
	}
	roles := c.Args.List("broadcastPresenceRoles")
	pw := c.Args.String("password")
	opts := [][2]string{
		{"title", c.Args.String("naturalName")},
		{"description", c.Args.String("description")},
		{"persistent", b("persistent")},
		{"public", b("publicRoom")},
		{"anonymous", strconv.FormatBool(!c.Args.Bool("canAnyoneDiscoverJID"))},
		{"allow_change_subj", b("canOccupantsChangeSubject")},
		{"allow_user_invites", b("canOccupantsInvite")},
		{"mam", b("logEnabled")},
		{"members_only", b("membersOnly")},
		{"moderated", b("moderated")},
		{"max_users", strconv.FormatInt(maxUsers, 10)},
		{"presence_broadcast", "[" + strings.Join(roles, ",") + "]"},
		{"password", pw},
		{"password_protected", strconv.FormatBool(pw != "")},
	}
	extras := map[string]string{}
	for _, f := range []string{"registrationEnabled", "canChangeNickname", "loginRestrictedToNickname"} {
		extras[openfireExtra(f)] = b(f)
	}
	return opts, extras, nil
}

// ofSubject is the entity's subject, within what the service keeps.
func ofSubject(c *Call) (string, error) {
	s := c.Args.String("subject")
	if len(s) > muc.MaxSubjectLen {
		return "", Errorf(Invalid, ReasonBadValue, "subject", "subject: at most %d bytes", muc.MaxSubjectLen)
	}
	return s, nil
}

// ofAffiliations reads the entity's affiliation lists: the affiliations
// to set, and which lists were given.
func ofAffiliations(c *Call, d store.Domain) ([]roomAffiliation, []string, error) {
	var affs []roomAffiliation
	var given []string
	for _, l := range ofAffLists {
		if !c.Args.Has(l.field) {
			continue
		}
		given = append(given, l.aff)
		for _, s := range c.Args.List(l.field) {
			j, err := ofJID(d, s, l.field)
			if err != nil {
				return nil, nil, err
			}
			affs = append(affs, roomAffiliation{JID: j, Aff: l.aff})
		}
	}
	return affs, given, nil
}

// OpenfireRoomUpdate is PUT chatrooms/{roomName}.
var OpenfireRoomUpdate = &Def{
	Name: "openfire_room_update",
	Doc: "Replaces a room's configuration and subject by a MUCRoomEntity (absent booleans are false, as the plugin " +
		"reads them); each affiliation list given replaces that affiliation's holders. Occupants follow at once " +
		"(status 104, and who may no longer stay is removed). A body naming another room answers 400; a room that " +
		"does not exist 404.",
	Args:    append([]Arg{argDomain, argOFRoom, argOFService}, ofRoomFields...),
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{OpenfireREST: "PUT chatrooms/{roomName}"},
	Handle:  openfireRoomUpdate,
	Apply:   applyRoomOptions,
}

func openfireRoomUpdate(ctx context.Context, c *Call) (any, error) {
	f, err := ofRoom(ctx, c)
	if err != nil {
		return nil, err
	}
	opts, extras, err := ofRoomOptions(c)
	if err != nil {
		return nil, err
	}
	subject, err := ofSubject(c)
	if err != nil {
		return nil, err
	}
	ch := roomOptionsChange{roomRef: f.ref(), Options: opts, Extras: extras, Subject: &subject}
	if ch.Affs, ch.Replace, err = ofAffiliations(c, f.Domain); err != nil {
		return nil, err
	}
	if err := ch.apply(decodeRoomConfig(f.Room.Config, f.Domain)); err != nil {
		return nil, err
	}
	return queueRoomChange(ctx, c, ch)
}

// OpenfireRoomDelete is DELETE chatrooms/{roomName}.
var OpenfireRoomDelete = &Def{
	Name: "openfire_room_delete",
	Doc: "Destroys a room: its occupants get the destroy presence (XEP-0045 10.9), its configuration and " +
		"affiliations are deleted, applied before it answers 200.",
	Args:    []Arg{argDomain, argOFRoom, argOFService},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{OpenfireREST: "DELETE chatrooms/{roomName}"},
	Handle:  openfireRoomDelete,
	Apply:   applyRoomDestroy,
}

func openfireRoomDelete(ctx context.Context, c *Call) (any, error) {
	f, err := ofRoom(ctx, c)
	if err != nil {
		return nil, err
	}
	return queueRoomChange(ctx, c, roomDestroy{Rooms: []roomRef{f.ref()}, Missing: msgOFNoRoom})
}

// --- who is in a room

var ofParticipantColumns = []string{"jid", "role", "affiliation"}

// OpenfireRoomParticipants is GET chatrooms/{roomName}/participants.
var OpenfireRoomParticipants = &Def{
	Name: "openfire_room_participants",
	Doc: "Lists the room's occupants whose role is participant (as Openfire's getParticipants does; moderators " +
		"and visitors are occupants, not participants): occupant JID (room@service/nick), role, affiliation.",
	Args:   []Arg{argDomain, argOFRoom, argOFService},
	Result: Result{Kind: ResultTable, Columns: ofParticipantColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET chatrooms/{roomName}/participants"},
	Handle: openfireRoomParticipants,
}

func openfireRoomParticipants(ctx context.Context, c *Call) (any, error) {
	f, err := ofRoom(ctx, c)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: ofParticipantColumns, Rows: [][]any{}}
	for _, o := range ofOccupants(c, f) {
		if o.Role == "participant" {
			t.Rows = append(t.Rows, []any{roomJID(f.Domain, f.Room.Name) + "/" + o.Nick, o.Role, o.Affiliation})
		}
	}
	return t, nil
}

var ofOccupantColumns = []string{"jid", "userAddress", "role", "affiliation"}

// OpenfireRoomOccupants is GET chatrooms/{roomName}/occupants.
var OpenfireRoomOccupants = &Def{
	Name:   "openfire_room_occupants",
	Doc:    "Lists the room's occupants: occupant JID (room@service/nick), real full JID, role, affiliation.",
	Args:   []Arg{argDomain, argOFRoom, argOFService},
	Result: Result{Kind: ResultTable, Columns: ofOccupantColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET chatrooms/{roomName}/occupants"},
	Handle: openfireRoomOccupants,
}

func openfireRoomOccupants(ctx context.Context, c *Call) (any, error) {
	f, err := ofRoom(ctx, c)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: ofOccupantColumns, Rows: [][]any{}}
	for _, o := range ofOccupants(c, f) {
		t.Rows = append(t.Rows, []any{roomJID(f.Domain, f.Room.Name) + "/" + o.Nick, o.JID, o.Role, o.Affiliation})
	}
	return t, nil
}

// ofOccupants are a room's occupants by nick.
func ofOccupants(c *Call, f foundRoom) []RoomOccupant {
	occ := occupantsOf(c, f)
	sort.Slice(occ, func(i, j int) bool { return occ[i].Nick < occ[j].Nick })
	return occ
}

var ofMessageColumns = []string{"to", "from", "type", "body", "delay_stamp", "delay_from"}

// OpenfireRoomHistory is GET chatrooms/{roomName}/chathistory.
var OpenfireRoomHistory = &Def{
	Name: "openfire_room_history",
	Doc: "Lists the discussion history the room gives a joining occupant, oldest first: to, from (room@service/nick), " +
		"type, body, and the XEP-0203 delay's stamp and from.",
	Args:   []Arg{argDomain, argOFRoom, argOFService},
	Result: Result{Kind: ResultTable, Columns: ofMessageColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET chatrooms/{roomName}/chathistory"},
	Handle: openfireRoomHistory,
}

// historyStanza is what the history endpoint reads of a stanza.
type historyStanza struct {
	To    string `xml:"to,attr"`
	From  string `xml:"from,attr"`
	Type  string `xml:"type,attr"`
	Body  string `xml:"body"`
	Delay struct {
		Stamp string `xml:"stamp,attr"`
		From  string `xml:"from,attr"`
	} `xml:"urn:xmpp:delay delay"`
}

func openfireRoomHistory(ctx context.Context, c *Call) (any, error) {
	f, err := ofRoom(ctx, c)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: ofMessageColumns, Rows: [][]any{}}
	l := liveRooms(c)
	if l == nil {
		return t, nil
	}
	room := roomJID(f.Domain, f.Room.Name)
	for _, m := range l.RoomHistory(f.Domain.FQDN, f.Room.Name) {
		var s historyStanza
		if err := xml.NewDecoder(bytes.NewReader(m.Stanza)).Decode(&s); err != nil {
			continue
		}
		if s.From == "" {
			s.From = room + "/" + m.Nick
		}
		if s.To == "" {
			s.To = room
		}
		if s.Delay.Stamp == "" {
			s.Delay.Stamp = m.Time.UTC().Format("2006-01-02T15:04:05.000Z")
		}
		if s.Delay.From == "" {
			s.Delay.From = room
		}
		t.Rows = append(t.Rows, []any{s.To, s.From, s.Type, s.Body, s.Delay.Stamp, s.Delay.From})
	}
	return t, nil
}

// --- invitations

// OpenfireRoomInvite is POST chatrooms/{roomName}/invite/{jid}.
var OpenfireRoomInvite = &Def{
	Name: "openfire_room_invite",
	Doc: "Sends jid a mediated invitation (XEP-0045 7.8.2) from the room, with the body's reason and the room's " +
		"password if it has one; answers 200 once routed.",
	Args: []Arg{argDomain, argOFRoom, argOFJID, argOFService,
		{Name: "reason", Type: String, Optional: true, Doc: "Why (the MUCInvitationEntity's reason)."}},
	Result: Result{Kind: ResultStatus},
	Names:  map[Dialect]string{OpenfireREST: "POST chatrooms/{roomName}/invite/{jid}"},
	Handle: openfireRoomInvite,
}

func openfireRoomInvite(ctx context.Context, c *Call) (any, error) {
	f, err := ofRoom(ctx, c)
	if err != nil {
		return nil, err
	}
	to, err := ofJID(f.Domain, c.Args.String("jid"), "jid")
	if err != nil {
		return nil, err
	}
	l, err := live(c)
	if err != nil {
		return nil, err
	}
	room := roomJID(f.Domain, f.Room.Name)
	var b bytes.Buffer
	b.WriteString("<message xmlns='jabber:client'><x xmlns='http://jabber.org/protocol/muc#user'><invite from='")
	_ = xml.EscapeText(&b, []byte(room))
	b.WriteString("'>")
	if r := c.Args.String("reason"); r != "" {
		b.WriteString("<reason>")
		_ = xml.EscapeText(&b, []byte(r))
		b.WriteString("</reason>")
	}
	b.WriteString("</invite>")
	if pw := decodeRoomConfig(f.Room.Config, f.Domain).Password; pw != "" {
		b.WriteString("<password>")
		_ = xml.EscapeText(&b, []byte(pw))
		b.WriteString("</password>")
	}
	b.WriteString("</x></message>")
	if err := l.RouteStanza(ctx, room, to, b.Bytes()); err != nil {
		return nil, routeError(err)
	}
	return StatusOK, nil
}

// --- affiliations

// ofAffDef is the Def of POST or DELETE chatrooms/{roomName}/<list>/{jid}.
func ofAffDef(method, list, aff string) *Def {
	if method == "DELETE" {
		return &Def{
			Name: "openfire_room_" + aff + "_delete",
			Doc: "Removes jid's affiliation with the room, whichever it is (as the plugin does), applied before it " +
				"answers 200; occupants follow at once.",
			Args:    []Arg{argDomain, argOFRoom, argOFJID, argOFService},
			Result:  Result{Kind: ResultToken},
			Mutates: true,
			Names:   map[Dialect]string{OpenfireREST: "DELETE chatrooms/{roomName}/" + list + "/{jid}"},
			Handle:  openfireRoomUnaffiliate,
			Apply:   applyRoomAffiliation,
		}
	}
	ofAffOf["openfire_room_"+aff+"_add"] = aff
	return &Def{
		Name: "openfire_room_" + aff + "_add",
		Doc: "Gives jid the affiliation " + aff + " with the room (XEP-0045), applied before it answers 201; " +
			"occupants follow at once.",
		Args:    []Arg{argDomain, argOFRoom, argOFJID, argOFService},
		Result:  Result{Kind: ResultToken},
		Mutates: true,
		Names:   map[Dialect]string{OpenfireREST: method + " chatrooms/{roomName}/" + list + "/{jid}"},
		Handle:  openfireRoomAffiliate,
		Apply:   applyRoomAffiliation,
	}
}

// ofGroupDef is the Def of POST or DELETE
// chatrooms/{roomName}/<list>/group/{groupname}: Openfire gives every
// member of a user group the affiliation; here affiliations are held by
// JIDs only, so it answers 501 (after 404 for an unknown room).
func ofGroupDef(method, list, aff string) *Def {
	verb := map[string]string{"POST": "add", "DELETE": "delete"}[method]
	return &Def{
		Name: "openfire_room_" + aff + "_group_" + verb,
		Doc: "Refused (501): Openfire's user groups as room " + list + " do not map onto affiliations held by " +
			"JIDs; affiliate the members' JIDs instead. An unknown room answers 404 first.",
		Args:   []Arg{argDomain, argOFRoom, {Name: "groupname", Type: String, Doc: "An Openfire user group."}, argOFService},
		Result: Result{Kind: ResultToken},
		Names:  map[Dialect]string{OpenfireREST: method + " chatrooms/{roomName}/" + list + "/group/{groupname}"},
		Handle: openfireRoomGroupAffiliation,
	}
}

// The affiliation endpoints, one Def each.
var (
	OpenfireRoomOwnerAdd      = ofAffDef("POST", "owners", store.MUCAffOwner)
	OpenfireRoomAdminAdd      = ofAffDef("POST", "admins", store.MUCAffAdmin)
	OpenfireRoomMemberAdd     = ofAffDef("POST", "members", store.MUCAffMember)
	OpenfireRoomOutcastAdd    = ofAffDef("POST", "outcasts", store.MUCAffOutcast)
	OpenfireRoomOwnerDelete   = ofAffDef("DELETE", "owners", store.MUCAffOwner)
	OpenfireRoomAdminDelete   = ofAffDef("DELETE", "admins", store.MUCAffAdmin)
	OpenfireRoomMemberDelete  = ofAffDef("DELETE", "members", store.MUCAffMember)
	OpenfireRoomOutcastDelete = ofAffDef("DELETE", "outcasts", store.MUCAffOutcast)
)

// ofAffOf is the affiliation each add Def sets, by name (ofAffDef fills it).
var ofAffOf = map[string]string{}

func openfireRoomAffiliate(ctx context.Context, c *Call) (any, error) {
	return ofAffChange(ctx, c, ofAffOf[c.Def.Name])
}

func openfireRoomUnaffiliate(ctx context.Context, c *Call) (any, error) {
	return ofAffChange(ctx, c, store.MUCAffNone)
}

func ofAffChange(ctx context.Context, c *Call, aff string) (any, error) {
	f, err := ofRoom(ctx, c)
	if err != nil {
		return nil, err
	}
	j, err := ofJID(f.Domain, c.Args.String("jid"), "jid")
	if err != nil {
		return nil, err
	}
	return queueRoomChange(ctx, c, roomAffChange{roomRef: f.ref(), JID: j, Aff: aff})
}

// The group variants of the affiliation endpoints.
var (
	OpenfireRoomOwnerGroupAdd      = ofGroupDef("POST", "owners", store.MUCAffOwner)
	OpenfireRoomAdminGroupAdd      = ofGroupDef("POST", "admins", store.MUCAffAdmin)
	OpenfireRoomMemberGroupAdd     = ofGroupDef("POST", "members", store.MUCAffMember)
	OpenfireRoomOutcastGroupAdd    = ofGroupDef("POST", "outcasts", store.MUCAffOutcast)
	OpenfireRoomOwnerGroupDelete   = ofGroupDef("DELETE", "owners", store.MUCAffOwner)
	OpenfireRoomAdminGroupDelete   = ofGroupDef("DELETE", "admins", store.MUCAffAdmin)
	OpenfireRoomMemberGroupDelete  = ofGroupDef("DELETE", "members", store.MUCAffMember)
	OpenfireRoomOutcastGroupDelete = ofGroupDef("DELETE", "outcasts", store.MUCAffOutcast)
)

func openfireRoomGroupAffiliation(ctx context.Context, c *Call) (any, error) {
	if _, err := ofRoom(ctx, c); err != nil {
		return nil, err
	}
	return nil, Errorf(NotImplemented, ReasonRefused, "groupname", "%s", msgOFNoGroupAffs)
}
