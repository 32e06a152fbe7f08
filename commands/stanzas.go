package commands

import (
	"context"
	"strings"
)

// The stanza and presence family (mod_admin_extra): send_message,
// send_stanza, send_stanza_c2s, get_presence and set_presence, over Live.
// A stanza is sent only from a JID of the caller's own domains; it may go
// to any domain this server hosts (there is no s2s).
// send_direct_invitation is a room command (rooms_members.go).

// stanzaDefs is the stanza and presence family.
var stanzaDefs = []*Def{SendMessage, SendStanza, SendStanzaC2S, GetPresence, SetPresence}

// Reasons of the stanza family.
const (
	ReasonBadStanza Reason = "bad_stanza" // the stanza or message cannot be built or routed
	ReasonNoSession Reason = "no_session" // no such live session
)

var (
	argFrom   = Arg{Name: "from", Type: String, Doc: "Sender JID, of a domain of the caller's account (a bare domain is the server)."}
	argTo     = Arg{Name: "to", Type: String, Doc: "Recipient JID, bare or full, of a domain this server hosts."}
	argStanza = Arg{Name: "stanza", Type: String, Doc: "One <message/>, <presence/> or <iq/> as XML text."}
)

// ownSender checks that jid is a JID of one of the caller's domains.
func ownSender(ctx context.Context, c *Call, jid, malformedMsg string) error {
	bare, err := ParseBareJID(jid)
	if err != nil || jid == "" {
		return Errorf(Invalid, ReasonBadStanza, "from", "%s", malformedMsg)
	}
	_, domain, ok := strings.Cut(bare, "@")
	if !ok {
		domain = bare
	}
	d, err := c.Env.Store.DomainByFQDN(ctx, domain)
	if err != nil || !c.Caller.Owns(d.AccountID) {
		return Errorf(Invalid, ReasonUnknownDomain, "from", "%s is not a domain of this account", domain)
	}
	return nil
}

// routeError turns a router's refusal into the caller's error.
func routeError(err error) error {
	if err == nil {
		return nil
	}
	return Errorf(Invalid, ReasonBadStanza, "", "%s", strings.TrimPrefix(err.Error(), "xmppcore: "))
}

func badAttr(attr string) string {
	return "Bad value of attribute '" + attr + "' in tag <message/> qualified by namespace 'jabber:client'"
}

// SendMessage is mod_admin_extra's send_message.
var SendMessage = &Def{
	Name: "send_message",
	Doc: "Sends a message of type normal, chat or headline from a JID of the caller's domains to a JID this server hosts, " +
		"as the server routes it (stored offline if the recipient is away and it has a body). An empty subject or body is left out. " +
		"groupchat is refused: there is no MUC service.",
	Args: []Arg{{Name: "type", Type: String, Doc: "normal, chat or headline."}, argFrom, argTo,
		{Name: "subject", Type: String, Optional: true, Doc: "Subject, or empty."},
		{Name: "body", Type: String, Optional: true, Doc: "Body, or empty."}},
	Result: Result{Kind: ResultStatus},
	Names:  map[Dialect]string{Ejabberd: "send_message"},
	Handle: sendMessage,
}

func sendMessage(ctx context.Context, c *Call) (any, error) {
	typ := c.Args.String("type")
	switch typ {
	case "normal", "chat", "headline":
	case "groupchat":
		return nil, Errorf(NotImplemented, ReasonRefused, "type", "send_message: groupchat: xmppgate has no MUC service yet")
	default:
		return nil, Errorf(Invalid, ReasonBadStanza, "type", "%s", badAttr("type"))
	}
	from, to := c.Args.String("from"), c.Args.String("to")
	if _, err := ParseBareJID(to); err != nil {
		return nil, Errorf(Invalid, ReasonBadStanza, "to", "%s", badAttr("to"))
	}
	if err := ownSender(ctx, c, from, badAttr("from")); err != nil {
		return nil, err
	}
	l, err := live(c)
	if err != nil {
		return nil, err
	}
	if err := l.SendMessage(ctx, from, to, typ, c.Args.String("subject"), c.Args.String("body")); err != nil {
		return nil, routeError(err)
	}
	return StatusOK, nil
}

// SendStanza is mod_admin_extra's send_stanza.
var SendStanza = &Def{
	Name: "send_stanza",
	Doc: "Routes a stanza (one message, presence or iq, XML text) from a JID of the caller's domains to a JID this server hosts; " +
		"from and to replace the stanza's own. XML that does not parse, or is not one stanza, answers why; a bad JID answers JID malformed.",
	Args:   []Arg{argFrom, argTo, argStanza},
	Result: Result{Kind: ResultStatus},
	Names:  map[Dialect]string{Ejabberd: "send_stanza"},
	Handle: sendStanza,
}

func sendStanza(ctx context.Context, c *Call) (any, error) {
	from, to := c.Args.String("from"), c.Args.String("to")
	if _, err := ParseBareJID(to); err != nil {
		return nil, Errorf(Invalid, ReasonBadStanza, "to", "JID malformed")
	}
	if err := ownSender(ctx, c, from, "JID malformed"); err != nil {
		return nil, err
	}
	l, err := live(c)
	if err != nil {
		return nil, err
	}
	return StatusOK, routeError(l.RouteStanza(ctx, from, to, []byte(c.Args.String("stanza"))))
}

