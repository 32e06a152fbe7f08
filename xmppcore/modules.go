package xmppcore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/privacy"
	"github.com/xmppgate/xmppgate/xmppcore/pubsub"
)

// Namespaces of the modules.
const (
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
	nsPing       = "urn:xmpp:ping"
	nsTime       = "urn:xmpp:time"
	nsVersion    = "jabber:iq:version"
	nsLast       = "jabber:iq:last"
	nsVcard      = "vcard-temp"
	nsBlocking   = "urn:xmpp:blocking"
	nsPrivate    = "jabber:iq:private"
	nsOffline    = "msgoffline"
)

// Version is what jabber:iq:version answers.
var Version = "0.1"

// iqTarget says whom an IQ request is addressed to.
type iqTarget uint8

const (
	targetServer iqTarget = 1 << iota // the domain itself
	targetSelf                        // no to, or the sender's bare JID
	targetOther                       // another local user's bare JID
)

// iqReq is one IQ request handed to a module.
type iqReq struct {
	c      *conn
	iq, q  *xmlel.Element
	typ    string
	target iqTarget
	user   store.User    // the addressed user (targetOther)
	dom    modcfg.Domain // the addressed domain
}

type iqFunc func(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr)

// handler serves one payload (namespace + element) of IQ requests.
type handler struct {
	ns, local string
	targets   iqTarget
	fn        iqFunc
}

// module is one switchable feature: its moduleConfig name, the disco
// features it adds to the server's disco#info, and its IQ handlers. The
// server's disco#info is derived from this table, so moduleConfig and disco
// cannot disagree.
type module struct {
	name     string // moduleConfig key; "" = always on (IM core)
	features []string
	// self are the features the module adds to the disco#info of the
	// user's own account (its bare JID, asked by the user).
	self     []string
	handlers []handler
}

var modules []module

func init() {
	modules = []module{
		{name: "", handlers: []handler{
			{nsRoster, "query", targetSelf, func(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) { return s.rosterIQ(r) }},
			{nsSession, "session", targetServer | targetSelf, func(*Server, *iqReq) (*xmlel.Element, *stanzaErr) { return nil, nil }},
			{nsBind, "bind", targetServer | targetSelf, func(*Server, *iqReq) (*xmlel.Element, *stanzaErr) { return nil, &errNotAllowed }},
		}},
		{name: modcfg.Disco, features: []string{nsDiscoInfo, nsDiscoItems}, handlers: []handler{
			{nsDiscoInfo, "query", targetServer | targetSelf | targetOther, discoInfo},
			{nsDiscoItems, "query", targetServer | targetSelf | targetOther, discoItems},
		}},
		{name: modcfg.Ping, features: []string{nsPing}, handlers: []handler{
			{nsPing, "ping", targetServer | targetSelf, getOnly(func(*Server, *iqReq) (*xmlel.Element, *stanzaErr) { return nil, nil })},
		}},
		{name: modcfg.Time, features: []string{nsTime}, handlers: []handler{
			{nsTime, "time", targetServer, getOnly(entityTime)},
		}},
		{name: modcfg.Version, features: []string{nsVersion}, handlers: []handler{
			{nsVersion, "query", targetServer, getOnly(func(*Server, *iqReq) (*xmlel.Element, *stanzaErr) {
				return xmlel.New(nsVersion, "query").Text(nsVersion, "name", "xmppgate").Text(nsVersion, "version", Version), nil
			})},
		}},
		{name: modcfg.Last, features: []string{nsLast}, handlers: []handler{
			{nsLast, "query", targetServer | targetSelf | targetOther, getOnly(lastActivity)},
		}},
		{name: modcfg.Vcard, features: []string{nsVcard}, handlers: []handler{
			{nsVcard, "vCard", targetSelf | targetOther, vcard},
		}},
		{name: modcfg.Blocking, features: []string{nsBlocking}, handlers: []handler{
			{nsBlocking, "blocklist", targetSelf, getOnly(blocklist)},
			{nsBlocking, "block", targetSelf, setOnly(block)},
			{nsBlocking, "unblock", targetSelf, setOnly(block)},
		}},
		{name: modcfg.Private, features: []string{nsPrivate}, handlers: []handler{
			{nsPrivate, "query", targetSelf, private},
		}},
		{name: modcfg.Offline, features: []string{nsOffline}},
		{name: modcfg.Privacy, features: []string{privacy.NS}, handlers: []handler{
			{privacy.NS, "query", targetSelf, privacyIQ},
		}},
		{name: modcfg.Adhoc, features: []string{nsCommands}, handlers: []handler{
			{nsCommands, "command", targetServer, setOnly(adhocExecute)},
		}},
		{name: modcfg.ExtDisco, features: []string{nsExtDisco}, handlers: []handler{
			{nsExtDisco, "services", targetServer, getOnly(extServices)},
			{nsExtDisco, "credentials", targetServer, getOnly(extCredentials)},
		}},
		{name: modcfg.Carbons, features: []string{nsCarbons}, handlers: []handler{
			{nsCarbons, "enable", targetServer | targetSelf, setOnly(carbonsSwitch)},
			{nsCarbons, "disable", targetServer | targetSelf, setOnly(carbonsSwitch)},
		}},
		{name: modcfg.Push, self: []string{nsPush}, handlers: []handler{
			{nsPush, "enable", targetSelf, pushIQ},
			{nsPush, "disable", targetSelf, pushIQ},
		}},
		{name: modcfg.Mam, self: mamFeatures, handlers: mamHandlers},
		{name: modcfg.Pep, handlers: []handler{
			{pubsub.NS, "pubsub", targetSelf | targetOther, pepIQ},
			{pubsub.NSOwner, "pubsub", targetSelf, pepOwnerIQ},
		}},
	}
	for _, mod := range modules {
		for _, h := range mod.handlers {
			k := handlerKey{h.ns, h.local}
			handlers[k] = append(handlers[k], boundHandler{h, mod.name})
		}
	}
}

