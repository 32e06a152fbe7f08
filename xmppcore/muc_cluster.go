package xmppcore

import (
	"context"
	"strings"
	"time"

	"go.uber.org/zap"
	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/muc"
)

// Rooms in a cluster (docs/scale-out.md, "MUC rooms"): each room lives on
// one node, its owner by Cluster.Owner (rendezvous hashing over the live
// nodes). A stanza for a room that reaches another node is forwarded to
// the owner as is; there an occupant whose session is on another node
// joins through a stand-in session (as a remote occupant does through
// federation, s2s_session.go) whose writes go back over the cluster to
// the node holding its full JID. None of this runs without a cluster.

// mucStatusShutdown is XEP-0045's status 332: removed because of a system
// shutdown. Occupants of a room whose node died, or whose room moved to a
// node that joined, are told so and rejoin (the room is then served by
// its new owner, persistent ones reloaded from the store).
const mucStatusShutdown = "332"

// mucForward sends a stanza for a room this node does not own to its
// owner; false when this node owns it (or runs alone).
func (s *Server) mucForward(st *xmlel.Element, from, to jid.JID) bool {
	room := to.Bare().String()
	node, self := s.cfg.Cluster.Owner(room)
	if self {
		return false
	}
	if st.Name.Local == "presence" && st.Get("type") == "" && s.session(from) != nil {
		// Remembered so that this node can tell its occupants if node dies.
		s.muc.mu.Lock()
		s.muc.via[room] = node
		s.muc.mu.Unlock()
	}
	st.Set("from", from.String())
	st.Set("to", to.String())
	s.cfg.Cluster.Forward(node, to.String(), st.Bytes(nsClient))
	return true
}

// fromNodeToRoom takes a room stanza another node forwarded here (its
// owner, as that node sees it); true if to is a room JID. It is served
// here even if this node's view of the owner differs for a moment, so a
// stanza is never passed on twice.
func (s *Server) fromNodeToRoom(st *xmlel.Element, to jid.JID) bool {
	svc, d, ok := s.serviceAt(to.Domainpart())
	if !ok || svc.module != modcfg.Muc || to.Localpart() == "" {
		return false
	}
	from, err := jid.Parse(st.Get("from"))
	if err != nil {
		return true
	}
	mucHere(s, st, from, to, d)
	return true
}

// clusterStandIn is the stand-in session of a full JID bound on another
// node: a local user's, so it carries its domain and user for the room's
// ACLs; nil if no other node holds full.
func (s *Server) clusterStandIn(full jid.JID) *conn {
	r, ok := s.remoteSession(full)
	if !ok {
		return nil
	}
	c := &conn{srv: s, log: s.c2sLog, full: full, bare: full.Bare().String(), res: full.Resourcepart(),
		jidStr: full.String(), nc: &nodePipe{s: s, node: r.Node}, connected: time.Now()}
	if d, ok := s.hosted(full.Domainpart()); ok {
		c.dom = &d
		if u, err := s.st.UserByJID(context.Background(), d.FQDN, full.Localpart()); err == nil {
			c.user = u
		}
	}
	return c
}

// nodePipe is the transport of a cluster stand-in: every write is one or
// more complete stanzas, each forwarded to the node holding its to.
type nodePipe struct {
	writeOnly
	s    *Server
	node string
}

func (p *nodePipe) Write(b []byte) (int, error) {
	el, err := xmlel.Parse(append(append([]byte("<w xmlns='"+nsClient+"'>"), b...), "</w>"...))
	if err != nil {
		p.s.log.Warn("cluster stand-in session: unparsable write", zap.Error(err))
		return len(b), nil
	}
	for _, st := range el.Elements() {
		to := st.Get("to")
		// The session may have moved since it joined (an XEP-0198
		// resumption on another node, sm_cluster.go): here, or elsewhere.
		node := p.node
		if tj, err := jid.Parse(to); err == nil {
			if t := p.s.session(tj); t != nil {
				t.send(st.Bytes(nsClient))
				continue
			}
			if r, ok := p.s.remoteSession(tj); ok {
				node = r.Node
			}
		}
		p.s.cfg.Cluster.Forward(node, to, st.Bytes(nsClient))
	}
	return len(b), nil
}

