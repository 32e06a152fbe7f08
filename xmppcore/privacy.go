package xmppcore

import (
	"context"
	"errors"
	"sync/atomic"

	"go.uber.org/zap"
	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/privacy"
)

// XEP-0016 Privacy Lists, as ejabberd 23.01's mod_privacy applies them.
// A session's list in force is its active list, else its user's default
// list; both are kept parsed in memory (conn.privActive, account.privDefault)
// and s.privacy counts them, so routing costs one atomic load while no
// list is in use anywhere.

// errPrivacyOut is ejabberd's answer to a stanza the sender's own list
// stops (XEP-0016 2.14 leaves the condition open).
var errPrivacyOut = stanzaErr{typ: "modify", cond: "not-acceptable", text: "Your active privacy list has denied the routing of this stanza."}

// swapList sets *p to l and keeps s.privacy counting the lists in use;
// the caller holds s.mu.
func (s *Server) swapList(p *atomic.Pointer[privacy.List], l *privacy.List) {
	switch old := p.Swap(l); {
	case old == nil && l != nil:
		s.privacy.Add(1)
	case old != nil && l == nil:
		s.privacy.Add(-1)
	}
}

// loadDefaultList reads a user's default list when the account comes
// online; nil when there is none (or the module is off on the domain).
func (s *Server) loadDefaultList(c *conn) *privacy.List {
	if c.anon || !s.domainOf(c).On(modcfg.Privacy) {
		return nil
	}
	l, _ := s.storedList(context.Background(), c.user.ID, "")
	return l
}

// storedList reads and parses one list of a user (name "" is the default
// list); nil and ErrNotFound when there is none.
func (s *Server) storedList(ctx context.Context, userID int64, name string) (*privacy.List, error) {
	var pl store.PrivacyList
	var err error
	if name == "" {
		pl, err = s.st.DefaultPrivacyList(ctx, userID)
	} else {
		pl, err = s.st.PrivacyList(ctx, userID, name)
	}
	if err != nil {
		return nil, err
	}
	el, err := xmlel.Parse(pl.List)
	if err != nil {
		return nil, err
	}
	l, err := privacy.Parse(el)
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// listOf is the list in force for session t, nil if none.
func (s *Server) listOf(t *conn) *privacy.List {
	if l := t.privActive.Load(); l != nil {
		return l
	}
	s.mu.RLock()
	a := s.accounts[t.bare]
	s.mu.RUnlock()
	if a == nil {
		return nil
	}
	return a.privDefault.Load()
}

// privacyExempt says whether other is beyond the lists of the user bare
// on domain: the user's own bare JID and the user's server (ejabberd).
func privacyExempt(bare, domain string, other jid.JID) bool {
	return other.Localpart() == "" && other.Domainpart() == domain ||
		other.Resourcepart() == "" && other.String() == bare
}

// allowedBy applies list l of user u (bare JID bare) to a stanza of kind k
// exchanged with other; group and subscription items read u's roster.
func (s *Server) allowedBy(l *privacy.List, u store.User, bare, domain string, k privacy.Kind, other jid.JID) bool {
	if l == nil || privacyExempt(bare, domain, other) {
		return true
	}
	return l.Allowed(k, other, func() privacy.Contact {
		it, err := s.st.RosterItemWithShared(context.Background(), u, other.Bare().String())
		if err != nil {
			return privacy.Contact{}
		}
		return privacy.Contact{Subscription: it.Subscription, Groups: it.Groups}
	})
}

// privacyDenies says whether session t's list stops a stanza of kind k
// exchanged with other. It is the check on every delivery path: one atomic
// load while no list is in use.
func (s *Server) privacyDenies(t *conn, k privacy.Kind, other jid.JID) bool {
	if s.privacy.Load() == 0 {
		return false
	}
	l := s.listOf(t)
	if l == nil || !s.domainOf(t).On(modcfg.Privacy) {
		return false
	}
	return !s.allowedBy(l, t.user, t.bare, t.domain().FQDN, k, other)
}

// presenceDenied says whether presence from session src may not reach
// session dst: src's presence-out or dst's presence-in stops it.
func (s *Server) presenceDenied(src, dst *conn) bool {
	if s.privacy.Load() == 0 || src.bare == dst.bare {
		return false
	}
	return s.privacyDenies(src, privacy.PresenceOut, dst.full) || s.privacyDenies(dst, privacy.PresenceIn, src.full)
}

// privacyOut checks a stanza session c sends to to against c's list: a
// message or IQ request (only items for all kinds apply, ejabberd's
// "other") or a directed presence. A denied one is answered
// not-acceptable; true means it must not be routed.
func (s *Server) privacyOut(c *conn, st *xmlel.Element, to jid.JID) bool {
	if s.privacy.Load() == 0 || to.String() == "" {
		return false
	}
	k := privacy.Other
	if st.Name.Local == "presence" {
		switch st.Get("type") {
		case "", "unavailable":
			k = privacy.PresenceOut
		}
	}
	if !s.privacyDenies(c, k, to) {
		return false
	}
	if st.Name.Local == "iq" {
		c.sendEl(iqError(st, "", "", errPrivacyOut))
	} else {
		s.bounce(st, errPrivacyOut)
	}
	return true
}

// privacyRefuses decides, before a message to the local user bare is
// archived or delivered, whether every recipient's list stops it: the
// addressed session, else the available sessions that could take it, else
// (none) the default list that guards offline storage. A refused message
// is bounced service-unavailable (XEP-0016 2.13; ejabberd drops groupchat
// and headline denials silently). user is the offline user's row, if read.
func (s *Server) privacyRefuses(m *xmlel.Element, d modcfg.Domain, from, to jid.JID, bare string, user store.User) bool {
	if s.privacy.Load() == 0 && user.ID == 0 || !d.On(modcfg.Privacy) {
		return false
	}
	if !s.messageRefused(from, to, bare, user) {
		return false
	}
	if typ := msgType(m); typ != "groupchat" && typ != "headline" {
		s.bounce(m, errServiceUnavailable)
	}
	return true
}

func (s *Server) messageRefused(from, to jid.JID, bare string, user store.User) bool {
	if to.Resourcepart() != "" {
		if t := s.session(to); t != nil {
			return s.privacyDenies(t, privacy.Message, from)
		}
	}
	seen := false
	for _, t := range s.availableOf(bare) {
		t.smu.Lock()
		p := t.priority
		t.smu.Unlock()
		if p < 0 {
			continue
		}
		if !s.privacyDenies(t, privacy.Message, from) {
			return false
		}
		seen = true
	}
	if seen {
		return true
	}
	var l *privacy.List
	s.mu.RLock()
	a := s.accounts[bare]
	if a != nil {
		l = a.privDefault.Load()
		for _, t := range a.sessions {
			user = t.user
			break
		}
	}
	s.mu.RUnlock()
	if a == nil && user.ID != 0 {
		var err error
		if l, err = s.storedList(context.Background(), user.ID, ""); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.Warn("privacy list read", zap.Error(err))
		}
	}
	if l == nil {
		return false
	}
	return !s.allowedBy(l, user, bare, to.Domainpart(), privacy.Message, from)
}

