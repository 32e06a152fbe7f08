package xmppcore

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"go.uber.org/zap"
	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/xmppcore/privacy"
	"github.com/xmppgate/xmppgate/xmppcore/pubsub"
	"github.com/xmppgate/xmppgate/xmppcore/smacks"
)

// XEP-0198 resumption across the nodes of a cluster (docs/scale-out.md):
// behind a load balancer a client that reconnects usually lands on
// another node than the one its session hibernates on. That node finds
// the holder from the session directory (the nodes holding sessions of
// the authenticated user; the resumption id itself names no node, so it
// tells a client nothing of the cluster) and asks it to hand the session
// over, in two steps over Cluster.Ask:
//
//   - QuerySMTake: the holder checks the id is a session of the asking
//     user, marks it moving (no other resumption may take it, local or
//     remote: exactly one wins) and answers its state. The session stays
//     hibernated there meanwhile: what reaches it is queued as before.
//   - the new node binds the full JID (the directory then points at it),
//     and QuerySMDone tells the holder, which lets the session go without
//     a word to its contacts or the offline store, and forwards to the new
//     node what was queued after the state it answered.
//
// If the new node never confirms (it died, or the answer came too late
// and its client was told <failed/>), the holder decides alone after
// moveWait (or the resumption timeout, if shorter): the directory showing
// the full JID on another node means the move took place; otherwise the
// session hibernates on, its timeout started anew, and ends as any other
// (unacked messages offline). A holder that does not answer makes the
// resumption fail: the client binds afresh, and nothing is lost.

// The kinds of Query that move a hibernated session.
const (
	QuerySMTake = "smtake" // hand over SM.ID's session, of SM.UserID, Username@Domain
	QuerySMDone = "smdone" // the session SM.ID was taken over (or not: SM.Abort)
)

const (
	// moveCutWait bounds the wait for a holder's session still connected
	// (its old transport not noticed gone yet) to hibernate: well within
	// the asking node's wait for the answer (the cluster lease, 5 s by
	// default).
	moveCutWait = 2 * time.Second
	// moveWait is how long a holder waits for the new node's QuerySMDone
	// before it decides from the directory; never longer than the
	// session's resumption timeout, which a move must not stretch.
	moveWait = 30 * time.Second
)

// SMQuery names a resumable session in QuerySMTake and QuerySMDone.
type SMQuery struct {
	ID     string `json:"id"`
	UserID int64  `json:"uid"`
	// Abort: the taking node gave up; the session stays where it is.
	Abort bool `json:"ab,omitempty"`
}

// smMove is a hibernated session being handed to another node.
type smMove struct {
	// kept is how many unacked stanzas the handover carried; those queued
	// after them are forwarded to the new node.
	kept  int
	timer *time.Timer
}

// smHandover is the answer to QuerySMTake: what the new node needs to
// carry the session on as the local resumption would (takeOver keeps the
// same conn, so the same state).
type smHandover struct {
	Found bool   `json:"f"`
	JID   string `json:"j,omitempty"`
	// The smacks.State: counters, timeout (ms) and the unacked stanzas.
	ID      string   `json:"id,omitempty"`
	MaxMS   int64    `json:"max,omitempty"`
	In      uint32   `json:"in,omitempty"`
	Out     uint32   `json:"out,omitempty"`
	Pending [][]byte `json:"q,omitempty"`
	// Presence state (the session's smu fields).
	Available bool     `json:"a,omitempty"`
	Priority  int      `json:"p,omitempty"`
	Presence  []byte   `json:"pr,omitempty"`
	Show      string   `json:"sh,omitempty"`
	Status    string   `json:"st,omitempty"`
	RosterReq bool     `json:"rr,omitempty"`
	BlockReq  bool     `json:"br,omitempty"`
	Directed  []string `json:"dp,omitempty"`
	CapsKey   string   `json:"ck,omitempty"`
	Notify    []string `json:"nt,omitempty"`
	// Carbons: XEP-0280 was enabled; PrivActive names the active XEP-0016
	// list (read again from the store). CSI is not carried: hibernation
	// forgets it, the client says again how it is after resuming.
	Carbons    bool   `json:"cb,omitempty"`
	PrivActive string `json:"pl,omitempty"`
}