// mucSessionMoved has this node's rooms write to a session that moved to
// another node (sm_cluster.go) through a cluster stand-in, as if it had
// joined from there.
func (s *Server) mucSessionMoved(c *conn) {
	if s.muc == nil {
		return
	}
	s.muc.mu.RLock()
	var rooms []*room
	for _, r := range s.muc.rooms {
		rooms = append(rooms, r)
	}
	s.muc.mu.RUnlock()
	var standIn *conn
	for _, r := range rooms {
		r.mu.Lock()
		for _, o := range r.occ {
			if o.c != c {
				continue
			}
			if standIn == nil {
				if standIn = s.clusterStandIn(c.full); standIn == nil {
					r.mu.Unlock()
					return
				}
			}
			o.c = standIn
		}
		r.mu.Unlock()
	}
}

// loadOwned reads a persistent room this node owns into the service on
// a miss (in a cluster the rooms move between nodes, so a node does not
// hold every room); a temporary room's row is another node's live room,
// or one a dead node left, never loaded.
func (s *Server) loadOwned(d modcfg.Domain, name string) (*room, error) {
	row, err := s.st.Room(context.Background(), d.ID, name)
	if err != nil || !muc.Decode(row.Config, d.On(modcfg.Mam)).Persistent {
		return nil, nil
	}
	return s.loadRoom(d, name)
}

// NodesChanged re-homes rooms after the live nodes changed (cluster.Local).
func (s *Server) NodesChanged(lost []string) {
	if s.cfg.Cluster == nil || s.muc == nil {
		return
	}
	// The local occupants of rooms whose node is gone are told, once.
	var dead []string
	s.muc.mu.Lock()
	for room, node := range s.muc.via {
		for _, l := range lost {
			if node == l {
				dead = append(dead, room)
				delete(s.muc.via, room)
			}
		}
	}
	var rooms []*room
	for _, r := range s.muc.rooms {
		rooms = append(rooms, r)
	}
	s.muc.mu.Unlock()
	if len(dead) > 0 {
		s.mucShutdownLocal(dead)
	}
	// The rooms this node no longer owns (a node joined) send their
	// occupants away; every room without occupants is forgotten, to be
	// reloaded from the store by whichever node owns it next.
	for _, r := range rooms {
		r.mu.Lock()
		if !r.gone {
			if _, self := s.cfg.Cluster.Owner(r.jid); !self {
				for _, o := range append([]*occupant(nil), r.occ...) {
					if !r.gone {
						s.mucRemove(r, o, xmlel.New(nsClient, "presence", "type", "unavailable"), []string{mucStatusShutdown}, nil)
					}
				}
			}
			if !r.gone && len(r.occ) == 0 {
				s.endRoom(r, false)
			}
		}
		r.mu.Unlock()
	}
	if len(lost) > 0 {
		s.mucSweepOrphans()
	}
}

// mucShutdownLocal tells this node's sessions in the given rooms that
// they were removed (status 332), as their room's node died.
func (s *Server) mucShutdownLocal(rooms []string) {
	for _, c := range s.boundSessions() {
		c.smu.Lock()
		var in []string
		for to := range c.directed {
			for _, room := range rooms {
				if strings.HasPrefix(to, room+"/") {
					in = append(in, to)
				}
			}
		}
		for _, to := range in {
			delete(c.directed, to)
		}
		c.smu.Unlock()
		for _, occ := range in {
			p := xmlel.New(nsClient, "presence", "type", "unavailable", "from", occ, "to", c.full.String()).Add(
				xmlel.New(muc.NSUser, "x").Add(
					xmlel.New(muc.NSUser, "item", "affiliation", "none", "role", "none"),
					xmlel.New(muc.NSUser, "status", "code", muc.StatusSelf),
					xmlel.New(muc.NSUser, "status", "code", mucStatusShutdown)))
			c.sendEl(p)
		}
	}
}

