// Package cluster connects the xmppgate nodes that share one PostgreSQL
// store over NATS: which node holds which full JID, and the stanzas,
// kicks and roster pushes for sessions held elsewhere (docs/scale-out.md).
//
// Every node keeps the whole session directory in memory, as ejabberd
// keeps its session table in Mnesia on every node: a bind, a presence
// change or a logout is published once on SubjectSessions and every node
// applies it, so that routing a stanza costs a map lookup and never a
// round trip, and presence probes are answered from the directory.
// Entries are leased: every node publishes a heartbeat; a node not heard
// from for Lease has its sessions dropped and its users' contacts told
// they are unavailable (a SIGKILLed node, or one cut from NATS). A node
// heard from for the first time, or again after its lease ran out or
// under a new incarnation (a restart), is asked for its sessions; after
// an expiry, their presence is shown again to the contacts told they left.
//
// A dead node is mostly noticed before its lease runs out: when the NATS
// server finds nobody listening on its subject (its connection closed), it
// answers a stanza sent there with "no responders", and the sending node
// drops the dead node at once, as if its lease had run out, and routes the
// stanza again without it (outbox.go).
//
// Stanzas, effects and the session snapshots go to one node's own subject;
// all that a node receives is handled by one goroutine in arrival order,
// which NATS keeps per publishing connection.
package cluster

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/xmppcore"
)

// The subjects, under one prefix so that a NATS server may be shared.
const (
	SubjectSessions  = "xmppgate.sessions"
	SubjectHeartbeat = "xmppgate.heartbeat"
	subjectNodeFmt   = "xmppgate.node.%s" // + nodeToken(name)
	// A node's miss prefix: the reply subjects of its stanzas (outbox.go).
	// Its incarnation is random and so enough to tell it; the subject is
	// parsed twice per stanza (NATS server and receiver), so kept short.
	subjectMissFmt = "xmppgate.miss.%s." // + incarnation
)

// The header keys of a message to one node.
const (
	hdrOp   = "Op"
	hdrTo   = "To"
	hdrFrom = "From" // the sending node's name
	hdrInc  = "Inc"  // the sending node's incarnation

	opStanza   = "stanza"
	opEffect   = "effect"
	opSync     = "sync"     // send me your sessions
	opSessions = "sessions" // the answer: a JSON list
	opQuery    = "query"    // a request (NATS request/reply): xmppcore.Query
)

// Local is the node's own XMPP server, as the cluster calls it.
type Local interface {
	FromNode(to string, stanza []byte)
	ApplyEffect(e xmppcore.Effect)
	NodeLost(gone []xmppcore.RemoteSession)
	NodeFound(found []xmppcore.RemoteSession)
	LocalSessions() []xmppcore.RemoteSession
	// NodesChanged is told that the live nodes changed: lost are the
	// nodes whose lease ran out or that restarted (their rooms moved).
	NodesChanged(lost []string)
	// Answer answers another node's query from this node's own state.
	Answer(q xmppcore.Query) []byte
	// Undelivered is told that a stanza sent to gone.Node for gone.JID
	// (a session the directory had, or a bare or room JID) reached no
	// one there; the node's sessions have left the directory already.
	Undelivered(gone xmppcore.RemoteSession, stanza []byte)
}

// Options configure a node; zero values get the documented defaults.
type Options struct {
	// URL is the NATS server (nats://host:4222, or several, comma-separated).
	URL string
	// Node is this node's name (name@host), distinct among the nodes.
	Node string
	// Heartbeat is how often the node says it is alive (default 1s).
	Heartbeat time.Duration
	// Lease is how long the others keep the sessions of a node they no
	// longer hear from (default 5s, at least three heartbeats).
	Lease  time.Duration
	Logger *zap.Logger
}

// event is one change to the directory, published on SubjectSessions.
type event struct {
	Node string `json:"node"`
	Inc  string `json:"inc"`
	Gone bool   `json:"gone,omitempty"`
	xmppcore.RemoteSession
}

type heartbeat struct {
	Node string `json:"node"`
	Inc  string `json:"inc"`
}

// peer is what a node knows of another one.
type peer struct {
	inc      string
	lastSeen time.Time
	fulls    map[string]string // full JID -> bare JID
}

