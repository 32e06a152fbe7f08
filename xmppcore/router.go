package xmppcore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/stream"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/privacy"
)

// account is the live state of one user with at least one bound session.
type account struct {
	userID   int64
	sessions map[string]*conn // by resource
	blocked  []string         // XEP-0191 block list, loaded at the first bind
	// privDefault is the user's default XEP-0016 list, loaded at the first
	// bind; changed under s.mu (privacy.go).
	privDefault atomic.Pointer[privacy.List]
}

// register adds a bound session; it returns the session it replaces, if any.
func (s *Server) register(c *conn) (old *conn) {
	old = s.registerHere(c)
	if _, ok := s.remoteSession(c.full); ok {
		// The same full JID bound on another node: that one is replaced,
		// as a local one would be.
		s.cfg.Cluster.Effect(Effect{Kind: EffectConflict, Domain: c.full.Domainpart(), Username: c.full.Localpart(), Resource: c.res})
	}
	return old
}

// registerHere is register without replacing the full JID's session on
// another node: a session resumed here from another node (sm_cluster.go)
// is that very session, which its old node lets go of by itself.
func (s *Server) registerHere(c *conn) (old *conn) {
	var blocked []string
	var def *privacy.List
	s.mu.RLock()
	_, online := s.accounts[c.bare]
	s.mu.RUnlock()
	if !online {
		blocked, _ = s.st.BlockList(context.Background(), c.user.ID)
		def = s.loadDefaultList(c)
	}
	s.mu.Lock()
	a := s.accounts[c.bare]
	if a == nil {
		a = &account{userID: c.user.ID, sessions: map[string]*conn{}, blocked: blocked}
		s.accounts[c.bare] = a
		s.swapList(&a.privDefault, def)
	}
	old = a.sessions[c.res]
	a.sessions[c.res] = c
	s.mu.Unlock()
	s.announce(c, false)
	return old
}

// unregisterLocked takes the session c out of the server's tables (its
// carbons count, its account's sessions, its privacy lists' holders) and
// reports whether it was its user's last session here. s.mu is held.
func (s *Server) unregisterLocked(c *conn) (last bool) {
	if c.carbons {
		c.carbons = false
		s.carbons.Add(-1)
	}
	var gone *account
	if a := s.accounts[c.bare]; a != nil && a.sessions[c.res] == c {
		delete(a.sessions, c.res)
		if len(a.sessions) == 0 {
			delete(s.accounts, c.bare)
			gone = a
		}
	}
	s.privacyEnded(c, gone)
	return gone != nil
}

// sessionEnded unregisters a session, broadcasts its unavailable presence and
// records last activity when it was the user's last one.
func (s *Server) sessionEnded(c *conn) {
	s.mu.Lock()
	last := s.unregisterLocked(c)
	s.mu.Unlock()
	if s.cfg.Cluster != nil && s.session(c.full) == nil {
		s.announce(c, true)
	}
	c.smu.Lock()
	wasAvailable, status := c.available, c.status
	c.available = false
	c.smu.Unlock()
	if wasAvailable {
		p := xmlel.New(nsClient, "presence", "type", "unavailable", "from", c.full.String())
		s.broadcast(c, p)
	}
	s.directedUnavailable(c)
	if last && !c.anon { // an anonymous user has no row to record it on
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := s.st.Write(ctx, func(tx *store.Tx) error {
			return tx.SetLastActivity(ctx, c.user.ID, time.Now(), status)
		})
		if err != nil && !errors.Is(err, store.ErrClosed) {
			s.log.Warn("last activity", zap.Error(err))
		}
	}
	c.log.Info("session ended", zap.String("jid", c.full.String()))
}

// sessionsOf returns the bound sessions of a bare JID.
func (s *Server) sessionsOf(bare string) []*conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a := s.accounts[bare]
	if a == nil {
		return nil
	}
	out := make([]*conn, 0, len(a.sessions))
	for _, c := range a.sessions {
		out = append(out, c)
	}
	return out
}

// hasSessions reports whether bare has a bound session here, without
// sessionsOf's copy (once per routed message).
func (s *Server) hasSessions(bare string) bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	a := s.accounts[bare]
	return a != nil && len(a.sessions) > 0
}

// availableOf returns the sessions of bare that sent available presence.
func (s *Server) availableOf(bare string) []*conn {
	out := s.sessionsOf(bare)
	n := 0
	for _, c := range out {
		c.smu.Lock()
		if c.available {
			out[n] = c
			n++
		}
		c.smu.Unlock()
	}
	return out[:n]
}

