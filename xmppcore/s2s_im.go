package xmppcore

import (
	"context"
	"errors"

	"go.uber.org/zap"
	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
)

// Stanza errors of federation.
var (
	errRemoteTimeout = stanzaErr{typ: "wait", cond: "remote-server-timeout"}
	errFederationOff = stanzaErr{typ: "cancel", cond: "not-allowed", text: "federation is disabled for this domain or peer"}
)

// remoteIQs are the payloads a remote entity may query on our server or a
// user here: those whose handlers need no session of the requester.
var remoteIQs = map[string]bool{
	nsPing: true, nsVersion: true, nsDiscoInfo: true, nsDiscoItems: true,
	nsTime: true, nsLast: true, nsVcard: true,
}

// fromRemote routes a stanza that came in on a server stream (RFC 6120
// section 10.4: to a local JID of ours).
func (s *Server) fromRemote(st *xmlel.Element, from, to jid.JID) {
	switch st.Name.Local {
	case "message":
		if !s.remoteOccupantGone(st, from, to) {
			s.routeMessage(st, from, to)
		}
	case "presence":
		s.remotePresence(st, from, to)
	case "iq":
		s.remoteIQ(st, from, to)
	}
}

func (s *Server) remoteIQ(iq *xmlel.Element, from, to jid.JID) {
	typ := iq.Get("type")
	reply := func(e stanzaErr) {
		if typ == "get" || typ == "set" {
			s.routeRemote(iqError(iq, "", "", e), to, from)
		}
	}
	if to.Resourcepart() != "" {
		if _, ok := s.hosted(to.Domainpart()); ok {
			if t := s.session(to); t != nil && !s.blockedBy(to.Bare().String(), 0, from) {
				t.sendEl(iq)
				return
			}
			reply(errServiceUnavailable)
			return
		}
	}
	if typ == "result" || typ == "error" {
		// An occupant's answer to another's request goes through the
		// room; answers to the server or a bare JID: only caps queries
		// asked.
		if !s.toServiceEntity(iq, from, to) {
			s.remoteCapsReply(iq, from)
		}
		return
	}
	if typ != "get" && typ != "set" || iq.Get("id") == "" || len(iq.Elements()) != 1 {
		reply(errBadRequest)
		return
	}
	if s.toServiceEntity(iq, from, to) {
		return
	}
	if svc, sd, ok := s.serviceAt(to.Domainpart()); ok && to.Localpart() == "" {
		// A service (the MUC service's disco, room list) answers a remote
		// requester as a local one, through a stand-in session.
		if c := s.standInFor(from); c != nil {
			s.serveService(c, iq, svc, sd)
		}
		return
	}
	d, ok := s.hosted(to.Domainpart())
	q := iq.First()
	if !ok || !remoteIQs[q.Name.Space] {
		reply(errServiceUnavailable)
		return
	}
	target, user := targetServer, store.User{}
	if to.Localpart() != "" {
		u, err := s.st.UserByJID(context.Background(), d.FQDN, to.Localpart())
		if err != nil || u.Status != store.StatusActive || (d.On(modcfg.Blocking) && s.blockedBy(to.String(), u.ID, from)) {
			reply(errServiceUnavailable)
			return
		}
		target, user = targetOther, u
	}
	// The handlers answer for a session; a remote requester has none, so
	// it gets a stand-in that carries its address only.
	r := &iqReq{c: &conn{srv: s, log: s.c2sLog, full: from, bare: from.Bare().String()}, iq: iq, q: q, typ: typ, target: target, user: user, dom: d}
	for _, h := range handlers[handlerKey{q.Name.Space, q.Name.Local}] {
		if h.targets&target == 0 || (h.module != "" && !d.On(h.module)) {
			continue
		}
		res, serr := h.fn(s, r)
		if serr != nil {
			reply(*serr)
			return
		}
		s.routeRemote(iqResult(iq, res), to, from)
		return
	}
	reply(errServiceUnavailable)
}

func (s *Server) remotePresence(p *xmlel.Element, from, to jid.JID) {
	typ := p.Get("type")
	switch typ {
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		if to.Localpart() != "" {
			s.inboundSubscription(typ, from.Bare(), to.Bare())
		}
	case "probe":
		s.remoteProbe(from, to.Bare())
	default:
		s.deliverPresence(p, from, to)
		s.remotePEPPresence(p, from, to)
	}
}

// remoteProbe answers a remote contact's probe with the presences of the
// user's available resources if the user's roster lets the contact see them.
func (s *Server) remoteProbe(from, user jid.JID) {
	d, ok := s.hosted(user.Domainpart())
	if !ok || user.Localpart() == "" {
		return
	}
	ctx := context.Background()
	u, err := s.st.UserByJID(ctx, d.FQDN, user.Localpart())
	if err != nil {
		return
	}
	it, err := s.st.RosterItemWithShared(ctx, u, from.Bare().String())
	if err != nil || (it.Subscription != store.SubFrom && it.Subscription != store.SubBoth) {
		return
	}
	if d.On(modcfg.Blocking) && s.blockedBy(user.String(), u.ID, from) {
		return
	}
	s.presenceToRemote(user.String(), from)
}

