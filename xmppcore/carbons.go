package xmppcore

import (
	"slices"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
)

// XEP-0280 Message Carbons and the XEP-0334 hints that opt out of them.
const (
	nsCarbons = "urn:xmpp:carbons:2"
	nsForward = "urn:xmpp:forward:0"
	nsHints   = "urn:xmpp:hints"
)

// carbonsSwitch answers <enable/> and <disable/>; both are idempotent
// (XEP-0280 4 and 5).
func carbonsSwitch(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	on := r.q.Name.Local == "enable"
	s.mu.Lock()
	changed := r.c.carbons != on
	if changed {
		r.c.carbons = on
		if on {
			s.carbons.Add(1)
		} else {
			s.carbons.Add(-1)
		}
	}
	s.mu.Unlock()
	if changed && s.cfg.Cluster != nil {
		s.announce(r.c, false) // the other nodes copy to it from now on
	}
	return nil, nil
}

// carbonCopyable says whether m is eligible for carbons (XEP-0280 6): a
// chat, or a normal message with a body; not one the sender marked private
// or no-copy (XEP-0334), and not a carbon itself. Errors, groupchat and
// headlines are never copied.
func carbonCopyable(m *xmlel.Element) bool {
	switch msgType(m) {
	case "chat":
	case "normal":
		if m.Child(nsClient, "body") == nil {
			return false
		}
	default:
		return false
	}
	for _, ch := range m.Elements() {
		switch {
		case ch.Name.Space == nsCarbons: // <private/>, or <sent/>/<received/> of a carbon
			return false
		case ch.Name.Space == nsHints && (ch.Name.Local == "no-copy" || ch.Name.Local == "private"):
			return false
		}
	}
	return true
}

// carbonsReceived copies m, just delivered to the sessions got of bare, to
// bare's other carbons-enabled sessions as <received/>.
func (s *Server) carbonsReceived(m *xmlel.Element, d modcfg.Domain, bare string, got ...*conn) {
	if s.carbons.Load() == 0 && s.cfg.Cluster == nil {
		return
	}
	s.sendCarbons("received", m, d, bare, got)
}

// carbonsSent copies m, just sent by c to to, to c's other carbons-enabled
// sessions as <sent/>. A message to the user's own account is left to
// carbonsReceived.
func (s *Server) carbonsSent(c *conn, m *xmlel.Element, to jid.JID) {
	if (s.carbons.Load() == 0 && s.cfg.Cluster == nil) || to.Bare().String() == c.bare {
		return
	}
	s.sendCarbons("sent", m, s.domainOf(c), c.bare, []*conn{c})
}

// sendCarbons wraps m in kind and sends it to the carbons-enabled sessions
// of bare not in except.
func (s *Server) sendCarbons(kind string, m *xmlel.Element, d modcfg.Domain, bare string, except []*conn) {
	var targets []*conn
	s.mu.RLock()
	if a := s.accounts[bare]; a != nil {
		for _, t := range a.sessions {
			if t.carbons && !slices.Contains(except, t) {
				targets = append(targets, t)
			}
		}
	}
	s.mu.RUnlock()
	if (len(targets) == 0 && s.cfg.Cluster == nil) || !d.On(modcfg.Carbons) || !carbonCopyable(m) {
		return
	}
	remote := s.remoteCarbons(kind, m, bare, except)
	if len(targets) == 0 && len(remote) == 0 {
		return
	}
	wrap := xmlel.New(nsCarbons, kind).Add(xmlel.New(nsForward, "forwarded").Add(m))
	for _, t := range targets {
		t.sendEl(xmlel.New(nsClient, "message", "from", bare, "to", t.full.String(), "type", msgType(m)).Add(wrap))
	}
	for _, r := range remote {
		s.cfg.Cluster.Forward(r.Node, r.JID, xmlel.New(nsClient, "message", "from", bare, "to", r.JID, "type", msgType(m)).Add(wrap).Bytes(nsClient))
	}
}
