package xmppcore

import (
	"strings"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
)

// service is an entity on a subdomain of every hosted domain, as ejabberd's
// and Prosody's components are (upload.example.com): clients find it in the
// domain's disco#items and talk to it by its domain JID. The domain's
// moduleConfig switches it; while off, its JID does not exist.
type service struct {
	label string // the subdomain's first label
	// labelOf, if set, reads the label from the parent domain's
	// moduleConfig instead (modMuc's conferenceSubdomain).
	labelOf  func(d modcfg.Domain) string
	module   string
	identity [3]string // category, type, name
	features []string
	// form, if set, adds a XEP-0128 data form to its disco#info.
	form     func(s *Server, d modcfg.Domain) *xmlel.Element
	handlers []handler
	// message, if set, takes the messages sent to the service's JID;
	// otherwise they bounce as to any JID that is not served.
	message func(s *Server, m *xmlel.Element, from jid.JID, d modcfg.Domain)
	// nodes, if set, answers disco#info and disco#items of the service and
	// its nodes instead of the default (no nodes).
	nodes *serviceNodes
	// on reports whether the service runs at all on this server (a part
	// the program did not wire, such as upload without an HTTP side).
	on func(s *Server) bool
	// entity, if set, takes the stanzas (message, presence, iq) sent to
	// JIDs with a localpart at the service (the rooms of a MUC service);
	// otherwise they bounce as to any JID that does not exist.
	entity func(s *Server, st *xmlel.Element, from, to jid.JID, d modcfg.Domain)
}

// labelIn is the service's first label under domain d.
func (svc *service) labelIn(d modcfg.Domain) string {
	if svc.labelOf != nil {
		return svc.labelOf(d)
	}
	return svc.label
}

// serviceNodes answers disco for a service with nodes (XEP-0060 5.2-5.5).
type serviceNodes struct {
	info  iqFunc // disco#info of a node (r.q names it)
	items iqFunc // disco#items of the service or of a node
}

var services []*service

// serviceAt resolves a service JID's domain to the service and its
// parent domain.
func (s *Server) serviceAt(domain string) (*service, modcfg.Domain, bool) {
	label, parent, ok := strings.Cut(domain, ".")
	if !ok {
		return nil, modcfg.Domain{}, false
	}
	var d modcfg.Domain
	looked, ok := false, false
	for _, svc := range services {
		if svc.labelOf == nil && svc.label != label {
			continue
		}
		if !looked {
			d, ok = s.hosted(parent)
			looked = true
		}
		if ok && svc.labelIn(d) == label && d.On(svc.module) && (svc.on == nil || svc.on(s)) {
			return svc, d, true
		}
	}
	return nil, modcfg.Domain{}, false
}

// servicesOf lists the services running on domain d, for its disco#items.
func (s *Server) servicesOf(d modcfg.Domain) []*service {
	var out []*service
	for _, svc := range services {
		if d.On(svc.module) && (svc.on == nil || svc.on(s)) {
			out = append(out, svc)
		}
	}
	return out
}

// serveService answers an IQ request addressed to a service.
func (s *Server) serveService(c *conn, iq *xmlel.Element, svc *service, d modcfg.Domain) {
	q := iq.First()
	r := &iqReq{c: c, iq: iq, q: q, typ: iq.Get("type"), target: targetServer, dom: d}
	var fn iqFunc
	switch {
	case q.Name.Space == nsDiscoInfo && q.Name.Local == "query":
		fn = func(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) { return svc.discoInfo(s, r) }
	case q.Name.Space == nsDiscoItems && q.Name.Local == "query":
		fn = getOnly(func(*Server, *iqReq) (*xmlel.Element, *stanzaErr) { return xmlel.New(nsDiscoItems, "query"), nil })
		if svc.nodes != nil && svc.nodes.items != nil {
			fn = getOnly(svc.nodes.items)
		}
	default:
		for _, h := range svc.handlers {
			if h.ns == q.Name.Space && h.local == q.Name.Local {
				fn = h.fn
				break
			}
		}
	}
	if fn == nil || anonymousRefuses(r) {
		e := errServiceUnavailable
		if fn != nil {
			e = errNotAllowed
		}
		c.sendEl(iqError(iq, "", "", e))
		return
	}
	res, serr := fn(s, r)
	if serr != nil {
		c.sendEl(iqError(iq, "", "", *serr))
		return
	}
	c.sendEl(iqResult(iq, res))
}

func (svc *service) discoInfo(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	if r.typ != "get" {
		return nil, &errBadRequest
	}
	if r.q.Get("node") != "" {
		if svc.nodes != nil && svc.nodes.info != nil {
			return svc.nodes.info(s, r)
		}
		return nil, &errItemNotFound
	}
	q := xmlel.New(nsDiscoInfo, "query").Add(xmlel.New(nsDiscoInfo, "identity",
		"category", svc.identity[0], "type", svc.identity[1], "name", svc.identity[2]))
	for _, f := range append([]string{nsDiscoInfo, nsDiscoItems}, svc.features...) {
		q.Add(xmlel.New(nsDiscoInfo, "feature", "var", f))
	}
	if svc.form != nil {
		q.Add(svc.form(s, r.dom))
	}
	return q, nil
}

// serviceItems are the disco#items of domain d: its running services.
func (s *Server) serviceItems(d modcfg.Domain) *xmlel.Element {
	q := xmlel.New(nsDiscoItems, "query")
	for _, svc := range s.servicesOf(d) {
		q.Add(xmlel.New(nsDiscoItems, "item", "jid", svc.labelIn(d)+"."+d.FQDN, "name", svc.identity[2]))
	}
	return q
}

// toServiceEntity hands a stanza addressed to a JID with a localpart at a
// running service to that service; false if there is none (the caller
// then treats the JID as not existing).
func (s *Server) toServiceEntity(st *xmlel.Element, from, to jid.JID) bool {
	if to.Localpart() == "" {
		return false
	}
	svc, d, ok := s.serviceAt(to.Domainpart())
	if !ok || svc.entity == nil {
		return false
	}
	svc.entity(s, st, from, to, d)
	return true
}
