package xmppcore

import (
	"context"
	"errors"
	"strconv"
	"strings"

	"go.uber.org/zap"
	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/privacy"
)

const (
	nsRoster = "jabber:iq:roster"
	nsDelay  = "urn:xmpp:delay"
)

func (s *Server) sessionByString(full string) *conn {
	j, err := jid.Parse(full)
	if err != nil || j.Resourcepart() == "" {
		return nil
	}
	return s.session(j)
}

// fromClient handles one stanza of a bound session (RFC 6120 section 8.1).
func (s *Server) fromClient(c *conn, st *xmlel.Element) {
	st.Set("from", c.jidStr)
	var to jid.JID
	if raw := st.Get("to"); raw != "" {
		var err error
		var norm string
		if to, norm, err = parseJID(raw); err != nil {
			if st.Get("type") != "error" {
				c.sendEl(iqError(st, c.domain().FQDN, c.full.String(), errJIDMalformed))
			}
			return
		}
		st.Set("to", norm)
	}
	switch st.Name.Local {
	case "iq":
		s.clientIQ(c, st, to)
	case "message":
		if to.String() == "" {
			to = c.full.Bare()
			st.Set("to", to.String())
		}
		if s.privacyOut(c, st, to) {
			return
		}
		if s.domainOf(c).On(modcfg.Blocking) && s.blockedBy(c.bare, c.user.ID, to) {
			s.bounce(st, errBlocked)
			return
		}
		s.routeMessageVia(st, c.full, to, c.batch())
		s.carbonsSent(c, st, to)
	case "presence":
		s.clientPresence(c, st, to)
	}
}

// ---- IQ ----

func (s *Server) clientIQ(c *conn, iq *xmlel.Element, to jid.JID) {
	typ := iq.Get("type")
	switch typ {
	case "get", "set":
	case "result", "error":
		if to.Resourcepart() == "" && s.pepIQReply(c, iq) {
			return
		}
		if s.toServiceEntity(iq, c.full, to) || s.routeRemote(iq, c.full, to) {
			return
		}
		if to.Resourcepart() != "" {
			if t := s.session(to); t != nil {
				t.sendEl(iq)
			} else {
				s.forwardFull(to, iq)
			}
		}
		return
	default:
		c.sendEl(iqError(iq, "", "", errBadRequest))
		return
	}
	if iq.Get("id") == "" || len(iq.Elements()) != 1 {
		c.sendEl(iqError(iq, "", "", errBadRequest))
		return
	}
	if s.privacyOut(c, iq, to) {
		return
	}
	switch {
	case to.String() == "" || to.String() == c.bare:
		s.serveIQ(c, iq, targetSelf, c.user, s.domainOf(c))
	case to.Localpart() == "" && to.Resourcepart() == "":
		d, ok := s.hosted(to.Domainpart())
		if !ok {
			if svc, d, ok := s.serviceAt(to.Domainpart()); ok {
				s.serveService(c, iq, svc, d)
				return
			}
			if s.routeRemote(iq, c.full, to) {
				return
			}
			c.sendEl(iqError(iq, "", "", errRemoteNotFound))
			return
		}
		s.serveIQ(c, iq, targetServer, store.User{}, d)
	case to.Resourcepart() == "":
		d, ok := s.hosted(to.Domainpart())
		if !ok {
			if s.toServiceEntity(iq, c.full, to) {
				return
			}
			if s.routeRemote(iq, c.full, to) {
				return
			}
			c.sendEl(iqError(iq, "", "", errRemoteNotFound))
			return
		}
		u, err := s.st.UserByJID(context.Background(), d.FQDN, to.Localpart())
		if err != nil || u.Status != store.StatusActive {
			c.sendEl(iqError(iq, "", "", errServiceUnavailable))
			return
		}
		if d.On(modcfg.Blocking) && s.blockedBy(to.String(), u.ID, c.full) {
			c.sendEl(iqError(iq, "", "", errServiceUnavailable))
			return
		}
		s.serveIQ(c, iq, targetOther, u, d)
	default:
		d, ok := s.hosted(to.Domainpart())
		if !ok {
			if s.toServiceEntity(iq, c.full, to) {
				return
			}
			if s.routeRemote(iq, c.full, to) {
				return
			}
			c.sendEl(iqError(iq, "", "", errRemoteNotFound))
			return
		}
		t := s.session(to)
		if t == nil && !(d.On(modcfg.Blocking) && s.blockedBy(to.Bare().String(), 0, c.full)) && s.forwardFull(to, iq) {
			return // the node holding the session checks its privacy list
		}
		if t == nil || (d.On(modcfg.Blocking) && s.blockedBy(to.Bare().String(), 0, c.full)) || s.privacyDenies(t, privacy.IQ, c.full) {
			c.sendEl(iqError(iq, "", "", errServiceUnavailable))
			return
		}
		t.sendEl(iq)
	}
}