// privacyEnded forgets the active list of a session that ends (replaced
// ones included) and the default list of its account when it was the
// last (gone); the caller holds s.mu.
func (s *Server) privacyEnded(c *conn, gone *account) {
	s.swapList(&c.privActive, nil)
	if gone != nil {
		s.swapList(&gone.privDefault, nil)
	}
}

// ---- jabber:iq:privacy ----

func privacyIQ(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	kids := r.q.Elements()
	for _, k := range kids {
		if k.Name.Space != privacy.NS {
			return nil, &errBadRequest
		}
	}
	if r.typ == "get" {
		return s.privacyGet(r, kids)
	}
	if len(kids) != 1 {
		return nil, &errBadRequest
	}
	switch k := kids[0]; k.Name.Local {
	case "active":
		return s.privacyActive(r, k.Get("name"))
	case "default":
		return s.privacyDefault(r, k.Get("name"))
	case "list":
		return s.privacySetList(r, k)
	}
	return nil, &errBadRequest
}

func (s *Server) privacyGet(r *iqReq, kids []*xmlel.Element) (*xmlel.Element, *stanzaErr) {
	ctx := context.Background()
	q := xmlel.New(privacy.NS, "query")
	switch {
	case len(kids) == 0:
		lists, err := s.st.PrivacyLists(ctx, r.c.user.ID)
		if err != nil {
			return nil, &errInternal
		}
		if l := r.c.privActive.Load(); l != nil {
			q.Add(xmlel.New(privacy.NS, "active", "name", l.Name))
		}
		for _, l := range lists {
			if l.Default {
				q.Add(xmlel.New(privacy.NS, "default", "name", l.Name))
			}
		}
		for _, l := range lists {
			q.Add(xmlel.New(privacy.NS, "list", "name", l.Name))
		}
		return q, nil
	case len(kids) > 1 || kids[0].Name.Local != "list" || kids[0].Get("name") == "":
		return nil, &errBadRequest
	}
	l, err := s.storedList(ctx, r.c.user.ID, kids[0].Get("name"))
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, &errItemNotFound
	case err != nil:
		return nil, &errInternal
	}
	return q.Add(l.Element()), nil
}

// privacyActive sets (name "": declines) the session's active list.
func (s *Server) privacyActive(r *iqReq, name string) (*xmlel.Element, *stanzaErr) {
	var l *privacy.List
	if name != "" {
		var err error
		l, err = s.storedList(context.Background(), r.c.user.ID, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, &errItemNotFound
		case err != nil:
			return nil, &errInternal
		}
	}
	s.mu.Lock()
	s.swapList(&r.c.privActive, l)
	s.mu.Unlock()
	return nil, nil
}

