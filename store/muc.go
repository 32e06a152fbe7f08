package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"
)

// The stored half of each domain's MUC service (migration 0023): rooms,
// affiliations, registered nicknames and MUC/Sub subscriptions. Who is in
// a room right now, and with which role, is the XMPP server's memory.

// Room affiliations (XEP-0045 5.2); MUCAffNone is the absence of a row.
const (
	MUCAffOwner   = "owner"
	MUCAffAdmin   = "admin"
	MUCAffMember  = "member"
	MUCAffOutcast = "outcast"
	MUCAffNone    = "none"
)

// Room is a stored room of a domain's MUC service.
type Room struct {
	ID       int64
	DomainID int64
	Name     string // the room JID's localpart
	// Config is the room's configuration as xmppcore/muc encodes it.
	Config              []byte
	Subject, SubjectBy  string
	Created, LastActive time.Time
	Domain              string // the domain's FQDN (filled by reads)
}

// RoomAffiliation is a bare JID's affiliation with a room.
type RoomAffiliation struct {
	RoomID int64
	Room   string // the room's name
	JID    string
	Aff    string
	Reason string
}

// RoomSubscription is a MUC/Sub subscription of jid to a room.
type RoomSubscription struct {
	RoomID int64
	Room   string
	Domain string // the room's domain FQDN
	JID    string
	Nick   string
	Nodes  []string
}

// ErrNickTaken: the nickname is registered to another JID.
var ErrNickTaken = errors.New("store: nickname registered to someone else")

const qRoomCols = `SELECT r.id, r.domain_id, r.name, r.config, r.subject, r.subject_by, r.created, r.last_active, d.fqdn
	FROM muc_rooms r JOIN domains d ON d.id = r.domain_id`

func scanRoom(row rowScanner) (Room, error) {
	var r Room
	var cfg string
	var created, active sql.NullString
	err := row.Scan(&r.ID, &r.DomainID, &r.Name, &cfg, &r.Subject, &r.SubjectBy, &created, &active, &r.Domain)
	r.Config, r.Created, r.LastActive = []byte(cfg), parseTime(created), parseTime(active)
	return r, err
}

// Room returns a stored room of a domain; ErrNotFound if none.
func (r Reader) Room(ctx context.Context, domainID int64, name string) (Room, error) {
	room, err := scanRoom(r.q.QueryRowContext(ctx, qRoomCols+` WHERE r.domain_id = ? AND r.name = ?`, domainID, name))
	if errors.Is(err, sql.ErrNoRows) {
		return room, ErrNotFound
	}
	return room, err
}

// Rooms lists the stored rooms of a domain by name.
func (r Reader) Rooms(ctx context.Context, domainID int64) ([]Room, error) {
	return queryAll(ctx, r.q, scanRoom, qRoomCols+` WHERE r.domain_id = ? ORDER BY r.name`, domainID)
}

// CreateRoom stores a new room of room.DomainID (its Config, Subject and
// SubjectBy); ErrDuplicate if the domain has one by that name, ErrNotFound
// if the domain is gone.
func (t *Tx) CreateRoom(ctx context.Context, room Room) (Room, error) {
	if room.Config == nil {
		room.Config = []byte("{}")
	}
	now := t.stamp()
	var err error
	room.ID, err = t.insertUnique(ctx, `INSERT INTO muc_rooms (domain_id, name, config, subject, subject_by, created, last_active)
		VALUES (?, ?, ?, ?, ?, ?, ?)`, room.DomainID, room.Name, string(room.Config), room.Subject, room.SubjectBy, now, now)
	if err != nil {
		return room, constraintErr(err)
	}
	room.Created = parseTime(sql.NullString{String: now, Valid: true})
	room.LastActive = room.Created
	return room, nil
}

