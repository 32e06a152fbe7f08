package xmppcore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/xmlel"
)

// The admin API's stanza and presence actions (ejabberd's send_stanza,
// send_stanza_c2s and set_presence).

// parseStanza reads raw as exactly one message, presence or iq in
// jabber:client (a stanza written without a namespace gets it).
func parseStanza(raw []byte) (*xmlel.Element, error) {
	el, err := xmlel.Parse([]byte("<w xmlns='" + nsClient + "'>" + string(raw) + "</w>"))
	if err != nil {
		return nil, fmt.Errorf("stanza is not well-formed XML: %w", err)
	}
	kids := el.Elements()
	if len(kids) != 1 || strings.TrimSpace(el.InnerText()) != "" {
		return nil, errors.New("stanza must be exactly one element")
	}
	st := kids[0]
	if st.Name.Space != nsClient || (st.Name.Local != "message" && st.Name.Local != "presence" && st.Name.Local != "iq") {
		return nil, errors.New("stanza must be a message, presence or iq in jabber:client")
	}
	return st, nil
}

// RouteStanza routes raw with its from and to replaced by from and to, as a
// stanza from from is routed (messages may be stored offline; presence goes
// to the available resources; an iq needs a full JID).
func (s *Server) RouteStanza(ctx context.Context, from, to string, raw []byte) error {
	fj, err := jid.Parse(from)
	if err != nil || from == "" {
		return errors.New("JID malformed")
	}
	tj, err := jid.Parse(to)
	if err != nil || to == "" {
		return errors.New("JID malformed")
	}
	st, err := parseStanza(raw)
	if err != nil {
		return err
	}
	st.Set("from", fj.String())
	st.Set("to", tj.String())
	if err := s.routeFromServer(st, fj, tj); err != nil {
		return errors.New(strings.TrimPrefix(err.Error(), "xmppcore: "))
	}
	return nil
}

// SendToSession writes raw to the client of username@domain/resource, as
// ejabberd_c2s:send does: the stanza goes to that client as it is. A
// session on another node of a cluster is written to by that node.
func (s *Server) SendToSession(domain, username, resource string, raw []byte) (bool, error) {
	st, err := parseStanza(raw)
	if err != nil {
		return false, err
	}
	if c := s.liveSession(domain, username, resource); c != nil {
		c.sendEl(st)
		return true, nil
	}
	return s.askHolder(Query{Kind: QuerySendToSession, Domain: domain, Username: username, Resource: resource, Stanza: raw})
}

// SetPresence processes a presence for one session as if its client had
// sent it without a to: available (or "") broadcasts it to the contacts
// subscribed to the user and to the user's resources; unavailable ends the
// session's availability. A session on another node of a cluster is set
// by that node.
func (s *Server) SetPresence(domain, username, resource, typ, show, status string, priority int) (bool, error) {
	switch typ {
	case "available", "":
		typ = ""
	case "unavailable":
	default:
		return false, errors.New("presence type must be available or unavailable")
	}
	pa := PresenceArgs{Type: typ, Show: show, Status: status, Priority: priority}
	if c := s.liveSession(domain, username, resource); c != nil {
		s.setPresence(c, pa)
		return true, nil
	}
	return s.askHolder(Query{Kind: QuerySetPresence, Domain: domain, Username: username, Resource: resource, Presence: &pa})
}

func (s *Server) setPresence(c *conn, pa PresenceArgs) {
	p := xmlel.New(nsClient, "presence", "from", c.full.String())
	if pa.Type != "" {
		p.Set("type", pa.Type)
	}
	if pa.Show != "" && pa.Type == "" {
		p.Text(nsClient, "show", pa.Show)
	}
	if pa.Status != "" {
		p.Text(nsClient, "status", pa.Status)
	}
	if pa.Type == "" {
		p.Text(nsClient, "priority", strconv.Itoa(pa.Priority))
	}
	s.clientPresence(c, p, jid.JID{})
}

// liveSession finds a bound session by its parts.
func (s *Server) liveSession(domain, username, resource string) *conn {
	full, err := jid.New(username, domain, resource)
	if err != nil || resource == "" {
		return nil
	}
	return s.session(full)
}