// ---- messages (RFC 6121 section 8) ----

func msgType(m *xmlel.Element) string {
	if t := m.Get("type"); t != "" {
		return t
	}
	return "normal"
}

// routeMessage delivers a message addressed to a local or remote JID.
func (s *Server) routeMessage(m *xmlel.Element, from, to jid.JID) {
	s.routeMessageVia(m, from, to, nil)
}

// routeMessageVia is routeMessage for a message a session's read loop
// routes: local deliveries may wait in ob (c2s_write.go).
func (s *Server) routeMessageVia(m *xmlel.Element, from, to jid.JID, ob *outBatch) {
	s.routeMessageArchiving(m, from, to, ob, true)
}

// routeMessageAgain routes a message routed once already, which another
// node did not get (Undelivered): it was archived then, with the
// stanza-id it carries.
func (s *Server) routeMessageAgain(m *xmlel.Element, from, to jid.JID) {
	s.routeMessageArchiving(m, from, to, nil, false)
}

// routeMessageArchiving is routeMessageVia, archiving m only if archive.
func (s *Server) routeMessageArchiving(m *xmlel.Element, from, to jid.JID, ob *outBatch, archive bool) {
	typ := msgType(m)
	d, ok := s.hosted(to.Domainpart())
	if !ok {
		if svc, d, ok := s.serviceAt(to.Domainpart()); ok && svc.message != nil && to.Localpart() == "" {
			svc.message(s, m, from, d)
			return
		}
		if s.toServiceEntity(m, from, to) || s.routeRemote(m, from, to) {
			return
		}
		s.bounce(m, errRemoteNotFound)
		return
	}
	if to.Localpart() == "" {
		return // messages to the server itself are not processed
	}
	bare := to.Bare().String()
	online := s.hasSessions(bare) || len(s.remoteOf(bare)) > 0
	var user store.User
	if !online {
		ob.flush() // the store may make this message wait
		u, err := s.st.UserByJID(context.Background(), d.FQDN, to.Localpart())
		if err != nil || !u.MayLogIn() {
			if typ != "groupchat" && typ != "headline" {
				s.bounce(m, errServiceUnavailable)
			}
			return
		}
		user = u
	}
	if d.On(modcfg.Blocking) && s.blockedBy(bare, user.ID, from) {
		s.bounce(m, errServiceUnavailable)
		return
	}
	if s.privacyRefuses(m, d, from, to, bare, user) {
		return
	}
	if archive {
		s.archiveMessage(m, d, from, to, bare, user.ID)
	}
	if to.Resourcepart() != "" {
		if t := s.session(to); t != nil {
			t.sendVia(m.Bytes(nsClient), ob)
			s.carbonsReceived(m, d, bare, t)
			s.pushHibernated(m, d, bare, t)
			return
		}
		if s.forwardFull(to, m) {
			return
		}
		if typ != "chat" && typ != "normal" {
			if typ == "groupchat" {
				s.bounce(m, errServiceUnavailable)
			}
			return
		}
	}
	if typ == "groupchat" {
		s.bounce(m, errServiceUnavailable)
		return
	}
	var targets []*conn
	best := -1
	for _, t := range s.availableOf(bare) {
		t.smu.Lock()
		p := t.priority
		t.smu.Unlock()
		switch {
		case p < 0:
		case s.privacyDenies(t, privacy.Message, from):
		case typ == "headline":
			targets = append(targets, t)
		case p > best:
			best, targets = p, append(targets[:0], t)
		case p == best:
			targets = append(targets, t)
		}
	}
	// Resources on other nodes compete on priority with the local ones;
	// their node checks its privacy lists on arrival.
	var remote []RemoteSession
	for _, r := range s.remoteAvailable(bare) {
		switch {
		case r.Priority < 0:
		case typ == "headline":
			remote = append(remote, r)
		case r.Priority > best:
			best, targets, remote = r.Priority, targets[:0], append(remote[:0], r)
		case r.Priority == best:
			remote = append(remote, r)
		}
	}
	if len(targets) > 0 || len(remote) > 0 {
		b := m.Bytes(nsClient)
		for _, t := range targets {
			t.sendVia(b, ob)
		}
		for _, r := range remote {
			s.cfg.Cluster.Forward(r.Node, r.JID, b)
		}
		if len(targets) > 0 {
			s.carbonsReceived(m, d, bare, targets...)
			s.pushHibernated(m, d, bare, targets...)
		}
		return
	}
	if typ == "headline" || typ == "error" {
		return
	}
	s.storeOffline(m, d, bare, to.Localpart(), user)
}

