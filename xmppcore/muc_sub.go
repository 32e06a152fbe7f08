package xmppcore

import (
	"context"
	"errors"
	"slices"
	"sort"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/archive"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/muc"
	"github.com/xmppgate/xmppgate/xmppcore/pubsub"
)

// ejabberd's MUC/Sub (urn:xmpp:mucsub:0): a JID subscribes to a room's
// event nodes under a nickname and receives them, wrapped as pubsub
// events from the room, while none of its sessions is an occupant:
// online, or through offline storage. The service delivers the messages
// and subject nodes; the others (presence, affiliations, config,
// participants, system) are stored and listed but not yet delivered.

// MUC/Sub event nodes.
const (
	subNodeMessages = "urn:xmpp:mucsub:nodes:messages"
	subNodeSubject  = "urn:xmpp:mucsub:nodes:subject"
)

// roomSub is one subscriber of a room.
type roomSub struct {
	nick  string
	nodes []string
}

// loadSubs fills a room's subscribers from the store's rows.
func (r *room) loadSubs(rows []store.RoomSubscription) {
	r.subs = map[string]roomSub{}
	for _, s := range rows {
		r.subs[s.JID] = roomSub{nick: s.Nick, nodes: s.Nodes}
	}
}

// mucSubIQ serves subscribe, unsubscribe and the subscriber list at a room.
func (s *Server) mucSubIQ(r *room, c *conn, q *xmlel.Element, set bool, d modcfg.Domain) (*xmlel.Element, *stanzaErr) {
	ctx := context.Background()
	switch {
	case !set && q.Name.Local == "subscriptions":
		r.mu.Lock()
		defer r.mu.Unlock()
		if o := r.byFull(c.full.String()); (o == nil || o.role != muc.Moderator) && muc.Rank(r.affOf(c.bare)) < muc.Rank(muc.Admin) {
			return nil, &errForbidden
		}
		out := xmlel.New(muc.NSSub, "subscriptions")
		jids := make([]string, 0, len(r.subs))
		for j := range r.subs {
			jids = append(jids, j)
		}
		sort.Strings(jids)
		for _, j := range jids {
			sub := xmlel.New(muc.NSSub, "subscription", "jid", j, "nick", r.subs[j].nick)
			for _, n := range r.subs[j].nodes {
				sub.Add(xmlel.New(muc.NSSub, "event", "node", n))
			}
			out.Add(sub)
		}
		return out, nil
	case set && q.Name.Local == "subscribe":
		nick, err := muc.PrepareNick(q.Get("nick"))
		if err != nil {
			return nil, &stanzaErr{typ: "modify", cond: "bad-request", text: "Missing 'nick' attribute"}
		}
		var nodes []string
		for _, ev := range q.Elements() {
			if ev.Name.Local == "event" && ev.Get("node") != "" && !slices.Contains(nodes, ev.Get("node")) {
				nodes = append(nodes, ev.Get("node"))
			}
		}
		if !s.mucMayEnter(c, d) {
			return nil, &errMucACL
		}
		r.mu.Lock()
		aff, cfg := r.affOf(c.bare), r.cfg
		if o := r.byNick(muc.NickKey(nick)); o != nil && o.bare != c.bare {
			r.mu.Unlock()
			return nil, &errMucConflict
		}
		r.mu.Unlock()
		if err := muc.MayEnter(cfg, aff, q.Get("password"), 0); err != nil {
			e := joinErr(err)
			return nil, &e
		}
		id := s.rowID(r)
		if err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.SubscribeRoom(ctx, id, c.bare, nick, nodes) }); err != nil {
			return nil, &errInternal
		}
		r.mu.Lock()
		if r.subs == nil {
			r.subs = map[string]roomSub{}
		}
		r.subs[c.bare] = roomSub{nick: nick, nodes: nodes}
		r.mu.Unlock()
		out := xmlel.New(muc.NSSub, "subscribe", "nick", nick)
		for _, n := range nodes {
			out.Add(xmlel.New(muc.NSSub, "event", "node", n))
		}
		return out, nil
	case set && q.Name.Local == "unsubscribe":
		id := s.rowID(r)
		err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.UnsubscribeRoom(ctx, id, c.bare) })
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, &errInternal
		}
		r.mu.Lock()
		delete(r.subs, c.bare)
		r.mu.Unlock()
		return nil, nil
	}
	return nil, &errBadRequest
}

// mucServiceSubs lists the requester's subscriptions on the service.
func mucServiceSubs(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	rows, err := s.st.SubscribedRooms(context.Background(), r.c.bare)
	if err != nil {
		return nil, &errInternal
	}
	out := xmlel.New(muc.NSSub, "subscriptions")
	for _, sub := range rows {
		if sub.Domain != r.dom.FQDN {
			continue
		}
		el := xmlel.New(muc.NSSub, "subscription", "jid", sub.Room+"@"+mucJID(r.dom))
		for _, n := range sub.Nodes {
			el.Add(xmlel.New(muc.NSSub, "event", "node", n))
		}
		out.Add(el)
	}
	return out, nil
}

// mucSubNotify sends m (a room's groupchat message as broadcast, without
// to) to the subscribers of node who are not in the room. r.mu is held.
func (s *Server) mucSubNotify(r *room, node string, m *xmlel.Element) {
	if len(r.subs) == 0 {
		return
	}
	var targets []string
	for bare, sub := range r.subs {
		if !slices.Contains(sub.nodes, node) {
			continue
		}
		present := false
		for _, o := range r.occ {
			if o.bare == bare {
				present = true
				break
			}
		}
		if !present {
			targets = append(targets, bare)
		}
	}
	if len(targets) == 0 {
		return
	}
	rjid := r.jid
	from := jid.MustParse(rjid)
	stamp := m.Child(archive.NSSID, "stanza-id")
	itemID := newID()
	if stamp != nil {
		itemID = stamp.Get("id")
	}
	// Deliveries leave the room's lock: routing may store offline.
	go func() {
		for _, bare := range targets {
			to, err := jid.Parse(bare)
			if err != nil {
				continue
			}
			inner := m.Copy()
			inner.Set("to", bare)
			ev := xmlel.New(pubsub.NSEvent, "event").Add(xmlel.New(pubsub.NSEvent, "items", "node", node).
				Add(xmlel.New(pubsub.NSEvent, "item", "id", itemID).Add(inner)))
			out := xmlel.New(nsClient, "message", "from", rjid, "to", bare, "id", newID()).Add(ev, xmlel.New(nsHints, "store"))
			s.routeMessage(out, from, to)
		}
	}()
}
