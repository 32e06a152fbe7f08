package commands

import (
	"context"
	"sort"
	"strings"
	"time"
)

// The sessions family (ejabberd_sm, mod_admin_extra's connected users,
// kicks, resources and status counts), over Live. A caller sees only the
// sessions of its own accounts' domains; without an XMPP server (Env.Live
// nil) there are none.

// NodeName is the node name the sessions commands and status report.
const NodeName = "xmppgate@localhost"

// ServerName is what status says runs in the node, where ejabberd names
// itself and its version.
const ServerName = "xmppgate (ejabberd 23.01 API)"

// sessionDefs is the sessions family.
var sessionDefs = []*Def{ConnectedUsers, ConnectedUsersInfo, ConnectedUsersNumber, ConnectedUsersVhost, KickUser, KickSession,
	UserResources, UserSessionsInfo, NumResources, ResourceNum, ServerStatus, StatusNum, StatusNumHost, StatusList, StatusListHost}

var (
	argResource = Arg{Name: "resource", Type: String, Doc: "The session's resource."}
	argReason   = Arg{Name: "reason", Type: String, Doc: "Why, sent in the stream error."}
	argStatus   = Arg{Name: "status", Type: String, Doc: "available, away, chat, dnd, xa, or all."}
)

// sessions lists the live sessions of domain and user ("" = all) that the
// caller may see.
func sessions(ctx context.Context, c *Call, domain, username string) ([]Session, error) {
	if c.Env.Live == nil {
		return nil, nil
	}
	all := c.Env.Live.Sessions(domain, username)
	if domain != "" {
		return all, nil // a bound Domain argument is the caller's already
	}
	ds, err := c.Env.Store.Domains(ctx, c.Caller.Accounts)
	if err != nil {
		return nil, err
	}
	own := map[string]bool{}
	for _, d := range ds {
		own[d.FQDN] = true
	}
	var out []Session
	for _, s := range all {
		if own[s.Domain] {
			out = append(out, s)
		}
	}
	return out, nil
}

// userSessions lists the sessions of the bound user.
func userSessions(ctx context.Context, c *Call) ([]Session, error) {
	return sessions(ctx, c, c.Args.Domain("domain").FQDN, c.Args.String("username"))
}

func jids(ss []Session) []string {
	out := []string{}
	for _, s := range ss {
		out = append(out, s.JID)
	}
	sort.Strings(out)
	return out
}

func resources(ss []Session) []string {
	out := []string{}
	for _, s := range ss {
		out = append(out, s.Resource)
	}
	sort.Strings(out)
	return out
}

// show is a session's presence as ejabberd names it.
func show(s Session) string {
	switch {
	case !s.Available:
		return "unavailable"
	case s.Show == "":
		return "available"
	}
	return s.Show
}

var sessionColumns = []string{"connection", "ip", "port", "priority", "node", "uptime", "status", "resource", "statustext"}

func sessionTable(ss []Session, withJID bool, now time.Time) Table {
	cols := sessionColumns
	if withJID {
		cols = append([]string{"jid"}, cols...)
	}
	t := Table{Columns: cols, Rows: [][]any{}}
	for _, s := range ss {
		// ejabberd's names: a web transport is named alone, TLS or not.
		conn := s.Transport
		switch {
		case conn != "" && conn != "c2s":
		case s.TLS:
			conn = "c2s_tls"
		default:
			conn = "c2s"
		}
		prio := int64(s.Priority)
		if !s.Available {
			prio = -1
		}
		node := NodeName
		if s.Node != "" {
			node = s.Node
		}
		row := []any{conn, s.IP, int64(s.Port), prio, node, int64(now.Sub(s.Connected) / time.Second), show(s), s.Resource, s.Status}
		if withJID {
			row = append([]any{s.JID}, row...)
		}
		t.Rows = append(t.Rows, row)
	}
	return t
}

// ConnectedUsers is ejabberd's connected_users.
var ConnectedUsers = &Def{
	Name:   "connected_users",
	Doc:    "Lists the full JIDs of the live sessions on the caller's domains, sorted.",
	Result: Result{Kind: ResultList, Name: "connected_users"},
	Names:  map[Dialect]string{Ejabberd: "connected_users"},
	Handle: connectedUsers,
}

func connectedUsers(ctx context.Context, c *Call) (any, error) {
	ss, err := sessions(ctx, c, "", "")
	return jids(ss), err
}