func (s *Server) storeOffline(m *xmlel.Element, d modcfg.Domain, bare, local string, user store.User) {
	// XEP-0334's store hint asks for storage of a message without a body
	// (MUC/Sub events from rooms carry it).
	if !d.On(modcfg.Offline) || (m.Child(nsClient, "body") == nil && m.Child(nsClient, "subject") == nil && m.Child(nsHints, "store") == nil) {
		s.bounce(m, errServiceUnavailable)
		return
	}
	ctx := context.Background()
	if user.ID == 0 {
		u, err := s.st.UserByJID(ctx, d.FQDN, local)
		if err != nil {
			s.bounce(m, errServiceUnavailable)
			return
		}
		user = u
	}
	m = m.Copy()
	m.Set("to", bare)
	var stored bool
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		stored, err = tx.PushOffline(ctx, user.ID, m.Get("from"), m.Bytes(""), s.cfg.OfflineLimit)
		return err
	})
	if err != nil || !stored {
		if err != nil {
			s.log.Warn("offline store", zap.Error(err))
		}
		s.bounce(m, errServiceUnavailable)
		return
	}
	// A resource that became available while the message was being stored
	// may have drained the queue before the commit: drain it again.
	if s.drainOffline(bare) || s.drainElsewhere(bare) {
		return
	}
	s.pushNotify(m, d, bare, user.ID)
}

// deliverOffline sends a user's stored messages to one session, with delay stamps.
func (s *Server) deliverOffline(c *conn) {
	ctx := context.Background()
	if n, err := s.st.OfflineCount(ctx, c.user.ID); err != nil || n == 0 {
		return
	}
	var msgs []store.OfflineMessage
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		msgs, err = tx.PopOffline(ctx, c.user.ID)
		return err
	})
	if err != nil {
		s.log.Warn("offline pop", zap.Error(err))
		return
	}
	for _, om := range msgs {
		m, err := xmlel.Parse(om.Stanza)
		if err != nil {
			continue
		}
		m.Add(xmlel.New(nsDelay, "delay", "from", c.domain().FQDN, "stamp", om.Created.UTC().Format("2006-01-02T15:04:05Z")))
		c.sendEl(m)
	}
}

// ---- presence (RFC 6121 sections 3 and 4) ----

func (s *Server) clientPresence(c *conn, p *xmlel.Element, to jid.JID) {
	typ := p.Get("type")
	if to.String() == "" {
		switch typ {
		case "":
			s.available(c, p)
		case "unavailable":
			c.smu.Lock()
			was := c.available
			c.available, c.presence = false, nil
			c.status = p.ChildText(nsClient, "status")
			c.smu.Unlock()
			s.announce(c, false)
			if was {
				s.broadcast(c, p)
			}
			s.directedUnavailable(c)
		}
		return
	}
	bare := to.Bare()
	switch typ {
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		if bare.Localpart() == "" || bare.String() == c.bare || c.anon { // anonymous: no roster to keep them in
			return
		}
		p.Set("to", bare.String())
		s.subscription(c, typ, bare)
	case "probe":
		s.probe(c, bare)
	case "", "unavailable", "error":
		if s.domainOf(c).On(modcfg.Blocking) && s.blockedBy(c.bare, c.user.ID, to) {
			s.bounce(p, errBlocked)
			return
		}
		if s.privacyOut(c, p, to) {
			return
		}
		if typ != "error" {
			c.trackDirected(to.String(), typ == "")
		}
		s.deliverPresence(p, c.full, to)
	}
}