// smDone is the answer to QuerySMDone: whether the holder let the
// session go (or, for an abort, kept it).
type smDone struct {
	OK bool `json:"ok"`
}

// resumeFromCluster resumes, into c, a session that another node holds
// under previd; false (nothing changed) when none does or the holder does
// not answer in time.
func (c *conn) resumeFromCluster(previd string, h uint32) bool {
	s := c.srv
	if s.cfg.Cluster == nil {
		return false
	}
	me, err := jid.New(c.user.Username, c.domain().FQDN, "")
	if err != nil {
		return false
	}
	q := Query{Kind: QuerySMTake, Domain: me.Domainpart(), Username: me.Localpart(), SM: &SMQuery{ID: previd, UserID: c.user.ID}}
	node, ho, ok := s.smTake(me.String(), q)
	if !ok {
		return false
	}
	// The holder checked the user; so does this node: a session is never
	// handed to another user.
	full, err := jid.Parse(ho.JID)
	if err != nil || full.Bare().String() != me.String() || full.Resourcepart() == "" || ho.ID != previd {
		s.log.Warn("cluster: a handed over session does not match the resumption", zap.String("node", node), zap.String("jid", ho.JID))
		s.smFinish(node, previd, c.user.ID, true)
		return false
	}
	old := c.adopt(full, ho)
	if !s.smFinish(node, previd, c.user.ID, false) {
		// The holder kept the session (it gave up waiting for this node
		// and let it hibernate on): this node lets go of it again.
		c.unadopt(ho)
		c.log.Info("resumption from another node refused by its holder", zap.String("jid", ho.JID), zap.String("node", node))
		return false
	}
	c.resumed(h)
	if old != nil {
		old.fail(condConflict, "replaced by a new session with the same resource")
	}
	c.log.Info("session resumed from another node", zap.String("jid", c.jidStr), zap.String("from_node", node),
		zap.String("ip", c.ip), zap.Int("resent", len(ho.Pending)))
	return true
}

// smTake asks the nodes holding sessions of bare, at once, for the
// session of q; the first that has it answers its state.
func (s *Server) smTake(bare string, q Query) (string, smHandover, bool) {
	nodes := s.remoteNodes(bare, true)
	if len(nodes) == 0 {
		return "", smHandover{}, false
	}
	type answer struct {
		node string
		h    smHandover
	}
	found := make(chan answer, len(nodes))
	for _, n := range nodes {
		go func() {
			var a smHandover
			b, err := s.cfg.Cluster.Ask(n, q)
			if err == nil {
				err = json.Unmarshal(b, &a)
			}
			if err != nil {
				// Taken to hold nothing: if it did, it lets the session
				// hibernate on after moveWait.
				s.log.Warn("cluster: a node did not answer a resumption", zap.String("node", n), zap.Error(err))
			}
			found <- answer{n, a}
		}()
	}
	for range nodes {
		if a := <-found; a.h.Found {
			return a.node, a.h, true
		}
	}
	return "", smHandover{}, false
}

// smFinish tells the holder node that the session id was taken over here
// (or, abort, that it was not): ok is false only when the holder says it
// kept the session. A holder that does not answer decides alone from the
// directory (see above), which already shows the session here.
func (s *Server) smFinish(node, id string, userID int64, abort bool) bool {
	b, err := s.cfg.Cluster.Ask(node, Query{Kind: QuerySMDone, SM: &SMQuery{ID: id, UserID: userID, Abort: abort}})
	var d smDone
	if err == nil {
		err = json.Unmarshal(b, &d)
	}
	if err != nil {
		s.log.Warn("cluster: the node a session was resumed from did not confirm", zap.String("node", node), zap.Error(err))
		return true
	}
	return d.OK || abort
}