// Node is this process's membership of the cluster; it implements
// xmppcore.Cluster.
type Node struct {
	opts  Options
	log   *zap.Logger
	nc    *nats.Conn
	inc   string
	local Local
	in    chan *nats.Msg
	subs  []*nats.Subscription
	stop  chan struct{}
	// slow runs, in order, what reads the store (effects, presence after
	// a node is lost or found), so that stanzas behind it are not held up.
	slow chan func()
	done sync.WaitGroup

	mu    sync.RWMutex
	peers map[string]*peer // by node name
	// expired are the peers dropped when their lease ran out, until they
	// are heard again: their sessions' presence is then shown anew.
	expired map[string]bool
	dir     map[string]map[string]xmppcore.RemoteSession // bare -> full -> session
	// dropped are the sessions of the nodes dropped in the last lease, for
	// the 503s of the stanzas that were on their way to them.
	dropped map[string]dropped

	// out keeps the stanzas last sent to each node (outbox.go).
	out *outbox
}

// dropped is what a node had in the directory when it was dropped.
type dropped struct {
	at time.Time
	// sessions are kept a lease long (for the 503s of the stanzas on
	// their way, which come within milliseconds), by full JID.
	sessions map[string]xmppcore.RemoteSession
	// rerouted are the bare JIDs of the stanzas routed again since,
	// kept until the node is heard again: at most an outbox's worth per
	// drop, as no stanza goes to a dropped node.
	rerouted map[string]bool
}

var _ xmppcore.Cluster = (*Node)(nil)

// Connect dials NATS; the node receives nothing before Start.
func Connect(opts Options) (*Node, error) {
	if opts.URL == "" || opts.Node == "" {
		return nil, errors.New("cluster: a NATS URL and a node name are needed")
	}
	if opts.Heartbeat <= 0 {
		opts.Heartbeat = time.Second
	}
	if opts.Lease <= 0 {
		opts.Lease = 5 * time.Second
	}
	opts.Lease = max(opts.Lease, 3*opts.Heartbeat)
	if opts.Logger == nil {
		opts.Logger = zap.NewNop()
	}
	n := &Node{opts: opts, log: opts.Logger.Named("cluster"), inc: newInc(), stop: make(chan struct{}), slow: make(chan func(), 4096),
		in: make(chan *nats.Msg, 65536), peers: map[string]*peer{}, expired: map[string]bool{}, dir: map[string]map[string]xmppcore.RemoteSession{},
		dropped: map[string]dropped{}}
	n.out = newOutbox(fmt.Sprintf(subjectMissFmt, n.inc), ringSize, ringBytes)
	nc, err := nats.Connect(opts.URL, nats.Name("xmppgate "+opts.Node), nats.MaxReconnects(-1),
		nats.ReconnectWait(250*time.Millisecond),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) { n.log.Warn("NATS disconnected", zap.Error(err)) }),
		nats.ReconnectHandler(func(*nats.Conn) { n.log.Info("NATS reconnected") }))
	if err != nil {
		return nil, fmt.Errorf("cluster: NATS %s: %w", opts.URL, err)
	}
	n.nc = nc
	return n, nil
}

// Name is this node's name.
func (n *Node) Name() string { return n.opts.Node }

// Start subscribes, asks the others for their sessions and starts the
// heartbeat; local receives what the other nodes send.
func (n *Node) Start(local Local) error {
	n.local = local
	for _, subj := range []string{SubjectSessions, SubjectHeartbeat, NodeSubject(n.opts.Node), n.out.prefix + ">"} {
		sub, err := n.nc.ChanSubscribe(subj, n.in)
		if err != nil {
			n.Close()
			return fmt.Errorf("cluster: subscribe %s: %w", subj, err)
		}
		// The directory must not lose events to a slow consumer limit.
		_ = sub.SetPendingLimits(-1, -1)
		n.subs = append(n.subs, sub)
	}
	if err := n.nc.Flush(); err != nil {
		n.Close()
		return fmt.Errorf("cluster: NATS: %w", err)
	}
	n.done.Add(3)
	go n.receive()
	go n.runSlow()
	go n.beat()
	n.log.Info("joined", zap.String("node", n.opts.Node), zap.Duration("heartbeat", n.opts.Heartbeat), zap.Duration("lease", n.opts.Lease))
	return nil
}

// Close leaves the cluster: the others drop this node's sessions at the
// first stanza they send it after, or when its lease runs out (its
// sessions end with the process anyway).
func (n *Node) Close() {
	select {
	case <-n.stop:
		return
	default:
	}
	close(n.stop)
	for _, s := range n.subs {
		_ = s.Unsubscribe()
	}
	n.done.Wait()
	n.nc.Close()
}