// deliverPresence sends a directed presence to a full JID or to every
// available resource of a bare JID.
func (s *Server) deliverPresence(p *xmlel.Element, from, to jid.JID) {
	d, ok := s.hosted(to.Domainpart())
	if !ok && (s.toServiceEntity(p, from, to) || s.routeRemote(p, from, to) || s.mucJoinNowhere(p)) {
		return
	}
	if !ok || to.Localpart() == "" {
		return
	}
	if d.On(modcfg.Blocking) && s.blockedBy(to.Bare().String(), 0, from) {
		return
	}
	if to.Resourcepart() != "" {
		if t := s.session(to); t != nil && !s.privacyDenies(t, privacy.PresenceIn, from) {
			t.sendEl(p)
		} else if t == nil {
			s.forwardFull(to, p)
		}
		return
	}
	b := p.Bytes(nsClient)
	for _, t := range s.availableOf(to.String()) {
		if !s.privacyDenies(t, privacy.PresenceIn, from) {
			t.send(b)
		}
	}
	for _, n := range s.remoteNodes(to.String(), false) {
		s.cfg.Cluster.Forward(n, to.String(), b)
	}
}

func (s *Server) available(c *conn, p *xmlel.Element) {
	prio, _ := strconv.Atoi(strings.TrimSpace(p.ChildText(nsClient, "priority")))
	prio = max(-128, min(127, prio))
	p.Set("to", "")
	b := p.Bytes(nsClient)
	c.smu.Lock()
	initial := !c.available
	c.available, c.priority, c.presence = true, prio, b
	c.show, c.status = p.ChildText(nsClient, "show"), p.ChildText(nsClient, "status")
	c.smu.Unlock()
	s.announce(c, false)
	items := s.broadcast(c, p)
	s.pepAvailable(c, p, items)
	if !initial {
		return
	}
	// Probes: current presence of the contacts we are subscribed to, and of
	// our own other resources; then stored subscription requests.
	for _, it := range items {
		if it.Visible && (it.Subscription == store.SubTo || it.Subscription == store.SubBoth) {
			if cj, err := jid.Parse(it.Contact); err == nil && cj.Localpart() != "" && s.remote(cj.Domainpart()) {
				s.routeRemote(xmlel.New(nsClient, "presence", "type", "probe", "from", c.bare, "to", it.Contact), c.full.Bare(), cj)
				continue
			}
			for _, t := range s.availableOf(it.Contact) {
				t.smu.Lock()
				pb := t.presence
				t.smu.Unlock()
				if pb != nil && !s.presenceDenied(t, c) {
					c.send(pb)
				}
			}
			s.remotePresences(c, it.Contact)
		}
	}
	for _, t := range s.availableOf(c.bare) {
		if t == c {
			continue
		}
		t.smu.Lock()
		pb := t.presence
		t.smu.Unlock()
		if pb != nil {
			c.send(pb)
		}
	}
	for _, r := range s.remoteAvailable(c.bare) {
		if r.Presence != nil {
			c.send(r.Presence)
		}
	}
	for _, it := range items {
		if it.PendingIn {
			c.sendEl(xmlel.New(nsClient, "presence", "type", "subscribe", "from", it.Contact, "to", c.bare))
		}
	}
	if prio >= 0 && s.domainOf(c).On(modcfg.Offline) {
		s.deliverOffline(c)
	}
}

