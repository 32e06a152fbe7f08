package xmppcore

import (
	"context"
	"slices"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/privacy"
	"github.com/xmppgate/xmppgate/xmppcore/pubsub"
)

// Cluster is what the router needs from the other nodes serving the same
// store (package cluster implements it over NATS; docs/scale-out.md). A
// server without one (Config.Cluster nil) runs alone: every lookup below
// is skipped, so one node pays nothing for it.
type Cluster interface {
	// Remote returns the sessions of a bare JID that other nodes hold.
	Remote(bare string) []RemoteSession
	// Announce tells the other nodes that a local session was bound,
	// changed its presence, or (gone) ended.
	Announce(s RemoteSession, gone bool)
	// Forward hands a stanza to node for local delivery there: to a full
	// JID's session, or (presence only) to a bare JID's available ones.
	// The cluster may keep stanza until it knows whether node got it
	// (Server.Undelivered): the caller must not change it afterwards.
	Forward(node, to string, stanza []byte)
	// Effect has every other node holding sessions of domain's username
	// apply e to them.
	Effect(e Effect)
	// Owner names the live node that owns key (a room's bare JID), by
	// rendezvous hashing over the nodes this one hears from; self is
	// true when it is this node.
	Owner(key string) (node string, self bool)
	// Name is this node's name.
	Name() string
	// Sessions returns every session other nodes hold on domain ("" for
	// every domain), from the directory: no round trip.
	Sessions(domain string) []RemoteSession
	// Peers names the other live nodes.
	Peers() []string
	// Ask puts q to node and waits for its answer (what Server.Answer
	// returned there), for what only that node knows: its live rooms.
	Ask(node string, q Query) ([]byte, error)
}

// Query is a question one node puts to another (Cluster.Ask), or an
// admin action on one of its sessions.
type Query struct {
	Kind     string `json:"k"`
	Domain   string `json:"d"`
	Name     string `json:"n,omitempty"` // a room's name
	Username string `json:"u,omitempty"`
	Resource string `json:"r,omitempty"`
	// Stanza is what QuerySendToSession writes to the session.
	Stanza []byte `json:"x,omitempty"`
	// Presence is what QuerySetPresence sets.
	Presence *PresenceArgs `json:"p,omitempty"`
	// SM names the hibernated session QuerySMTake and QuerySMDone are about.
	SM *SMQuery `json:"sm,omitempty"`
}

// PresenceArgs are set_presence's arguments past the session's address.
type PresenceArgs struct {
	Type     string `json:"t,omitempty"`
	Show     string `json:"sh,omitempty"`
	Status   string `json:"st,omitempty"`
	Priority int    `json:"pr,omitempty"`
}

// RemoteSession is one bound session as the nodes tell each other about it.
type RemoteSession struct {
	Node      string `json:"n,omitempty"`
	JID       string `json:"j"` // full JID
	Available bool   `json:"a,omitempty"`
	Priority  int    `json:"p,omitempty"`
	// Presence is the session's last available presence as its contacts
	// got it (no to); probes are answered from it on any node.
	Presence []byte `json:"s,omitempty"`
	// What the session listings show (connected_users_info and its
	// kin): the transport as ejabberd names it, the client's address,
	// TLS, when it connected (Unix ms), SASL ANONYMOUS; Carbons: the
	// session enabled XEP-0280, so carbons are sent to it from any node.
	Transport string `json:"t,omitempty"`
	IP        string `json:"ip,omitempty"`
	Port      int    `json:"pt,omitempty"`
	TLS       bool   `json:"tls,omitempty"`
	Since     int64  `json:"c,omitempty"`
	Anonymous bool   `json:"an,omitempty"`
	Carbons   bool   `json:"cb,omitempty"`
}

// The kinds of Effect: what the worker asks of a user's sessions.
const (
	EffectKick     = "kick"     // Kick (Resource, Reason)
	EffectGone     = "gone"     // UserGone
	EffectPassword = "password" // PasswordChanged
	EffectRoster   = "roster"   // RosterChanged (Contact)
	EffectPush     = "push"     // a roster push after a subscription change (Contact)
	EffectConflict = "conflict" // the full JID (Resource) was bound on another node
	EffectOffline  = "offline"  // a message was stored offline: drain it to an available session
)