// Remote returns the sessions of bare held by other nodes.
func (n *Node) Remote(bare string) []xmppcore.RemoteSession {
	n.mu.RLock()
	defer n.mu.RUnlock()
	m := n.dir[bare]
	if len(m) == 0 {
		return nil
	}
	out := make([]xmppcore.RemoteSession, 0, len(m))
	for _, s := range m {
		out = append(out, s)
	}
	return out
}

// Sessions returns every session the other nodes hold on domain ("" for
// every domain).
func (n *Node) Sessions(domain string) []xmppcore.RemoteSession {
	n.mu.RLock()
	defer n.mu.RUnlock()
	var out []xmppcore.RemoteSession
	for bare, m := range n.dir {
		if domain != "" && !strings.HasSuffix(bare, "@"+domain) {
			continue
		}
		for _, s := range m {
			out = append(out, s)
		}
	}
	return out
}

// Ask puts q to node over NATS request/reply and waits at most a lease
// for the answer: a node silent for that long is about to be dropped.
func (n *Node) Ask(node string, q xmppcore.Query) ([]byte, error) {
	b, err := json.Marshal(q)
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(NodeSubject(node))
	m.Header.Set(hdrOp, opQuery)
	m.Header.Set(hdrFrom, n.opts.Node)
	m.Header.Set(hdrInc, n.inc)
	m.Data = b
	r, err := n.nc.RequestMsg(m, n.opts.Lease)
	if err != nil {
		return nil, fmt.Errorf("cluster: ask %s: %w", node, err)
	}
	return r.Data, nil
}

// Announce publishes a change of one local session to every node.
func (n *Node) Announce(s xmppcore.RemoteSession, gone bool) {
	b, err := json.Marshal(event{Node: n.opts.Node, Inc: n.inc, Gone: gone, RemoteSession: s})
	if err == nil {
		err = n.nc.Publish(SubjectSessions, b)
	}
	if err != nil {
		n.log.Warn("announce", zap.Error(err))
	}
}

// Forward sends a stanza to node for delivery to its session(s) of to.
// The stanza is kept for a while (outbox.go): the caller must not change it.
func (n *Node) Forward(node, to string, stanza []byte) {
	n.send(node, opStanza, to, stanza)
}

// Effect sends e to every other node holding sessions of its user.
func (n *Node) Effect(e xmppcore.Effect) {
	b, err := json.Marshal(e)
	if err != nil {
		return
	}
	for _, node := range nodesOf(n.Remote(e.Username + "@" + e.Domain)) {
		n.send(node, opEffect, "", b)
	}
}

