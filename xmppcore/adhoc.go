package xmppcore

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/pubsub"
)

// XEP-0050 Ad-Hoc Commands with the commands of XEP-0133 Service
// Administration an operator reaches for first (announce to online users,
// user counts) and the ping every user may run, as ejabberd's mod_adhoc
// and mod_announce and Prosody's mod_admin_adhoc offer them. Admins are the
// users the ejabberd API names admins (ejabberd_api_permissions) of the
// account that owns the domain, or of one above it.
const (
	nsCommands = "http://jabber.org/protocol/commands"
	nsAdmin    = "http://jabber.org/protocol/admin"
)

// adhocCommand is one command: its node, name, who may run it, and what
// it does with the submitted form (nil on the first, executing, stage).
type adhocCommand struct {
	node, name string
	admin      bool
	// run returns the next stage: a form to fill (status executing) or
	// the outcome (completed) as a note and/or a result form.
	run func(s *Server, r *iqReq, form map[string][]string) adhocStage
}

type adhocStage struct {
	done bool
	form *xmlel.Element
	note string
	err  *stanzaErr
}

var adhocCommands = []adhocCommand{
	{node: "ping", name: "Ping", run: func(*Server, *iqReq, map[string][]string) adhocStage {
		return adhocStage{done: true, note: "Pong"}
	}},
	{node: nsAdmin + "#announce", name: "Send Announcement to Online Users", admin: true, run: announce},
	{node: nsAdmin + "#get-online-users-num", name: "Get Number of Online Users", admin: true,
		run: func(s *Server, r *iqReq, _ map[string][]string) adhocStage {
			n := s.OnlineCount(r.dom.FQDN)
			return adhocStage{done: true, form: resultForm(formField("onlineusersnum", "Number of Online Users", strconv.Itoa(n)))}
		}},
	{node: nsAdmin + "#get-registered-users-num", name: "Get Number of Registered Users", admin: true,
		run: func(s *Server, r *iqReq, _ map[string][]string) adhocStage {
			n, err := s.st.CountDomainUsers(context.Background(), r.dom.ID)
			if err != nil {
				return adhocStage{err: &errInternal}
			}
			return adhocStage{done: true, form: resultForm(formField("registeredusersnum", "Number of Registered Users", strconv.Itoa(n)))}
		}},
}

func resultForm(fields ...*xmlel.Element) *xmlel.Element {
	x := xmlel.New(nsData, "x", "type", "result").Add(formTypeField(nsAdmin))
	for _, f := range fields {
		x.Add(f)
	}
	return x
}

func announce(s *Server, r *iqReq, form map[string][]string) adhocStage {
	if form == nil {
		x := xmlel.New(nsData, "x", "type", "form").
			Text(nsData, "title", "Send Announcement to Online Users").
			Text(nsData, "instructions", "Fill out this form to send an announcement to every online user of "+r.dom.FQDN+".").
			Add(formTypeField(nsAdmin)).
			Add(xmlel.New(nsData, "field", "var", "subject", "type", "text-single", "label", "Subject")).
			Add(xmlel.New(nsData, "field", "var", "announcement", "type", "text-multi", "label", "Announcement").
				Add(xmlel.New(nsData, "required")))
		return adhocStage{form: x}
	}
	body := strings.Join(form["announcement"], "\n")
	if strings.TrimSpace(body) == "" {
		return adhocStage{err: &stanzaErr{typ: "modify", cond: "bad-request", text: "the announcement is empty"}}
	}
	subject := strings.Join(form["subject"], " ")
	n := 0
	for _, t := range s.match(r.dom.FQDN, "") {
		m := xmlel.New(nsClient, "message", "type", "headline", "from", r.dom.FQDN, "to", t.full.String())
		if subject != "" {
			m.Text(nsClient, "subject", subject)
		}
		t.sendEl(m.Text(nsClient, "body", body))
		n++
	}
	return adhocStage{done: true, note: "The announcement was sent to " + strconv.Itoa(n) + " online resources."}
}

// isAdmin reports whether the session's user administers its domain.
func (s *Server) isAdmin(c *conn, d modcfg.Domain) bool {
	if c.anon {
		return false
	}
	ctx := context.Background()
	perm, err := s.st.EjabberdPermission(ctx, c.user.ID)
	if err != nil {
		return false
	}
	dom, err := s.st.DomainByFQDN(ctx, d.FQDN)
	if err != nil {
		return false
	}
	tree, err := s.st.AccountTree(ctx, perm.AccountID)
	if err != nil {
		return false
	}
	for _, id := range tree {
		if id == dom.AccountID {
			return true
		}
	}
	return false
}