// mucSweepOrphans deletes the rows of the temporary rooms a dead node
// left that are now this node's and not live here (a temporary room's
// row lives as long as the room; nobody else would delete them).
// Rendezvous hashing moves only the dead node's rooms, so no live room of
// another node is taken for an orphan.
func (s *Server) mucSweepOrphans() {
	ctx := context.Background()
	rows, err := s.st.AllRooms(ctx)
	if err != nil {
		s.log.Warn("muc: orphan rooms", zap.Error(err))
		return
	}
	var ids []int64
	for _, row := range rows {
		d, ok := s.hosted(row.Domain)
		if !ok || muc.Decode(row.Config, d.On(modcfg.Mam)).Persistent {
			continue
		}
		if _, self := s.cfg.Cluster.Owner(row.Name + "@" + mucJID(d)); !self {
			continue
		}
		if r, _ := s.roomOf(d, row.Name); r == nil {
			ids = append(ids, row.ID)
		}
	}
	if len(ids) == 0 {
		return
	}
	if err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.DeleteRooms(ctx, ids) }); err != nil {
		s.log.Warn("muc: orphan rooms", zap.Error(err))
	}
}

// mucDropLost removes the occupants whose sessions were on a node that
// died from the rooms this node holds (status 333: nobody is left to say
// they went).
func (s *Server) mucDropLost(gone []RemoteSession) {
	if s.muc == nil {
		return
	}
	lost := make(map[string]bool, len(gone))
	for _, g := range gone {
		lost[g.JID] = true
	}
	s.muc.mu.RLock()
	var rooms []*room
	for _, r := range s.muc.rooms {
		rooms = append(rooms, r)
	}
	s.muc.mu.RUnlock()
	for _, r := range rooms {
		r.mu.Lock()
		for _, o := range append([]*occupant(nil), r.occ...) {
			if !r.gone && lost[o.fullJID] {
				s.mucRemove(r, o, xmlel.New(nsClient, "presence", "type", "unavailable"), []string{mucStatusTechnical}, nil)
			}
		}
		r.mu.Unlock()
	}
}

// mucClusterItems lists a domain's public rooms from the store: in a
// cluster the live temporary rooms are spread over the nodes, and each
// has its row while it lives.
func (s *Server) mucClusterItems(d modcfg.Domain) (*xmlel.Element, *stanzaErr) {
	rows, err := s.st.Rooms(context.Background(), d.ID)
	if err != nil {
		return nil, &errInternal
	}
	q := xmlel.New(nsDiscoItems, "query")
	for _, row := range rows {
		cfg := muc.Decode(row.Config, d.On(modcfg.Mam))
		if !cfg.Public {
			continue
		}
		name := cfg.Name
		if name == "" {
			name = row.Name
		}
		q.Add(xmlel.New(nsDiscoItems, "item", "jid", row.Name+"@"+mucJID(d), "name", name))
	}
	return q, nil
}

// nsClusterRoom names what one node tells a room's owner of a change the
// API made through it (RoomChanged, RoomDestroyed). Only nodes send it:
// what clients send is forwarded as message, presence or iq in jabber:client.
const nsClusterRoom = "urn:xmppgate:cluster:room"

// roomElsewhere sends a change the API made to room name of domain to the
// room's owner when that is another node (which then applies it to the
// live room); a copy this node holds without occupants is dropped, to be
// read again from the store. False when this node owns the room.
func (s *Server) roomElsewhere(domain, name string, change *xmlel.Element) bool {
	if s.cfg.Cluster == nil {
		return false
	}
	d, ok := s.hosted(domain)
	if !ok {
		return false
	}
	room := name + "@" + mucJID(d)
	node, self := s.cfg.Cluster.Owner(room)
	if self {
		return false
	}
	if r := s.running(domain, name); r != nil {
		r.mu.Lock()
		if !r.gone && len(r.occ) == 0 {
			s.endRoom(r, false)
		}
		r.mu.Unlock()
	}
	s.cfg.Cluster.Forward(node, room, change.Bytes(nsClient))
	return true
}

// roomEffect applies a change another node sent for a room here.
func (s *Server) roomEffect(el *xmlel.Element, room jid.JID) {
	_, d, ok := s.serviceAt(room.Domainpart())
	if !ok || room.Localpart() == "" {
		return
	}
	switch el.Name.Local {
	case "changed":
		s.roomChangedHere(d.FQDN, room.Localpart())
	case "destroyed":
		s.roomDestroyedHere(d.FQDN, room.Localpart(), el.Get("reason"), el.Get("alternate"))
	}
}
