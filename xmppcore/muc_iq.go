package xmppcore

import (
	"bytes"
	"context"
	"errors"
	"sort"

	"go.uber.org/zap"
	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/archive"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/muc"
	"github.com/xmppgate/xmppgate/xmppcore/pubsub"
)

// mucIQ takes an IQ to a room or an occupant.
func (s *Server) mucIQ(iq *xmlel.Element, from, to jid.JID, d modcfg.Domain) {
	typ := iq.Get("type")
	c := s.sessionOrStandIn(from)
	if c == nil {
		return
	}
	r, err := s.roomOf(d, roomName(to))
	if err != nil {
		s.mucErr(iq, errInternal)
		return
	}
	if to.Resourcepart() != "" {
		s.mucOccupantIQ(r, iq, c, to)
		return
	}
	if typ != "get" && typ != "set" {
		return
	}
	q := iq.First()
	if q == nil {
		s.mucErr(iq, errBadRequest)
		return
	}
	if r == nil {
		s.mucErr(iq, errItemNotFound)
		return
	}
	var res *xmlel.Element
	var bad *stanzaErr
	switch {
	case q.Name.Space == nsDiscoInfo && q.Name.Local == "query" && typ == "get":
		res, bad = s.mucRoomInfo(r, q)
	case q.Name.Space == nsDiscoItems && q.Name.Local == "query" && typ == "get":
		res = xmlel.New(nsDiscoItems, "query")
	case q.Name.Space == nsPing && q.Name.Local == "ping" && typ == "get":
	case q.Name.Space == muc.NSOwner && q.Name.Local == "query":
		res, bad = s.mucOwner(r, c, q, typ == "set", d)
	case q.Name.Space == muc.NSAdmin && q.Name.Local == "query":
		res, bad = s.mucAdmin(r, c, q, typ == "set")
	case q.Name.Space == muc.NSRegister && q.Name.Local == "query":
		res, bad = s.mucRegister(c, q, typ == "set", d)
	case q.Name.Space == muc.NSSub:
		res, bad = s.mucSubIQ(r, c, q, typ == "set", d)
	case q.Name.Space == archive.NS2 && q.Name.Local == "query":
		res, bad = s.mucMAM(r, c, iq, q, d)
	default:
		bad = &errFeatureNotImpl
		if q.Name.Space == nsDiscoInfo || q.Name.Space == nsDiscoItems || q.Name.Space == nsPing {
			bad = &errBadRequest
		}
	}
	if bad != nil {
		c.sendEl(iqError(iq, "", "", *bad))
		return
	}
	c.sendEl(iqResult(iq, res))
}

// mucOccupantIQ answers an IQ to room/nick: XEP-0410 self-ping by the
// service; other requests between occupants go through the room with the
// sender's occupant JID, and their answers back.
func (s *Server) mucOccupantIQ(r *room, iq *xmlel.Element, c *conn, to jid.JID) {
	typ := iq.Get("type")
	if r == nil {
		s.mucErr(iq, errMucNotOccupant)
		return
	}
	r.mu.Lock()
	o := r.byFull(c.full.String())
	t := r.byNick(muc.NickKey(to.Resourcepart()))
	r.mu.Unlock()
	if typ == "result" || typ == "error" {
		// An answer of t's... no: an answer by c (an occupant) to the
		// occupant JID of the one that asked.
		if o != nil && t != nil {
			out := iq.Copy()
			out.Set("from", r.jid+"/"+o.nick)
			out.Set("to", t.fullJID)
			t.c.sendEl(out)
		}
		return
	}
	if o == nil {
		c.sendEl(iqError(iq, "", "", errMucNotOccupant))
		return
	}
	if t != nil && sameOccupant(t, o) && iq.First() != nil && iq.First().Name.Space == nsPing {
		c.sendEl(iqResult(iq, nil))
		return
	}
	if t == nil {
		c.sendEl(iqError(iq, "", "", errMucNoSuchNick))
		return
	}
	out := iq.Copy()
	out.Set("from", r.jid+"/"+o.nick)
	out.Set("to", t.fullJID)
	t.c.sendEl(out)
}