type handlerKey struct{ ns, local string }

type boundHandler struct {
	handler
	module string
}

var handlers = map[handlerKey][]boundHandler{}

func getOnly(f iqFunc) iqFunc {
	return func(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
		if r.typ != "get" {
			return nil, &errBadRequest
		}
		return f(s, r)
	}
}

func setOnly(f iqFunc) iqFunc {
	return func(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
		if r.typ != "set" {
			return nil, &errBadRequest
		}
		return f(s, r)
	}
}

// serveIQ answers an IQ request addressed to the server or a bare JID.
func (s *Server) serveIQ(c *conn, iq *xmlel.Element, target iqTarget, user store.User, dom modcfg.Domain) {
	q := iq.First()
	r := &iqReq{c: c, iq: iq, q: q, typ: iq.Get("type"), target: target, user: user, dom: dom}
	if anonymousRefuses(r) {
		c.sendEl(iqError(iq, "", "", errNotAllowed))
		return
	}
	for _, h := range handlers[handlerKey{q.Name.Space, q.Name.Local}] {
		if h.targets&target == 0 || (h.module != "" && !dom.On(h.module)) {
			continue
		}
		res, serr := h.fn(s, r)
		if serr != nil {
			c.sendEl(iqError(iq, "", "", *serr))
			return
		}
		out := iqResult(iq, res)
		if iq.Get("to") == "" {
			out.Set("from", "")
		}
		c.sendEl(out)
		return
	}
	c.sendEl(iqError(iq, "", "", errServiceUnavailable))
}