// CreateRooms stores new rooms as CreateRoom does, each with owners[i]
// as its owner ("" none), and returns their IDs in order; a room whose
// name its domain has already gets ID 0 (the others are stored). On
// SQLite, the one writer, the rows take the IDs after the highest and go
// in with one statement per table, whatever their number: the MUC service
// stores the rooms of many joins at once.
func (t *Tx) CreateRooms(ctx context.Context, rooms []Room, owners []string) ([]int64, error) {
	ids := make([]int64, len(rooms))
	if len(rooms) == 0 {
		return ids, nil
	}
	if !t.pg {
		err := t.createRoomsBulk(ctx, rooms, owners, ids)
		if err == nil || !errors.Is(err, ErrDuplicate) {
			return ids, err
		}
		// A name taken: the statement did nothing; one by one below.
	}
	for i, room := range rooms {
		created, err := t.CreateRoom(ctx, room)
		if errors.Is(err, ErrDuplicate) {
			ids[i] = 0
			continue
		}
		if err != nil {
			return ids, err
		}
		ids[i] = created.ID
		if owners[i] != "" {
			if err := t.SetRoomAffiliation(ctx, created.ID, owners[i], MUCAffOwner, ""); err != nil {
				return ids, err
			}
		}
	}
	return ids, nil
}

func (t *Tx) createRoomsBulk(ctx context.Context, rooms []Room, owners []string, ids []int64) error {
	var last int64
	if err := t.q.QueryRowContext(ctx, `SELECT COALESCE(MAX(id), 0) FROM muc_rooms`).Scan(&last); err != nil {
		return err
	}
	rows := make([][5]any, len(rooms))
	affs := make([][2]any, 0, len(rooms))
	for i, r := range rooms {
		ids[i] = last + 1 + int64(i)
		cfg := r.Config
		if cfg == nil {
			cfg = []byte("{}")
		}
		rows[i] = [5]any{ids[i], r.DomainID, r.Name, string(cfg), [2]string{r.Subject, r.SubjectBy}}
		if owners[i] != "" {
			affs = append(affs, [2]any{ids[i], owners[i]})
		}
	}
	rj, err := json.Marshal(rows)
	if err != nil {
		return err
	}
	aj, err := json.Marshal(affs)
	if err != nil {
		return err
	}
	if _, err := t.q.ExecContext(ctx, `INSERT INTO muc_rooms (id, domain_id, name, config, subject, subject_by, created, last_active)
		SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), json_extract(value, '$[2]'), json_extract(value, '$[3]'),
			json_extract(value, '$[4][0]'), json_extract(value, '$[4][1]'), ?2, ?2
		FROM json_each(?1)`, string(rj), t.stamp()); err != nil {
		for i := range ids {
			ids[i] = 0
		}
		return constraintErr(err)
	}
	_, err = t.q.ExecContext(ctx, `INSERT INTO muc_affiliations (room_id, jid, affiliation, reason)
		SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), 'owner', '' FROM json_each(?)`, string(aj))
	return err
}

// ConfigureRoom replaces a room's configuration; ErrNotFound if it is gone.
func (t *Tx) ConfigureRoom(ctx context.Context, roomID int64, config []byte) error {
	return mustAffect(t.q.ExecContext(ctx, `UPDATE muc_rooms SET config = ? WHERE id = ?`, string(config), roomID))
}

// SetRoomSubject records a room's subject and who set it.
func (t *Tx) SetRoomSubject(ctx context.Context, roomID int64, subject, by string) error {
	return mustAffect(t.q.ExecContext(ctx, `UPDATE muc_rooms SET subject = ?, subject_by = ? WHERE id = ?`, subject, by, roomID))
}

// TouchRoom sets a room's last activity to now.
func (t *Tx) TouchRoom(ctx context.Context, roomID int64) error {
	return mustAffect(t.q.ExecContext(ctx, `UPDATE muc_rooms SET last_active = ? WHERE id = ?`, t.stamp(), roomID))
}

// DeleteRoom deletes a room with its affiliations and subscriptions;
// ErrNotFound if it is gone.
func (t *Tx) DeleteRoom(ctx context.Context, roomID int64) error {
	return mustAffect(t.q.ExecContext(ctx, `DELETE FROM muc_rooms WHERE id = ?`, roomID))
}

// DeleteRooms deletes rooms as DeleteRoom does, in one statement, those
// already gone skipped (the MUC service ends temporary rooms in batches).
func (t *Tx) DeleteRooms(ctx context.Context, roomIDs []int64) error {
	if len(roomIDs) == 0 {
		return nil
	}
	_, err := t.q.ExecContext(ctx, `DELETE FROM muc_rooms WHERE id IN (SELECT value FROM json_each(?))`, idList(roomIDs))
	return err
}