// adopt makes c the session ho describes and registers it; its stanzas
// are only queued until resumed writes <resumed/>. It returns the local
// session it replaces, if any.
func (c *conn) adopt(full jid.JID, ho smHandover) (old *conn) {
	s := c.srv
	st := &smacks.State{ID: ho.ID, Max: time.Duration(ho.MaxMS) * time.Millisecond, In: ho.In, Out: ho.Out - uint32(len(ho.Pending))}
	for _, b := range ho.Pending {
		st.Sent(b)
	}
	c.full, c.bare, c.res = full, full.Bare().String(), full.Resourcepart()
	c.wmu.Lock()
	c.jidStr = full.String()
	c.sm = st
	c.closed = true // until <resumed/> is written
	c.wmu.Unlock()
	c.smu.Lock()
	c.available, c.priority, c.presence, c.show, c.status = ho.Available, ho.Priority, ho.Presence, ho.Show, ho.Status
	c.rosterReq, c.blockReq, c.capsKey = ho.RosterReq, ho.BlockReq, ho.CapsKey
	c.directed = nil
	for _, d := range ho.Directed {
		if c.directed == nil {
			c.directed = map[string]bool{}
		}
		c.directed[d] = true
	}
	c.notify = nil
	if len(ho.Notify) > 0 {
		c.notify = pubsub.Notify{}
		for _, n := range ho.Notify {
			c.notify[n] = struct{}{}
		}
	}
	c.smu.Unlock()
	var active *privacy.List
	if ho.PrivActive != "" {
		active, _ = s.storedList(context.Background(), c.user.ID, ho.PrivActive)
	}
	s.mu.Lock()
	s.smIDs[ho.ID] = c
	if ho.Carbons && !c.carbons {
		c.carbons = true
		s.carbons.Add(1)
	}
	if active != nil {
		s.swapList(&c.privActive, active)
	}
	s.mu.Unlock()
	c.bound = true
	return s.registerHere(c)
}

// unadopt undoes adopt, without a word to the user's contacts: the
// holder kept the session. What reached c meanwhile goes on to the full
// JID, which the holder serves again.
func (c *conn) unadopt(ho smHandover) {
	s := c.srv
	c.wmu.Lock()
	var extra [][]byte
	if q := c.sm.Take(); len(q) > len(ho.Pending) {
		extra = q[len(ho.Pending):]
	}
	c.sm, c.closed = nil, false
	c.wmu.Unlock()
	s.unbindMoved(c, ho.ID)
	c.bound = false
	c.smu.Lock()
	c.available, c.priority, c.presence, c.show, c.status = false, 0, nil, "", ""
	c.rosterReq, c.blockReq, c.capsKey, c.directed, c.notify = false, false, "", nil, nil
	c.smu.Unlock()
	s.passOn(c, extra)
}

// resumed answers <resumed/> on c's transport and sends what the client
// has not acknowledged, as takeOver does for a local resumption.
func (c *conn) resumed(h uint32) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.closed = false
	c.answerResumeLocked(h)
}

// unbindMoved removes the session c from this node's tables without
// presence to anyone, offline storage or last activity: the session lives
// on, on another node.
func (s *Server) unbindMoved(c *conn, smID string) {
	s.mu.Lock()
	if s.smIDs[smID] == c {
		delete(s.smIDs, smID)
	}
	s.unregisterLocked(c)
	s.mu.Unlock()
	if s.session(c.full) == nil {
		// Only the entry of this node goes: the new node's stays.
		s.announce(c, true)
	}
}

// passOn routes again stanzas queued for a session that moved: to its
// full JID, now on another node.
func (s *Server) passOn(c *conn, q [][]byte) {
	for _, b := range q {
		st, err := parseClient(b)
		if err != nil {
			continue
		}
		if t := s.session(c.full); t != nil {
			t.send(b)
			continue
		}
		if !s.forwardFull(c.full, st) {
			s.unacked(c, st)
		}
	}
}

// smQueried is the resumable session q.SM names, if it is q.SM.UserID's.
func (s *Server) smQueried(q Query) *conn {
	if q.SM == nil {
		return nil
	}
	s.mu.RLock()
	c := s.smIDs[q.SM.ID]
	s.mu.RUnlock()
	if c == nil || c.user.ID != q.SM.UserID {
		return nil
	}
	return c
}