// commandsFor lists the commands c may run on d.
func (s *Server) commandsFor(c *conn, d modcfg.Domain) []adhocCommand {
	admin := s.isAdmin(c, d)
	var out []adhocCommand
	for _, cmd := range adhocCommands {
		if !cmd.admin || admin {
			out = append(out, cmd)
		}
	}
	return out
}

// adhocItems answers disco#items for the commands node.
func (s *Server) adhocItems(r *iqReq) *xmlel.Element {
	q := xmlel.New(nsDiscoItems, "query", "node", nsCommands)
	for _, cmd := range s.commandsFor(r.c, r.dom) {
		q.Add(xmlel.New(nsDiscoItems, "item", "jid", r.dom.FQDN, "node", cmd.node, "name", cmd.name))
	}
	return q
}

// adhocSessions remembers the multi-stage executions in progress: the
// session id is handed out on the first stage and must come back from the
// same full JID within 10 minutes.
type adhocSessions struct {
	mu sync.Mutex
	m  map[string]adhocSession
}

type adhocSession struct {
	owner, node string
	exp         time.Time
}

func (a *adhocSessions) open(owner, node string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	if a.m == nil {
		a.m = map[string]adhocSession{}
	}
	if len(a.m) > 1000 {
		for id, ss := range a.m {
			if now.After(ss.exp) {
				delete(a.m, id)
			}
		}
	}
	id := newID()
	a.m[id] = adhocSession{owner: owner, node: node, exp: now.Add(10 * time.Minute)}
	return id
}

// take ends session id if owner may continue it.
func (a *adhocSessions) take(id, owner, node string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	ss, ok := a.m[id]
	if !ok || ss.owner != owner || ss.node != node || time.Now().After(ss.exp) {
		return false
	}
	delete(a.m, id)
	return true
}

var errBadSession = stanzaErr{typ: "modify", cond: "bad-request", app: xmlel.New(nsCommands, "bad-sessionid")}

// adhocExecute answers a <command/> to the server.
func adhocExecute(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	node := r.q.Get("node")
	var cmd *adhocCommand
	for _, c := range s.commandsFor(r.c, r.dom) {
		if c.node == node {
			cmd = &c
			break
		}
	}
	if cmd == nil {
		for _, c := range adhocCommands {
			if c.node == node {
				return nil, &errForbidden // exists, but not for this user
			}
		}
		return nil, &errItemNotFound
	}
	out := func(status, sid string) *xmlel.Element {
		el := xmlel.New(nsCommands, "command", "node", node, "status", status)
		if sid != "" {
			el.Set("sessionid", sid)
		}
		return el
	}
	sid, action := r.q.Get("sessionid"), r.q.Get("action")
	var form map[string][]string
	if sid != "" {
		if !s.adhoc.take(sid, r.c.full.String(), node) {
			return nil, &errBadSession
		}
		if action == "cancel" {
			return out("canceled", sid), nil
		}
		if action != "" && action != "execute" && action != "complete" {
			return nil, &stanzaErr{typ: "modify", cond: "bad-request", app: xmlel.New(nsCommands, "bad-action")}
		}
		var err error
		if form, err = pubsub.Fields(r.q.Child(nsData, "x"), nsAdmin); err != nil {
			return nil, &stanzaErr{typ: "modify", cond: "bad-request", text: "a submitted " + nsAdmin + " form is required"}
		}
	} else if action != "" && action != "execute" {
		return nil, &stanzaErr{typ: "modify", cond: "bad-request", app: xmlel.New(nsCommands, "bad-action")}
	}
	st := cmd.run(s, r, form)
	if st.err != nil {
		return nil, st.err
	}
	if !st.done {
		sid = s.adhoc.open(r.c.full.String(), node)
		el := out("executing", sid).Add(xmlel.New(nsCommands, "actions", "execute", "complete").Add(xmlel.New(nsCommands, "complete")))
		return el.Add(st.form), nil
	}
	el := out("completed", sid)
	if sid == "" {
		el.Set("sessionid", newID())
	}
	if st.note != "" {
		el.Add(xmlel.New(nsCommands, "note", "type", "info").Add(st.note))
	}
	if st.form != nil {
		el.Add(st.form)
	}
	return el, nil
}
