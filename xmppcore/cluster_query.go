package xmppcore

import (
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// What an operator asking any node of a cluster sees of the others: the
// session listings come from the directory every node already keeps
// (RemoteSession carries what connected_users_info shows), and the live
// rooms, which only their owner holds, are asked of it over NATS
// request/reply (Cluster.Ask).

// The kinds of Query.
const (
	QueryOccupants = "occupants" // RoomOccupants of Domain's room Name
	QueryHistory   = "history"   // RoomHistory of Domain's room Name
	QueryUserRooms = "userrooms" // UserRooms of Username@Domain on the node asked
)

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
	}
	b, err := json.Marshal(v)
	if err != nil {
		return []byte("null")
	}
	return b
}