// session returns the session bound to a full JID.
func (s *Server) session(full jid.JID) *conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if a := s.accounts[full.Bare().String()]; a != nil {
		return a.sessions[full.Resourcepart()]
	}
	return nil
}

// blockedBy reports whether the user bare blocks from (XEP-0191 matching:
// full JID, bare JID, domain/resource or domain). userID is used when the
// user is offline.
func (s *Server) blockedBy(bare string, userID int64, from jid.JID) bool {
	s.mu.RLock()
	a := s.accounts[bare]
	var list []string
	if a != nil {
		list = a.blocked
	}
	s.mu.RUnlock()
	if a == nil && userID != 0 {
		list, _ = s.st.BlockList(context.Background(), userID)
	}
	if len(list) == 0 {
		return false
	}
	cands := []string{from.String(), from.Bare().String(), from.Domainpart()}
	if r := from.Resourcepart(); r != "" {
		cands = append(cands, from.Domainpart()+"/"+r)
	}
	for _, c := range cands {
		if slices.Contains(list, c) {
			return true
		}
	}
	return false
}

func (s *Server) setBlocked(bare string, list []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if a := s.accounts[bare]; a != nil {
		a.blocked = list
	}
}

// ---- admin interface ----

// SessionInfo describes one bound session.
type SessionInfo struct {
	JID              string // full JID
	Domain, Username string
	Resource, IP     string
	Port             int
	Priority         int
	Connected        time.Time
	Status, Show     string
	TLS              bool
	Available        bool // sent available presence
	// Hibernated: the connection is lost and the session waits for its
	// XEP-0198 resumption.
	Hibernated bool
	// Transport is how the client is connected, as ejabberd names it:
	// TransportTCP ("c2s"), TransportWebSocket, TransportBOSH.
	Transport string
	// LastActive is when the client last sent a stanza or nonza (Connected
	// before the first); Anonymous: logged in with SASL ANONYMOUS.
	LastActive time.Time
	Anonymous  bool
	// Node is the cluster node holding the session (ClusterSessions; ""
	// from Sessions, and alone); Remote: another node holds it.
	Node   string
	Remote bool
}

func (s *Server) match(domain, username string) []*conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var out []*conn
	for bare, a := range s.accounts {
		l, d, _ := strings.Cut(bare, "@")
		if (domain != "" && d != domain) || (username != "" && l != username) {
			continue
		}
		for _, c := range a.sessions {
			// A session whose stream is closed is over, though its serve
			// goroutine may not have unregistered it yet: a kicked session
			// must not be counted (or kicked) again. A hibernated one
			// (XEP-0198) is still there, and kicks must reach it.
			if c.live() {
				out = append(out, c)
			}
		}
	}
	return out
}

// Sessions lists the bound sessions of a domain and user ("" matches all),
// sorted by JID.
func (s *Server) Sessions(domain, username string) []SessionInfo {
	var out []SessionInfo
	for _, c := range s.match(domain, username) {
		out = append(out, c.info())
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return strings.Compare(a.JID, b.JID) })
	return out
}

// OnlineCount returns the number of bound sessions on domain ("" = all).
func (s *Server) OnlineCount(domain string) int { return len(s.match(domain, "")) }

// Kick closes the sessions of a user (resource "" = all of them) on every
// node with a policy-violation stream error carrying reason; it returns
// how many.
func (s *Server) Kick(domain, username, resource, reason string) int {
	if username == "" {
		return 0
	}
	if reason == "" {
		reason = "kicked by administrator"
	}
	n := s.effect(Effect{Kind: EffectKick, Domain: domain, Username: username, Resource: resource, Reason: reason})
	return n + s.kickLocal(domain, username, resource, reason)
}

func (s *Server) kickLocal(domain, username, resource, reason string) int {
	n := 0
	for _, c := range s.match(domain, username) {
		if resource == "" || c.res == resource {
			c.fail(condPolicyViolation, reason)
			n++
		}
	}
	return n
}

// UserGone closes every session, on every node, of a user that left
// active or was removed.
func (s *Server) UserGone(domain, username string) {
	s.effect(Effect{Kind: EffectGone, Domain: domain, Username: username})
	s.userGoneLocal(domain, username)
}

func (s *Server) userGoneLocal(domain, username string) {
	for _, c := range s.match(domain, username) {
		c.fail(condNotAuthorized, "account disabled or removed")
	}
}

