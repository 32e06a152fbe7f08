package commands

import (
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"strings"
	"time"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"golang.org/x/text/secure/precis"
)

// Who belongs to a room: affiliations, occupants (the running service's),
// MUC/Sub subscriptions, registered nicknames, invitations.

// --- affiliations

// GetRoomAffiliation is mod_muc_admin's get_room_affiliation.
var GetRoomAffiliation = &Def{
	Name: "get_room_affiliation",
	Doc: "Answers the affiliation of jid (its bare JID) with the room name@service: owner, admin, member, outcast or " +
		"none. A room that does not exist answers \"" + msgNoRoomDot + "\".",
	Args:   []Arg{argRoomName, argService, {Name: "jid", Type: String, Doc: "The JID (a resource is ignored)."}},
	Result: Result{Kind: ResultString, Name: "affiliation"},
	Names:  map[Dialect]string{Ejabberd: "get_room_affiliation"},
	Handle: getRoomAffiliation,
}

func getRoomAffiliation(ctx context.Context, c *Call) (any, error) {
	f, err := namedRoom(ctx, c, msgNoRoomDot)
	if err != nil {
		return nil, err
	}
	j, err := ParseBareJID(c.Args.String("jid"))
	if err != nil {
		return nil, badValue("jid", "Invalid 'jid'")
	}
	return c.Env.Store.RoomAffiliation(ctx, f.Room.ID, j)
}

// GetRoomAffiliations is mod_muc_admin's get_room_affiliations.
var GetRoomAffiliations = &Def{
	Name: "get_room_affiliations",
	Doc: "Lists the affiliations of the room name@service by JID: username (empty for a server's JID), domain, " +
		"affiliation and reason. A room that does not exist answers \"" + msgNoRoomDot + "\".",
	Args:   []Arg{argRoomName, argService},
	Result: Result{Kind: ResultTable, Name: "affiliations", Columns: []string{"username", "domain", "affiliation", "reason"}},
	Names:  map[Dialect]string{Ejabberd: "get_room_affiliations"},
	Handle: getRoomAffiliations,
}

func getRoomAffiliations(ctx context.Context, c *Call) (any, error) {
	f, err := namedRoom(ctx, c, msgNoRoomDot)
	if err != nil {
		return nil, err
	}
	affs, err := c.Env.Store.RoomAffiliations(ctx, f.Room.ID)
	t := Table{Columns: c.Def.Result.Columns}
	for _, a := range affs {
		user, domain, ok := strings.Cut(a.JID, "@")
		if !ok {
			user, domain = "", a.JID
		}
		t.Rows = append(t.Rows, []any{user, domain, a.Aff, a.Reason})
	}
	return t, err
}

// roomAffChange is the change record of set_room_affiliation.
type roomAffChange struct {
	roomRef
	JID string `json:"jid"`
	Aff string `json:"aff"`
}

// SetRoomAffiliation is mod_muc_admin's set_room_affiliation.
var SetRoomAffiliation = &Def{
	Name: "set_room_affiliation",
	Doc: "Sets the affiliation of jid (its bare JID, of any server) with the room name@service: owner, admin, member, " +
		"outcast or none (removes it), applied before it answers 0. Occupants follow at once: an outcast is removed " +
		"with status 301, roles change as XEP-0045 says. A room that does not exist answers \"" + msgNoRoom + "\", " +
		"another affiliation \"Invalid affiliation\".",
	Args: []Arg{argRoomName, argService, {Name: "jid", Type: String, Doc: "The JID (a resource is ignored)."},
		{Name: "affiliation", Type: String, Doc: "owner, admin, member, outcast or none."}},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "set_room_affiliation"},
	Handle:  setRoomAffiliation,
	Apply:   applyRoomAffiliation,
}