// ConnectedUsersInfo is ejabberd's connected_users_info.
var ConnectedUsersInfo = &Def{
	Name: "connected_users_info",
	Doc: "Lists the live sessions on the caller's domains: jid, connection (c2s, c2s_tls, websocket or http_bind), ip, port, priority (-1 before presence), " +
		"node, uptime (seconds), status (available, away, chat, dnd, xa, unavailable), resource and statustext.",
	Result: Result{Kind: ResultTable, Name: "connected_users_info", Columns: append([]string{"jid"}, sessionColumns...)},
	Names:  map[Dialect]string{Ejabberd: "connected_users_info"},
	Handle: connectedUsersInfo,
}

func connectedUsersInfo(ctx context.Context, c *Call) (any, error) {
	ss, err := sessions(ctx, c, "", "")
	return sessionTable(ss, true, c.Env.Store.Now()), err
}

// ConnectedUsersNumber is ejabberd's connected_users_number.
var ConnectedUsersNumber = &Def{
	Name:   "connected_users_number",
	Doc:    "Counts the live sessions on the caller's domains.",
	Result: Result{Kind: ResultNumber, Name: "num_sessions"},
	Names:  map[Dialect]string{Ejabberd: "connected_users_number", Console: "connected_users_number"},
	Handle: connectedUsersNumber,
}

func connectedUsersNumber(ctx context.Context, c *Call) (any, error) {
	ss, err := sessions(ctx, c, "", "")
	return int64(len(ss)), err
}

// ConnectedUsersVhost is ejabberd's connected_users_vhost.
var ConnectedUsersVhost = &Def{
	Name:   "connected_users_vhost",
	Doc:    "Lists the full JIDs of the live sessions on one domain, sorted.",
	Args:   []Arg{argDomain},
	Result: Result{Kind: ResultList, Name: "connected_users_vhost"},
	Names:  map[Dialect]string{Ejabberd: "connected_users_vhost"},
	Handle: connectedUsersVhost,
}

func connectedUsersVhost(ctx context.Context, c *Call) (any, error) {
	ss, err := sessions(ctx, c, c.Args.Domain("domain").FQDN, "")
	return jids(ss), err
}

// KickUser is ejabberd's kick_user (v0).
var KickUser = &Def{
	Name:   "kick_user",
	Doc:    "Closes every session of the user and says how many.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultNumber, Name: "num_resources"},
	Names:  map[Dialect]string{Ejabberd: "kick_user"},
	Handle: kickUser,
}

func kickUser(ctx context.Context, c *Call) (any, error) {
	if c.Env.Live == nil {
		return int64(0), nil
	}
	return int64(c.Env.Live.Kick(c.Args.Domain("domain").FQDN, c.Args.String("username"), "", "")), nil
}

// KickSession is ejabberd's kick_session.
var KickSession = &Def{
	Name:   "kick_session",
	Doc:    "Closes one session of the user with reason; answers 0 also when there is no such session.",
	Args:   []Arg{argUsername, argDomain, argResource, argReason},
	Result: Result{Kind: ResultStatus},
	Names:  map[Dialect]string{Ejabberd: "kick_session"},
	Handle: kickSession,
}

func kickSession(ctx context.Context, c *Call) (any, error) {
	if c.Env.Live != nil && c.Args.String("resource") != "" {
		c.Env.Live.Kick(c.Args.Domain("domain").FQDN, c.Args.String("username"), c.Args.String("resource"), c.Args.String("reason"))
	}
	return StatusOK, nil
}

// UserResources is ejabberd's user_resources.
var UserResources = &Def{
	Name:   "user_resources",
	Doc:    "Lists the resources of the user's live sessions, sorted.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultList, Name: "resources"},
	Names:  map[Dialect]string{Ejabberd: "user_resources"},
	Handle: userResources,
}

func userResources(ctx context.Context, c *Call) (any, error) {
	ss, err := userSessions(ctx, c)
	return resources(ss), err
}

// UserSessionsInfo is ejabberd's user_sessions_info.
var UserSessionsInfo = &Def{
	Name:   "user_sessions_info",
	Doc:    "Lists the user's live sessions as connected_users_info does, without jid.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultTable, Name: "sessions_info", Columns: sessionColumns},
	Names:  map[Dialect]string{Ejabberd: "user_sessions_info"},
	Handle: userSessionsInfo,
}

func userSessionsInfo(ctx context.Context, c *Call) (any, error) {
	ss, err := userSessions(ctx, c)
	return sessionTable(ss, false, c.Env.Store.Now()), err
}

// NumResources is ejabberd's num_resources.
var NumResources = &Def{
	Name:   "num_resources",
	Doc:    "Counts the user's live sessions.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultNumber, Name: "resources"},
	Names:  map[Dialect]string{Ejabberd: "num_resources"},
	Handle: numResources,
}

func numResources(ctx context.Context, c *Call) (any, error) {
	ss, err := userSessions(ctx, c)
	return int64(len(ss)), err
}