// Effect is one worker effect carried to the nodes holding the user's sessions.
type Effect struct {
	Kind     string `json:"k"`
	Domain   string `json:"d"`
	Username string `json:"u"`
	Resource string `json:"r,omitempty"`
	Reason   string `json:"why,omitempty"`
	Contact  string `json:"c,omitempty"`
}

// remoteOf returns the sessions of bare on other nodes (nil alone).
func (s *Server) remoteOf(bare string) []RemoteSession {
	if s.cfg.Cluster == nil {
		return nil
	}
	return s.cfg.Cluster.Remote(bare)
}

// remoteAvailable returns the remote sessions of bare that sent available presence.
func (s *Server) remoteAvailable(bare string) []RemoteSession {
	out := s.remoteOf(bare)
	n := 0
	for _, r := range out {
		if r.Available {
			out[n] = r
			n++
		}
	}
	return out[:n]
}

// remoteNodes returns the nodes holding available (or, all, any) sessions of bare.
func (s *Server) remoteNodes(bare string, all bool) []string {
	var nodes []string
	for _, r := range s.remoteOf(bare) {
		if (all || r.Available) && !slices.Contains(nodes, r.Node) {
			nodes = append(nodes, r.Node)
		}
	}
	return nodes
}

// remoteSession finds the node holding a full JID's session elsewhere.
func (s *Server) remoteSession(full jid.JID) (RemoteSession, bool) {
	if s.cfg.Cluster == nil {
		return RemoteSession{}, false
	}
	want := full.String()
	for _, r := range s.cfg.Cluster.Remote(full.Bare().String()) {
		if r.JID == want {
			return r, true
		}
	}
	return RemoteSession{}, false
}

// forwardFull hands st to the node holding the full JID to, if another does.
func (s *Server) forwardFull(to jid.JID, st *xmlel.Element) bool {
	r, ok := s.remoteSession(to)
	if ok {
		s.cfg.Cluster.Forward(r.Node, r.JID, st.Bytes(nsClient))
	}
	return ok
}

// toAvailable sends b to the available sessions of bare on every node.
func (s *Server) toAvailable(bare string, b []byte) {
	for _, t := range s.availableOf(bare) {
		t.send(b)
	}
	for _, n := range s.remoteNodes(bare, false) {
		s.cfg.Cluster.Forward(n, bare, b)
	}
}

// boundSessions lists this node's bound sessions.
func (s *Server) boundSessions() []*conn {
	s.mu.RLock()
	defer s.mu.RUnlock()
	var conns []*conn
	for _, a := range s.accounts {
		for _, c := range a.sessions {
			conns = append(conns, c)
		}
	}
	return conns
}

// announce tells the other nodes the state of a local session.
func (s *Server) announce(c *conn, gone bool) {
	if s.cfg.Cluster == nil {
		return
	}
	r := RemoteSession{JID: c.full.String()}
	if !gone {
		r = s.directoryEntry(c)
	}
	s.cfg.Cluster.Announce(r, gone)
}

// LocalSessions lists this node's bound sessions for a node that joined
// (or came back) and asks for them.
func (s *Server) LocalSessions() []RemoteSession {
	conns := s.boundSessions()
	out := make([]RemoteSession, 0, len(conns))
	for _, c := range conns {
		out = append(out, s.directoryEntry(c))
	}
	return out
}

// directoryEntry is what the other nodes' directories hold of c. The
// caller must not hold s.mu (carbons is guarded by it).
func (s *Server) directoryEntry(c *conn) RemoteSession {
	s.mu.RLock()
	carbons := c.carbons
	s.mu.RUnlock()
	c.wmu.Lock() // a resumption moves these to the new transport's
	kind, tlsOn, ip, port := c.kind, c.tlsOn, c.ip, c.port
	c.wmu.Unlock()
	c.smu.Lock()
	defer c.smu.Unlock()
	return RemoteSession{JID: c.full.String(), Available: c.available, Priority: c.priority, Presence: c.presence,
		Transport: kind, IP: ip, Port: port, TLS: tlsOn, Since: c.connected.UnixMilli(), Anonymous: c.anon, Carbons: carbons}
}

