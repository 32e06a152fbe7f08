package commands

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
)

// ejabberd's mod_muc_admin commands on the rooms of each domain's MUC
// service (xmppcore/muc.go serves them). A service is named by its JID,
// conference.<domain> or <conferenceSubdomain>.<domain>; a caller reaches
// only the services of its accounts' domains (the operator too), and any
// other looks exactly like a service that does not exist. Rooms
// are rows of muc_rooms while the service holds them, so every change is
// a queued change applied onto the stored rows (the appliers here are
// reusable by another front end's Defs: applyRoomCreate, applyRoomOptions,
// applyRoomDestroy, ...), after which the worker tells the running service
// (roomEffects). Reads answer from the store, plus LiveRooms for who is in
// a room right now.

var roomDefs = []*Def{CreateRoom, CreateRoomWithOpts, DestroyRoom, ChangeRoomOption, GetRoomOptions,
	GetRoomAffiliation, GetRoomAffiliations, SetRoomAffiliation, GetRoomOccupants, GetRoomOccupantsNumber,
	GetRoomHistory, SendDirectInvitation, SubscribeRoom, SubscribeRoomMany, UnsubscribeRoom, GetSubscribers,
	GetUserSubscriptions, GetUserRooms, MucOnlineRooms, MucOnlineRoomsByRegex, MucRegisterNick, MucUnregisterNick,
	RoomsEmptyList, RoomsEmptyDestroy, RoomsUnusedList, RoomsUnusedDestroy, CreateRoomsFile, DestroyRoomsFile}

// DefaultMucLabel is a MUC service's first label unless the domain's
// moduleConfig.modMuc.conferenceSubdomain says otherwise; a command may
// always name the service so, as ejabberd's users do.
const DefaultMucLabel = "conference"

// ejabberd's answers about rooms and services (mod_muc_admin 23.01).
const (
	msgNoRoom       = "Room doesn't exists"      // destroy_room, set_room_affiliation
	msgRoomNotFound = "room_not_found"           // get_room_occupants(_number), send_direct_invitation
	msgNoRoomDot    = "The room does not exist." // get_room_affiliation(s)
	msgNoRoomBare   = "The room does not exist"  // get_subscribers and the subscription commands
	msgRoomExists   = "Room already exists"
	msgBadService   = "Invalid 'service'"
	msgBadName      = "Invalid 'name'"
)

// ReasonNoRoom: the room does not exist (or is another tenant's); Msg is
// ejabberd's text for the command.
const ReasonNoRoom Reason = "no_room"

var (
	argRoomName = Arg{Name: "name", Type: String, Doc: "The room's name (the localpart of its JID), nodeprep-normalised."}
	argService  = Arg{Name: "service", Type: String,
		Doc: "The MUC service: conference.<domain> or <conferenceSubdomain>.<domain> of a domain of the caller's accounts."}
	argServiceGlobal = Arg{Name: "service", Type: String,
		Doc: "The MUC service (conference.<domain> or <conferenceSubdomain>.<domain>), or global for every service of the caller's domains."}
	argRoomHost = Arg{Name: "host", Type: Domain, Doc: "A domain of the caller's accounts (ejabberd's server host of the room; the room is the service's)."}
	argRoomJID  = Arg{Name: "room", Type: String, Doc: "The room's bare JID, name@service."}
)

func noRoom(msg string) *Error { return Errorf(Invalid, ReasonNoRoom, "name", "%s", msg) }

func badValue(arg, msg string) *Error { return Errorf(Invalid, ReasonBadValue, arg, "%s", msg) }

// mucLabel is the first label of d's MUC service, as the service reads it.
func mucLabel(d store.Domain) string { return modcfg.Parse(d).Muc.Subdomain }

// serviceJID is the JID of d's MUC service.
func serviceJID(d store.Domain) string { return mucLabel(d) + "." + d.FQDN }

// roomJID is a room's bare JID.
func roomJID(d store.Domain, name string) string { return name + "@" + serviceJID(d) }