// privacyDefault sets (name "": declines) the user's default list. Like
// ejabberd, and unlike XEP-0016 2.4, a change while other resources are
// online is no conflict: they follow the new default at once.
func (s *Server) privacyDefault(r *iqReq, name string) (*xmlel.Element, *stanzaErr) {
	ctx := context.Background()
	err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.SetDefaultPrivacyList(ctx, r.c.user.ID, name) })
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, &errItemNotFound
	case err != nil:
		return nil, &errInternal
	}
	var l *privacy.List
	if name != "" {
		if l, err = s.storedList(ctx, r.c.user.ID, name); err != nil {
			return nil, &errInternal
		}
	}
	s.mu.Lock()
	if a := s.accounts[r.c.bare]; a != nil {
		s.swapList(&a.privDefault, l)
	}
	s.mu.Unlock()
	return nil, nil
}

// privacySetList creates, replaces or (no items) removes a list.
func (s *Server) privacySetList(r *iqReq, el *xmlel.Element) (*xmlel.Element, *stanzaErr) {
	ctx := context.Background()
	l, err := privacy.Parse(el)
	if err != nil {
		return nil, &errBadRequest
	}
	uid := r.c.user.ID
	if len(l.Items) == 0 {
		// ejabberd: the requesting session's active list and the default
		// list cannot go (conflict); another session's active list can,
		// that session falls back to the default list.
		if a := r.c.privActive.Load(); a != nil && a.Name == l.Name {
			return nil, &stanzaErr{typ: "cancel", cond: "conflict", text: "Cannot remove active list"}
		}
		var conflict bool
		err := s.st.Write(ctx, func(tx *store.Tx) error {
			pl, err := tx.PrivacyList(ctx, uid, l.Name)
			if err != nil {
				return err
			}
			if conflict = pl.Default; conflict {
				return nil
			}
			return tx.DeletePrivacyList(ctx, uid, l.Name)
		})
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil, &errItemNotFound
		case err != nil:
			return nil, &errInternal
		case conflict:
			return nil, &stanzaErr{typ: "cancel", cond: "conflict", text: "Cannot remove default list"}
		}
		s.listChanged(r.c.bare, l.Name, nil)
		return nil, nil
	}
	b := l.Element().Bytes("")
	if len(b) > privacy.MaxBytes {
		return nil, &errNotAcceptable
	}
	if err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.PutPrivacyList(ctx, uid, l.Name, b) }); err != nil {
		return nil, &errInternal
	}
	s.listChanged(r.c.bare, l.Name, &l)
	// ejabberd pushes a list that was set, not one that was removed.
	s.pushPrivacyList(r.c.bare, l.Name)
	return nil, nil
}

// listChanged puts list name's new version (nil: removed) in force for the
// user's sessions that use it, as their active list or the default.
func (s *Server) listChanged(bare, name string, l *privacy.List) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.accounts[bare]
	if a == nil {
		return
	}
	if d := a.privDefault.Load(); d != nil && d.Name == name {
		s.swapList(&a.privDefault, l)
	}
	for _, t := range a.sessions {
		if act := t.privActive.Load(); act != nil && act.Name == name {
			s.swapList(&t.privActive, l)
		}
	}
}

// PrivacyChanged puts the stored state of list name (and of the default
// list) in force for an online user after the admin API changed it
// (ejabberd's privacy_set), and pushes a list that still exists, as a
// client's set would. An offline user reads them at the next login.
func (s *Server) PrivacyChanged(domain, username, name string) {
	bare := username + "@" + domain
	s.mu.RLock()
	a := s.accounts[bare]
	s.mu.RUnlock()
	if d, ok := s.hosted(domain); a == nil || !ok || !d.On(modcfg.Privacy) {
		return // read at the next login, or when the module is switched on
	}
	ctx := context.Background()
	var l *privacy.List
	if name != "" {
		var err error
		l, err = s.storedList(ctx, a.userID, name)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return
		}
		s.listChanged(bare, name, l)
	}
	def, err := s.storedList(ctx, a.userID, "")
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return
	}
	s.mu.Lock()
	s.swapList(&a.privDefault, def)
	s.mu.Unlock()
	if l == nil {
		return
	}
	s.pushPrivacyList(bare, name)
}

// pushPrivacyList tells every session of bare that list name was set.
func (s *Server) pushPrivacyList(bare, name string) {
	push := xmlel.New(privacy.NS, "query").Add(xmlel.New(privacy.NS, "list", "name", name))
	for _, t := range s.sessionsOf(bare) {
		t.sendEl(xmlel.New(nsClient, "iq", "type", "set", "id", "push-"+newID(), "from", bare, "to", t.full.String()).Add(push))
	}
}