func setRoomAffiliation(ctx context.Context, c *Call) (any, error) {
	aff := c.Args.String("affiliation")
	switch aff {
	case store.MUCAffOwner, store.MUCAffAdmin, store.MUCAffMember, store.MUCAffOutcast, store.MUCAffNone:
	default:
		return nil, badValue("affiliation", "Invalid affiliation")
	}
	f, err := namedRoom(ctx, c, msgNoRoom)
	if err != nil {
		return nil, err
	}
	j, err := ParseBareJID(c.Args.String("jid"))
	if err != nil {
		return nil, badValue("jid", "Invalid 'jid'")
	}
	return queueRoomChange(ctx, c, roomAffChange{roomRef: f.ref(), JID: j, Aff: aff})
}

func applyRoomAffiliation(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var ch roomAffChange
	if err := json.Unmarshal(w.Args, &ch); err != nil {
		return err
	}
	r, err := storedRoom(ctx, tx, ch.roomRef, msgNoRoom)
	if err != nil {
		return err
	}
	if err := tx.SetRoomAffiliation(ctx, r.ID, ch.JID, ch.Aff, ""); err != nil {
		return err
	}
	roomChanged(w, ch.roomRef)
	return nil
}

// --- occupants and history

// GetRoomOccupants is mod_muc_admin's get_room_occupants.
var GetRoomOccupants = &Def{
	Name: "get_room_occupants",
	Doc: "Lists the occupants of the room name@service now: real full JID, nickname and role. A room that does " +
		"not exist answers \"" + msgRoomNotFound + "\".",
	Args:   []Arg{argRoomName, argService},
	Result: Result{Kind: ResultTable, Name: "occupants", Columns: []string{"jid", "nick", "role"}},
	Names:  map[Dialect]string{Ejabberd: "get_room_occupants"},
	Handle: getRoomOccupants,
}

func occupantsOf(c *Call, f foundRoom) []RoomOccupant {
	if l := liveRooms(c); l != nil {
		return l.RoomOccupants(f.Domain.FQDN, f.Room.Name)
	}
	return nil
}

func getRoomOccupants(ctx context.Context, c *Call) (any, error) {
	f, err := namedRoom(ctx, c, msgRoomNotFound)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: c.Def.Result.Columns}
	for _, o := range occupantsOf(c, f) {
		t.Rows = append(t.Rows, []any{o.JID, o.Nick, o.Role})
	}
	return t, nil
}

// GetRoomOccupantsNumber is mod_muc_admin's get_room_occupants_number.
var GetRoomOccupantsNumber = &Def{
	Name:   "get_room_occupants_number",
	Doc:    "Counts the occupants of the room name@service now. A room that does not exist answers \"" + msgRoomNotFound + "\".",
	Args:   []Arg{argRoomName, argService},
	Result: Result{Kind: ResultNumber, Name: "occupants"},
	Names:  map[Dialect]string{Ejabberd: "get_room_occupants_number"},
	Handle: getRoomOccupantsNumber,
}

func getRoomOccupantsNumber(ctx context.Context, c *Call) (any, error) {
	f, err := namedRoom(ctx, c, msgRoomNotFound)
	if err != nil {
		return nil, err
	}
	return int64(len(occupantsOf(c, f))), nil
}

// GetRoomHistory is mod_muc_admin's get_room_history (ejabberd 23.04).
var GetRoomHistory = &Def{
	Name: "get_room_history",
	Doc: "Lists the discussion history the room name@service gives a joining occupant, oldest first: timestamp " +
		"(UTC, RFC 3339) and the message as XML. A room that does not exist answers \"" + msgRoomNotFound + "\". " +
		"ejabberd 23.04 added the command; 23.01 does not have it.",
	Args:   []Arg{argRoomName, argService},
	Result: Result{Kind: ResultTable, Name: "history", Columns: []string{"timestamp", "message"}},
	Names:  map[Dialect]string{Ejabberd: "get_room_history"},
	Handle: getRoomHistory,
}

func getRoomHistory(ctx context.Context, c *Call) (any, error) {
	f, err := namedRoom(ctx, c, msgRoomNotFound)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: c.Def.Result.Columns}
	if l := liveRooms(c); l != nil {
		for _, m := range l.RoomHistory(f.Domain.FQDN, f.Room.Name) {
			t.Rows = append(t.Rows, []any{m.Time.UTC().Format(time.RFC3339), string(m.Stanza)})
		}
	}
	return t, nil
}