// serviceDomain resolves a service JID to the domain of the caller's it
// belongs to; found is false for anything else (no such domain, another
// tenant's, not a MUC service's name).
func serviceDomain(ctx context.Context, c *Call, service string) (d store.Domain, found bool, err error) {
	label, parent, ok := strings.Cut(service, ".")
	if !ok {
		return d, false, nil
	}
	fqdn, err := NormalizeDomain(parent)
	if err != nil {
		return d, false, nil
	}
	d, err = c.Env.Store.DomainByFQDN(ctx, fqdn)
	if errors.Is(err, store.ErrNotFound) || err == nil && !c.Caller.Owns(d.AccountID) {
		return d, false, nil
	}
	if err != nil {
		return d, false, err
	}
	label = strings.ToLower(label)
	if label != DefaultMucLabel && label != mucLabel(d) {
		return d, false, nil
	}
	storeRooms(c, d)
	return d, true, nil
}

// storeRooms has the running service store the rooms of ds it holds
// without a row, so that the store, which room commands read, has them all.
func storeRooms(c *Call, ds ...store.Domain) {
	if l := liveRooms(c); l != nil {
		for _, d := range ds {
			l.StoreRooms(d.FQDN)
		}
	}
}

// roomDomains are the domains whose rooms the caller reaches: those of its
// accounts, for the operator too (as a domain argument is), so that no
// call reaches another tenant's rooms.
func roomDomains(ctx context.Context, c *Call) ([]store.Domain, error) {
	if len(c.Caller.Accounts) == 0 {
		return nil, nil
	}
	ds, err := c.Env.Store.Domains(ctx, c.Caller.Accounts)
	if err == nil {
		storeRooms(c, ds...)
	}
	return ds, err
}

// serviceDomains resolves a service argument that may be global.
func serviceDomains(ctx context.Context, c *Call, service string) ([]store.Domain, bool, error) {
	if service == "global" {
		ds, err := roomDomains(ctx, c)
		return ds, true, err
	}
	d, found, err := serviceDomain(ctx, c, service)
	if !found || err != nil {
		return nil, found, err
	}
	return []store.Domain{d}, true, nil
}

// roomName normalises a room's name as ejabberd's nodeprep does.
func roomName(s string) (string, bool) {
	n, err := NormalizeLocalpart(s)
	return n, err == nil
}

// foundRoom is a stored room of a caller's service.
type foundRoom struct {
	Domain store.Domain
	Room   store.Room
}

// ref names the room in a change record.
func (f foundRoom) ref() roomRef {
	return roomRef{DomainID: f.Domain.ID, Domain: f.Domain.FQDN, Room: f.Room.Name}
}

// lookupRoom finds room name of service; found is false when either does
// not exist for the caller.
func lookupRoom(ctx context.Context, c *Call, service, name string) (f foundRoom, found bool, err error) {
	d, ok, err := serviceDomain(ctx, c, service)
	if !ok || err != nil {
		return f, false, err
	}
	n, ok := roomName(name)
	if !ok {
		return f, false, nil
	}
	r, err := c.Env.Store.Room(ctx, d.ID, n)
	if errors.Is(err, store.ErrNotFound) {
		return f, false, nil
	}
	return foundRoom{Domain: d, Room: r}, err == nil, err
}

// namedRoom is lookupRoom on the call's name and service arguments,
// failing with msg when there is no such room.
func namedRoom(ctx context.Context, c *Call, msg string) (foundRoom, error) {
	f, found, err := lookupRoom(ctx, c, c.Args.String("service"), c.Args.String("name"))
	if err == nil && !found {
		err = noRoom(msg)
	}
	return f, err
}

// roomByJID is lookupRoom for a room's bare JID (name@service).
func roomByJID(ctx context.Context, c *Call, jid string) (f foundRoom, found bool, err error) {
	name, service, ok := strings.Cut(jid, "@")
	if !ok || strings.Contains(service, "/") {
		return f, false, nil
	}
	return lookupRoom(ctx, c, service, name)
}

// roomRef names a room in a change record.
type roomRef struct {
	DomainID int64  `json:"domain_id"`
	Domain   string `json:"domain"`
	Room     string `json:"room"`
}

// storedRoom loads the room of ref inside the worker's transaction;
// ErrNotFound becomes the command's no-room answer.
func storedRoom(ctx context.Context, tx *store.Tx, ref roomRef, msg string) (store.Room, error) {
	r, err := tx.Room(ctx, ref.DomainID, ref.Room)
	if errors.Is(err, store.ErrNotFound) {
		return r, noRoom(msg)
	}
	return r, err
}

