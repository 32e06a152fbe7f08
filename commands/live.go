package commands

import (
	"context"
	"time"
)

// Session is one live XMPP session, as Live reports it.
type Session struct {
	JID              string // full JID
	Domain, Username string
	Resource, IP     string
	Port, Priority   int
	Connected        time.Time
	Status, Show     string
	TLS, Available   bool
}

// Live is the running XMPP server as handlers see it: read commands about
// sessions and the few direct actions that are not queued changes. main
// wires xmppcore into it; nil when no XMPP server runs.
type Live interface {
	// Sessions lists sessions; "" matches every domain or user.
	Sessions(domain, username string) []Session
	// Kick closes the user's sessions (one, if resource is set) and says how many.
	Kick(domain, username, resource, reason string) int
	// SendStanza routes a serialised stanza as the server.
	SendStanza(ctx context.Context, raw []byte) error
	// SendMessage sends a message as the server would route it from from.
	SendMessage(ctx context.Context, from, to, typ, subject, body string) error
	// OnlineCount counts the sessions of a domain ("" for all).
	OnlineCount(domain string) int
	// DomainSettingsChanged makes the server re-read a domain's settings.
	DomainSettingsChanged(fqdn string)
	// RouteStanza parses raw (one message, presence or iq), sets its from
	// and to and routes it as the server routes a stanza from from.
	RouteStanza(ctx context.Context, from, to string, raw []byte) error
	// SendToSession writes raw (one message, presence or iq) to the client
	// of one session; found is false if there is no such session.
	SendToSession(domain, username, resource string, raw []byte) (found bool, err error)
	// SetPresence makes one session's presence what it would be had its
	// client sent it (typ available or unavailable); found as above.
	SetPresence(domain, username, resource, typ, show, status string, priority int) (found bool, err error)
}

// live returns Live or the error of a process without an XMPP server.
func live(c *Call) (Live, error) {
	if c.Env.Live == nil {
		return nil, Errorf(Invalid, ReasonNoServer, "", "no XMPP server runs in this process")
	}
	return c.Env.Live, nil
}