func nodesOf(rs []xmppcore.RemoteSession) []string {
	var out []string
	for _, r := range rs {
		if !contains(out, r.Node) {
			out = append(out, r.Node)
		}
	}
	return out
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func (n *Node) send(node, op, to string, data []byte) {
	m := nats.NewMsg(NodeSubject(node))
	m.Header.Set(hdrOp, op)
	m.Header.Set(hdrFrom, n.opts.Node)
	m.Header.Set(hdrInc, n.inc)
	if to != "" {
		m.Header.Set(hdrTo, to)
	}
	m.Data = data
	switch op {
	case opStanza:
		m.Reply = n.out.put(node, to, data)
	case opSync:
		// Kept as a stanza to no one: a node heard again, but not yet
		// listening on its subject, is dropped again and asked again
		// when next heard, instead of never being asked.
		m.Reply = n.out.put(node, "", nil)
	}
	// Worker effects and session lists are not kept: they are for the
	// node's own sessions, which die with it.
	if err := n.nc.PublishMsg(m); err != nil {
		n.log.Warn("send", zap.String("node", node), zap.String("op", op), zap.Error(err))
	}
}

// beat publishes the heartbeat and expires the peers that stopped theirs.
func (n *Node) beat() {
	defer n.done.Done()
	hb, _ := json.Marshal(heartbeat{Node: n.opts.Node, Inc: n.inc})
	t := time.NewTicker(n.opts.Heartbeat)
	defer t.Stop()
	for {
		if err := n.nc.Publish(SubjectHeartbeat, hb); err != nil {
			n.log.Debug("heartbeat", zap.Error(err))
		}
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		// Expiry goes through the receive loop, so that it is ordered
		// with the events it races.
		select {
		case n.in <- &nats.Msg{Subject: "expire"}:
		case <-n.stop:
			return
		}
	}
}

// receive applies what arrives, one message at a time.
func (n *Node) receive() {
	defer n.done.Done()
	for {
		select {
		case <-n.stop:
			return
		case m := <-n.in:
			n.handle(m)
		}
	}
}

func (n *Node) handle(m *nats.Msg) {
	switch m.Subject {
	case "expire":
		n.expire(time.Now())
	case SubjectHeartbeat:
		var hb heartbeat
		if json.Unmarshal(m.Data, &hb) == nil && hb.Node != n.opts.Node {
			n.seen(hb.Node, hb.Inc)
		}
	case SubjectSessions:
		var ev event
		if json.Unmarshal(m.Data, &ev) != nil || ev.Node == n.opts.Node {
			return
		}
		n.seen(ev.Node, ev.Inc)
		n.apply(ev.Node, ev.RemoteSession, ev.Gone)
	default:
		if strings.HasPrefix(m.Subject, n.out.prefix) {
			n.undelivered(m)
			return
		}
		from, inc := m.Header.Get(hdrFrom), m.Header.Get(hdrInc)
		if from == "" || from == n.opts.Node {
			return
		}
		n.seen(from, inc)
		switch m.Header.Get(hdrOp) {
		case opStanza:
			n.local.FromNode(m.Header.Get(hdrTo), m.Data)
		case opEffect:
			var e xmppcore.Effect
			if json.Unmarshal(m.Data, &e) == nil {
				n.later(func() { n.local.ApplyEffect(e) })
			}
		case opQuery:
			var q xmppcore.Query
			if json.Unmarshal(m.Data, &q) == nil && m.Reply != "" {
				// Off the receive loop: an answer takes room locks, and
				// the stanzas queued behind it must not wait for them.
				go func() {
					if err := m.Respond(n.local.Answer(q)); err != nil {
						n.log.Debug("answer", zap.String("node", from), zap.Error(err))
					}
				}()
			}
		case opSync:
			b, err := json.Marshal(n.local.LocalSessions())
			if err == nil {
				n.send(from, opSessions, "", b)
			}
		case opSessions:
			var rs []xmppcore.RemoteSession
			if json.Unmarshal(m.Data, &rs) == nil {
				for _, r := range rs {
					n.apply(from, r, false)
				}
				n.mu.Lock()
				back := n.expired[from]
				delete(n.expired, from)
				rerouted := n.dropped[from].rerouted
				delete(n.dropped, from)
				n.mu.Unlock()
				if back {
					found := n.sessionsOf(from)
					n.later(func() { n.local.NodeFound(found) })
					n.drainRerouted(found, rerouted)
				}
			}
		}
	}
}

// later queues f for the slow goroutine.
func (n *Node) later(f func()) {
	select {
	case n.slow <- f:
	case <-n.stop:
	}
}

func (n *Node) runSlow() {
	defer n.done.Done()
	for {
		select {
		case <-n.stop:
			return
		case f := <-n.slow:
			f()
		}
	}
}

// seen renews a peer's lease; a peer new to this node, or restarted, is
// asked for its sessions (a restarted one's old sessions are gone).
func (n *Node) seen(node, inc string) {
	n.mu.Lock()
	p := n.peers[node]
	var lost []xmppcore.RemoteSession
	fresh := p == nil || p.inc != inc
	restarted := p != nil && p.inc != inc
	if restarted {
		lost = n.dropLocked(node, p)
	}
	if fresh {
		p = &peer{inc: inc, fulls: map[string]string{}}
		n.peers[node] = p
	}
	p.lastSeen = time.Now()
	n.mu.Unlock()
	if len(lost) > 0 {
		n.later(func() { n.local.NodeLost(lost) })
	}
	if fresh {
		var gone []string
		if p != nil && restarted {
			gone = []string{node}
		}
		n.later(func() { n.local.NodesChanged(gone) })
	}
	if fresh {
		n.log.Info("node seen", zap.String("node", node))
		n.send(node, opSync, "", nil)
	}
}

// apply records one session of node in the directory.
func (n *Node) apply(node string, r xmppcore.RemoteSession, gone bool) {
	bare, _, _ := strings.Cut(r.JID, "/")
	r.Node = node
	n.mu.Lock()
	defer n.mu.Unlock()
	p := n.peers[node]
	if p == nil {
		return
	}
	if gone {
		if cur, ok := n.dir[bare][r.JID]; ok && cur.Node == node {
			delete(n.dir[bare], r.JID)
			if len(n.dir[bare]) == 0 {
				delete(n.dir, bare)
			}
		}
		delete(p.fulls, r.JID)
		return
	}
	m := n.dir[bare]
	if m == nil {
		m = map[string]xmppcore.RemoteSession{}
		n.dir[bare] = m
	}
	// A resource that moved to this node from another (a conflict) leaves
	// the other's entry.
	if old, ok := m[r.JID]; ok && old.Node != node {
		if op := n.peers[old.Node]; op != nil {
			delete(op.fulls, r.JID)
		}
	}
	m[r.JID] = r
	p.fulls[r.JID] = bare
}

// expire drops the peers whose lease ran out.
func (n *Node) expire(now time.Time) {
	n.mu.Lock()
	var lost []xmppcore.RemoteSession
	var dead []string
	for name, p := range n.peers {
		if now.Sub(p.lastSeen) > n.opts.Lease {
			dead = append(dead, name)
			n.log.Warn("node lost: its lease ran out", zap.String("node", name), zap.Int("sessions", len(p.fulls)))
			lost = append(lost, n.loseLocked(name, p, now)...)
		}
	}
	for name, d := range n.dropped {
		if now.Sub(d.at) > n.opts.Lease && d.sessions != nil {
			d.sessions = nil
			n.dropped[name] = d
		}
		if d.sessions == nil && len(d.rerouted) == 0 {
			delete(n.dropped, name)
		}
	}
	n.mu.Unlock()
	n.tellLost(lost, dead)
}

// loseLocked drops a peer whose lease ran out or that NATS found gone:
// its sessions leave the directory (returned, and kept a lease long in
// dropped), and it is asked for them again if it is heard again.
func (n *Node) loseLocked(name string, p *peer, now time.Time) []xmppcore.RemoteSession {
	lost := n.dropLocked(name, p)
	delete(n.peers, name)
	n.expired[name] = true
	d := dropped{at: now, sessions: make(map[string]xmppcore.RemoteSession, len(lost)), rerouted: n.dropped[name].rerouted}
	for _, r := range lost {
		d.sessions[r.JID] = r
	}
	n.dropped[name] = d
	return lost
}

// tellLost has the XMPP side tell the lost sessions' contacts they left,
// and move the rooms of the dead nodes.
func (n *Node) tellLost(lost []xmppcore.RemoteSession, dead []string) {
	if len(lost) > 0 {
		n.later(func() { n.local.NodeLost(lost) })
	}
	if len(dead) > 0 {
		n.later(func() { n.local.NodesChanged(dead) })
	}
}

// undelivered handles the NATS server's 503 for a stanza sent to another
// node: nobody listened on that node's subject. Its connection closed (a
// crash, which the NATS server notices long before the lease runs out)
// or it lost NATS; either way what is sent there now is lost, so the node
// is dropped as if its lease had run out (its contacts told, its rooms
// moved), and the stanza is handed back to the XMPP side to route again
// without it. This runs on the receive loop, in order with the
// directory's events, so that the directory no longer holds the node's
// sessions when the XMPP side routes the stanza again (on the slow
// goroutine, after NodeLost). A node that was only cut off for a moment
// is heard again and synced, as after an expiry; the stanzas routed again
// meanwhile went by the rules for a user without those sessions (offline
// storage, other resources).
func (n *Node) undelivered(m *nats.Msg) {
	// nats.go puts the status line's code in this header (its statusHdr).
	if m.Header.Get("Status") != "503" {
		return
	}
	node, s, ok := n.out.take(m.Subject)
	if !ok {
		if node != "" {
			n.log.Warn("a stanza reached no node and was no longer held: lost", zap.String("node", node))
		}
		return
	}
	now := time.Now()
	n.mu.Lock()
	var lost []xmppcore.RemoteSession
	p := n.peers[node]
	if p != nil {
		n.log.Warn("node lost: nobody listens on its NATS subject", zap.String("node", node), zap.Int("sessions", len(p.fulls)))
		lost = n.loseLocked(node, p, now)
	}
	d := n.dropped[node]
	gone, ok := d.sessions[s.to]
	if !ok {
		gone = xmppcore.RemoteSession{Node: node, JID: s.to}
	}
	if s.to != "" {
		if d.rerouted == nil {
			d.rerouted = map[string]bool{}
		}
		bare, _, _ := strings.Cut(s.to, "/")
		d.rerouted[bare] = true
		if d.at.IsZero() {
			d.at = now // a node this one never heard from
		}
		n.dropped[node] = d
	}
	n.mu.Unlock()
	if p != nil {
		n.tellLost(lost, []string{node})
	}
	if s.to != "" { // not a sync
		n.later(func() { n.local.Undelivered(gone, s.data) })
	}
}

// drainRerouted has the node heard again deliver the offline messages of
// the users whose stanzas were routed again while it was dropped and who
// have a session there: a node that lost NATS for a moment, or was
// resubscribing, kept its sessions, which the messages stored offline
// meanwhile would otherwise reach only at their next login. Queued after
// the stanzas routed again, so the messages are stored when it runs.
func (n *Node) drainRerouted(found []xmppcore.RemoteSession, rerouted map[string]bool) {
	var users []xmppcore.Effect
	for _, r := range found {
		bare, _, _ := strings.Cut(r.JID, "/")
		if !rerouted[bare] {
			continue
		}
		delete(rerouted, bare) // one drain per user
		if user, domain, ok := strings.Cut(bare, "@"); ok {
			users = append(users, xmppcore.Effect{Kind: xmppcore.EffectOffline, Domain: domain, Username: user})
		}
	}
	if len(users) > 0 {
		n.later(func() {
			for _, e := range users {
				n.Effect(e)
			}
		})
	}
}

// dropLocked removes every session of node from the directory.
func (n *Node) dropLocked(node string, p *peer) []xmppcore.RemoteSession {
	var out []xmppcore.RemoteSession
	for full, bare := range p.fulls {
		if r, ok := n.dir[bare][full]; ok && r.Node == node {
			out = append(out, r)
			delete(n.dir[bare], full)
			if len(n.dir[bare]) == 0 {
				delete(n.dir, bare)
			}
		}
	}
	p.fulls = map[string]string{}
	return out
}

// sessionsOf returns the directory's sessions of one node.
func (n *Node) sessionsOf(node string) []xmppcore.RemoteSession {
	n.mu.RLock()
	defer n.mu.RUnlock()
	p := n.peers[node]
	if p == nil {
		return nil
	}
	out := make([]xmppcore.RemoteSession, 0, len(p.fulls))
	for full, bare := range p.fulls {
		if r, ok := n.dir[bare][full]; ok {
			out = append(out, r)
		}
	}
	return out
}

// Owner names the node owning key by rendezvous (highest random weight)
// hashing over this node and the peers it hears from. Every node computes
// it alone from the same membership, with no round trip and no lease of
// its own: the heartbeat lease already says who is alive. A node leaving
// moves only its own keys, and a node joining takes about 1/N of them.
func (n *Node) Owner(key string) (string, bool) {
	n.mu.RLock()
	nodes := make([]string, 0, len(n.peers)+1)
	nodes = append(nodes, n.opts.Node)
	for name := range n.peers {
		nodes = append(nodes, name)
	}
	n.mu.RUnlock()
	best := OwnerAmong(nodes, key)
	return best, best == n.opts.Node
}

// OwnerAmong is Owner over a given set of node names (tests and tools
// that must know where a key lands).
func OwnerAmong(nodes []string, key string) string {
	var best string
	var top uint64
	for i, name := range nodes {
		if w := weight(name, key); i == 0 || w > top || (w == top && name > best) {
			best, top = name, w
		}
	}
	return best
}

func weight(node, key string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(node))
	h.Write([]byte{0})
	h.Write([]byte(key))
	// FNV's last bytes mix poorly into the high bits; a finaliser spreads them.
	x := h.Sum64()
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	x ^= x >> 33
	return x
}

// Peers returns the names of the nodes this one currently hears from.
func (n *Node) Peers() []string {
	n.mu.RLock()
	defer n.mu.RUnlock()
	out := make([]string, 0, len(n.peers))
	for name := range n.peers {
		out = append(out, name)
	}
	return out
}

// NodeSubject is a node's own subject; node names (name@host) may hold
// dots, which NATS reads as token separators, so the name is hashed.
// Exported for tests and tools that must see whether a node listens.
func NodeSubject(node string) string {
	h := fnv.New64a()
	h.Write([]byte(node))
	return fmt.Sprintf(subjectNodeFmt, hex.EncodeToString(h.Sum(nil)))
}

// newInc tells this run of a node from its earlier ones.
func newInc() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