// --- invitations

// nsConference is XEP-0249's direct invitation.
const nsConference = "jabber:x:conference"

// SendDirectInvitation is mod_muc_admin's send_direct_invitation.
var SendDirectInvitation = &Def{
	Name: "send_direct_invitation",
	Doc: "Sends each of users an XEP-0249 direct invitation to the room name@service from the room's JID, as " +
		"ejabberd does: <message><x xmlns='" + nsConference + "' jid password reason/></message>; password and reason " +
		"none leave them out. users are JIDs separated by ':'. A room that does not exist answers \"" + msgRoomNotFound +
		"\"; a JID that does not parse answers \"Invalid 'users'\" with nothing sent; a JID of a domain this server " +
		"does not host (there is no s2s) answers why, the others still get theirs.",
	Args: []Arg{argRoomName, argService,
		{Name: "password", Type: String, Optional: true, Doc: "The room's password, or none (or empty)."},
		{Name: "reason", Type: String, Optional: true, Doc: "Why, or none (or empty)."},
		{Name: "users", Type: String, Doc: "The invitees' JIDs, separated by ':'."}},
	Result: Result{Kind: ResultStatus},
	Names:  map[Dialect]string{Ejabberd: "send_direct_invitation"},
	Handle: sendDirectInvitation,
}

func sendDirectInvitation(ctx context.Context, c *Call) (any, error) {
	f, err := namedRoom(ctx, c, msgRoomNotFound)
	if err != nil {
		return nil, err
	}
	var to []string
	for _, u := range strings.Split(c.Args.String("users"), ":") {
		if _, err := ParseBareJID(u); err != nil || u == "" {
			return nil, badValue("users", "Invalid 'users'")
		}
		to = append(to, u)
	}
	l, err := live(c)
	if err != nil {
		return nil, err
	}
	room := roomJID(f.Domain, f.Room.Name)
	msg := invitation(room, c.Args.String("password"), c.Args.String("reason"))
	// Every invitee that can be reached gets it; the first that cannot
	// (a domain not hosted here: there is no s2s) is the answer.
	var first error
	for _, u := range to {
		if err := l.RouteStanza(ctx, room, u, msg); err != nil && first == nil {
			first = routeError(err)
		}
	}
	if first != nil {
		return nil, first
	}
	return StatusOK, nil
}

// invitation is the XEP-0249 message for room.
func invitation(room, password, reason string) []byte {
	var b strings.Builder
	b.WriteString("<message xmlns='jabber:client'><x xmlns='" + nsConference + "' jid='")
	xmlAttr(&b, room)
	b.WriteByte('\'')
	if password != "none" && password != "" {
		b.WriteString(" password='")
		xmlAttr(&b, password)
		b.WriteByte('\'')
	}
	if reason != "none" && reason != "" {
		b.WriteString(" reason='")
		xmlAttr(&b, reason)
		b.WriteByte('\'')
	}
	b.WriteString("/></message>")
	return []byte(b.String())
}

func xmlAttr(b *strings.Builder, s string) {
	var e strings.Builder
	_ = xml.EscapeText(&e, []byte(s))
	b.WriteString(strings.ReplaceAll(e.String(), "'", "&#39;"))
}

// --- MUC/Sub subscriptions

// nsMucSubNodes prefixes ejabberd's MUC/Sub node names.
const nsMucSubNodes = "urn:xmpp:mucsub:nodes:"