func roomChanged(w *queue.Work, ref roomRef) {
	w.After(func(e queue.Effects) {
		if r, ok := e.(roomEffects); ok {
			r.RoomChanged(ref.Domain, ref.Room)
		}
	})
}

func roomDestroyed(w *queue.Work, ref roomRef, reason string) {
	w.After(func(e queue.Effects) {
		if r, ok := e.(roomEffects); ok {
			r.RoomDestroyed(ref.Domain, ref.Room, reason, "")
		}
	})
}

// queueRoomChange queues rec (a change record of the call's command, on no
// user) and waits for the worker as the synchronous dialects do.
func queueRoomChange(ctx context.Context, c *Call, rec any) (Receipt, error) {
	return c.Mutate(ctx, func(*store.Tx) (store.Change, error) { return changeOf(0, rec) })
}

// --- create, destroy

// roomCreate is the change record of create_room, create_room_with_opts
// and create_rooms_file: rooms to store with their configuration,
// affiliations and subscriptions.
type roomCreate struct {
	Rooms []newRoom `json:"rooms"`
}

type newRoom struct {
	roomRef
	Config json.RawMessage   `json:"config"`
	Affs   []roomAffiliation `json:"affs,omitempty"`
	Subs   []roomSubscriber  `json:"subs,omitempty"`
	// Subject, SubjectBy and Nicks come with imported rooms.
	Subject   string     `json:"subject,omitempty"`
	SubjectBy string     `json:"subject_by,omitempty"`
	Nicks     []roomNick `json:"nicks,omitempty"`
}

// roomNick is a nickname to register with the room's service, unless the
// JID has one there or another JID has this one.
type roomNick struct {
	JID  string `json:"jid"`
	Nick string `json:"nick"`
}

type roomAffiliation struct {
	JID string `json:"jid"`
	Aff string `json:"aff"`
}

type roomSubscriber struct {
	JID   string   `json:"jid"`
	Nick  string   `json:"nick"`
	Nodes []string `json:"nodes"`
}

// CreateRoom is mod_muc_admin's create_room.
var CreateRoom = &Def{
	Name: "create_room",
	Doc: "Creates the room name@service with the service's default configuration (temporary, public, open), " +
		"applied before it answers 0. A room that exists answers \"" + msgRoomExists + "\"; a name that is not a JID " +
		"localpart \"" + msgBadName + "\"; a service that is not host's MUC service \"" + msgBadService + "\".",
	Args: []Arg{argRoomName, argService, argRoomHost},
	// host is checked (a domain of the caller's) but the room is the
	// service's: ejabberd creates it there whichever host is named.
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "create_room"},
	Handle:  createRoom,
	Apply:   applyRoomCreate,
}

// CreateRoomWithOpts is mod_muc_admin's create_room_with_opts.
var CreateRoomWithOpts = &Def{
	Name: "create_room_with_opts",
	Doc: "Creates the room name@service as create_room does, with options: a list of {name, value} (or one object " +
		"of name/value members), the option names and values of change_room_option; affiliations " +
		"(owner:jid,member:jid...) and subscribers (jid:nick:node:node...,...) as ejabberd 23.04 takes them. An unknown " +
		"option or a value the option does not take is refused with nothing created.",
	Args: []Arg{argRoomName, argService, argRoomHost,
		{Name: "options", Type: List, Pairs: [2]string{"name", "value"}, Optional: true, EjabberdOptional: true,
			Doc: "The room's options: [{\"name\": ..., \"value\": ...}], or {\"name\": \"value\", ...}; as text name=value items separated by ';'.",
			Sep: ";"}},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "create_room_with_opts"},
	Handle:  createRoom,
	Apply:   applyRoomCreate,
}