// mucRoomInfo is a room's disco#info (XEP-0045 6.4).
func (s *Server) mucRoomInfo(r *room, q *xmlel.Element) (*xmlel.Element, *stanzaErr) {
	if q.Get("node") != "" {
		return nil, &errItemNotFound
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	name := r.cfg.Name
	if name == "" {
		name = r.key.name
	}
	out := xmlel.New(nsDiscoInfo, "query").Add(xmlel.New(nsDiscoInfo, "identity", "category", "conference", "type", "text", "name", name))
	for _, f := range r.cfg.Features(r.cfg.Archive) {
		out.Add(xmlel.New(nsDiscoInfo, "feature", "var", f))
	}
	return out.Add(r.cfg.InfoForm(len(r.occ), r.subject, r.cfg.ChangeSubject)), nil
}

// mucServiceItems lists the service's public rooms (XEP-0045 6.3): the
// persistent ones and the temporary ones with occupants; hidden and
// locked rooms are not listed. The service holds every room: no store read.
func mucServiceItems(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	if r.q.Get("node") != "" {
		return nil, &errItemNotFound
	}
	if s.cfg.Cluster != nil {
		return s.mucClusterItems(r.dom)
	}
	s.muc.mu.RLock()
	var rooms []*room
	for k, rm := range s.muc.rooms {
		if k.domain == r.dom.ID {
			rooms = append(rooms, rm)
		}
	}
	s.muc.mu.RUnlock()
	type item struct{ jid, name string }
	var items []item
	for _, rm := range rooms {
		rm.mu.Lock()
		cfg, locked, n, gone, jid := rm.cfg, rm.locked, len(rm.occ), rm.gone, rm.jid
		rm.mu.Unlock()
		if gone || !cfg.Public || locked || (!cfg.Persistent && n == 0) {
			continue
		}
		name := cfg.Name
		if name == "" {
			name = rm.key.name
		}
		items = append(items, item{jid, name})
	}
	sort.Slice(items, func(i, j int) bool { return items[i].jid < items[j].jid })
	q := xmlel.New(nsDiscoItems, "query")
	for _, it := range items {
		q.Add(xmlel.New(nsDiscoItems, "item", "jid", it.jid, "name", it.name))
	}
	return q, nil
}

// mucOwner serves muc#owner: the configuration form (XEP-0045 10.1,
// 10.2) and destruction (10.9).
func (s *Server) mucOwner(r *room, c *conn, q *xmlel.Element, set bool, d modcfg.Domain) (*xmlel.Element, *stanzaErr) {
	r.mu.Lock()
	aff := r.affOf(c.bare)
	cfg := r.cfg
	r.mu.Unlock()
	if aff != muc.Owner {
		return nil, &stanzaErr{typ: "auth", cond: "forbidden", text: "Owner privileges required"}
	}
	if !set {
		return xmlel.New(muc.NSOwner, "query").Add(cfg.Form()), nil
	}
	if dst := q.Child(muc.NSOwner, "destroy"); dst != nil {
		alt := dst.Get("jid")
		if alt != "" {
			if _, err := jid.Parse(alt); err != nil {
				return nil, &errJIDMalformed
			}
		}
		s.destroyRoom(r, dst.ChildText(muc.NSOwner, "reason"), alt, true)
		return nil, nil
	}
	x := q.Child(muc.NSData, "x")
	if x == nil {
		return nil, &errBadRequest
	}
	if x.Get("type") == "cancel" {
		r.mu.Lock()
		locked := r.locked
		r.mu.Unlock()
		if locked { // cancelling the initial configuration destroys the room (10.1.3)
			s.destroyRoom(r, "", "", true)
		}
		return nil, nil
	}
	next, err := cfg.Apply(x)
	if err != nil {
		return nil, &stanzaErr{typ: "modify", cond: "not-acceptable", text: "The configuration form is not valid"}
	}
	persistent := next.Persistent || cfg.Persistent
	r.mu.Lock()
	if !persistent && r.rowless() {
		// A temporary room no one asked about keeps its configuration in
		// memory only (an instant room's form is most of a join into a new
		// room): its row, once wanted, is written from it. Deciding and
		// applying under one hold of r.mu keeps that row from missing it.
		s.applyConfigured(r, next)
		r.mu.Unlock()
		return nil, nil
	}
	if persistent {
		s.askRowLocked(r) // a restart keeps the room: it is stored before the answer
	}
	r.mu.Unlock()
	enc := next.Encode()
	seq := r.cfgSeq.Add(1)
	switch {
	case bytes.Equal(enc, cfg.Encode()):
		// Nothing to store (the row has it already, or is given it).
		if persistent && s.rowID(r) == 0 {
			return nil, &errInternal
		}
	case s.muc.rows.amend(r, enc):
		// The form rides in the row's own transaction.
		if persistent && s.rowID(r) == 0 {
			return nil, &errInternal
		}
	case persistent:
		if err := s.st.Write(context.Background(), r.configure(s.rowID(r), enc, seq)); err != nil {
			s.log.Warn("muc: configure", zap.Error(err))
			return nil, &errInternal
		}
	default:
		// A temporary room's row serves the API only while the room lives
		// (no restart keeps it), so the owner need not wait for this write.
		write := func(id int64) {
			s.st.WriteAsync(context.Background(), func(tx *store.Tx) error {
				err := r.configure(id, enc, seq)(tx)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					s.log.Warn("muc: configure", zap.Error(err))
				}
				return err
			})
		}
		if id := r.id.Load(); id != 0 {
			write(id)
		} else {
			go func() { write(r.waitRow()) }()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	s.applyConfigured(r, next)
	return nil, nil
}

// applyConfigured applies the owner's form: the room opens (a new room's
// first form, 10.1) or announces the change. r.mu is held.
func (s *Server) applyConfigured(r *room, next muc.Config) {
	wasLocked := r.locked
	r.locked = false
	s.applyConfig(r, next, !wasLocked)
}

// applyConfig sets a room's new configuration and what follows from it:
// status 104 to the occupants, a members-only room losing its non-members
// (322), roles of a room becoming (un)moderated. r.mu is held.
func (s *Server) applyConfig(r *room, next muc.Config, announce bool) {
	prev := r.cfg
	r.cfg = next
	if next.HistoryLength == 0 {
		r.hist = muc.History{}
	}
	if next.MembersOnly {
		for _, o := range append([]*occupant(nil), r.occ...) {
			if muc.Rank(o.aff) < muc.Rank(muc.Member) {
				s.mucRemove(r, o, xmlel.New(nsClient, "presence", "type", "unavailable"), []string{muc.StatusMembersOnly}, nil)
			}
		}
	}
	if prev.Moderated != next.Moderated {
		for _, o := range r.occ {
			if role := muc.DefaultRole(next, o.aff); role != o.role && o.role != muc.Moderator {
				o.role = role
				r.broadcastPresence(o, nil, func(bool) []string { return nil })
			}
		}
	}
	if announce && len(r.occ) > 0 {
		codes := xmlel.New(muc.NSUser, "x").Add(xmlel.New(muc.NSUser, "status", "code", muc.StatusConfigChanged))
		if prev.NonAnonymous() != next.NonAnonymous() {
			code := muc.StatusNowSemiAnon
			if next.NonAnonymous() {
				code = muc.StatusNowNonAnonymous
			}
			codes.Add(xmlel.New(muc.NSUser, "status", "code", code))
		}
		sp := splice(xmlel.New(nsClient, "message", "from", r.jid, "type", "groupchat", "id", newID()).Add(codes))
		for _, o := range r.occ {
			o.c.sendSpliced(sp, o.to)
		}
	}
}

// destroyRoom ends a room (XEP-0045 10.9): every occupant gets the
// destroy presence with reason and alternate venue; the row goes when
// deleteRow.
func (s *Server) destroyRoom(r *room, reason, alt string, deleteRow bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone {
		return
	}
	dst := xmlel.New(muc.NSUser, "destroy", "jid", alt)
	if reason != "" {
		dst.Text(muc.NSUser, "reason", reason)
	}
	for _, o := range append([]*occupant(nil), r.occ...) {
		o.pres = xmlel.New(nsClient, "presence", "type", "unavailable")
		o.role, o.aff = muc.NoRole, muc.None
		p := r.presenceOf(o, o.role, true, []string{muc.StatusSelf})
		p.Child(muc.NSUser, "x").Add(dst)
		o.c.sendSpliced(splice(p), o.to)
		o.c.trackDirected(r.jid+"/"+o.nick, false)
	}
	r.occ = nil
	s.endRoom(r, deleteRow)
}

// mucAdmin serves muc#admin: lists (XEP-0045 9.5, 9.8, 10.5) and changes
// of roles and affiliations (8.2-8.6, 9.1-9.7, 10.3-10.7).
func (s *Server) mucAdmin(r *room, c *conn, q *xmlel.Element, set bool) (*xmlel.Element, *stanzaErr) {
	req, err := muc.ParseAdmin(q, set)
	if err != nil {
		return nil, &errBadRequest
	}
	if !set {
		return s.mucAdminList(r, c, req)
	}
	ctx := context.Background()
	r.mu.Lock()
	actor := r.byFull(c.full.String())
	actorAff := r.affOf(c.bare)
	actorRole := muc.NoRole
	if actor != nil {
		actorRole = actor.role
	}
	// Check everything first: a set applies all its items or none.
	type affChange struct{ jid, aff, reason string }
	var affs []affChange
	owners := r.owners()
	for _, it := range req.Items {
		if it.IsAffChange() {
			tj, err := jid.Parse(it.JID)
			if err != nil {
				r.mu.Unlock()
				return nil, &errJIDMalformed
			}
			bare := tj.Bare().String()
			cur := r.affOf(bare)
			if !muc.MayChangeAffiliation(actorAff, cur, it.Aff) {
				r.mu.Unlock()
				return nil, &errNotAllowed
			}
			if cur == muc.Owner && it.Aff != muc.Owner {
				if owners--; owners < 1 {
					r.mu.Unlock()
					return nil, &stanzaErr{typ: "cancel", cond: "conflict", text: "A room needs an owner"}
				}
			}
			affs = append(affs, affChange{bare, it.Aff, it.Reason})
			continue
		}
		t := r.byNick(muc.NickKey(it.Nick))
		if t == nil {
			r.mu.Unlock()
			return nil, &stanzaErr{typ: "cancel", cond: "item-not-found", text: "Nickname is not in the room"}
		}
		if !muc.MayChangeRole(actorRole, actorAff, t.aff, t.role, it.Role) {
			r.mu.Unlock()
			return nil, &errNotAllowed
		}
	}
	r.mu.Unlock()
	if len(affs) > 0 {
		id := s.rowID(r)
		err := s.st.Write(ctx, func(tx *store.Tx) error {
			for _, a := range affs {
				if err := tx.SetRoomAffiliation(ctx, id, a.jid, a.aff, a.reason); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return nil, &errInternal
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	actorNick := ""
	if actor != nil {
		actorNick = actor.nick
	}
	for _, a := range affs {
		if a.aff == muc.None {
			delete(r.affs, a.jid)
		} else {
			r.affs[a.jid] = a.aff
		}
		s.affChanged(r, a.jid, a.reason, actorNick)
	}
	for _, it := range req.Items {
		if it.IsAffChange() {
			continue
		}
		key := muc.NickKey(it.Nick)
		extra := actorReason(actorNick, it.Reason)
		for _, t := range append([]*occupant(nil), r.occ...) { // every session under the nickname
			if t.key != key {
				continue
			}
			if it.Role == muc.NoRole {
				s.mucRemove(r, t, xmlel.New(nsClient, "presence", "type", "unavailable"), []string{muc.StatusKicked}, extra)
				continue
			}
			t.role = it.Role
			r.broadcastPresence(t, extra, func(bool) []string { return nil })
		}
	}
	return nil, nil
}

func actorReason(nick, reason string) func(item *xmlel.Element) {
	return func(item *xmlel.Element) {
		if nick != "" {
			item.Add(xmlel.New(muc.NSUser, "actor", "nick", nick))
		}
		if reason != "" {
			item.Text(muc.NSUser, "reason", reason)
		}
	}
}

// affChanged applies bare's new affiliation (in r.affs) to its occupants:
// outcasts are removed with 301, non-members of a members-only room with
// 321, the others get their new affiliation and role. r.mu is held.
func (s *Server) affChanged(r *room, bare, reason, actorNick string) {
	aff := r.affOf(bare)
	for _, o := range append([]*occupant(nil), r.occ...) {
		if o.bare != bare {
			continue
		}
		extra := actorReason(actorNick, reason)
		switch {
		case aff == muc.Outcast:
			o.aff = aff
			s.mucRemove(r, o, xmlel.New(nsClient, "presence", "type", "unavailable"), []string{muc.StatusBanned}, extra)
		case r.cfg.MembersOnly && muc.Rank(aff) < muc.Rank(muc.Member):
			o.aff = aff
			s.mucRemove(r, o, xmlel.New(nsClient, "presence", "type", "unavailable"), []string{muc.StatusAffChange}, extra)
		default:
			o.aff = aff
			if role := muc.DefaultRole(r.cfg, aff); muc.Rank(aff) >= muc.Rank(muc.Admin) || o.role != muc.Moderator {
				o.role = role
			}
			r.broadcastPresence(o, extra, func(bool) []string { return nil })
		}
	}
}

// mucAdminList answers a muc#admin get: the JIDs of an affiliation, or
// the occupants of a role (moderators, participants).
func (s *Server) mucAdminList(r *room, c *conn, req muc.AdminQuery) (*xmlel.Element, *stanzaErr) {
	r.mu.Lock()
	defer r.mu.Unlock()
	actorAff := r.affOf(c.bare)
	actor := r.byFull(c.full.String())
	out := xmlel.New(muc.NSAdmin, "query")
	for _, it := range req.Items {
		if it.IsAffChange() {
			if !muc.MayListAffiliation(actorAff, it.Aff) {
				return nil, &errForbidden
			}
			var jids []string
			for j, a := range r.affs {
				if a == it.Aff {
					jids = append(jids, j)
				}
			}
			sort.Strings(jids)
			for _, j := range jids {
				out.Add(xmlel.New(muc.NSAdmin, "item", "affiliation", it.Aff, "jid", j))
			}
			continue
		}
		if actor == nil || actor.role != muc.Moderator {
			return nil, &errForbidden
		}
		for _, o := range r.occ {
			if o.role == it.Role {
				out.Add(xmlel.New(muc.NSAdmin, "item", "affiliation", o.aff, "role", o.role, "nick", o.nick, "jid", o.fullJID))
			}
		}
	}
	return out, nil
}

// mucRegister registers a nickname with the domain's service (XEP-0045
// 7.10), at the service or at a room: a registered nickname is its
// owner's in every room of the service.
func (s *Server) mucRegister(c *conn, q *xmlel.Element, set bool, d modcfg.Domain) (*xmlel.Element, *stanzaErr) {
	ctx := context.Background()
	if c.anon {
		return nil, &errNotAllowed
	}
	if !set {
		nick, err := s.st.RoomNick(ctx, d.ID, c.bare)
		if err != nil {
			return nil, &errInternal
		}
		out := xmlel.New(muc.NSRegister, "query")
		if nick != "" {
			return out.Add(xmlel.New(muc.NSRegister, "registered")).Text(muc.NSRegister, "username", nick), nil
		}
		x := xmlel.New(muc.NSData, "x", "type", "form").Add(formTypeField("http://jabber.org/protocol/muc#register"))
		x.Add(xmlel.New(muc.NSData, "field", "var", "muc#register_roomnick", "type", "text-single", "label", "Nickname").
			Add(xmlel.New(muc.NSData, "required")))
		return out.Text(muc.NSRegister, "instructions", "Enter the nickname you want to register").Add(x), nil
	}
	if q.Child(muc.NSRegister, "remove") != nil {
		err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.UnregisterRoomNick(ctx, d.ID, c.bare) })
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, &errInternal
		}
		return nil, nil
	}
	nick := q.ChildText(muc.NSRegister, "username")
	if x := q.Child(muc.NSData, "x"); x != nil {
		fields, err := pubsub.Fields(x, "http://jabber.org/protocol/muc#register")
		if err != nil || len(fields["muc#register_roomnick"]) != 1 {
			return nil, &errBadRequest
		}
		nick = fields["muc#register_roomnick"][0]
	}
	nick, err := muc.PrepareNick(nick)
	if err != nil {
		return nil, &errNotAcceptable
	}
	err = s.st.Write(ctx, func(tx *store.Tx) error { return tx.RegisterRoomNick(ctx, d.ID, c.bare, nick) })
	switch {
	case errors.Is(err, store.ErrNickTaken):
		return nil, &stanzaErr{typ: "cancel", cond: "conflict", text: "That nickname is registered by another person"}
	case err != nil:
		return nil, &errInternal
	}
	return nil, nil
}

// mucServiceRegister is jabber:iq:register at the service's JID.
func mucServiceRegister(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	return s.mucRegister(r.c, r.q, r.typ == "set", r.dom)
}
