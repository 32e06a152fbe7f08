package xmppcore

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
	"mellium.im/xmpp/jid"
)

// What an operator asking any node of a cluster sees of the others: the
// session listings come from the directory every node already keeps
// (RemoteSession carries what connected_users_info shows), and the live
// rooms, which only their owner holds, are asked of it over NATS
// request/reply (Cluster.Ask); the admin actions on one session
// (send_stanza_c2s, set_presence) are carried out by the node holding it.

// The kinds of Query.
const (
	QueryOccupants = "occupants" // RoomOccupants of Domain's room Name
	QueryHistory   = "history"   // RoomHistory of Domain's room Name
	QueryUserRooms = "userrooms" // UserRooms of Username@Domain on the node asked

	QuerySendToSession = "send"     // SendToSession of Stanza to the asked node's session
	QuerySetPresence   = "presence" // SetPresence of Presence on the asked node's session
)

// sessionAction is the answer to QuerySendToSession and QuerySetPresence:
// whether the asked node holds the session.
type sessionAction struct {
	Found bool   `json:"f"`
	Error string `json:"e,omitempty"`
}

// askHolder has the node that holds the session Domain/Username/Resource
// of q carry out q: found is false when no node holds it (or this node
// runs alone). A node that does not answer is an error: the action may or
// may not have happened.
func (s *Server) askHolder(q Query) (found bool, err error) {
	full, err := jid.New(q.Username, q.Domain, q.Resource)
	if err != nil || q.Resource == "" {
		return false, nil
	}
	r, ok := s.remoteSession(full)
	if !ok {
		return false, nil
	}
	b, err := s.cfg.Cluster.Ask(r.Node, q)
	var a sessionAction
	if err == nil {
		err = json.Unmarshal(b, &a)
	}
	if err != nil {
		s.log.Warn("cluster: the session's node did not answer", zap.String("node", r.Node), zap.String("session", full.String()), zap.Error(err))
		return false, fmt.Errorf("node %s holding the session did not answer", r.Node)
	}
	if a.Error != "" {
		return false, errors.New(a.Error)
	}
	return a.Found, nil
}

// sessionActionHere carries out q on a session of this node only.
func (s *Server) sessionActionHere(q Query) sessionAction {
	c := s.liveSession(q.Domain, q.Username, q.Resource)
	switch {
	case c == nil:
		return sessionAction{}
	case q.Kind == QuerySendToSession:
		st, err := parseStanza(q.Stanza)
		if err != nil {
			return sessionAction{Error: err.Error()}
		}
		c.sendEl(st)
	case q.Presence != nil:
		s.setPresence(c, *q.Presence)
	}
	return sessionAction{Found: true}
}

// ClusterSessions is Sessions over every node: this node's sessions and
// those the directory holds of the others, each with the node holding it,
// sorted by JID. Alone, it is Sessions.
func (s *Server) ClusterSessions(domain, username string) []SessionInfo {
	out := s.Sessions(domain, username)
	if s.cfg.Cluster == nil {
		return out
	}
	self := s.cfg.Cluster.Name()
	for i := range out {
		out[i].Node = self
	}
	var rs []RemoteSession
	if username != "" && domain != "" {
		rs = s.cfg.Cluster.Remote(username + "@" + domain)
	} else {
		rs = s.cfg.Cluster.Sessions(domain)
	}
	for _, r := range rs {
		if info, ok := remoteInfo(r); ok && (username == "" || info.Username == username) {
			out = append(out, info)
		}
	}
	slices.SortFunc(out, func(a, b SessionInfo) int { return strings.Compare(a.JID, b.JID) })
	return out
}

// ClusterOnlineCount is OnlineCount over every node.
func (s *Server) ClusterOnlineCount(domain string) int {
	n := s.OnlineCount(domain)
	if s.cfg.Cluster != nil {
		n += len(s.cfg.Cluster.Sessions(domain))
	}
	return n
}

// remoteInfo is a directory entry as the listings show it; show and status
// come from its last available presence.
func remoteInfo(r RemoteSession) (SessionInfo, bool) {
	bare, res, ok := strings.Cut(r.JID, "/")
	user, domain, ok2 := strings.Cut(bare, "@")
	if !ok || !ok2 {
		return SessionInfo{}, false
	}
	since := time.UnixMilli(r.Since)
	info := SessionInfo{JID: r.JID, Domain: domain, Username: user, Resource: res, IP: r.IP, Port: r.Port,
		Priority: r.Priority, Connected: since, LastActive: since, TLS: r.TLS, Available: r.Available,
		Transport: r.Transport, Anonymous: r.Anonymous, Node: r.Node, Remote: true}
	if r.Available && r.Presence != nil {
		if p, err := parseClient(r.Presence); err == nil {
			info.Show, info.Status = p.ChildText(nsClient, "show"), p.ChildText(nsClient, "status")
		}
	}
	return info, true
}

// roomOwnerAsk answers a read of a live room from its owner when that is
// another node: handled is false when this node owns the room (or runs
// alone) and must answer itself. If the owner does not answer, the room
// is taken to have no live state, as a room nobody runs.
func (s *Server) roomOwnerAsk(kind, domain, name string, into any) (handled bool) {
	if s.cfg.Cluster == nil {
		return false
	}
	d, ok := s.hosted(domain)
	if !ok {
		return false
	}
	node, self := s.cfg.Cluster.Owner(name + "@" + mucJID(d))
	if self {
		return false
	}
	b, err := s.cfg.Cluster.Ask(node, Query{Kind: kind, Domain: domain, Name: name})
	if err == nil {
		err = json.Unmarshal(b, into)
	}
	if err != nil {
		s.log.Warn("cluster: the room's owner did not answer", zap.String("node", node), zap.String("room", name+"@"+mucJID(d)), zap.Error(err))
	}
	return true
}

// clusterUserRooms adds to rooms (the user's rooms live here) those live
// on every other node, asked at once.
func (s *Server) clusterUserRooms(domain, username string, rooms []string) []string {
	if s.cfg.Cluster == nil {
		return rooms
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, node := range s.cfg.Cluster.Peers() {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var theirs []string
			b, err := s.cfg.Cluster.Ask(node, Query{Kind: QueryUserRooms, Domain: domain, Username: username})
			if err == nil {
				err = json.Unmarshal(b, &theirs)
			}
			if err != nil {
				s.log.Warn("cluster: a node did not list its rooms", zap.String("node", node), zap.Error(err))
				return
			}
			mu.Lock()
			rooms = append(rooms, theirs...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(rooms)
	return slices.Compact(rooms)
}

// Answer answers another node's Query from this node's own state only (it
// never asks further, so two nodes whose views of a room's owner differ
// for a moment cannot ask each other in a loop).
func (s *Server) Answer(q Query) []byte {
	var v any
	switch q.Kind {
	case QueryOccupants:
		v = s.roomOccupantsHere(q.Domain, q.Name)
	case QueryHistory:
		v = s.roomHistoryHere(q.Domain, q.Name)
	case QueryUserRooms:
		v = s.userRoomsHere(q.Domain, q.Username)
	case QuerySendToSession, QuerySetPresence:
		v = s.sessionActionHere(q)
	case QuerySMTake:
		v = s.smTakeHere(q)
	case QuerySMDone:
		v = s.smDoneHere(q)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return []byte("null")
	}
	return b
}