// FromNode delivers a stanza another node routed here, to the local
// session of a full JID or (presence) the local available sessions of a
// bare JID. It never routes further: the sending node already chose this
// one, so two nodes can never bounce a stanza between them.
func (s *Server) FromNode(to string, raw []byte) {
	// In jabber:client, as a local client's stanza reads (its <body/>
	// decides offline storage and carbons).
	st, err := parseClient(raw)
	if err != nil {
		s.log.Warn("cluster: unparsable stanza from another node")
		return
	}
	tj, err := jid.Parse(to)
	if err != nil {
		return
	}
	from, _ := jid.Parse(st.Get("from"))
	if st.Name.Space == nsClusterRoom {
		s.roomEffect(st, tj)
		return
	}
	d, ok := s.hosted(tj.Domainpart())
	if !ok {
		s.fromNodeToRoom(st, tj)
		return
	}
	bare := tj.Bare().String()
	if tj.Resourcepart() == "" {
		if st.Name.Local != "presence" {
			return
		}
		for _, t := range s.availableOf(bare) {
			if !s.privacyDenies(t, privacy.PresenceIn, from) {
				t.send(raw)
			}
		}
		return
	}
	t := s.session(tj)
	switch st.Name.Local {
	case "message":
		// A PEP event (from an account's bare JID, not a pubsub service's
		// explicit subscription) goes only to clients that asked (+notify).
		if node, ok := pepEventNode(st); ok && t != nil && from.Localpart() != "" && from.Resourcepart() == "" && !t.wantsNode(node) {
			return
		}
		switch {
		case t != nil && !s.privacyDenies(t, privacy.Message, from):
			t.send(raw)
			s.carbonsReceived(st, d, bare, t)
			s.pushHibernated(st, d, bare, t)
		case t == nil && (msgType(st) == "chat" || msgType(st) == "normal"):
			// The session ended while the message was on its way.
			s.storeOffline(st, d, bare, tj.Localpart(), store.User{})
		}
	case "presence":
		if t != nil && !s.privacyDenies(t, privacy.PresenceIn, from) {
			t.send(raw)
		}
	case "iq":
		if t != nil && !s.privacyDenies(t, privacy.IQ, from) {
			t.send(raw)
		} else if typ := st.Get("type"); typ == "get" || typ == "set" {
			// The asker is on another node (or server): the error goes
			// back the way the query came.
			if e := iqError(st, "", "", errServiceUnavailable); !s.forwardFull(from, e) {
				s.bounce(st, errServiceUnavailable)
			}
		}
	}
}

// Undelivered is told that a stanza this node forwarded (Cluster.Forward)
// to gone's node, for gone.JID, reached no one: the node died or lost
// NATS, and the cluster has dropped its sessions already (and told their
// contacts, NodeLost). What the node would have done had the session
// ended while the stanza was on its way is done here, against what is
// left of the user, as XEP-0198's unacked stanzas are: a chat or normal
// message is routed again to the address its sender gave, which now finds
// the user's other resources or offline storage (a full JID's resource
// being gone, RFC 6121 8.5.3.2.1, by the rules routeMessage applies);
// an IQ request is answered with service-unavailable; a message or an IQ
// for a room goes to the room's new owner. Copies of a user's traffic
// (carbons), other messages, presences (the dead node's users are
// unavailable now; the other resources got their own copies) and room
// presences (NodesChanged tells the room's local occupants to rejoin) are
// dropped.
func (s *Server) Undelivered(gone RemoteSession, raw []byte) {
	st, err := parseClient(raw)
	if err != nil || st.Name.Space != nsClient {
		return // or a room change the API made: the new owner reads the room from the store
	}
	to, err := jid.Parse(gone.JID)
	if err != nil {
		return
	}
	from, _ := jid.Parse(st.Get("from"))
	if _, ok := s.hosted(to.Domainpart()); !ok {
		svc, d, ok := s.serviceAt(to.Domainpart())
		if ok && svc.module == modcfg.Muc && to.Localpart() != "" && st.Name.Local != "presence" {
			mucEntity(s, st, from, to, d)
		}
		return
	}
	switch st.Name.Local {
	case "message":
		typ := msgType(st)
		if (typ != "chat" && typ != "normal") || isCarbon(st) {
			return
		}
		addr, err := jid.Parse(st.Get("to"))
		if err != nil || !addr.Bare().Equal(to.Bare()) {
			return
		}
		// Sent to the bare JID (or to a full JID no one held): the
		// resources of the highest priority got it, gone among them.
		if !addr.Equal(to) && s.gotToo(addr.Bare().String(), gone) {
			return
		}
		s.routeMessageAgain(st, from, addr)
	case "iq":
		if typ := st.Get("type"); typ == "get" || typ == "set" {
			if e := iqError(st, "", "", errServiceUnavailable); !s.forwardFull(from, e) {
				s.bounce(st, errServiceUnavailable)
			}
		}
	}
}

