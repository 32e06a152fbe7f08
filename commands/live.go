package commands

import (
	"context"
	"time"
)

// Session is one live XMPP session, as Live reports it.
type Session struct {
	JID              string // full JID
	Domain, Username string
	Resource, IP     string
	Port, Priority   int
	Connected        time.Time
	Status, Show     string
	TLS, Available   bool
	// Transport is how the client connects, as ejabberd prints it:
	// "c2s", "websocket" or "http_bind".
	Transport string
	// LastActive is when the client last sent anything; Anonymous: a
	// SASL ANONYMOUS login, whose username is made up.
	LastActive time.Time
	Anonymous  bool
	// Node is the cluster node holding the session ("" alone); Remote:
	// another node than the one asked (docs/scale-out.md).
	Node   string
	Remote bool
}

// Live is the running XMPP server as handlers see it: read commands about
// sessions and the few direct actions that are not queued changes. main
// wires xmppcore into it; nil when no XMPP server runs.
type Live interface {
	// Sessions lists sessions; "" matches every domain or user.
	Sessions(domain, username string) []Session
	// Kick closes the user's sessions (one, if resource is set) and says how many.
	Kick(domain, username, resource, reason string) int
	// SendStanza routes a serialised stanza as the server.
	SendStanza(ctx context.Context, raw []byte) error
	// SendMessage sends a message as the server would route it from from.
	SendMessage(ctx context.Context, from, to, typ, subject, body string) error
	// OnlineCount counts the sessions of a domain ("" for all).
	OnlineCount(domain string) int
	// DomainSettingsChanged makes the server re-read a domain's settings.
	DomainSettingsChanged(fqdn string)
	// RouteStanza parses raw (one message, presence or iq), sets its from
	// and to and routes it as the server routes a stanza from from.
	RouteStanza(ctx context.Context, from, to string, raw []byte) error
	// SendToSession writes raw (one message, presence or iq) to the client
	// of one session; found is false if there is no such session.
	SendToSession(domain, username, resource string, raw []byte) (found bool, err error)
	// SetPresence makes one session's presence what it would be had its
	// client sent it (typ available or unavailable); found as above.
	SetPresence(domain, username, resource, typ, show, status string, priority int) (found bool, err error)
}

// live returns Live or the error of a process without an XMPP server.
func live(c *Call) (Live, error) {
	if c.Env.Live == nil {
		return nil, Errorf(Invalid, ReasonNoServer, "", "no XMPP server runs in this process")
	}
	return c.Env.Live, nil
}

// RoomOccupant is one occupant of a running MUC room.
type RoomOccupant struct {
	JID         string // the occupant's real full JID
	Nick        string
	Role        string // moderator, participant or visitor
	Affiliation string // owner, admin, member or none
}

// RoomMessage is one message of a room's discussion history.
type RoomMessage struct {
	Time time.Time
	Nick string
	// Stanza is the <message/> as the room sends it to a joining occupant.
	Stanza []byte
}

// LiveRooms is the running MUC service as room handlers see it. The
// server behind Live implements it when it runs a MUC service. Rooms are
// stored (store.Room) for as long as the service holds them, temporary
// ones too once StoreRooms asked for their rows (the service writes a
// temporary room's row only when something needs it, not at every join),
// so every change goes through the queue onto the stored row; the worker
// then tells the service (roomEffects), which re-reads it.
type LiveRooms interface {
	// StoreRooms writes the rows of the domain's rooms that have none yet
	// and returns once they are committed; a handler calls it (storeRooms)
	// before it reads the domain's rooms from the store.
	StoreRooms(domain string)
	// RoomOccupants lists a room's occupants by nick (none if it is not running).
	RoomOccupants(domain, room string) []RoomOccupant
	// RoomHistory is the discussion history a joining occupant gets, oldest first.
	RoomHistory(domain, room string) []RoomMessage
	// UserRooms lists the bare room JIDs where one of the user's sessions is an occupant.
	UserRooms(domain, username string) []string
}

// roomEffects are the worker effects of room changes (xmppcore implements them).
type roomEffects interface {
	// RoomChanged: a room's stored row, affiliations or subscriptions
	// changed (or it was created); a running room re-reads them and applies
	// what follows (role changes, kicks of outcasts and of non-members of a
	// members-only room, status code 104 for a new configuration).
	RoomChanged(domain, room string)
	// RoomDestroyed: a room's row is gone; its occupants get XEP-0045 10.9's
	// destroy presence with reason and alternate venue (both may be "").
	RoomDestroyed(domain, room, reason, alternate string)
}

// liveRooms returns the MUC service, or nil if no XMPP server (or one
// without MUC) runs in this process: room commands then answer from the
// store, with no occupants.
func liveRooms(c *Call) LiveRooms {
	r, _ := c.Env.Live.(LiveRooms)
	return r
}
