package commands

import (
	"context"
	"sort"
	"time"
)

// The ejabberd sessions family (ejabberd_sm, mod_admin_extra), over Live.
// A caller sees only the sessions of its own accounts' domains; without an
// XMPP server (Env.Live nil) there are none.

// EjabberdNode is the node name the sessions commands and status report.
const EjabberdNode = "xmppgate@localhost"

var (
	ejResource = Arg{Name: "resource", Type: String, Doc: "The session's resource."}
	ejReason   = Arg{Name: "reason", Type: String, Doc: "Why, sent in the stream error."}
	ejStatus   = Arg{Name: "status", Type: String, Doc: "available, away, chat, dnd, xa, or all."}
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
		conn := "c2s"
		if s.TLS {
			conn = "c2s_tls"
		}
		prio := int64(s.Priority)
		if !s.Available {
			prio = -1
		}
		row := []any{conn, s.IP, int64(s.Port), prio, EjabberdNode, int64(now.Sub(s.Connected) / time.Second), show(s), s.Resource, s.Status}
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
	Handle: func(ctx context.Context, c *Call) (any, error) {
		ss, err := sessions(ctx, c, "", "")
		return jids(ss), err
	},
}

// ConnectedUsersInfo is ejabberd's connected_users_info.
var ConnectedUsersInfo = &Def{
	Name: "connected_users_info",
	Doc: "Lists the live sessions on the caller's domains: jid, connection (c2s or c2s_tls), ip, port, priority (-1 before presence), " +
		"node, uptime (seconds), status (available, away, chat, dnd, xa, unavailable), resource and statustext.",
	Result: Result{Kind: ResultTable, Name: "connected_users_info", Columns: append([]string{"jid"}, sessionColumns...)},
	Names:  map[Dialect]string{Ejabberd: "connected_users_info"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		ss, err := sessions(ctx, c, "", "")
		return sessionTable(ss, true, c.Env.Store.Now()), err
	},
}

// ConnectedUsersNumber is ejabberd's connected_users_number.
var ConnectedUsersNumber = &Def{
	Name:   "connected_users_number",
	Doc:    "Counts the live sessions on the caller's domains.",
	Result: Result{Kind: ResultNumber, Name: "num_sessions"},
	Names:  map[Dialect]string{Ejabberd: "connected_users_number"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		ss, err := sessions(ctx, c, "", "")
		return int64(len(ss)), err
	},
}

// ConnectedUsersVhost is ejabberd's connected_users_vhost.
var ConnectedUsersVhost = &Def{
	Name:   "connected_users_vhost",
	Doc:    "Lists the full JIDs of the live sessions on one domain, sorted.",
	Args:   []Arg{argDomain},
	Result: Result{Kind: ResultList, Name: "connected_users_vhost"},
	Names:  map[Dialect]string{Ejabberd: "connected_users_vhost"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		ss, err := sessions(ctx, c, c.Args.Domain("domain").FQDN, "")
		return jids(ss), err
	},
}

// KickUser is ejabberd's kick_user (v0).
var KickUser = &Def{
	Name:   "kick_user",
	Doc:    "Closes every session of the user and says how many.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultNumber, Name: "num_resources"},
	Names:  map[Dialect]string{Ejabberd: "kick_user"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		if c.Env.Live == nil {
			return int64(0), nil
		}
		return int64(c.Env.Live.Kick(c.Args.Domain("domain").FQDN, c.Args.String("username"), "", "")), nil
	},
}

// KickSession is ejabberd's kick_session.
var KickSession = &Def{
	Name:   "kick_session",
	Doc:    "Closes one session of the user with reason; answers 0 also when there is no such session.",
	Args:   []Arg{argUsername, argDomain, ejResource, ejReason},
	Result: Result{Kind: ResultStatus},
	Names:  map[Dialect]string{Ejabberd: "kick_session"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		if c.Env.Live != nil && c.Args.String("resource") != "" {
			c.Env.Live.Kick(c.Args.Domain("domain").FQDN, c.Args.String("username"), c.Args.String("resource"), c.Args.String("reason"))
		}
		return StatusOK, nil
	},
}

// UserResources is ejabberd's user_resources.
var UserResources = &Def{
	Name:   "user_resources",
	Doc:    "Lists the resources of the user's live sessions, sorted.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultList, Name: "resources"},
	Names:  map[Dialect]string{Ejabberd: "user_resources"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		ss, err := userSessions(ctx, c)
		return resources(ss), err
	},
}

// UserSessionsInfo is ejabberd's user_sessions_info.
var UserSessionsInfo = &Def{
	Name:   "user_sessions_info",
	Doc:    "Lists the user's live sessions as connected_users_info does, without jid.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultTable, Name: "sessions_info", Columns: sessionColumns},
	Names:  map[Dialect]string{Ejabberd: "user_sessions_info"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		ss, err := userSessions(ctx, c)
		return sessionTable(ss, false, c.Env.Store.Now()), err
	},
}

// NumResources is ejabberd's num_resources.
var NumResources = &Def{
	Name:   "num_resources",
	Doc:    "Counts the user's live sessions.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultNumber, Name: "resources"},
	Names:  map[Dialect]string{Ejabberd: "num_resources"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		ss, err := userSessions(ctx, c)
		return int64(len(ss)), err
	},
}

// ResourceNum is ejabberd's resource_num.
var ResourceNum = &Def{
	Name:   "resource_num",
	Doc:    "Returns the num-th (from 1) of the user's resources in sorted order; out of range is an error.",
	Args:   []Arg{argUsername, argDomain, {Name: "num", Type: Int, Doc: "1-based index."}},
	Result: Result{Kind: ResultString, Name: "resource"},
	Names:  map[Dialect]string{Ejabberd: "resource_num"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		ss, err := userSessions(ctx, c)
		if err != nil {
			return nil, err
		}
		rs, n := resources(ss), c.Args.Int("num")
		if n < 1 || n > int64(len(rs)) {
			return nil, Errorf(NotFound, ReasonOutOfRange, "num", "wrong resource number: %d", n)
		}
		return rs[n-1], nil
	},
}

// ServerStatus is ejabberd's status.
var ServerStatus = &Def{
	Name:   "server_status",
	Doc:    "Says that the server runs, in ejabberd's words.",
	Result: Result{Kind: ResultMessage},
	Names:  map[Dialect]string{Ejabberd: "status"},
	Handle: func(context.Context, *Call) (any, error) {
		return "The node " + EjabberdNode + " is started. Status: startedxmppgate (ejabberd 23.01 API) is running in that node", nil
	},
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
	Args:   []Arg{ejStatus},
	Result: Result{Kind: ResultNumber, Name: "users"},
	Names:  map[Dialect]string{Ejabberd: "status_num"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		ss, err := sessions(ctx, c, "", "")
		return countStatus(ss, c.Args.String("status")), err
	},
}

// StatusNumHost is ejabberd's status_num_host.
var StatusNumHost = &Def{
	Name:   "status_num_host",
	Doc:    "status_num for one domain.",
	Args:   []Arg{argDomain, ejStatus},
	Result: Result{Kind: ResultNumber, Name: "users"},
	Names:  map[Dialect]string{Ejabberd: "status_num_host"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		ss, err := sessions(ctx, c, c.Args.Domain("domain").FQDN, "")
		return countStatus(ss, c.Args.String("status")), err
	},
}