// mucSubNodes keeps the MUC/Sub nodes ejabberd knows, once each, in order.
func mucSubNodes(in []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, n := range in {
		n = strings.TrimSpace(n)
		switch strings.TrimPrefix(n, nsMucSubNodes) {
		case "presence", "messages", "participants", "affiliations", "subject", "config", "system", "subscribers":
			if strings.HasPrefix(n, nsMucSubNodes) && !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	return out
}

// roomSubChange is the change record of subscribe_room(_many) and unsubscribe_room.
type roomSubChange struct {
	roomRef
	Subs  []roomSubscriber `json:"subs,omitempty"`
	Unsub string           `json:"unsub,omitempty"`
}

var (
	argSubUser  = Arg{Name: "user", Type: String, Doc: "The subscriber's JID (a resource is ignored)."}
	argSubNodes = Arg{Name: "nodes", Type: String, Optional: true, Doc: "MUC/Sub nodes (urn:xmpp:mucsub:nodes:messages, ...) separated by ','; others are ignored."}
)

// SubscribeRoom is mod_muc_admin's subscribe_room.
var SubscribeRoom = &Def{
	Name: "subscribe_room",
	Doc: "Subscribes user to the nodes of the room (name@service) under nick (ejabberd's MUC/Sub), replacing an " +
		"earlier subscription of user, applied before it answers the nodes kept. The room must allow subscriptions " +
		"(allow_subscription); an outcast, a nickname another subscriber has or another JID registered, and in a " +
		"members-only room a non-member, are refused with ejabberd's texts.",
	Args: []Arg{argSubUser, {Name: "nick", Type: String, Optional: true, Doc: "The subscriber's nickname in the room."},
		argRoomJID, argSubNodes},
	Result:  Result{Kind: ResultList, Name: "nodes"},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "subscribe_room"},
	Handle:  subscribeRoom,
	Apply:   applyRoomSubscriptions,
}

// SubscribeRoomMany is mod_muc_admin's subscribe_room_many.
var SubscribeRoomMany = &Def{
	Name: "subscribe_room_many",
	Doc:  "subscribe_room for up to 50 users at once, each {jid, nick}, all or none, applied before it answers 0.",
	Args: []Arg{{Name: "users", Type: List, Pairs: [2]string{"jid", "nick"}, Sep: ";",
		Doc: "The subscribers: [{\"jid\": ..., \"nick\": ...}]; as text jid=nick items separated by ';'."},
		argRoomJID, argSubNodes},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "subscribe_room_many"},
	Handle:  subscribeRoomMany,
	Apply:   applyRoomSubscriptions,
}

// maxSubscribeMany is ejabberd's default subscribe_room_many_max_users.
const maxSubscribeMany = 50

func subscribeRoom(ctx context.Context, c *Call) (any, error) {
	u, err := ParseBareJID(c.Args.String("user"))
	if err != nil || c.Args.String("user") == "" {
		return nil, badValue("user", "Malformed user JID")
	}
	sub := roomSubscriber{JID: u, Nick: c.Args.String("nick"), Nodes: mucSubNodes(strings.Split(c.Args.String("nodes"), ","))}
	ch, err := subscriptionChange(ctx, c, []roomSubscriber{sub})
	if err != nil {
		return nil, err
	}
	r, err := queueRoomChange(ctx, c, ch)
	if err != nil {
		return nil, err
	}
	if err := c.applyNow(ctx, r); err != nil {
		return nil, err
	}
	return sub.Nodes, nil
}

func subscribeRoomMany(ctx context.Context, c *Call) (any, error) {
	items := c.Args.List("users")
	if len(items) > maxSubscribeMany {
		return nil, badValue("users", "Too many users in subscribe_room_many command")
	}
	nodes := mucSubNodes(strings.Split(c.Args.String("nodes"), ","))
	subs := make([]roomSubscriber, 0, len(items))
	for _, it := range items {
		j, nick := SplitPair(it)
		u, err := ParseBareJID(j)
		if err != nil || j == "" {
			return nil, badValue("users", "Malformed user JID")
		}
		subs = append(subs, roomSubscriber{JID: u, Nick: nick, Nodes: nodes})
	}
	ch, err := subscriptionChange(ctx, c, subs)
	if err != nil || len(subs) == 0 {
		return StatusOK, err
	}
	return queueRoomChange(ctx, c, ch)
}