// smTakeHere answers QuerySMTake: the hibernated session q.SM.ID of the
// asking user, now marked moving, or not found.
func (s *Server) smTakeHere(q Query) smHandover {
	c := s.smQueried(q)
	// Another user's id is as unknown as an expired one.
	if c == nil || c.anon || c.bare != q.Username+"@"+q.Domain {
		return smHandover{}
	}
	if !c.awaitHibernation(moveCutWait) {
		return smHandover{}
	}
	c.hib.timer.Stop()
	pending := slices.Clone(c.sm.Pending())
	c.hib.move = &smMove{kept: len(pending), timer: time.AfterFunc(min(moveWait, c.sm.Max), func() { s.moveExpired(c) })}
	ho := smHandover{Found: true, JID: c.full.String(), ID: c.sm.ID, MaxMS: c.sm.Max.Milliseconds(),
		In: c.sm.In, Out: c.sm.Out, Pending: pending}
	c.wmu.Unlock()
	c.smu.Lock()
	ho.Available, ho.Priority, ho.Presence, ho.Show, ho.Status = c.available, c.priority, c.presence, c.show, c.status
	ho.RosterReq, ho.BlockReq, ho.CapsKey = c.rosterReq, c.blockReq, c.capsKey
	for d, on := range c.directed {
		if on {
			ho.Directed = append(ho.Directed, d)
		}
	}
	for n := range c.notify {
		ho.Notify = append(ho.Notify, n)
	}
	c.smu.Unlock()
	s.mu.RLock()
	ho.Carbons = c.carbons
	s.mu.RUnlock()
	if l := c.privActive.Load(); l != nil {
		ho.PrivActive = l.Name
	}
	c.log.Info("hibernated session handed to another node", zap.String("jid", c.jidStr), zap.Int("unacked", len(pending)))
	return ho
}

// smDoneHere answers QuerySMDone: the session moved (it is let go of), or
// the taking node gave up (it hibernates on).
func (s *Server) smDoneHere(q Query) smDone {
	c := s.smQueried(q)
	if c == nil {
		return smDone{}
	}
	c.wmu.Lock()
	if c.hib == nil || c.hib.move == nil {
		c.wmu.Unlock()
		return smDone{}
	}
	if q.SM.Abort {
		c.stayLocked()
		c.wmu.Unlock()
		s.announce(c, false)
		return smDone{OK: true}
	}
	s.movedAway(c)
	return smDone{OK: true}
}

// moveExpired decides for a session whose new node never confirmed the
// move: moved if the directory shows its full JID on another node.
func (s *Server) moveExpired(c *conn) {
	_, elsewhere := s.remoteSession(c.full)
	c.wmu.Lock()
	if c.hib == nil || c.hib.move == nil {
		c.wmu.Unlock()
		return
	}
	if elsewhere {
		s.movedAway(c)
		return
	}
	c.log.Info("a session handed to another node was not taken, it hibernates on", zap.String("jid", c.jidStr))
	c.stayLocked()
	c.wmu.Unlock()
	s.announce(c, false)
}

// stayLocked ends a move that did not happen: the session hibernates on,
// for a whole timeout again. c.wmu is held; the caller then announces the
// session again, since a taker that bound it and let go of it took its
// entry out of the other nodes' directories.
func (c *conn) stayLocked() {
	c.hib.move.timer.Stop()
	c.hib.move = nil
	c.hib.timer = time.AfterFunc(c.sm.Max, c.expire)
}

// movedAway lets go of a session another node took over; c.wmu is held
// and released. Stanzas queued after the handover follow it.
func (s *Server) movedAway(c *conn) {
	mv := c.hib.move
	mv.timer.Stop()
	var extra [][]byte
	if q := c.sm.Take(); len(q) > mv.kept {
		extra = q[mv.kept:]
	}
	id := c.sm.ID
	c.hib, c.terminated, c.closed = nil, true, true
	s.hibernated.Add(-1)
	c.wmu.Unlock()
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.unbindMoved(c, id)
	c.smu.Lock()
	c.available = false
	c.smu.Unlock()
	s.mucSessionMoved(c)
	s.passOn(c, extra)
	c.log.Info("session moved to another node", zap.String("jid", c.jidStr), zap.Int("forwarded", len(extra)))
	s.wg.Done() // the hibernation's count
}