func discoInfo(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	if r.typ != "get" {
		return nil, &errBadRequest
	}
	if node := r.q.Get("node"); node != "" {
		if r.target == targetServer && r.dom.On(modcfg.Adhoc) {
			for _, cmd := range s.commandsFor(r.c, r.dom) {
				if cmd.node == node {
					return xmlel.New(nsDiscoInfo, "query", "node", node).
						Add(xmlel.New(nsDiscoInfo, "identity", "category", "automation", "type", "command-node", "name", cmd.name)).
						Add(xmlel.New(nsDiscoInfo, "feature", "var", nsCommands)).
						Add(xmlel.New(nsDiscoInfo, "feature", "var", nsData)), nil
				}
			}
		}
		return nil, &errItemNotFound
	}
	q := xmlel.New(nsDiscoInfo, "query")
	if r.target != targetServer {
		q.Add(xmlel.New(nsDiscoInfo, "identity", "category", "account", "type", "registered"))
		if r.target == targetSelf {
			for _, mod := range modules {
				if r.dom.On(mod.name) {
					for _, f := range mod.self {
						q.Add(xmlel.New(nsDiscoInfo, "feature", "var", f))
					}
				}
			}
		}
		pepDiscoInfo(r, q)
		return q, nil
	}
	q.Add(xmlel.New(nsDiscoInfo, "identity", "category", "server", "type", "im", "name", "xmppgate"))
	for _, f := range s.Features(r.dom) {
		q.Add(xmlel.New(nsDiscoInfo, "feature", "var", f))
	}
	return q, nil
}

// Features lists the disco features of domain d: exactly its enabled modules'.
func (s *Server) Features(d modcfg.Domain) []string {
	var out []string
	for _, mod := range modules {
		if mod.name != "" && d.On(mod.name) {
			out = append(out, mod.features...)
		}
	}
	return out
}

func discoItems(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	if r.typ != "get" {
		return nil, &errBadRequest
	}
	if node := r.q.Get("node"); node != "" {
		if node == nsCommands && r.target == targetServer && r.dom.On(modcfg.Adhoc) {
			return s.adhocItems(r), nil
		}
		return nil, &errItemNotFound
	}
	q := xmlel.New(nsDiscoItems, "query")
	if r.target == targetServer {
		return s.serviceItems(r.dom), nil
	}
	if err := s.pepDiscoItems(r, q); err != nil {
		return nil, err
	}
	return q, nil
}

func entityTime(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	now := time.Now().UTC()
	return xmlel.New(nsTime, "time").Text(nsTime, "tzo", "+00:00").Text(nsTime, "utc", now.Format("2006-01-02T15:04:05Z")), nil
}

func lastActivity(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	q := xmlel.New(nsLast, "query")
	if r.target == targetServer {
		return q.Set("seconds", strconv.Itoa(int(time.Since(s.started).Seconds()))), nil
	}
	user, bare := r.c.user, r.c.bare
	if r.target == targetOther {
		user, bare = r.user, r.user.Username+"@"+r.dom.FQDN
		it, err := s.st.RosterItemWithShared(context.Background(), user, r.c.bare)
		if err != nil || (it.Subscription != store.SubFrom && it.Subscription != store.SubBoth) {
			return nil, &errForbidden
		}
	}
	if len(s.availableOf(bare)) > 0 {
		return q.Set("seconds", "0"), nil
	}
	seen, status, err := s.st.LastActivity(context.Background(), user.ID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &errItemNotFound
	}
	if err != nil {
		return nil, &errInternal
	}
	return q.Set("seconds", strconv.Itoa(int(time.Since(seen).Seconds()))).Add(status), nil
}

func vcard(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	ctx := context.Background()
	user := r.c.user
	if r.target == targetOther {
		if r.typ == "set" {
			return nil, &errForbidden
		}
		user = r.user
	}
	if r.typ == "get" {
		b, err := s.st.VCard(ctx, user.ID)
		if errors.Is(err, store.ErrNotFound) {
			return xmlel.New(nsVcard, "vCard"), nil
		}
		if err != nil {
			return nil, &errInternal
		}
		v, err := xmlel.Parse(b)
		if err != nil {
			return nil, &errInternal
		}
		return v, nil
	}
	b := r.q.Bytes("")
	if len(b) > 64<<10 {
		return nil, &errNotAcceptable
	}
	var after func()
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.SetVCard(ctx, user.ID, b); err != nil {
			return err
		}
		var err error
		after, err = s.vcardWritten(ctx, tx, r, r.q)
		return err
	})
	if err != nil {
		return nil, &errInternal
	}
	if after != nil {
		after()
	}
	return nil, nil
}