// subscriptionChange checks subscriptions to the call's room argument.
func subscriptionChange(ctx context.Context, c *Call, subs []roomSubscriber) (roomSubChange, error) {
	room := c.Args.String("room")
	if _, err := ParseBareJID(room); err != nil || !strings.Contains(room, "@") {
		return roomSubChange{}, badValue("room", "Malformed room JID")
	}
	f, found, err := roomByJID(ctx, c, room)
	if err != nil {
		return roomSubChange{}, err
	}
	if !found {
		return roomSubChange{}, noRoom(msgNoRoomBare)
	}
	ch := roomSubChange{roomRef: f.ref(), Subs: subs}
	return ch, checkSubscriptions(ctx, c.Env.Store.Reader, f.Domain, f.Room, subs)
}

// checkSubscriptions decides whether subs may subscribe to room, as
// ejabberd's mod_muc_room does (in the handler and again in the worker).
func checkSubscriptions(ctx context.Context, r store.Reader, d store.Domain, room store.Room, subs []roomSubscriber) error {
	cfg := decodeRoomConfig(room.Config, d)
	if getRoomOption(cfg, mustOption("allow_subscription")) != "true" {
		return badValue("room", "Subscriptions are not allowed")
	}
	existing, err := r.RoomSubscriptions(ctx, room.ID)
	if err != nil {
		return err
	}
	nickOf := map[string]string{} // nickname -> JID
	for _, s := range existing {
		nickOf[s.Nick] = s.JID
	}
	for _, s := range subs {
		if s.Nick == "" {
			return badValue("nick", "Nickname must be set")
		}
		aff, err := r.RoomAffiliation(ctx, room.ID, s.JID)
		if err != nil {
			return err
		}
		if aff == store.MUCAffOutcast {
			return badValue("user", "You have been banned from this room")
		}
		if cfg.MembersOnly && aff == store.MUCAffNone {
			return badValue("user", "Membership is required to enter this room")
		}
		if other, ok := nickOf[s.Nick]; ok && other != s.JID {
			return badValue("nick", "That nickname is already in use by another occupant")
		}
		if owner, err := r.RoomNickOwner(ctx, d.ID, s.Nick); err != nil {
			return err
		} else if owner != "" && owner != s.JID {
			return badValue("nick", "That nickname is registered by another person")
		}
		nickOf[s.Nick] = s.JID
	}
	return nil
}

func applyRoomSubscriptions(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var ch roomSubChange
	if err := json.Unmarshal(w.Args, &ch); err != nil {
		return err
	}
	r, err := storedRoom(ctx, tx, ch.roomRef, msgNoRoomBare)
	if err != nil {
		return err
	}
	if ch.Unsub != "" {
		if err := tx.UnsubscribeRoom(ctx, r.ID, ch.Unsub); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	} else {
		d, err := tx.DomainByFQDN(ctx, ch.Domain)
		if err != nil {
			return err
		}
		// Others may have subscribed since the handler looked.
		if err := checkSubscriptions(ctx, tx.Reader, d, r, ch.Subs); err != nil {
			return err
		}
		for _, s := range ch.Subs {
			if err := tx.SubscribeRoom(ctx, r.ID, s.JID, s.Nick, s.Nodes); err != nil {
				return err
			}
		}
	}
	roomChanged(w, ch.roomRef)
	return nil
}

// UnsubscribeRoom is mod_muc_admin's unsubscribe_room.
var UnsubscribeRoom = &Def{
	Name: "unsubscribe_room",
	Doc: "Removes user's MUC/Sub subscription to room (name@service), applied before it answers 0; 0 also when " +
		"there was none.",
	Args:    []Arg{argSubUser, argRoomJID},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "unsubscribe_room"},
	Handle:  unsubscribeRoom,
	Apply:   applyRoomSubscriptions,
}