// isCarbon says whether m is a carbon copy (XEP-0280) of a user's message.
func isCarbon(m *xmlel.Element) bool {
	return m.Child(nsCarbons, "received") != nil || m.Child(nsCarbons, "sent") != nil
}

// gotToo says whether a message to bare, which went to gone as one of the
// resources of the highest priority, also went to an available resource
// still there: one of the same priority or higher (a message to the bare
// JID goes to all of them).
func (s *Server) gotToo(bare string, gone RemoteSession) bool {
	if !gone.Available || gone.Priority < 0 {
		return false
	}
	for _, t := range s.availableOf(bare) {
		t.smu.Lock()
		p := t.priority
		t.smu.Unlock()
		if p >= gone.Priority {
			return true
		}
	}
	for _, r := range s.remoteAvailable(bare) {
		if r.Priority >= gone.Priority {
			return true
		}
	}
	return false
}

// ApplyEffect applies a worker effect another node sent to this node's
// sessions of the user; like FromNode it never goes further.
func (s *Server) ApplyEffect(e Effect) {
	switch e.Kind {
	case EffectKick:
		s.kickLocal(e.Domain, e.Username, e.Resource, e.Reason)
	case EffectGone:
		s.userGoneLocal(e.Domain, e.Username)
	case EffectPassword:
		s.passwordChangedLocal(e.Domain, e.Username)
	case EffectRoster:
		s.rosterChangedLocal(e.Domain, e.Username, e.Contact, true)
	case EffectPush:
		s.rosterChangedLocal(e.Domain, e.Username, e.Contact, false)
	case EffectOffline:
		s.drainOffline(e.Username + "@" + e.Domain)
	case EffectConflict:
		for _, c := range s.match(e.Domain, e.Username) {
			if c.res == e.Resource {
				c.fail(condConflict, "replaced by a new session with the same resource")
			}
		}
	}
}

// effect sends e to the other nodes holding sessions of its user.
func (s *Server) effect(e Effect) int {
	if s.cfg.Cluster == nil {
		return 0
	}
	n := 0
	for _, r := range s.remoteOf(e.Username + "@" + e.Domain) {
		if e.Resource == "" || r.JID == e.Username+"@"+e.Domain+"/"+e.Resource {
			n++
		}
	}
	if n > 0 {
		s.cfg.Cluster.Effect(e)
	}
	return n
}

// NodeLost is told the sessions of a node whose lease ran out (it died or
// lost NATS): nobody else will say they went away, so this node tells its
// own sessions, as the dead node would have on a clean logout: the user's
// other resources, and the contacts the user's presence went to.
func (s *Server) NodeLost(gone []RemoteSession) {
	s.mucDropLost(gone)
	for _, r := range gone {
		if r.Available {
			s.remoteToContacts(r.JID, xmlel.New(nsClient, "presence", "type", "unavailable", "from", r.JID).Bytes(nsClient))
		}
	}
}

// NodeFound is told the sessions of a node heard again after its lease
// ran out (NATS came back): this node had told its sessions those users
// were unavailable, so it now shows them their presence again.
func (s *Server) NodeFound(found []RemoteSession) {
	for _, r := range found {
		if r.Available && r.Presence != nil {
			s.remoteToContacts(r.JID, r.Presence)
		}
	}
}

// remoteToContacts sends b, a presence of the remote session full, to the
// local available sessions of its user and of the contacts its presence
// goes to.
func (s *Server) remoteToContacts(full string, b []byte) {
	fj, err := jid.Parse(full)
	if err != nil {
		return
	}
	for _, t := range s.availableOf(fj.Bare().String()) {
		t.send(b)
	}
	d, ok := s.hosted(fj.Domainpart())
	if !ok {
		return
	}
	ctx := context.Background()
	u, err := s.st.UserByJID(ctx, d.FQDN, fj.Localpart())
	if err != nil {
		return
	}
	items, _, err := s.st.RosterWithShared(ctx, u)
	if err != nil {
		return
	}
	for _, it := range items {
		if !it.Visible || (it.Subscription != store.SubFrom && it.Subscription != store.SubBoth) {
			continue
		}
		for _, t := range s.availableOf(it.Contact) {
			if !s.privacyDenies(t, privacy.PresenceIn, fj) {
				t.send(b)
			}
		}
	}
}

