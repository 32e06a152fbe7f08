package xmppcore

import (
	"context"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/archive"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/muc"
)

// mucMessage takes a message to a room (groupchat, subject, invitations)
// or to an occupant (a private message).
func (s *Server) mucMessage(m *xmlel.Element, from, to jid.JID, d modcfg.Domain) {
	typ := msgType(m)
	if typ == "error" {
		return
	}
	r, err := s.roomOf(d, roomName(to))
	if err != nil {
		s.mucErr(m, errInternal)
		return
	}
	if r == nil {
		s.mucErr(m, errItemNotFound)
		return
	}
	if to.Resourcepart() != "" {
		s.mucPrivate(r, m, from, to, d)
		return
	}
	if typ == "groupchat" {
		s.mucGroupchat(r, m, from, d)
		return
	}
	if x := m.Child(muc.NSUser, "x"); x != nil {
		if x.Child(muc.NSUser, "invite") != nil {
			s.mucInvite(r, m, from, x, d)
			return
		}
		if dec := x.Child(muc.NSUser, "decline"); dec != nil {
			s.mucDecline(r, m, from, dec)
			return
		}
	}
	// Voice requests (XEP-0045 7.13) and anything else to the room.
	s.mucErr(m, errFeatureNotImpl)
}

// mucGroupchat broadcasts an occupant's message, or sets the subject
// (XEP-0045 7.4, 8.1).
func (s *Server) mucGroupchat(r *room, m *xmlel.Element, from jid.JID, d modcfg.Domain) {
	r.mu.Lock()
	defer r.mu.Unlock()
	o := r.byFull(from.String())
	if o == nil || r.gone {
		s.mucErr(m, errMucNotOccupant)
		return
	}
	if o.role == muc.Visitor {
		s.mucErr(m, errMucNoVoice)
		return
	}
	subj := m.Child(nsClient, "subject")
	if subj != nil && m.Child(nsClient, "body") == nil {
		if !muc.MayChangeSubject(r.cfg, o.role) {
			s.mucErr(m, stanzaErr{typ: "auth", cond: "forbidden", text: "Only moderators are allowed to change the subject in this room"})
			return
		}
		text := subj.InnerText()
		if len(text) > muc.MaxSubjectLen {
			s.mucErr(m, errNotAcceptable)
			return
		}
		ctx := context.Background()
		// A room without a row keeps its subject in memory (its row, once
		// wanted, is written with it); one whose row is on its way waits.
		id := r.id.Load()
		if id == 0 && r.stored != nil {
			id = r.waitRow()
		}
		if id != 0 {
			if err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.SetRoomSubject(ctx, id, text, o.nick) }); err != nil {
				s.mucErr(m, errInternal)
				return
			}
		}
		r.subject, r.subjectBy = text, o.nick
	}
	out := xmlel.New(nsClient, "message", "from", r.jid+"/"+o.nick, "type", "groupchat")
	if id := m.Get("id"); id != "" {
		out.Set("id", id)
	}
	for _, a := range m.Attr {
		if a.Name.Space == xmlel.XMLNS && a.Name.Local == "lang" {
			out.Attr = append(out.Attr, a)
		}
	}
	for _, ch := range m.Elements() {
		if ch.Name.Space == archive.NSSID && ch.Name.Local == "stanza-id" && ch.Get("by") == r.jid {
			continue // only the room says what its stanza-ids are
		}
		out.Add(ch)
	}
	now := time.Now()
	sid := s.mucArchive(r, o, out, now, d)
	out.Add(xmlel.New(archive.NSSID, "stanza-id", "id", sid, "by", r.jid))
	sp := splice(out)
	for _, t := range r.occ {
		t.c.sendSpliced(sp, t.to)
	}
	switch {
	case subj != nil:
		s.mucSubNotify(r, subNodeSubject, out)
	case out.Child(nsClient, "body") != nil:
		s.mucSubNotify(r, subNodeMessages, out)
	}
	if r.cfg.HistoryLength > 0 && subj == nil && out.Child(nsClient, "body") != nil {
		// The history copy is the broadcast bytes with the XEP-0203 delay
		// added before the closing tag: no second serialisation.
		end := len(sp.b) - len("</message>")
		delay := xmlel.New(nsDelay, "delay", "from", r.jid, "stamp", now.UTC().Format("2006-01-02T15:04:05Z")).Bytes(nsClient)
		b := make([]byte, 0, len(sp.b)+len(delay))
		b = append(append(append(b, sp.b[:end]...), delay...), sp.b[end:]...)
		r.hist.Add(muc.Entry{Time: now, Nick: o.nick, Stanza: b, Chars: len(b)}, r.cfg.HistoryLength)
	}
	s.mucTouch(r)
}