func private(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	ctx := context.Background()
	kids := r.q.Elements()
	if len(kids) == 0 {
		return nil, &errBadRequest
	}
	for _, k := range kids {
		if k.Name.Space == "" || k.Name.Space == nsClient || strings.HasPrefix(k.Name.Space, "jabber:") {
			return nil, &errNotAcceptable
		}
	}
	if r.typ == "get" {
		if len(kids) != 1 {
			return nil, &errBadRequest
		}
		out := xmlel.New(nsPrivate, "query")
		b, err := s.st.PrivateXML(ctx, r.c.user.ID, kids[0].Name.Space)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return out.Add(kids[0]), nil
		case err != nil:
			return nil, &errInternal
		}
		el, err := xmlel.Parse(b)
		if err != nil {
			return nil, &errInternal
		}
		return out.Add(el), nil
	}
	var after func()
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		for _, k := range kids {
			if err := tx.SetPrivateXML(ctx, r.c.user.ID, k.Name.Space, k.Bytes("")); err != nil {
				return err
			}
		}
		var err error
		after, err = s.privateWritten(ctx, tx, r, kids)
		return err
	})
	if err != nil {
		return nil, &errInternal
	}
	if after != nil {
		after()
	}
	return nil, nil
}

func blocklist(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	r.c.smu.Lock()
	r.c.blockReq = true
	r.c.smu.Unlock()
	list, err := s.st.BlockList(context.Background(), r.c.user.ID)
	if err != nil {
		return nil, &errInternal
	}
	q := xmlel.New(nsBlocking, "blocklist")
	for _, j := range list {
		q.Add(xmlel.New(nsBlocking, "item", "jid", j))
	}
	return q, nil
}

// block handles <block/> and <unblock/> (XEP-0191 sections 3.3 and 3.4).
func block(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	ctx := context.Background()
	var jids []string
	for _, it := range r.q.Elements() {
		if it.Name.Local != "item" {
			continue
		}
		j, err := jid.Parse(it.Get("jid"))
		if err != nil || it.Get("jid") == "" {
			e := errJIDMalformed
			return nil, &e
		}
		jids = append(jids, j.String())
	}
	blocking := r.q.Name.Local == "block"
	if blocking && len(jids) == 0 {
		return nil, &errBadRequest
	}
	var list []string
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		if blocking {
			err = tx.Block(ctx, r.c.user.ID, jids)
		} else {
			err = tx.Unblock(ctx, r.c.user.ID, jids)
		}
		if err != nil {
			return err
		}
		list, err = tx.BlockList(ctx, r.c.user.ID)
		return err
	})
	if err != nil {
		return nil, &errInternal
	}
	s.setBlocked(r.c.bare, list)
	if blocking {
		// Blocked entities see the user go offline (XEP-0191 3.3.1).
		for _, j := range jids {
			tj, err := jid.Parse(j)
			if err != nil || tj.Localpart() == "" {
				continue
			}
			for _, src := range s.availableOf(r.c.bare) {
				p := xmlel.New(nsClient, "presence", "type", "unavailable", "from", src.full.String(), "to", j)
				b := p.Bytes(nsClient)
				if tj.Resourcepart() != "" {
					if t := s.session(tj); t != nil {
						t.send(b)
					}
					continue
				}
				for _, t := range s.availableOf(j) {
					t.send(b)
				}
			}
		}
	}
	push := xmlel.New(nsBlocking, r.q.Name.Local)
	for _, j := range jids {
		push.Add(xmlel.New(nsBlocking, "item", "jid", j))
	}
	for _, t := range s.sessionsOf(r.c.bare) {
		t.smu.Lock()
		want := t.blockReq
		t.smu.Unlock()
		if want {
			t.sendEl(xmlel.New(nsClient, "iq", "type", "set", "id", "push-"+newID(), "to", t.full.String()).Add(push))
		}
	}
	return nil, nil
}
