package xmppcore

import (
	"context"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/pubsub"
)

// XEP-0163 across servers. A remote contact's resource that sends its
// available presence (with XEP-0115 caps) to a local user is kept as a
// stand-in session (s2s_session.go) with the +notify set of its caps,
// learnt as a local session's is (pepAvailable: a disco#info query, here
// over s2s). The local users' events then reach it as they reach their
// local contacts, and the last items of the nodes it wants are sent when
// it comes online. Events of remote users to local ones need nothing of
// ours: the remote server sends them as headline messages.

// maxRemoteContacts bounds the remote resources tracked for PEP; past it
// new ones get no events until others go offline.
const maxRemoteContacts = 100000

// remoteContact is one remote resource with +notify interest in the PEP
// nodes of the local users (owners) it sent available presence to.
type remoteContact struct {
	c      *conn
	owners map[string]bool // local bare JIDs
}

// remotePEPPresence follows a presence from a remote resource to a local
// user for PEP: available with caps starts (or updates) its interest in
// the user's nodes, as the user's roster lets it see them; unavailable
// ends it.
func (s *Server) remotePEPPresence(p *xmlel.Element, from, to jid.JID) {
	f := s.fed
	if f == nil || from.Resourcepart() == "" || to.Localpart() == "" {
		return
	}
	d, ok := s.hosted(to.Domainpart())
	if !ok || !d.On(modcfg.Pep) {
		return
	}
	owner := to.Bare().String()
	switch p.Get("type") {
	case "unavailable":
		f.forgetContact(from.String(), owner)
		return
	case "":
	default:
		return
	}
	if _, ok := pubsub.ParseCaps(p); !ok {
		return // no caps, no +notify: nothing to look up
	}
	ctx := context.Background()
	u, err := s.st.UserByJID(ctx, d.FQDN, to.Localpart())
	if err != nil || u.Status != store.StatusActive {
		return
	}
	it, err := s.st.RosterItemWithShared(ctx, u, from.Bare().String())
	if err != nil || !it.Visible || (it.Subscription != store.SubFrom && it.Subscription != store.SubBoth) {
		f.forgetContact(from.String(), owner)
		return
	}
	c, added := f.contact(from, owner, d)
	if c == nil {
		return
	}
	c.smu.Lock()
	c.available = true
	nodes := c.notify.Nodes()
	c.smu.Unlock()
	if added && len(nodes) > 0 {
		// Caps already known from its presence to another local user:
		// this owner's last items are new to it.
		s.pepSendLast(c, []string{owner}, nodes)
	}
	s.pepAvailable(c, p, nil)
}

// contact returns the stand-in of a remote resource for PEP, recording
// owner among the users it is interested in; added reports whether owner
// is new to it. The stand-in carries the domain of the first owner: it is
// who asks the resource for its caps (XEP-0115 6.3, from the server).
func (f *federation) contact(full jid.JID, owner string, d modcfg.Domain) (c *conn, added bool) {
	f.contactMu.Lock()
	defer f.contactMu.Unlock()
	rc := f.contacts[full.String()]
	if rc == nil {
		if len(f.contacts) >= maxRemoteContacts {
			return nil, false
		}
		c := f.s.standIn(full)
		if c == nil {
			return nil, false
		}
		c.dom = &d
		rc = &remoteContact{c: c, owners: map[string]bool{}}
		f.contacts[full.String()] = rc
	}
	if !rc.owners[owner] {
		rc.owners[owner], added = true, true
	}
	return rc.c, added
}

// forgetContact ends a remote resource's interest in owner's nodes.
func (f *federation) forgetContact(full, owner string) {
	f.contactMu.Lock()
	defer f.contactMu.Unlock()
	rc := f.contacts[full]
	if rc == nil {
		return
	}
	delete(rc.owners, owner)
	if len(rc.owners) == 0 {
		delete(f.contacts, full)
		rc.c.smu.Lock()
		rc.c.available = false
		rc.c.smu.Unlock()
	}
}

// remoteTargets are the stand-ins of a remote contact's resources that
// are interested in owner's nodes (pepNotify's targets beside the local
// sessions).
func (s *Server) remoteTargets(contact, owner string) []*conn {
	f := s.fed
	if f == nil {
		return nil
	}
	cj, err := jid.Parse(contact)
	if err != nil || !s.remote(cj.Domainpart()) {
		return nil
	}
	f.contactMu.Lock()
	defer f.contactMu.Unlock()
	var out []*conn
	for _, rc := range f.contacts {
		if rc.c.bare == contact && rc.owners[owner] {
			out = append(out, rc.c)
		}
	}
	return out
}

// remoteOwners are the local users a stand-in is interested in; ok is
// false for any other session.
func (s *Server) remoteOwners(c *conn) (owners []string, ok bool) {
	if _, pipe := c.nc.(*s2sPipe); !pipe || s.fed == nil {
		return nil, false
	}
	s.fed.contactMu.Lock()
	defer s.fed.contactMu.Unlock()
	if rc := s.fed.contacts[c.full.String()]; rc != nil && rc.c == c {
		for o := range rc.owners {
			owners = append(owners, o)
		}
	}
	return owners, true
}

// remoteCapsReply takes a remote resource's answer to the caps query
// pepAvailable sent it; it reports whether iq was one.
func (s *Server) remoteCapsReply(iq *xmlel.Element, from jid.JID) bool {
	f := s.fed
	if f == nil {
		return false
	}
	f.contactMu.Lock()
	rc := f.contacts[from.String()]
	f.contactMu.Unlock()
	if rc == nil {
		return false
	}
	return s.pepIQReply(rc.c, iq)
}