func unsubscribeRoom(ctx context.Context, c *Call) (any, error) {
	u, err := ParseBareJID(c.Args.String("user"))
	if err != nil {
		return nil, badValue("user", "Malformed user JID")
	}
	room := c.Args.String("room")
	if _, err := ParseBareJID(room); err != nil || !strings.Contains(room, "@") {
		return nil, badValue("room", "Malformed room JID")
	}
	f, found, err := roomByJID(ctx, c, room)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, noRoom(msgNoRoomBare)
	}
	subs, err := c.Env.Store.RoomSubscriptions(ctx, f.Room.ID)
	if err != nil {
		return nil, err
	}
	for _, s := range subs {
		if s.JID == u {
			return queueRoomChange(ctx, c, roomSubChange{roomRef: f.ref(), Unsub: u})
		}
	}
	return StatusOK, nil
}

// GetSubscribers is mod_muc_admin's get_subscribers.
var GetSubscribers = &Def{
	Name:   "get_subscribers",
	Doc:    "Lists the JIDs subscribed to the room name@service (MUC/Sub). A room that does not exist answers \"" + msgNoRoomBare + "\".",
	Args:   []Arg{argRoomName, argService},
	Result: Result{Kind: ResultList, Name: "subscribers"},
	Names:  map[Dialect]string{Ejabberd: "get_subscribers"},
	Handle: getSubscribers,
}

func getSubscribers(ctx context.Context, c *Call) (any, error) {
	f, err := namedRoom(ctx, c, msgNoRoomBare)
	if err != nil {
		return nil, err
	}
	subs, err := c.Env.Store.RoomSubscriptions(ctx, f.Room.ID)
	out := []string{}
	for _, s := range subs {
		out = append(out, s.JID)
	}
	return out, err
}

// GetUserSubscriptions is mod_muc_admin's get_user_subscriptions.
var GetUserSubscriptions = &Def{
	Name: "get_user_subscriptions",
	Doc: "Lists the MUC/Sub subscriptions of user@host to the rooms of the caller's domains: room JID, nickname " +
		"and nodes. A user that does not exist has none.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultTable, Name: "rooms", Columns: []string{"roomjid", "usernick", "nodes"}},
	Names:  map[Dialect]string{Ejabberd: "get_user_subscriptions"},
	Handle: getUserSubscriptions,
}

func getUserSubscriptions(ctx context.Context, c *Call) (any, error) {
	t := Table{Columns: c.Def.Result.Columns}
	subs, err := c.Env.Store.SubscribedRooms(ctx, c.Args.String("username")+"@"+c.Args.Domain("domain").FQDN)
	if err != nil {
		return nil, err
	}
	own, err := ownDomains(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, s := range subs {
		d, ok := own[s.Domain]
		if !ok {
			continue // a room of another tenant's service
		}
		t.Rows = append(t.Rows, []any{roomJID(d, s.Room), s.Nick, s.Nodes})
	}
	return t, nil
}

// ownDomains are the caller's domains by FQDN.
func ownDomains(ctx context.Context, c *Call) (map[string]store.Domain, error) {
	ds, err := roomDomains(ctx, c)
	out := make(map[string]store.Domain, len(ds))
	for _, d := range ds {
		out[d.FQDN] = d
	}
	return out, err
}

// GetUserRooms is mod_muc_admin's get_user_rooms.
var GetUserRooms = &Def{
	Name:   "get_user_rooms",
	Doc:    "Lists the rooms of the caller's domains where a session of user@host is an occupant now, by room JID.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultList, Name: "rooms"},
	Names:  map[Dialect]string{Ejabberd: "get_user_rooms"},
	Handle: getUserRooms,
}

func getUserRooms(ctx context.Context, c *Call) (any, error) {
	out := []string{}
	l := liveRooms(c)
	if l == nil {
		return out, nil
	}
	own, err := ownDomains(ctx, c)
	if err != nil {
		return nil, err
	}
	for _, r := range l.UserRooms(c.Args.Domain("domain").FQDN, c.Args.String("username")) {
		_, service, _ := strings.Cut(r, "@")
		if _, parent, ok := strings.Cut(service, "."); ok {
			if _, mine := own[parent]; mine {
				out = append(out, r)
			}
		}
	}
	return out, nil
}

// --- registered nicknames

// MucRegisterNick is mod_muc_admin's muc_register_nick.
var MucRegisterNick = &Def{
	Name: "muc_register_nick",
	Doc: "Registers nick for jid (its bare JID) with the MUC service (XEP-0045 7.10), replacing jid's earlier one, " +
		"applied before it answers 0. A nickname another JID registered answers \"Nick already registered\".",
	Args: []Arg{{Name: "nick", Type: String, Optional: true, Doc: "The nickname (PRECIS Nickname profile); empty removes jid's."},
		{Name: "jid", Type: String, Doc: "The JID (a resource is ignored)."}, argService},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "muc_register_nick"},
	Handle:  mucRegisterNick,
	Apply:   applyRoomNick,
}