// broadcast sends a session's presence to the contacts subscribed to it
// ("from"/"both") and to the user's own available resources. It returns the
// user's roster rows for the caller's probes.
func (s *Server) broadcast(c *conn, p *xmlel.Element) []store.RosterItem {
	// Shared group contacts count as subscribed both ways.
	items, _, err := s.st.RosterWithShared(context.Background(), c.user)
	if err != nil && !errors.Is(err, store.ErrClosed) {
		s.log.Warn("roster read", zap.Error(err))
	}
	b := p.Bytes(nsClient)
	blocking := s.domainOf(c).On(modcfg.Blocking)
	for _, it := range items {
		if !it.Visible || (it.Subscription != store.SubFrom && it.Subscription != store.SubBoth) {
			continue
		}
		cj, err := jid.Parse(it.Contact)
		if err != nil || (blocking && s.blockedBy(c.bare, c.user.ID, cj)) {
			continue
		}
		if s.remote(cj.Domainpart()) {
			s.routeRemote(p.Copy().Set("to", it.Contact), c.full, cj)
			continue
		}
		for _, t := range s.availableOf(it.Contact) {
			if !s.presenceDenied(c, t) {
				t.send(b)
			}
		}
		for _, n := range s.remoteNodes(it.Contact, false) {
			s.cfg.Cluster.Forward(n, it.Contact, b)
		}
	}
	// The user's own available resources, the sender included (RFC 6121 4.2.2).
	s.toAvailable(c.bare, b)
	return items
}

// probe answers a presence probe with the contact's available presences if
// the contact's roster lets the prober see them.
func (s *Server) probe(c *conn, contact jid.JID) {
	if contact.Localpart() != "" && s.routeRemote(xmlel.New(nsClient, "presence", "type", "probe", "from", c.bare, "to", contact.String()), c.full.Bare(), contact) {
		return
	}
	d, ok := s.hosted(contact.Domainpart())
	if !ok || contact.Localpart() == "" {
		return
	}
	u, err := s.st.UserByJID(context.Background(), d.FQDN, contact.Localpart())
	if err != nil {
		return
	}
	it, err := s.st.RosterItemWithShared(context.Background(), u, c.bare)
	if err != nil || (it.Subscription != store.SubFrom && it.Subscription != store.SubBoth) {
		return
	}
	for _, t := range s.availableOf(contact.String()) {
		t.smu.Lock()
		pb := t.presence
		t.smu.Unlock()
		if pb != nil && !s.presenceDenied(t, c) {
			c.send(pb)
		}
	}
	s.remotePresences(c, contact.String())
}

// rosterChange is a roster row changed by a transaction, for pushing.
type rosterChange struct {
	bare    string
	item    store.RosterItem
	removed bool
	ver     int64
}

// saveItem writes or deletes (hidden and idle) a roster row.
func saveItem(ctx context.Context, tx *store.Tx, userID int64, bare string, it store.RosterItem, out *[]rosterChange) error {
	if !it.Visible && !it.PendingIn {
		_, err := tx.DeleteRosterItem(ctx, userID, it.Contact)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err // a hidden row was never shown: nothing to push
	}
	ver, err := tx.PutRosterItem(ctx, userID, it)
	if err != nil {
		return err
	}
	if it.Visible {
		it.Ver = ver
		*out = append(*out, rosterChange{bare: bare, item: it, ver: ver})
	}
	return nil
}

