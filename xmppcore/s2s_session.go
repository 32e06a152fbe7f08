package xmppcore

import (
	"io"
	"net"
	"time"

	"go.uber.org/zap"
	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
)

// A remote full JID that takes part in something a local session would
// (a room's occupant, a contact with +notify) is given a stand-in session:
// a conn whose transport is the federation. What the room or the PEP
// service writes to it, as it writes to every session, is parsed back into
// stanzas and routed over the s2s stream of their domain pair. So the MUC
// and PEP code paths stay the ones local sessions take, and a remote
// occupant is an occupant like any other.

// standIn returns a stand-in session for a remote full JID, nil if
// full is not remote (or federation is off). It has no user and no
// domain: ACLs that admit only local users refuse it.
func (s *Server) standIn(full jid.JID) *conn {
	if full.Resourcepart() == "" {
		return nil
	}
	return s.standInFor(full)
}

// standInFor is standIn for any remote JID (a server, a bare
// JID): what answers a request needs only the address to answer to.
func (s *Server) standInFor(full jid.JID) *conn {
	if !s.remote(full.Domainpart()) {
		return nil
	}
	return &conn{srv: s, log: s.c2sLog, full: full, bare: full.Bare().String(), res: full.Resourcepart(),
		jidStr: full.String(), nc: &s2sPipe{s: s}, connected: time.Now()}
}

// sessionOrStandIn is the session bound to full here, or the stand-in of a
// remote full JID; nil when neither.
func (s *Server) sessionOrStandIn(full jid.JID) *conn {
	if c := s.session(full); c != nil {
		return c
	}
	if s.cfg.Cluster != nil {
		if c := s.clusterStandIn(full); c != nil {
			return c
		}
	}
	return s.standIn(full)
}

// s2sPipe is the transport of a stand-in session: every write is one or
// more complete stanzas in jabber:client (conn.writeLocked's contract),
// each routed to its to attribute.
type s2sPipe struct {
	writeOnly
	s *Server
}

func (p *s2sPipe) Write(b []byte) (int, error) {
	el, err := xmlel.Parse(append(append([]byte("<w xmlns='"+nsClient+"'>"), b...), "</w>"...))
	if err != nil {
		p.s.fed.log.Warn("stand-in session: unparsable write", zap.Error(err))
		return len(b), nil
	}
	for _, st := range el.Elements() {
		from, err1 := jid.Parse(st.Get("from"))
		to, err2 := jid.Parse(st.Get("to"))
		if err1 != nil || err2 != nil {
			continue
		}
		p.s.routeRemote(st, from, to)
	}
	return len(b), nil
}

// writeOnly is the rest of a stand-in's net.Conn: nothing to read, no
// deadlines (a write is a hand-off to a router, never a wait on a peer).
type writeOnly struct{}

func (writeOnly) Read([]byte) (int, error)         { return 0, io.EOF }
func (writeOnly) Close() error                     { return nil }
func (writeOnly) LocalAddr() net.Addr              { return pipeAddr{} }
func (writeOnly) RemoteAddr() net.Addr             { return pipeAddr{} }
func (writeOnly) SetDeadline(time.Time) error      { return nil }
func (writeOnly) SetReadDeadline(time.Time) error  { return nil }
func (writeOnly) SetWriteDeadline(time.Time) error { return nil }

type pipeAddr struct{}

func (pipeAddr) Network() string { return "s2s" }
func (pipeAddr) String() string  { return "s2s" }

// mucStatusTechnical is XEP-0045's status 333: the occupant was removed
// because of a technical problem.
const mucStatusTechnical = "333"

// goneConditions are the errors that say a remote occupant is no longer
// there to receive the room's stanzas (its client went without its server
// telling the room, or its server lost it).
var goneConditions = map[string]bool{
	"gone": true, "item-not-found": true, "recipient-unavailable": true, "redirect": true,
	"remote-server-not-found": true, "remote-server-timeout": true, "service-unavailable": true,
}

// remoteOccupantGone takes an error message a remote occupant's side sent
// to a room of ours: if it says the occupant is gone, it is removed with
// status 333, as ejabberd and Prosody remove an occupant whose deliveries
// bounce; otherwise a remote occupant would stay in the room for ever.
// It reports whether st was taken.
func (s *Server) remoteOccupantGone(st *xmlel.Element, from, to jid.JID) bool {
	if st.Get("type") != "error" || to.Localpart() == "" {
		return false
	}
	e := st.Child(nsClient, "error")
	if e == nil {
		return false
	}
	gone := false
	for _, k := range e.Elements() {
		gone = gone || (k.Name.Space == nsStanzas && goneConditions[k.Name.Local])
	}
	svc, d, ok := s.serviceAt(to.Domainpart())
	if !gone || !ok || svc.module != modcfg.Muc {
		return false
	}
	r, _ := s.roomOf(d, roomName(to))
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.byFull(from.String())
	if r.gone || o == nil {
		return false
	}
	s.mucRemove(r, o, xmlel.New(nsClient, "presence", "type", "unavailable"), []string{mucStatusTechnical}, nil)
	return true
}