// inboundSubscription is RFC 6121 section 3's contact side for a
// subscription presence a remote contact sent to a local user.
func (s *Server) inboundSubscription(typ string, contact, user jid.JID) {
	d, ok := s.hosted(user.Domainpart())
	if !ok {
		return
	}
	ctx := context.Background()
	u, err := s.st.UserByJID(ctx, d.FQDN, user.Localpart())
	if err != nil || u.Status != store.StatusActive {
		if typ == "subscribe" {
			s.routeRemote(xmlel.New(nsClient, "presence", "type", "unsubscribed", "from", user.String(), "to", contact.String()), user, contact)
		}
		return
	}
	if typ == "subscribe" && d.On(modcfg.Blocking) && s.blockedBy(user.String(), u.ID, contact) {
		return
	}
	bare, cBare := user.String(), contact.String()
	var changes []rosterChange
	deliver, autoSubscribed, sendPresence := false, false, false
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		changes, deliver, autoSubscribed, sendPresence = nil, false, false, false
		it, err := tx.RosterItem(ctx, u.ID, cBare)
		exists := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if !exists {
			it = store.RosterItem{Contact: cBare, Subscription: store.SubNone}
		}
		save := func() error { return saveItem(ctx, tx, u.ID, bare, it, &changes) }
		switch typ {
		case "subscribe":
			switch {
			case it.Subscription == store.SubFrom || it.Subscription == store.SubBoth:
				autoSubscribed = true
				return nil
			case it.Approved:
				it.Approved, it.PendingIn, it.Visible = false, false, true
				it.Subscription = addFrom(it.Subscription)
				autoSubscribed, sendPresence = true, true
				return save()
			}
			deliver = !it.PendingIn
			it.PendingIn = true
			return save()
		case "subscribed":
			if !exists || !it.Ask {
				return nil
			}
			it.Ask, it.Visible = false, true
			it.Subscription = addTo(it.Subscription)
			deliver = true
			return save()
		case "unsubscribe":
			if !exists || (it.Subscription != store.SubFrom && it.Subscription != store.SubBoth && !it.PendingIn) {
				return nil
			}
			it.PendingIn = false
			it.Subscription = delFrom(it.Subscription)
			deliver = true
			return save()
		case "unsubscribed":
			if !exists || (!it.Ask && it.Subscription != store.SubTo && it.Subscription != store.SubBoth) {
				return nil
			}
			it.Ask = false
			it.Subscription = delTo(it.Subscription)
			deliver = true
			return save()
		}
		return nil
	})
	if err != nil {
		s.log.Warn("remote subscription", zap.String("type", typ), zap.Error(err))
		return
	}
	for _, ch := range changes {
		s.pushRoster(ch.bare, ch.item, ch.removed, ch.ver)
		s.pushRemote(ch.bare, ch.item.Contact) // the stream may end on another node than the user's sessions
	}
	if deliver {
		s.toAvailable(bare, xmlel.New(nsClient, "presence", "type", typ, "from", cBare, "to", bare).Bytes(nsClient))
	}
	if autoSubscribed {
		s.routeRemote(xmlel.New(nsClient, "presence", "type", "subscribed", "from", bare, "to", cBare), user, contact)
	}
	if autoSubscribed || sendPresence {
		s.presenceToRemote(bare, contact)
	}
}

// presenceToRemote sends the current presence of every available resource
// of the local user bare, on every node, to a remote contact.
func (s *Server) presenceToRemote(bare string, contact jid.JID) {
	s.eachAvailable(bare, func(full jid.JID, pb []byte) {
		p, err := xmlel.Parse(pb)
		if err != nil {
			return
		}
		p.Name.Space = nsClient
		p.Set("to", contact.String())
		s.routeRemote(p, full, contact)
	})
}

// unavailableToRemote tells a remote contact the local user bare went
// away, for each resource available on any node.
func (s *Server) unavailableToRemote(bare string, contact jid.JID) {
	s.eachAvailable(bare, func(full jid.JID, _ []byte) {
		s.routeRemote(xmlel.New(nsClient, "presence", "type", "unavailable", "from", full.String(), "to", contact.String()), full, contact)
	})
}

// eachAvailable calls f with the full JID and last available presence of
// each resource of bare that sent one: this node's, then the directory's
// of the other nodes.
func (s *Server) eachAvailable(bare string, f func(full jid.JID, presence []byte)) {
	for _, t := range s.availableOf(bare) {
		t.smu.Lock()
		pb := t.presence
		t.smu.Unlock()
		if pb != nil {
			f(t.full, pb)
		}
	}
	for _, r := range s.remoteAvailable(bare) {
		if full, err := jid.Parse(r.JID); err == nil && r.Presence != nil {
			f(full, r.Presence)
		}
	}
}

// subscriptionToRemote forwards a user's subscription presence to a remote
// contact after the user's side of the roster was updated (RFC 6121
// section 3: the contact's server keeps the contact's side), with the
// presence that follows an approval or a cancellation.
func (s *Server) subscriptionToRemote(c *conn, typ string, contact jid.JID) {
	s.routeRemote(xmlel.New(nsClient, "presence", "type", typ, "from", c.bare, "to", contact.String()), c.full.Bare(), contact)
	switch typ {
	case "subscribed":
		s.presenceToRemote(c.bare, contact)
	case "unsubscribed":
		s.unavailableToRemote(c.bare, contact)
	}
}