// PasswordChanged closes the user's sessions on every node; they must
// log in anew.
func (s *Server) PasswordChanged(domain, username string) {
	s.effect(Effect{Kind: EffectPassword, Domain: domain, Username: username})
	s.passwordChangedLocal(domain, username)
}

func (s *Server) passwordChangedLocal(domain, username string) {
	for _, c := range s.match(domain, username) {
		c.fail(stream.Reset, "password changed")
	}
}

// SendStanza routes a stanza as the server; raw must be one <message/>,
// <presence/> or <iq/> (namespace jabber:client or none) with from and to.
func (s *Server) SendStanza(ctx context.Context, raw []byte) error {
	el, err := xmlel.Parse([]byte("<w xmlns='" + nsClient + "'>" + string(raw) + "</w>"))
	if err != nil {
		return fmt.Errorf("xmppcore: stanza: %w", err)
	}
	kids := el.Elements()
	if len(kids) != 1 || strings.TrimSpace(el.InnerText()) != "" {
		return errors.New("xmppcore: stanza: want exactly one element")
	}
	st := kids[0]
	if st.Name.Space != nsClient || (st.Name.Local != "message" && st.Name.Local != "presence" && st.Name.Local != "iq") {
		return errors.New("xmppcore: stanza: not a message, presence or iq")
	}
	from, err := jid.Parse(st.Get("from"))
	if err != nil || st.Get("from") == "" {
		return errors.New("xmppcore: stanza: invalid or missing from")
	}
	to, err := jid.Parse(st.Get("to"))
	if err != nil || st.Get("to") == "" {
		return errors.New("xmppcore: stanza: invalid or missing to")
	}
	st.Set("from", from.String())
	st.Set("to", to.String())
	return s.routeFromServer(st, from, to)
}

// SendMessage sends a message as from (any JID) to a local JID.
func (s *Server) SendMessage(ctx context.Context, from, to, typ, subject, body string) error {
	fj, err := jid.Parse(from)
	if err != nil || from == "" {
		return errors.New("xmppcore: invalid from")
	}
	tj, err := jid.Parse(to)
	if err != nil || to == "" {
		return errors.New("xmppcore: invalid to")
	}
	if typ == "" {
		typ = "normal"
	}
	m := xmlel.New(nsClient, "message", "from", fj.String(), "to", tj.String(), "type", typ, "id", newID())
	if subject != "" {
		m.Text(nsClient, "subject", subject)
	}
	if body != "" {
		m.Text(nsClient, "body", body)
	}
	return s.routeFromServer(m, fj, tj)
}

func (s *Server) routeFromServer(st *xmlel.Element, from, to jid.JID) error {
	if _, ok := s.hosted(to.Domainpart()); !ok {
		return errors.New("xmppcore: recipient domain is not hosted here")
	}
	switch st.Name.Local {
	case "message":
		s.routeMessage(st, from, to)
	case "presence":
		s.deliverPresence(st, from, to)
	case "iq":
		if to.Resourcepart() == "" {
			return errors.New("xmppcore: iq needs a full JID")
		}
		t := s.session(to)
		if t == nil {
			if s.forwardFull(to, st) {
				return nil
			}
			return errors.New("xmppcore: no such session")
		}
		t.sendEl(st)
	}
	return nil
}

// RosterChanged re-reads one roster item of a user from the store and pushes
// it (or its removal) to the user's sessions, on every node, that asked
// for the roster.
func (s *Server) RosterChanged(domain, username, contact string) {
	s.effect(Effect{Kind: EffectRoster, Domain: domain, Username: username, Contact: contact})
	s.rosterChangedLocal(domain, username, contact, true)
}

// rosterChangedLocal is RosterChanged for this node's sessions; shared
// also follows a shared-group change with presence.
func (s *Server) rosterChangedLocal(domain, username, contact string, shared bool) {
	bare := username + "@" + domain
	if len(s.sessionsOf(bare)) == 0 {
		return
	}
	ctx := context.Background()
	u, err := s.st.UserByJID(ctx, domain, username)
	if err != nil {
		return
	}
	if cj, err := jid.Parse(contact); err == nil {
		contact = cj.Bare().String()
	}
	it, err := s.st.RosterItemWithShared(ctx, u, contact)
	ver, _ := s.st.RosterVersion(ctx, u.ID)
	if err != nil || !it.Visible {
		s.pushRoster(bare, store.RosterItem{Contact: contact}, true, ver)
	} else {
		s.pushRoster(bare, it, false, ver)
	}
	if shared {
		s.sharedPresence(ctx, u, bare, contact, err == nil && it.Visible)
	}
}