// subscription runs the RFC 6121 section 3 state machine for a subscription
// presence of type typ sent by c's user to contact (a bare JID).
func (s *Server) subscription(c *conn, typ string, contact jid.JID) {
	ctx := context.Background()
	cBare := contact.String()
	var cu store.User
	local := false
	if d, ok := s.hosted(contact.Domainpart()); ok {
		if u, err := s.st.UserByJID(ctx, d.FQDN, contact.Localpart()); err == nil && u.Status == store.StatusActive {
			cu, local = u, true
		}
	}
	if local && typ == "subscribe" && s.domainOf(c).On(modcfg.Blocking) && s.blockedBy(cBare, cu.ID, c.full) {
		return
	}
	var changes []rosterChange
	var toContact, toUser []*xmlel.Element // presences to deliver after commit
	userPresToContact, contactPresToUser := false, false
	unavailUserToContact, unavailContactToUser := false, false
	pres := func(typ, from, to string) *xmlel.Element {
		return xmlel.New(nsClient, "presence", "type", typ, "from", from, "to", to)
	}
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		changes, toContact, toUser = nil, nil, nil
		itU, err := tx.RosterItem(ctx, c.user.ID, cBare)
		existsU := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if !existsU {
			itU = store.RosterItem{Contact: cBare, Subscription: store.SubNone}
		}
		var itC store.RosterItem
		existsC := false
		if local {
			itC, err = tx.RosterItem(ctx, cu.ID, c.bare)
			existsC = err == nil
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			if !existsC {
				itC = store.RosterItem{Contact: c.bare, Subscription: store.SubNone}
			}
		}
		saveU := func() error { return saveItem(ctx, tx, c.user.ID, c.bare, itU, &changes) }
		saveC := func() error { return saveItem(ctx, tx, cu.ID, cBare, itC, &changes) }
		switch typ {
		case "subscribe":
			itU.Visible = true
			if itU.Subscription == store.SubNone || itU.Subscription == store.SubFrom {
				itU.Ask = true
			}
			if err := saveU(); err != nil {
				return err
			}
			if !local {
				return nil
			}
			if itC.Subscription == store.SubFrom || itC.Subscription == store.SubBoth {
				// Already approved: answer for the contact (RFC 6121 3.1.3).
				itU.Ask = false
				itU.Subscription = addTo(itU.Subscription)
				toUser = append(toUser, pres("subscribed", cBare, c.bare))
				contactPresToUser = true
				return saveU()
			}
			if itC.Approved {
				// Pre-approved (RFC 6121 3.4.2): approved for the contact,
				// who never sees the request.
				itC.Approved, itC.PendingIn, itC.Visible = false, false, true
				itC.Subscription = addFrom(itC.Subscription)
				itU.Ask = false
				itU.Subscription = addTo(itU.Subscription)
				toUser = append(toUser, pres("subscribed", cBare, c.bare))
				contactPresToUser = true
				if err := saveC(); err != nil {
					return err
				}
				return saveU()
			}
			itC.PendingIn = true
			toContact = append(toContact, pres("subscribe", c.bare, cBare))
			return saveC()
		case "subscribed":
			if !existsU || !itU.PendingIn {
				// Pre-approval (RFC 6121 3.4.2): noted unless the contact
				// already has a subscription, or it is noted already.
				if itU.Approved || itU.Subscription == store.SubFrom || itU.Subscription == store.SubBoth {
					return nil
				}
				itU.Approved, itU.Visible = true, true
				return saveU()
			}
			itU.PendingIn, itU.Visible = false, true
			itU.Subscription = addFrom(itU.Subscription)
			if err := saveU(); err != nil {
				return err
			}
			if local && itC.Ask {
				itC.Ask, itC.Visible = false, true
				itC.Subscription = addTo(itC.Subscription)
				toContact = append(toContact, pres("subscribed", c.bare, cBare))
				userPresToContact = true
				return saveC()
			}
			return nil
		case "unsubscribe":
			if existsU {
				changed := itU.Ask || itU.Subscription == store.SubTo || itU.Subscription == store.SubBoth
				itU.Ask = false
				itU.Subscription = delTo(itU.Subscription)
				if changed {
					if err := saveU(); err != nil {
						return err
					}
				}
			}
			if local && existsC && (itC.Subscription == store.SubFrom || itC.Subscription == store.SubBoth || itC.PendingIn) {
				itC.PendingIn = false
				itC.Subscription = delFrom(itC.Subscription)
				toContact = append(toContact, pres("unsubscribe", c.bare, cBare))
				unavailContactToUser = true
				return saveC()
			}
			return nil
		case "unsubscribed":
			if existsU && (itU.PendingIn || itU.Approved || itU.Subscription == store.SubFrom || itU.Subscription == store.SubBoth) {
				itU.PendingIn, itU.Approved = false, false
				itU.Subscription = delFrom(itU.Subscription)
				if err := saveU(); err != nil {
					return err
				}
			}
			if local && existsC && (itC.Ask || itC.Subscription == store.SubTo || itC.Subscription == store.SubBoth) {
				itC.Ask = false
				itC.Subscription = delTo(itC.Subscription)
				toContact = append(toContact, pres("unsubscribed", c.bare, cBare))
				unavailUserToContact = true
				return saveC()
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("subscription", zap.String("type", typ), zap.Error(err))
		return
	}
	for _, ch := range changes {
		s.pushRoster(ch.bare, ch.item, ch.removed, ch.ver)
		s.pushRemote(ch.bare, ch.item.Contact)
	}
	if !local && s.remote(contact.Domainpart()) {
		s.subscriptionToRemote(c, typ, contact)
	}
	for _, p := range toContact {
		s.toAvailable(cBare, p.Bytes(nsClient))
	}
	for _, p := range toUser {
		s.toAvailable(c.bare, p.Bytes(nsClient))
	}
	if contactPresToUser {
		s.copyPresence(cBare, c.bare, false)
		s.pepSubscribed(c.bare, cBare)
	}
	if userPresToContact {
		s.copyPresence(c.bare, cBare, false)
		s.pepSubscribed(cBare, c.bare)
	}
	if unavailContactToUser {
		s.copyPresence(cBare, c.bare, true)
	}
	if unavailUserToContact {
		s.copyPresence(c.bare, cBare, true)
	}
}

// copyPresence sends the presence (or unavailable) of every available
// resource of from to every available resource of to.
func (s *Server) copyPresence(from, to string, unavailable bool) {
	targets := s.availableOf(to)
	nodes := s.remoteNodes(to, false)
	if len(targets) == 0 && len(nodes) == 0 {
		return
	}
	for _, src := range s.availableOf(from) {
		src.smu.Lock()
		b := src.presence
		src.smu.Unlock()
		if unavailable {
			b = xmlel.New(nsClient, "presence", "type", "unavailable", "from", src.full.String(), "to", to).Bytes(nsClient)
		}
		if b == nil {
			continue
		}
		for _, t := range targets {
			if !s.presenceDenied(src, t) {
				t.send(b)
			}
		}
		for _, n := range nodes {
			s.cfg.Cluster.Forward(n, to, b)
		}
	}
	// Resources of from on other nodes: their presence is in the
	// directory (the node holding to's other resources does the same).
	if len(targets) == 0 {
		return
	}
	for _, r := range s.remoteAvailable(from) {
		b := r.Presence
		if unavailable {
			b = xmlel.New(nsClient, "presence", "type", "unavailable", "from", r.JID, "to", to).Bytes(nsClient)
		}
		for _, t := range targets {
			if b != nil {
				t.send(b)
			}
		}
	}
}

// ---- roster (RFC 6121 section 2) ----

func rosterItemEl(it store.RosterItem, removed bool) *xmlel.Element {
	e := xmlel.New(nsRoster, "item", "jid", it.Contact)
	if removed {
		return e.Set("subscription", "remove")
	}
	e.Set("name", it.Name)
	e.Set("subscription", it.Subscription)
	if it.Ask {
		e.Set("ask", "subscribe")
	}
	if it.Approved {
		e.Set("approved", "true")
	}
	for _, g := range it.Groups {
		e.Text(nsRoster, "group", g)
	}
	return e
}

// pushRoster sends a roster push to the sessions of bare that asked for the roster.
func (s *Server) pushRoster(bare string, it store.RosterItem, removed bool, ver int64) {
	for _, t := range s.sessionsOf(bare) {
		t.smu.Lock()
		want := t.rosterReq
		t.smu.Unlock()
		if !want {
			continue
		}
		q := xmlel.New(nsRoster, "query", "ver", strconv.FormatInt(ver, 10)).Add(rosterItemEl(it, removed))
		t.sendEl(xmlel.New(nsClient, "iq", "type", "set", "id", "push-"+newID(), "to", t.full.String()).Add(q))
	}
}

func (s *Server) rosterIQ(r *iqReq) (*xmlel.Element, *stanzaErr) {
	ctx := context.Background()
	c := r.c
	if r.typ == "get" {
		c.smu.Lock()
		c.rosterReq = true
		c.smu.Unlock()
		items, ver, err := s.st.RosterWithShared(ctx, c.user)
		if err != nil {
			return nil, &errInternal
		}
		sver := strconv.FormatInt(ver, 10)
		if r.q.Get("ver") != "" && r.q.Get("ver") == sver {
			return nil, nil // up to date: empty result, changes come as pushes
		}
		q := xmlel.New(nsRoster, "query", "ver", sver)
		for _, it := range items {
			if it.Visible {
				q.Add(rosterItemEl(it, false))
			}
		}
		return q, nil
	}
	items := r.q.Elements()
	if len(items) != 1 || items[0].Name.Local != "item" {
		return nil, &errBadRequest
	}
	item := items[0]
	cj, err := jid.Parse(item.Get("jid"))
	if err != nil || item.Get("jid") == "" {
		return nil, &errBadRequest
	}
	contact := cj.Bare().String()
	if item.Get("subscription") == "remove" {
		cur, err := s.st.RosterItem(ctx, c.user.ID, contact)
		if err != nil || !cur.Visible {
			return nil, &errItemNotFound
		}
		if cur.Subscription == store.SubTo || cur.Subscription == store.SubBoth || cur.Ask {
			s.subscription(c, "unsubscribe", cj.Bare())
		}
		if cur.Subscription == store.SubFrom || cur.Subscription == store.SubBoth || cur.PendingIn {
			s.subscription(c, "unsubscribed", cj.Bare())
		}
		var ver int64
		err = s.st.Write(ctx, func(tx *store.Tx) error {
			var err error
			ver, err = tx.DeleteRosterItem(ctx, c.user.ID, contact)
			if errors.Is(err, store.ErrNotFound) {
				ver, err = tx.RosterVersion(ctx, c.user.ID)
			}
			return err
		})
		if err != nil {
			return nil, &errInternal
		}
		s.pushMerged(c, contact, ver)
		return nil, nil
	}
	groups := []string{}
	for _, g := range item.Elements() {
		if g.Name.Local != "group" {
			continue
		}
		name := strings.TrimSpace(g.InnerText())
		if name == "" || len(name) > 1024 {
			return nil, &errNotAcceptable
		}
		for _, have := range groups {
			if have == name {
				return nil, &errBadRequest
			}
		}
		groups = append(groups, name)
	}
	var ver int64
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		it, err := tx.RosterItem(ctx, c.user.ID, contact)
		if errors.Is(err, store.ErrNotFound) {
			it, err = store.RosterItem{Contact: contact, Subscription: store.SubNone}, nil
		}
		if err != nil {
			return err
		}
		it.Name, it.Groups, it.Visible = item.Get("name"), groups, true
		ver, err = tx.PutRosterItem(ctx, c.user.ID, it)
		return err
	})
	if err != nil {
		return nil, &errInternal
	}
	s.pushMerged(c, contact, ver)
	return nil, nil
}