const qRoomAffs = `SELECT a.room_id, r.name, a.jid, a.affiliation, a.reason
	FROM muc_affiliations a JOIN muc_rooms r ON r.id = a.room_id`

func scanRoomAffiliation(row rowScanner) (RoomAffiliation, error) {
	var a RoomAffiliation
	err := row.Scan(&a.RoomID, &a.Room, &a.JID, &a.Aff, &a.Reason)
	return a, err
}

// RoomAffiliations lists a room's affiliations by JID.
func (r Reader) RoomAffiliations(ctx context.Context, roomID int64) ([]RoomAffiliation, error) {
	return queryAll(ctx, r.q, scanRoomAffiliation, qRoomAffs+` WHERE a.room_id = ? ORDER BY a.jid`, roomID)
}

// RoomAffiliation is jid's affiliation with a room (MUCAffNone if none).
func (r Reader) RoomAffiliation(ctx context.Context, roomID int64, jid string) (string, error) {
	var aff string
	err := r.q.QueryRowContext(ctx, `SELECT affiliation FROM muc_affiliations WHERE room_id = ? AND jid = ?`, roomID, jid).Scan(&aff)
	if errors.Is(err, sql.ErrNoRows) {
		return MUCAffNone, nil
	}
	return aff, err
}

// AffiliatedRooms lists jid's affiliations with the rooms of a domain by room name.
func (r Reader) AffiliatedRooms(ctx context.Context, domainID int64, jid string) ([]RoomAffiliation, error) {
	return queryAll(ctx, r.q, scanRoomAffiliation, qRoomAffs+` WHERE r.domain_id = ? AND a.jid = ? ORDER BY r.name`, domainID, jid)
}

// SetRoomAffiliation sets jid's affiliation with a room (MUCAffNone
// removes it). A room may be left without an owner here: the callers
// (XEP-0045 10.6 for clients, set_room_affiliation for ejabberd's API)
// decide whether that is allowed.
func (t *Tx) SetRoomAffiliation(ctx context.Context, roomID int64, jid, aff, reason string) error {
	if aff == MUCAffNone {
		_, err := t.q.ExecContext(ctx, `DELETE FROM muc_affiliations WHERE room_id = ? AND jid = ?`, roomID, jid)
		return err
	}
	_, err := t.q.ExecContext(ctx, `INSERT INTO muc_affiliations (room_id, jid, affiliation, reason) VALUES (?, ?, ?, ?)
		ON CONFLICT (room_id, jid) DO UPDATE SET affiliation = excluded.affiliation, reason = excluded.reason`, roomID, jid, aff, reason)
	return constraintErr(err)
}

// RoomNick is the nickname jid registered with a domain's service ("" if none).
func (r Reader) RoomNick(ctx context.Context, domainID int64, jid string) (string, error) {
	var nick string
	err := r.q.QueryRowContext(ctx, `SELECT nick FROM muc_nicks WHERE domain_id = ? AND jid = ?`, domainID, jid).Scan(&nick)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return nick, err
}

// RoomNickOwner is the JID that registered nick with a domain's service ("" if none).
func (r Reader) RoomNickOwner(ctx context.Context, domainID int64, nick string) (string, error) {
	var jid string
	err := r.q.QueryRowContext(ctx, `SELECT jid FROM muc_nicks WHERE domain_id = ? AND nick = ?`, domainID, nick).Scan(&jid)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return jid, err
}

// RegisterRoomNick registers nick for jid with a domain's service,
// replacing jid's previous one; ErrNickTaken if another JID has it.
func (t *Tx) RegisterRoomNick(ctx context.Context, domainID int64, jid, nick string) error {
	// Guarded: a caller may step over a taken nick and go on.
	err := t.guard(ctx, func() error {
		_, err := t.q.ExecContext(ctx, `INSERT INTO muc_nicks (domain_id, jid, nick) VALUES (?, ?, ?)
		ON CONFLICT (domain_id, jid) DO UPDATE SET nick = excluded.nick`, domainID, jid, nick)
		return err
	})
	if isUnique(err) {
		return ErrNickTaken
	}
	return constraintErr(err)
}

