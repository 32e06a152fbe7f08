package xmppcore

import (
	"context"
	"errors"
	"sort"
	"time"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/muc"
)

// The MUC service as the command registry sees it (commands.LiveRooms and
// the room effects; serve.go adapts the types).

// RoomOccupant is one occupant of a running room.
type RoomOccupant struct {
	JID, Nick, Role, Affiliation string
}

// RoomMessage is one message of a room's discussion history.
type RoomMessage struct {
	Time   time.Time
	Nick   string
	Stanza []byte
}

// running returns a room the service holds now, without loading it.
func (s *Server) running(domain, name string) *room {
	d, ok := s.hosted(domain)
	if !ok {
		return nil
	}
	s.muc.mu.RLock()
	defer s.muc.mu.RUnlock()
	return s.muc.rooms[roomKey{d.ID, name}]
}

// RoomOccupants lists a running room's occupants by nick (asked of the
// room's owner in a cluster).
func (s *Server) RoomOccupants(domain, name string) []RoomOccupant {
	var out []RoomOccupant
	if s.roomOwnerAsk(QueryOccupants, domain, name, &out) {
		return out
	}
	return s.roomOccupantsHere(domain, name)
}

func (s *Server) roomOccupantsHere(domain, name string) []RoomOccupant {
	r := s.running(domain, name)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]RoomOccupant, 0, len(r.occ))
	for _, o := range r.occ {
		out = append(out, RoomOccupant{JID: o.fullJID, Nick: o.nick, Role: o.role, Affiliation: o.aff})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Nick < out[j].Nick })
	return out
}

// RoomHistory is the discussion history a joining occupant gets, oldest
// first (asked of the room's owner in a cluster).
func (s *Server) RoomHistory(domain, name string) []RoomMessage {
	var out []RoomMessage
	if s.roomOwnerAsk(QueryHistory, domain, name, &out) {
		return out
	}
	return s.roomHistoryHere(domain, name)
}

func (s *Server) roomHistoryHere(domain, name string) []RoomMessage {
	r := s.running(domain, name)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []RoomMessage
	for _, e := range r.hist.All() {
		out = append(out, RoomMessage{Time: e.Time, Nick: e.Nick, Stanza: e.Stanza})
	}
	return out
}

// UserRooms lists the bare room JIDs where a session of the user is an
// occupant, on every node.
func (s *Server) UserRooms(domain, username string) []string {
	return s.clusterUserRooms(domain, username, s.userRoomsHere(domain, username))
}

func (s *Server) userRoomsHere(domain, username string) []string {
	bare := username + "@" + domain
	s.muc.mu.RLock()
	rooms := make([]*room, 0, len(s.muc.rooms))
	for _, r := range s.muc.rooms {
		rooms = append(rooms, r)
	}
	s.muc.mu.RUnlock()
	var out []string
	for _, r := range rooms {
		r.mu.Lock()
		for _, o := range r.occ {
			if o.bare == bare {
				out = append(out, r.jid)
				break
			}
		}
		r.mu.Unlock()
	}
	sort.Strings(out)
	return out
}

// RoomChanged re-reads a room's row and affiliations after the API
// changed them and applies the consequences to a running room; a room not
// running is loaded when next used.
func (s *Server) RoomChanged(domain, name string) {
	if s.roomElsewhere(domain, name, xmlel.New(nsClusterRoom, "changed")) {
		return
	}
	s.roomChangedHere(domain, name)
}

func (s *Server) roomChangedHere(domain, name string) {
	d, ok := s.hosted(domain)
	if !ok {
		return
	}
	r := s.running(domain, name)
	if r == nil {
		_, _ = s.loadRoom(d, name) // created by the API: the service holds it from now on
		return
	}
	ctx := context.Background()
	row, err := s.st.Room(ctx, d.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		s.destroyRoom(r, "", "", false)
		return
	}
	if err != nil {
		return
	}
	affs, err := s.st.RoomAffiliations(ctx, row.ID)
	if err != nil {
		return
	}
	subs, err := s.st.RoomSubscriptions(ctx, row.ID)
	if err != nil {
		return
	}
	r.mu.Lock()
	r.loadSubs(subs)
	defer r.mu.Unlock()
	if r.gone {
		return
	}
	r.id.Store(row.ID)
	old := r.affs
	r.affs = map[string]string{}
	for _, a := range affs {
		r.affs[a.JID] = a.Aff
	}
	for _, o := range append([]*occupant(nil), r.occ...) {
		if old[o.bare] != r.affs[o.bare] {
			s.affChanged(r, o.bare, "", "")
		}
	}
	next := muc.Decode(row.Config, d.On(modcfg.Mam))
	if !next.Equal(r.cfg) {
		r.locked = false
		s.applyConfig(r, next, true)
	}
	if row.Subject != r.subject || row.SubjectBy != r.subjectBy {
		r.subject, r.subjectBy = row.Subject, row.SubjectBy
		sp := splice(r.subjectMessage())
		for _, o := range r.occ {
			o.c.sendSpliced(sp, o.to)
		}
	}
}

// RoomDestroyed: a room's row is gone; its occupants get the destroy
// presence with reason and alternate venue.
func (s *Server) RoomDestroyed(domain, name, reason, alternate string) {
	if s.roomElsewhere(domain, name, xmlel.New(nsClusterRoom, "destroyed", "reason", reason, "alternate", alternate)) {
		return
	}
	s.roomDestroyedHere(domain, name, reason, alternate)
}

func (s *Server) roomDestroyedHere(domain, name, reason, alternate string) {
	if r := s.running(domain, name); r != nil {
		s.destroyRoom(r, reason, alternate, false)
	}
}

// mucDomainChanged applies a domain's new moduleConfig to its rooms:
// with modMuc off, or the service moved to another subdomain, the
// occupants are removed with status 332 (the service went away for them).
func (s *Server) mucDomainChanged(fqdn string) {
	d, ok := s.hosted(fqdn)
	s.muc.mu.RLock()
	var rooms []*room
	for _, r := range s.muc.rooms {
		if r.fqdn == fqdn {
			rooms = append(rooms, r)
		}
	}
	s.muc.mu.RUnlock()
	for _, r := range rooms {
		r.mu.Lock()
		moved := !ok || !d.On(modcfg.Muc) || r.jid != r.key.name+"@"+mucJID(d)
		if moved && !r.gone {
			// Removing the last occupant ends a temporary room; a
			// persistent one stays, under its new JID.
			for _, o := range append([]*occupant(nil), r.occ...) {
				s.mucRemove(r, o, xmlel.New(nsClient, "presence", "type", "unavailable"), []string{muc.StatusShutdown}, nil)
			}
			if ok {
				r.jid = r.key.name + "@" + mucJID(d)
			}
		}
		r.mu.Unlock()
	}
}

// StoreRooms writes the rows of domain's rooms that have none (temporary
// rooms no one has asked about: createRoom) and waits for them, so the
// API, which reads and changes rooms in the store, finds every room the
// service holds.
func (s *Server) StoreRooms(domain string) {
	d, ok := s.hosted(domain)
	if !ok {
		return
	}
	s.muc.mu.RLock()
	var rooms []*room
	for k, r := range s.muc.rooms {
		if k.domain == d.ID && r.id.Load() == 0 {
			rooms = append(rooms, r)
		}
	}
	s.muc.mu.RUnlock()
	for _, r := range rooms { // all asked first: one batch writes them
		r.mu.Lock()
		s.askRowLocked(r)
		r.mu.Unlock()
	}
	for _, r := range rooms {
		r.waitRow()
	}
}