// SendStanzaC2S is mod_admin_extra's send_stanza_c2s. As in ejabberd
// (ejabberd_c2s:send), the stanza is written to that session's client.
var SendStanzaC2S = &Def{
	Name: "send_stanza_c2s",
	Doc: "Writes a stanza (one message, presence or iq, XML text) to the client of the live session user@host/resource, as it is " +
		"(ejabberd_c2s:send: the stanza goes to that client, not from it), on whichever node of a cluster holds the session. No such session: no_session.",
	Args:   []Arg{argUsername, argDomain, argResource, argStanza},
	Result: Result{Kind: ResultStatus},
	Names:  map[Dialect]string{Ejabberd: "send_stanza_c2s"},
	Handle: sendStanzaC2S,
}

func sendStanzaC2S(ctx context.Context, c *Call) (any, error) {
	l, err := live(c)
	if err != nil {
		return nil, err
	}
	found, err := l.SendToSession(c.Args.Domain("domain").FQDN, c.Args.String("username"), c.Args.String("resource"), []byte(c.Args.String("stanza")))
	if err != nil {
		return nil, routeError(err)
	}
	if !found {
		return nil, Errorf(Invalid, ReasonNoSession, "resource", "no_session")
	}
	return StatusOK, nil
}

var presenceColumns = []string{"jid", "show", "status"}

// GetPresence is mod_admin_extra's get_presence.
var GetPresence = &Def{
	Name: "get_presence",
	Doc: "The user's presence: the available session with the highest priority (ties: the first by resource) with its show " +
		"(available, away, chat, dnd, xa) and status text; a session that sent no presence yet shows unavailable; offline: the bare JID, unavailable.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultRow, Name: "presence", Columns: presenceColumns},
	Names:  map[Dialect]string{Ejabberd: "get_presence"},
	Handle: getPresence,
}

func getPresence(ctx context.Context, c *Call) (any, error) {
	ss, err := userSessions(ctx, c)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: presenceColumns}
	if len(ss) == 0 {
		t.Rows = [][]any{{c.Args.String("username") + "@" + c.Args.Domain("domain").FQDN, "unavailable", ""}}
		return t, nil
	}
	best := ss[0]
	for _, s := range ss[1:] {
		if s.Available && (!best.Available || s.Priority > best.Priority) {
			best = s
		}
	}
	status := best.Status
	if !best.Available {
		status = ""
	}
	t.Rows = [][]any{{best.JID, show(best), status}}
	return t, nil
}

var (
	argPresenceType = Arg{Name: "type", Type: String, Doc: "available or unavailable."}
	argShow         = Arg{Name: "show", Type: String, Optional: true, Doc: "away, chat, dnd, xa, or empty (available)."}
	argStatusText   = Arg{Name: "status", Type: String, Optional: true, Doc: "Status text, or empty."}
	argPriority     = Arg{Name: "priority", Type: Int, EjabberdIntSince: 1,
		Doc: "Priority, -128 to 127: a decimal string in API v0 (ejabberd 23.01 refuses a JSON number), an integer from v1."}
)

// SetPresence is mod_admin_extra's set_presence.
var SetPresence = &Def{
	Name: "set_presence",
	Doc: "Sets the presence of the live session user@host/resource as if its client had sent it: type available broadcasts show, " +
		"status and priority to the contacts subscribed to the user and to the user's resources; unavailable ends it. " +
		"On whichever node of a cluster holds the session. No such session: no_session.",
	Args:   []Arg{argUsername, argDomain, argResource, argPresenceType, argShow, argStatusText, argPriority},
	Result: Result{Kind: ResultStatus},
	Names:  map[Dialect]string{Ejabberd: "set_presence"},
	Handle: setPresence,
}

func setPresence(ctx context.Context, c *Call) (any, error) {
	typ := c.Args.String("type")
	if typ != "available" && typ != "unavailable" {
		return nil, Errorf(Invalid, ReasonMalformed, "type", "type must be available or unavailable")
	}
	sh := c.Args.String("show")
	switch sh {
	case "available":
		sh = ""
	case "", "away", "chat", "dnd", "xa":
	default:
		return nil, Errorf(Invalid, ReasonMalformed, "show", "show must be away, chat, dnd or xa")
	}
	prio := c.Args.Int("priority")
	if prio < -128 || prio > 127 {
		return nil, Errorf(Invalid, ReasonMalformed, "priority", "priority must be from -128 to 127")
	}
	l, err := live(c)
	if err != nil {
		return nil, err
	}
	found, err := l.SetPresence(c.Args.Domain("domain").FQDN, c.Args.String("username"), c.Args.String("resource"), typ, sh,
		c.Args.String("status"), int(prio))
	if err != nil {
		return nil, routeError(err)
	}
	if !found {
		return nil, Errorf(Invalid, ReasonNoSession, "resource", "no_session")
	}
	return StatusOK, nil
}