// roomNickChange is the change record of muc_(un)register_nick.
type roomNickChange struct {
	DomainID int64  `json:"domain_id"`
	JID      string `json:"jid"`
	Nick     string `json:"nick,omitempty"` // "" unregisters
}

// nickArgs reads the jid and service arguments.
func nickArgs(ctx context.Context, c *Call) (roomNickChange, error) {
	j, err := ParseBareJID(c.Args.String("jid"))
	if err != nil {
		return roomNickChange{}, badValue("jid", "Invalid 'jid'")
	}
	d, found, err := serviceDomain(ctx, c, c.Args.String("service"))
	if err != nil {
		return roomNickChange{}, err
	}
	if !found {
		return roomNickChange{}, badValue("service", msgBadService)
	}
	return roomNickChange{DomainID: d.ID, JID: j}, nil
}

func mucRegisterNick(ctx context.Context, c *Call) (any, error) {
	if c.Args.String("nick") == "" {
		// XEP-0045 7.10.1: registering no nickname cancels the registration.
		return mucUnregisterNick(ctx, c)
	}
	ch, err := nickArgs(ctx, c)
	if err != nil {
		return nil, err
	}
	nick, err := precis.Nickname.String(c.Args.String("nick"))
	if err != nil || nick == "" || len(nick) > 1023 {
		return nil, badValue("nick", "Invalid 'nick'")
	}
	ch.Nick = nick
	owner, err := c.Env.Store.RoomNickOwner(ctx, ch.DomainID, nick)
	if err != nil {
		return nil, err
	}
	if owner != "" && owner != ch.JID {
		return nil, badValue("nick", "Nick already registered")
	}
	return queueRoomChange(ctx, c, ch)
}

func applyRoomNick(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var ch roomNickChange
	if err := json.Unmarshal(w.Args, &ch); err != nil {
		return err
	}
	if ch.Nick == "" {
		err := tx.UnregisterRoomNick(ctx, ch.DomainID, ch.JID)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	err := tx.RegisterRoomNick(ctx, ch.DomainID, ch.JID, ch.Nick)
	if errors.Is(err, store.ErrNickTaken) {
		return badValue("nick", "Nick already registered")
	}
	return err
}

// MucUnregisterNick is mod_muc_admin's muc_unregister_nick.
var MucUnregisterNick = &Def{
	Name:    "muc_unregister_nick",
	Doc:     "Removes the nickname jid (its bare JID) registered with the MUC service, applied before it answers 0; 0 also when it had none.",
	Args:    []Arg{{Name: "jid", Type: String, Doc: "The JID (a resource is ignored)."}, argService},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "muc_unregister_nick"},
	Handle:  mucUnregisterNick,
	Apply:   applyRoomNick,
}

func mucUnregisterNick(ctx context.Context, c *Call) (any, error) {
	ch, err := nickArgs(ctx, c)
	if err != nil {
		return nil, err
	}
	nick, err := c.Env.Store.RoomNick(ctx, ch.DomainID, ch.JID)
	if err != nil || nick == "" {
		return StatusOK, err
	}
	return queueRoomChange(ctx, c, ch)
}