// ResourceNum is ejabberd's resource_num.
var ResourceNum = &Def{
	Name:   "resource_num",
	Doc:    "Returns the num-th (from 1) of the user's resources in sorted order; out of range is an error.",
	Args:   []Arg{argUsername, argDomain, {Name: "num", Type: Int, Doc: "1-based index."}},
	Result: Result{Kind: ResultString, Name: "resource"},
	Names:  map[Dialect]string{Ejabberd: "resource_num"},
	Handle: resourceNum,
}

func resourceNum(ctx context.Context, c *Call) (any, error) {
	ss, err := userSessions(ctx, c)
	if err != nil {
		return nil, err
	}
	rs, n := resources(ss), c.Args.Int("num")
	if n < 1 || n > int64(len(rs)) {
		return nil, Errorf(NotFound, ReasonOutOfRange, "num", "wrong resource number: %d", n)
	}
	return rs[n-1], nil
}

// ServerStatus is ejabberd's status.
var ServerStatus = &Def{
	Name:   "server_status",
	Doc:    "Says that the server runs, in ejabberd's words.",
	Result: Result{Kind: ResultMessage},
	Names:  map[Dialect]string{Ejabberd: "status"},
	Handle: serverStatus,
}

func serverStatus(context.Context, *Call) (any, error) {
	return "The node " + NodeName + " is started. Status: started" + ServerName + " is running in that node", nil
}

func countStatus(ss []Session, status string) int64 {
	var n int64
	for _, s := range ss {
		if s.Available && (status == "all" || show(s) == status) {
			n++
		}
	}
	return n
}

// StatusNum is ejabberd's status_num.
var StatusNum = &Def{
	Name:   "status_num",
	Doc:    "Counts the available sessions on the caller's domains whose presence is status (all: any).",
	Args:   []Arg{argStatus},
	Result: Result{Kind: ResultNumber, Name: "users"},
	Names:  map[Dialect]string{Ejabberd: "status_num"},
	Handle: statusNum,
}

func statusNum(ctx context.Context, c *Call) (any, error) {
	ss, err := sessions(ctx, c, "", "")
	return countStatus(ss, c.Args.String("status")), err
}

// StatusNumHost is ejabberd's status_num_host.
var StatusNumHost = &Def{
	Name:   "status_num_host",
	Doc:    "status_num for one domain.",
	Args:   []Arg{argDomain, argStatus},
	Result: Result{Kind: ResultNumber, Name: "users"},
	Names:  map[Dialect]string{Ejabberd: "status_num_host"},
	Handle: statusNumHost,
}

func statusNumHost(ctx context.Context, c *Call) (any, error) {
	ss, err := sessions(ctx, c, c.Args.Domain("domain").FQDN, "")
	return countStatus(ss, c.Args.String("status")), err
}

var statusListColumns = []string{"user", "host", "resource", "priority", "status"}

// statusListTable lists the available sessions whose show is status
// (all: any), as status_num counts them; newlines in status texts become
// \n.
func statusListTable(ss []Session, status string) Table {
	t := Table{Columns: statusListColumns, Rows: [][]any{}}
	for _, s := range ss {
		if countStatus([]Session{s}, status) == 1 {
			t.Rows = append(t.Rows, []any{s.Username, s.Domain, s.Resource, int64(s.Priority), strings.ReplaceAll(s.Status, "\n", `\n`)})
		}
	}
	return t
}

// StatusList is mod_admin_extra's status_list (the shape of API v0 to v2).
var StatusList = &Def{
	Name: "status_list",
	Doc: "Lists the available sessions on the caller's domains whose presence is status (available, away, chat, dnd, xa; all: any), " +
		"as status_num counts them: user, host, resource, priority, status text.",
	Args:   []Arg{argStatus},
	Result: Result{Kind: ResultTable, Name: "users", Columns: statusListColumns},
	Names:  map[Dialect]string{Ejabberd: "status_list"},
	Handle: statusList,
}

func statusList(ctx context.Context, c *Call) (any, error) {
	ss, err := sessions(ctx, c, "", "")
	return statusListTable(ss, c.Args.String("status")), err
}

// StatusListHost is mod_admin_extra's status_list_host.
var StatusListHost = &Def{
	Name:   "status_list_host",
	Doc:    "status_list for one domain.",
	Args:   []Arg{argDomain, argStatus},
	Result: Result{Kind: ResultTable, Name: "users", Columns: statusListColumns},
	Names:  map[Dialect]string{Ejabberd: "status_list_host"},
	Handle: statusListHost,
}

func statusListHost(ctx context.Context, c *Call) (any, error) {
	ss, err := sessions(ctx, c, c.Args.Domain("domain").FQDN, "")
	return statusListTable(ss, c.Args.String("status")), err
}
