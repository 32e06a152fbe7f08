package xmppcore

import (
	"context"
	"crypto/rand"
	"encoding/base64"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
)

// stanzaErr is an RFC 6120 section 8.3 stanza error.
type stanzaErr struct {
	typ, cond, text string
	app             *xmlel.Element
}

var (
	errBadRequest         = stanzaErr{typ: "modify", cond: "bad-request"}
	errForbidden          = stanzaErr{typ: "auth", cond: "forbidden"}
	errFeatureNotImpl     = stanzaErr{typ: "cancel", cond: "feature-not-implemented"}
	errInternal           = stanzaErr{typ: "wait", cond: "internal-server-error"}
	errItemNotFound       = stanzaErr{typ: "cancel", cond: "item-not-found"}
	errJIDMalformed       = stanzaErr{typ: "modify", cond: "jid-malformed"}
	errNotAcceptable      = stanzaErr{typ: "modify", cond: "not-acceptable"}
	errNotAllowed         = stanzaErr{typ: "cancel", cond: "not-allowed"}
	errRemoteNotFound     = stanzaErr{typ: "cancel", cond: "remote-server-not-found"}
	errServiceUnavailable = stanzaErr{typ: "cancel", cond: "service-unavailable"}
)

const nsBlockingErrors = "urn:xmpp:blocking:errors"

var errBlocked = stanzaErr{typ: "cancel", cond: "not-acceptable", app: xmlel.New(nsBlockingErrors, "blocked")}

func (e stanzaErr) el() *xmlel.Element {
	er := xmlel.New(nsClient, "error", "type", e.typ).Add(xmlel.New(nsStanzas, e.cond))
	if e.text != "" {
		er.Add(xmlel.New(nsStanzas, "text").Add(e.text))
	}
	if e.app != nil {
		er.Add(e.app.Copy())
	}
	return er
}

// iqError builds the error reply to a stanza: from and to swapped (or given).
func iqError(orig *xmlel.Element, from, to string, e stanzaErr) *xmlel.Element {
	if from == "" {
		from = orig.Get("to")
	}
	if to == "" {
		to = orig.Get("from")
	}
	r := xmlel.New(nsClient, orig.Name.Local, "type", "error", "id", orig.Get("id"), "from", from, "to", to)
	if orig.Name.Local == "iq" {
		if q := orig.First(); q != nil {
			r.Add(q.Copy())
		}
	}
	return r.Add(e.el())
}

// iqResult builds the result of an IQ request with an optional payload.
func iqResult(iq *xmlel.Element, payload *xmlel.Element) *xmlel.Element {
	return xmlel.New(nsClient, "iq", "type", "result", "id", iq.Get("id"), "from", iq.Get("to"), "to", iq.Get("from")).Add(payload)
}

// bounce sends an error for st back to its sender, unless st is an error.
func (s *Server) bounce(st *xmlel.Element, e stanzaErr) {
	if st.Get("type") == "error" {
		return
	}
	if st.Name.Local == "iq" && st.Get("type") != "get" && st.Get("type") != "set" {
		return
	}
	r := iqError(st, "", "", e)
	if c := s.sessionByString(st.Get("from")); c != nil {
		c.sendEl(r)
	} else if from, err := jid.Parse(st.Get("from")); err == nil && !s.forwardFull(from, r) {
		to, _ := jid.Parse(st.Get("to"))
		s.routeRemote(r, to, from) // a stanza from another server
	}
}

func newID() string {
	b := make([]byte, 9)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// hosted returns the domain if the store hosts it.
func (s *Server) hosted(domain string) (modcfg.Domain, bool) {
	d, ok, err := s.domains.Get(context.Background(), domain)
	if err != nil {
		return d, false
	}
	return d, ok
}

// domainOf returns the current settings of c's domain (moduleConfig changes
// apply to running sessions).
func (s *Server) domainOf(c *conn) modcfg.Domain {
	if d, ok := s.hosted(c.domain().FQDN); ok {
		return d
	}
	return *c.domain()
}