// UnregisterRoomNick removes jid's nickname; ErrNotFound if it had none.
func (t *Tx) UnregisterRoomNick(ctx context.Context, domainID int64, jid string) error {
	return mustAffect(t.q.ExecContext(ctx, `DELETE FROM muc_nicks WHERE domain_id = ? AND jid = ?`, domainID, jid))
}

const qRoomSubs = `SELECT s.room_id, r.name, d.fqdn, s.jid, s.nick, s.nodes
	FROM muc_subscriptions s JOIN muc_rooms r ON r.id = s.room_id JOIN domains d ON d.id = r.domain_id`

func scanRoomSubscription(row rowScanner) (RoomSubscription, error) {
	var s RoomSubscription
	var nodes string
	if err := row.Scan(&s.RoomID, &s.Room, &s.Domain, &s.JID, &s.Nick, &nodes); err != nil {
		return s, err
	}
	return s, json.Unmarshal([]byte(nodes), &s.Nodes)
}

// RoomSubscriptions lists a room's MUC/Sub subscribers by JID.
func (r Reader) RoomSubscriptions(ctx context.Context, roomID int64) ([]RoomSubscription, error) {
	return queryAll(ctx, r.q, scanRoomSubscription, qRoomSubs+` WHERE s.room_id = ? ORDER BY s.jid`, roomID)
}

// SubscribedRooms lists jid's MUC/Sub subscriptions on every service by room JID.
func (r Reader) SubscribedRooms(ctx context.Context, jid string) ([]RoomSubscription, error) {
	return queryAll(ctx, r.q, scanRoomSubscription, qRoomSubs+` WHERE s.jid = ? ORDER BY d.fqdn, r.name`, jid)
}

// SubscribeRoom subscribes jid to a room's nodes under nick, replacing an
// earlier subscription of jid.
func (t *Tx) SubscribeRoom(ctx context.Context, roomID int64, jid, nick string, nodes []string) error {
	if nodes == nil {
		nodes = []string{}
	}
	b, err := json.Marshal(nodes)
	if err != nil {
		return err
	}
	_, err = t.q.ExecContext(ctx, `INSERT INTO muc_subscriptions (room_id, jid, nick, nodes) VALUES (?, ?, ?, ?)
		ON CONFLICT (room_id, jid) DO UPDATE SET nick = excluded.nick, nodes = excluded.nodes`, roomID, jid, nick, string(b))
	return constraintErr(err)
}

// UnsubscribeRoom removes jid's subscription to a room; ErrNotFound if it had none.
func (t *Tx) UnsubscribeRoom(ctx context.Context, roomID int64, jid string) error {
	return mustAffect(t.q.ExecContext(ctx, `DELETE FROM muc_subscriptions WHERE room_id = ? AND jid = ?`, roomID, jid))
}

// DeleteTemporaryRooms deletes the rows of the rooms whose configuration
// is not persistent (xmppcore/muc's "persistent" key): at start-up no
// temporary room has occupants any more.
func (t *Tx) DeleteTemporaryRooms(ctx context.Context) (int64, error) {
	return affected(t.q.ExecContext(ctx, t.pick(
		`DELETE FROM muc_rooms WHERE json_extract(config, '$.persistent') IS NOT 1`,
		`DELETE FROM muc_rooms WHERE (config::jsonb -> 'persistent') IS DISTINCT FROM 'true'::jsonb`)))
}

// AllRooms lists the stored rooms of every domain (the MUC service loads
// them at start-up).
func (r Reader) AllRooms(ctx context.Context) ([]Room, error) {
	return queryAll(ctx, r.q, scanRoom, qRoomCols+` ORDER BY r.domain_id, r.name`)
}

// AllRoomAffiliations lists the affiliations of every stored room by room.
func (r Reader) AllRoomAffiliations(ctx context.Context) ([]RoomAffiliation, error) {
	return queryAll(ctx, r.q, scanRoomAffiliation, qRoomAffs+` ORDER BY a.room_id, a.jid`)
}

// AllRoomSubscriptions lists the MUC/Sub subscriptions of every stored
// room (the MUC service loads them at start-up).
func (r Reader) AllRoomSubscriptions(ctx context.Context) ([]RoomSubscription, error) {
	return queryAll(ctx, r.q, scanRoomSubscription, qRoomSubs+` ORDER BY s.room_id, s.jid`)
}