func createRoom(ctx context.Context, c *Call) (any, error) {
	name, ok := roomName(c.Args.String("name"))
	if !ok {
		return nil, badValue("name", msgBadName)
	}
	d, found, err := serviceDomain(ctx, c, c.Args.String("service"))
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, badValue("service", msgBadService)
	}
	nr := newRoom{roomRef: roomRef{DomainID: d.ID, Domain: d.FQDN, Room: name}}
	cfg := newRoomConfig(d)
	for _, it := range c.Args.List("options") {
		opt, val := SplitPair(it)
		switch opt {
		case "affiliations":
			affs, err := parseAffiliationsOption(val)
			if err != nil {
				return nil, err
			}
			nr.Affs = append(nr.Affs, affs...)
		case "subscribers":
			subs, err := parseSubscribersOption(val)
			if err != nil {
				return nil, err
			}
			nr.Subs = append(nr.Subs, subs...)
		default:
			if err := setRoomOption(cfg, opt, val); err != nil {
				return nil, err
			}
		}
	}
	nr.Config = cfg.Encode()
	if _, err := c.Env.Store.Room(ctx, d.ID, name); err == nil {
		return nil, badValue("name", msgRoomExists)
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	return queueRoomChange(ctx, c, roomCreate{Rooms: []newRoom{nr}})
}

func applyRoomCreate(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var ch roomCreate
	if err := json.Unmarshal(w.Args, &ch); err != nil {
		return err
	}
	for _, nr := range ch.Rooms {
		if err := createStoredRoom(ctx, tx, nr); err != nil {
			return err
		}
		roomChanged(w, nr.roomRef)
	}
	return nil
}

// createStoredRoom stores one new room with its affiliations and subscriptions.
func createStoredRoom(ctx context.Context, tx *store.Tx, nr newRoom) error {
	r, err := tx.CreateRoom(ctx, store.Room{DomainID: nr.DomainID, Name: nr.Room, Config: nr.Config, Subject: nr.Subject, SubjectBy: nr.SubjectBy})
	if errors.Is(err, store.ErrDuplicate) {
		return badValue("name", msgRoomExists)
	}
	if err != nil {
		return err
	}
	for _, a := range nr.Affs {
		if err := tx.SetRoomAffiliation(ctx, r.ID, a.JID, a.Aff, ""); err != nil {
			return err
		}
	}
	for _, s := range nr.Subs {
		if err := tx.SubscribeRoom(ctx, r.ID, s.JID, s.Nick, s.Nodes); err != nil {
			return err
		}
	}
	for _, n := range nr.Nicks {
		had, err := tx.RoomNick(ctx, nr.DomainID, n.JID)
		if err != nil {
			return err
		}
		if had != "" {
			continue
		}
		if err := tx.RegisterRoomNick(ctx, nr.DomainID, n.JID, n.Nick); err != nil && !errors.Is(err, store.ErrNickTaken) {
			return err
		}
	}
	return nil
}

// roomDestroy is the change record of the commands that destroy rooms.
type roomDestroy struct {
	Rooms []roomRef `json:"rooms"`
	// Missing is the answer when a room is gone by the time it applies
	// ("" skips it: the list commands destroy what is still there).
	Missing string `json:"missing,omitempty"`
}

// DestroyRoom is mod_muc_admin's destroy_room.
var DestroyRoom = &Def{
	Name: "destroy_room",
	Doc: "Destroys the room name@service: its occupants get the destroy presence (XEP-0045 10.9), its configuration, " +
		"affiliations and subscriptions are deleted, applied before it answers 0. A room that does not exist answers \"" +
		msgNoRoom + "\".",
	Args:    []Arg{argRoomName, argService},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "destroy_room"},
	Handle:  destroyRoom,
	Apply:   applyRoomDestroy,
}

func destroyRoom(ctx context.Context, c *Call) (any, error) {
	if _, found, err := serviceDomain(ctx, c, c.Args.String("service")); err != nil {
		return nil, err
	} else if !found {
		return nil, badValue("service", msgBadService)
	}
	f, err := namedRoom(ctx, c, msgNoRoom)
	if err != nil {
		return nil, err
	}
	return queueRoomChange(ctx, c, roomDestroy{Rooms: []roomRef{f.ref()}, Missing: msgNoRoom})
}

func applyRoomDestroy(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var ch roomDestroy
	if err := json.Unmarshal(w.Args, &ch); err != nil {
		return err
	}
	for _, ref := range ch.Rooms {
		r, err := tx.Room(ctx, ref.DomainID, ref.Room)
		if errors.Is(err, store.ErrNotFound) && ch.Missing == "" {
			continue
		}
		if errors.Is(err, store.ErrNotFound) {
			return noRoom(ch.Missing)
		}
		if err != nil {
			return err
		}
		if err := tx.DeleteRoom(ctx, r.ID); err != nil {
			return err
		}
		roomDestroyed(w, ref, "")
	}
	return nil
}