// remotePresences sends to c the presence of the remote available sessions
// of bare (probes answered from the directory, no round trip).
func (s *Server) remotePresences(c *conn, bare string) {
	rs := s.remoteAvailable(bare)
	if len(rs) == 0 {
		return
	}
	if bj, err := jid.Parse(bare); err == nil {
		if d, ok := s.hosted(bj.Domainpart()); ok && d.On(modcfg.Blocking) {
			u, err := s.st.UserByJID(context.Background(), d.FQDN, bj.Localpart())
			if err != nil || s.blockedBy(bare, u.ID, c.full) {
				return
			}
		}
	}
	for _, r := range rs {
		if r.Presence != nil {
			c.send(r.Presence)
		}
	}
}

// pushRemote has the nodes holding other sessions of bare push contact's
// roster item to them after a change made here.
func (s *Server) pushRemote(bare, contact string) {
	if s.cfg.Cluster == nil {
		return
	}
	if bj, err := jid.Parse(bare); err == nil {
		s.effect(Effect{Kind: EffectPush, Domain: bj.Domainpart(), Username: bj.Localpart(), Contact: contact})
	}
}

// remoteCarbons lists the carbons-enabled sessions of bare on other nodes
// that a copy of m (kind sent or received) goes to. A message to the bare
// JID went straight to every resource of the best priority, on every
// node: those (the priority of the ones that got it here) are left out.
func (s *Server) remoteCarbons(kind string, m *xmlel.Element, bare string, got []*conn) []RemoteSession {
	if s.cfg.Cluster == nil {
		return nil
	}
	rs := s.cfg.Cluster.Remote(bare)
	skip, prio := false, 0
	if kind == "received" && len(got) > 0 && !strings.Contains(m.Get("to"), "/") {
		got[0].smu.Lock()
		skip, prio = true, got[0].priority
		got[0].smu.Unlock()
	}
	n := 0
	for _, r := range rs {
		if r.Carbons && !(skip && r.Available && r.Priority == prio) {
			rs[n] = r
			n++
		}
	}
	return rs[:n]
}

// pepForward sends a PEP event of owner to the available sessions of
// contact (owner itself, or a contact allowed to see it) on other nodes;
// each node sends it only to the sessions that asked for its node.
func (s *Server) pepForward(owner, contact string, event *xmlel.Element) {
	if s.cfg.Cluster == nil {
		return
	}
	for _, r := range s.remoteAvailable(contact) {
		m := xmlel.New(nsClient, "message", "from", owner, "to", r.JID, "type", "headline", "id", newID()).Add(event)
		s.cfg.Cluster.Forward(r.Node, r.JID, m.Bytes(nsClient))
	}
}

// pepEventNode is the node of a PEP event message (XEP-0163), if st is one.
func pepEventNode(st *xmlel.Element) (string, bool) {
	if st.Get("type") != "headline" {
		return "", false
	}
	ev := st.Child(pubsub.NSEvent, "event")
	if ev == nil {
		return "", false
	}
	for _, ch := range ev.Elements() {
		return ch.Get("node"), true
	}
	return "", false
}

// drainOffline delivers bare's offline messages to its first available
// local session of non-negative priority, if there is one.
func (s *Server) drainOffline(bare string) bool {
	for _, t := range s.availableOf(bare) {
		t.smu.Lock()
		p := t.priority
		t.smu.Unlock()
		if p >= 0 {
			s.deliverOffline(t)
			return true
		}
	}
	return false
}

// drainElsewhere has the nodes holding sessions of bare deliver its
// offline messages to an available one, after this node stored one: a
// resource that logged in on another node meanwhile may have drained the
// queue before the message was committed (as storeOffline does for the
// local ones). It says whether another node holds an available resource,
// which then gets the message (no push notification).
func (s *Server) drainElsewhere(bare string) bool {
	if s.cfg.Cluster == nil {
		return false
	}
	rs := s.remoteOf(bare)
	if len(rs) == 0 {
		return false
	}
	if bj, err := jid.Parse(bare); err == nil {
		s.cfg.Cluster.Effect(Effect{Kind: EffectOffline, Domain: bj.Domainpart(), Username: bj.Localpart()})
	}
	for _, r := range rs {
		if r.Available && r.Priority >= 0 {
			return true
		}
	}
	return false
}