func addTo(sub string) string {
	switch sub {
	case store.SubFrom, store.SubBoth:
		return store.SubBoth
	}
	return store.SubTo
}

func addFrom(sub string) string {
	switch sub {
	case store.SubTo, store.SubBoth:
		return store.SubBoth
	}
	return store.SubFrom
}

func delTo(sub string) string {
	switch sub {
	case store.SubFrom, store.SubBoth:
		return store.SubFrom
	}
	return store.SubNone
}

func delFrom(sub string) string {
	switch sub {
	case store.SubTo, store.SubBoth:
		return store.SubTo
	}
	return store.SubNone
}

// trackDirected remembers the JIDs a session sent directed available presence
// to, so they learn when it goes away (RFC 6121 4.6.3).
func (c *conn) trackDirected(to string, available bool) {
	c.smu.Lock()
	defer c.smu.Unlock()
	if !available {
		delete(c.directed, to)
		return
	}
	if c.directed == nil {
		c.directed = map[string]bool{}
	}
	if len(c.directed) < 1000 {
		c.directed[to] = true
	}
}

// directedUnavailable sends unavailable presence to the directed-presence
// recipients of c and forgets them.
func (s *Server) directedUnavailable(c *conn) {
	c.smu.Lock()
	targets := c.directed
	c.directed = nil
	c.smu.Unlock()
	for to := range targets {
		tj, err := jid.Parse(to)
		if err != nil {
			continue
		}
		p := xmlel.New(nsClient, "presence", "type", "unavailable", "from", c.full.String(), "to", to)
		s.deliverPresence(p, c.full, tj)
	}
}