// mucPrivate relays a private message between occupants (XEP-0045 7.5),
// as allowpm lets the sender. The recipient's sessions under that nick
// get it from room/sender; carbons copy it (XEP-0280 6: a MUC private
// message carries <x xmlns='…muc#user'/>).
func (s *Server) mucPrivate(r *room, m *xmlel.Element, from, to jid.JID, d modcfg.Domain) {
	typ := msgType(m)
	r.mu.Lock()
	o := r.byFull(from.String())
	var t *occupant
	if o != nil {
		t = r.byNick(muc.NickKey(to.Resourcepart()))
	}
	var bad *stanzaErr
	switch {
	case o == nil:
		bad = &errMucNotOccupant
	case typ == "groupchat":
		bad = &stanzaErr{typ: "modify", cond: "bad-request", text: "It is not allowed to send private messages of type groupchat"}
	case t == nil:
		bad = &errMucNoSuchNick
	case !muc.MayPM(r.cfg, o.role):
		bad = &errMucNoPM
	}
	if bad != nil {
		r.mu.Unlock()
		s.mucErr(m, *bad)
		return
	}
	// Every session under the nickname gets it (an account's sessions may
	// share one); carbons copy it to the recipient's other sessions.
	type dest struct {
		c    *conn
		full string
	}
	var dests []dest
	for _, x := range r.occ {
		if x.key == t.key && x.bare == t.bare {
			dests = append(dests, dest{x.c, x.fullJID})
		}
	}
	occJID, tbare := r.jid+"/"+o.nick, t.bare
	r.mu.Unlock()
	var got []*conn
	for _, d := range dests {
		out := m.Copy()
		out.Set("from", occJID)
		out.Set("to", d.full)
		if out.Child(muc.NSUser, "x") == nil {
			out.Add(xmlel.New(muc.NSUser, "x"))
		}
		d.c.sendEl(out)
		got = append(got, d.c)
	}
	if td, ok := s.hosted(dests[0].c.domain().FQDN); ok {
		out := m.Copy()
		out.Set("from", occJID)
		out.Set("to", tbare)
		if out.Child(muc.NSUser, "x") == nil {
			out.Add(xmlel.New(muc.NSUser, "x"))
		}
		s.carbonsReceived(out, td, tbare, got...)
	}
}

// mucInvite sends a mediated invitation (XEP-0045 7.8.2) from the room;
// in a members-only room an invitation by an admin or owner (or by anyone
// the room lets invite) makes the invitee a member.
func (s *Server) mucInvite(r *room, m *xmlel.Element, from jid.JID, x *xmlel.Element, d modcfg.Domain) {
	r.mu.Lock()
	o := r.byFull(from.String())
	if o == nil {
		r.mu.Unlock()
		s.mucErr(m, errMucNotOccupant)
		return
	}
	if !muc.MayInvite(r.cfg, o.aff, o.role) {
		r.mu.Unlock()
		s.mucErr(m, stanzaErr{typ: "auth", cond: "forbidden", text: "Invitations are not allowed in this conference"})
		return
	}
	cfg, rjid := r.cfg, r.jid
	r.mu.Unlock()
	var rid int64
	if cfg.MembersOnly { // an invitation makes the invitee a member, stored by the room's row
		rid = s.rowID(r)
	}
	ctx := context.Background()
	for _, inv := range x.Elements() {
		if inv.Name.Local != "invite" {
			continue
		}
		tj, err := jid.Parse(inv.Get("to"))
		if err != nil || inv.Get("to") == "" {
			s.mucErr(m, errJIDMalformed)
			return
		}
		if cfg.MembersOnly && rid != 0 {
			bare := tj.Bare().String()
			r.mu.Lock()
			cur := r.affOf(bare)
			r.mu.Unlock()
			if muc.Rank(cur) < muc.Rank(muc.Member) && cur != muc.Outcast {
				if err := s.st.Write(ctx, func(tx *store.Tx) error {
					return tx.SetRoomAffiliation(ctx, rid, bare, muc.Member, "")
				}); err == nil {
					r.mu.Lock()
					r.affs[bare] = muc.Member
					r.mu.Unlock()
				}
			}
		}
		ux := xmlel.New(muc.NSUser, "x")
		in := xmlel.New(muc.NSUser, "invite", "from", from.String())
		if reason := inv.ChildText(muc.NSUser, "reason"); reason != "" {
			in.Text(muc.NSUser, "reason", reason)
		}
		ux.Add(in)
		if cfg.Password != "" {
			ux.Text(muc.NSUser, "password", cfg.Password)
		}
		out := xmlel.New(nsClient, "message", "from", rjid, "to", tj.String(), "id", newID()).Add(ux)
		// XEP-0249's element too, as ejabberd adds it for clients that read only that.
		out.Add(xmlel.New(muc.NSConfInv, "x", "jid", rjid))
		s.routeMessage(out, jid.MustParse(rjid), tj)
	}
}

// mucDecline forwards an invitee's decline to the inviter (XEP-0045 7.8.2).
func (s *Server) mucDecline(r *room, m *xmlel.Element, from jid.JID, dec *xmlel.Element) {
	tj, err := jid.Parse(dec.Get("to"))
	if err != nil || dec.Get("to") == "" {
		s.mucErr(m, errJIDMalformed)
		return
	}
	d := xmlel.New(muc.NSUser, "decline", "from", from.Bare().String())
	if reason := dec.ChildText(muc.NSUser, "reason"); reason != "" {
		d.Text(muc.NSUser, "reason", reason)
	}
	out := xmlel.New(nsClient, "message", "from", r.jid, "to", tj.String(), "id", newID()).Add(xmlel.New(muc.NSUser, "x").Add(d))
	s.routeMessage(out, jid.MustParse(r.jid), tj)
}
