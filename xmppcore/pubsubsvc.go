package xmppcore

import (
	"context"
	"errors"

	"go.uber.org/zap"
	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/pubsub"
)

// XEP-0060 Publish-Subscribe as a service at pubsub.<domain> (ejabberd's
// and Prosody's mod_pubsub): nodes of the domain, created by its users as
// moduleConfig.modPubsub.createnodeAcl allows, with affiliations and
// explicit subscriptions. Requests, items and events share their wire
// forms with personal eventing (pep.go); the store keeps the nodes per
// domain (store/pubsub_service.go).

var serviceFeatures = []string{
	pubsub.NS,
	pubsub.NS + "#access-open",
	pubsub.NS + "#access-whitelist",
	pubsub.NS + "#config-node",
	pubsub.NS + "#create-and-configure",
	pubsub.NS + "#create-nodes",
	pubsub.NS + "#delete-items",
	pubsub.NS + "#delete-nodes",
	pubsub.NS + "#instant-nodes",
	pubsub.NS + "#item-ids",
	pubsub.NS + "#last-published",
	pubsub.NS + "#member-affiliation",
	pubsub.NS + "#meta-data",
	pubsub.NS + "#modify-affiliations",
	pubsub.NS + "#outcast-affiliation",
	pubsub.NS + "#persistent-items",
	pubsub.NS + "#publish",
	pubsub.NS + "#publish-options",
	pubsub.NS + "#publisher-affiliation",
	pubsub.NS + "#purge-nodes",
	pubsub.NS + "#retract-items",
	pubsub.NS + "#retrieve-affiliations",
	pubsub.NS + "#retrieve-default",
	pubsub.NS + "#retrieve-items",
	pubsub.NS + "#retrieve-subscriptions",
	pubsub.NS + "#subscribe",
}

func init() {
	services = append(services, &service{
		label:    "pubsub",
		module:   modcfg.Pubsub,
		identity: [3]string{"pubsub", "service", "Publish-Subscribe"},
		features: serviceFeatures,
		handlers: []handler{
			{pubsub.NS, "pubsub", targetServer, svcIQ},
			{pubsub.NSOwner, "pubsub", targetServer, svcOwnerIQ},
		},
		nodes: &serviceNodes{info: getOnly(svcNodeInfo), items: svcDiscoItems},
	})
}

var (
	errNotSubscribed   = pepErr("cancel", "unexpected-request", "not-subscribed", "")
	errInvalidJID      = pepErr("modify", "bad-request", "invalid-jid", "")
	errPersonalAccess  = pepErr("modify", "not-acceptable", "unsupported-access-model", "")
	errCreateForbidden = &stanzaErr{typ: "auth", cond: "forbidden", text: "createnodeAcl does not let this user create nodes"}
)

// svcJID is the service's JID on domain d.
func svcJID(d modcfg.Domain) string { return "pubsub." + d.FQDN }

// svcNode is a node of the service with its configuration and the
// requester's affiliation.
type svcNode struct {
	store.PubsubNode
	cfg pubsub.Config
	aff string
}

func (s *Server) svcNode(ctx context.Context, r *iqReq, name string) (svcNode, *stanzaErr) {
	if name == "" {
		return svcNode{}, errNodeRequired
	}
	n, err := s.st.ServiceNode(ctx, r.dom.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return svcNode{}, &errItemNotFound
	}
	if err != nil {
		return svcNode{}, &errInternal
	}
	aff, err := s.st.NodeAffiliation(ctx, n.ID, r.c.user.ID)
	if err != nil {
		return svcNode{}, &errInternal
	}
	return svcNode{PubsubNode: n, cfg: pubsub.Decode(n.Config), aff: aff}, nil
}

// readable is the error for a requester the node does not let read or
// subscribe (XEP-0060 6.1.3.5, 6.5.7): outcasts are blocked.
func (n svcNode) readable() *stanzaErr {
	switch {
	case n.aff == pubsub.Outcast:
		return &errForbidden
	case !n.cfg.AllowsAffiliated(n.aff):
		return denied(n.cfg)
	}
	return nil
}

// svcIQ serves <pubsub xmlns='http://jabber.org/protocol/pubsub'/> at the service.
func svcIQ(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	op, bad := pubsubOp(r, errForbidden)
	if bad != nil {
		return nil, bad
	}
	ctx := context.Background()
	if r.typ == "get" {
		switch op.Name.Local {
		case "items":
			return s.svcItems(ctx, r, op)
		case "subscriptions":
			return s.svcMine(ctx, r, op.Get("node"), true)
		case "affiliations":
			return s.svcMine(ctx, r, op.Get("node"), false)
		case "options", "default":
			return nil, unsupported("subscription-options")
		}
		return nil, &errBadRequest
	}
	if r.typ != "set" {
		return nil, &errBadRequest
	}
	switch op.Name.Local {
	case "create":
		return s.svcCreate(ctx, r, op, r.q.Child(pubsub.NS, "configure"))
	case "publish":
		return s.svcPublish(ctx, r, op, r.q.Child(pubsub.NS, "publish-options"))
	case "retract":
		return s.svcRetract(ctx, r, op)
	case "subscribe":
		return s.svcSubscribe(ctx, r, op)
	case "unsubscribe":
		return s.svcUnsubscribe(ctx, r, op)
	case "options":
		return nil, unsupported("subscription-options")
	}
	return nil, &errBadRequest
}

// mayCreate applies createnodeAcl: "local" lets every user of the domain
// create nodes; "pubsub_create_users" names an ejabberd ACL that
// xmppgate has no store for, so it is read as the domain's administrators.
func (s *Server) mayCreate(r *iqReq) bool {
	if r.c.domain().ID != r.dom.ID {
		return false
	}
	return r.dom.PubsubCreate != modcfg.CreateUsers || s.isAdmin(r.c, r.dom)
}

// svcCreate creates a node (XEP-0060 8.1), an instant one when no node
// is named (8.1.2), owned by the requester.
func (s *Server) svcCreate(ctx context.Context, r *iqReq, op, configure *xmlel.Element) (*xmlel.Element, *stanzaErr) {
	if !s.mayCreate(r) {
		return nil, errCreateForbidden
	}
	cfg := pubsub.ServiceDefault()
	if configure != nil && configure.First() != nil {
		var bad *stanzaErr
		if cfg, bad = configured(cfg, configure.First()); bad != nil {
			return nil, bad
		}
	}
	if cfg.PersonalOnly() {
		return nil, errPersonalAccess
	}
	name, instant := op.Get("node"), op.Get("node") == ""
	if instant {
		name = newID()
	}
	full := false
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		// Bounded as an account's personal nodes are.
		n, err := tx.OwnedServiceNodes(ctx, r.c.user.ID)
		if full = n >= maxNodes; err != nil || full {
			return err
		}
		_, err = tx.CreateServiceNode(ctx, store.PubsubNode{DomainID: r.dom.ID, Name: name,
			Config: cfg.Encode(), MaxItems: cfg.Kept(), ItemExpire: cfg.ItemExpire}, r.c.user.ID)
		return err
	})
	switch {
	case errors.Is(err, store.ErrDuplicate):
		return nil, errNodeExists
	case err != nil:
		s.log.Warn("pubsub create", zap.Error(err))
		return nil, &errInternal
	case full:
		return nil, errTooManyNodes
	case instant:
		return xmlel.New(pubsub.NS, "pubsub").Add(xmlel.New(pubsub.NS, "create", "node", name)), nil
	}
	return nil, nil
}

// svcPublish publishes an item (XEP-0060 7.1) as an owner or publisher.
// Nodes are not auto-created: create them first.
func (s *Server) svcPublish(ctx context.Context, r *iqReq, op, opts *xmlel.Element) (*xmlel.Element, *stanzaErr) {
	p, bad := parsePublish(op, opts)
	if bad != nil {
		return nil, bad
	}
	n, bad := s.svcNode(ctx, r, p.node)
	if bad != nil {
		return nil, bad
	}
	if !pubsub.CanPublish(n.aff) {
		return nil, &errForbidden
	}
	if p.fields != nil && !n.cfg.Matches(p.fields) {
		return nil, errPrecondition
	}
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		return tx.PublishServiceItem(ctx, n.ID, store.PubsubItem{ID: p.id, Payload: p.payload.Bytes(""), Publisher: r.c.bare})
	})
	if err != nil {
		s.log.Warn("pubsub publish", zap.Error(err))
		return nil, &errInternal
	}
	s.svcNotify(ctx, r.dom, n, p.itemsEvent(), nil)
	return p.result(), nil
}

// svcRetract deletes an item (XEP-0060 7.2) as an owner or publisher.
func (s *Server) svcRetract(ctx context.Context, r *iqReq, op *xmlel.Element) (*xmlel.Element, *stanzaErr) {
	name, itemID, notify, bad := parseRetract(op)
	if bad != nil {
		return nil, bad
	}
	n, bad := s.svcNode(ctx, r, name)
	if bad != nil {
		return nil, bad
	}
	if !pubsub.CanPublish(n.aff) {
		return nil, &errForbidden
	}
	err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.RetractServiceItem(ctx, n.ID, itemID) })
	if errors.Is(err, store.ErrNotFound) {
		return nil, &errItemNotFound
	}
	if err != nil {
		return nil, &errInternal
	}
	if notify || n.cfg.NotifyRetract {
		s.svcNotify(ctx, r.dom, n, retractEvent(name, itemID), nil)
	}
	return nil, nil
}

// svcItems retrieves items (XEP-0060 6.5) as the access model allows.
func (s *Server) svcItems(ctx context.Context, r *iqReq, op *xmlel.Element) (*xmlel.Element, *stanzaErr) {
	n, bad := s.svcNode(ctx, r, op.Get("node"))
	if bad != nil {
		return nil, bad
	}
	if bad := n.readable(); bad != nil {
		return nil, bad
	}
	return answerItems(op, n.Name, func(max int, ids []string) ([]store.PubsubItem, error) {
		return s.st.ServiceItems(ctx, n.ID, max, ids)
	})
}

// subscriber checks a (un)subscribe request: its jid must be the
// requester's bare or full JID (XEP-0060 6.1.3.1), its node exist.
func (s *Server) subscriber(ctx context.Context, r *iqReq, op *xmlel.Element) (string, svcNode, *stanzaErr) {
	j, err := jid.Parse(op.Get("jid"))
	if err != nil || (j.String() != r.c.bare && !j.Equal(r.c.full)) {
		return "", svcNode{}, errInvalidJID
	}
	n, bad := s.svcNode(ctx, r, op.Get("node"))
	return j.String(), n, bad
}

// svcSubscribe subscribes the requester (XEP-0060 6.1) and sends it the
// node's last item (send_last_published_item on_sub; on presence is
// personal eventing's).
func (s *Server) svcSubscribe(ctx context.Context, r *iqReq, op *xmlel.Element) (*xmlel.Element, *stanzaErr) {
	who, n, bad := s.subscriber(ctx, r, op)
	if bad != nil {
		return nil, bad
	}
	if bad := n.readable(); bad != nil {
		return nil, bad
	}
	var subid string
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		var err error
		subid, err = tx.Subscribe(ctx, n.ID, r.c.user.ID, who, newID())
		return err
	})
	if err != nil {
		return nil, &errInternal
	}
	if n.cfg.SendLast != pubsub.SendNever {
		if last, err := s.st.ServiceItems(ctx, n.ID, 1, nil); err == nil && len(last) == 1 {
			ev := xmlel.New(pubsub.NSEvent, "items", "node", n.Name).Add(pepItemEl(pubsub.NSEvent, last[0]))
			to, _ := jid.Parse(who)
			s.svcSend(r.dom, to, ev)
		}
	}
	return xmlel.New(pubsub.NS, "pubsub").Add(xmlel.New(pubsub.NS, "subscription",
		"node", n.Name, "jid", who, "subid", subid, "subscription", "subscribed")), nil
}

// svcUnsubscribe ends the requester's subscription (XEP-0060 6.2).
func (s *Server) svcUnsubscribe(ctx context.Context, r *iqReq, op *xmlel.Element) (*xmlel.Element, *stanzaErr) {
	who, n, bad := s.subscriber(ctx, r, op)
	if bad != nil {
		return nil, bad
	}
	err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.Unsubscribe(ctx, n.ID, who) })
	if errors.Is(err, store.ErrNotFound) {
		return nil, errNotSubscribed
	}
	if err != nil {
		return nil, &errInternal
	}
	return nil, nil
}

// svcMine lists the requester's subscriptions or affiliations (XEP-0060
// 5.6, 5.7), of one node if named.
func (s *Server) svcMine(ctx context.Context, r *iqReq, node string, subs bool) (*xmlel.Element, *stanzaErr) {
	ns := pubsub.NS
	var out *xmlel.Element
	if subs {
		list, err := s.st.UserSubscriptions(ctx, r.dom.ID, r.c.user.ID)
		if err != nil {
			return nil, &errInternal
		}
		out = xmlel.New(ns, "subscriptions")
		for _, sub := range list {
			if node == "" || sub.Node == node {
				out.Add(xmlel.New(ns, "subscription", "node", sub.Node, "jid", sub.JID, "subid", sub.SubID, "subscription", "subscribed"))
			}
		}
	} else {
		list, err := s.st.UserAffiliations(ctx, r.dom.ID, r.c.user.ID)
		if err != nil {
			return nil, &errInternal
		}
		out = xmlel.New(ns, "affiliations")
		for _, a := range list {
			if node == "" || a.Node == node {
				out.Add(xmlel.New(ns, "affiliation", "node", a.Node, "affiliation", a.Aff))
			}
		}
	}
	if node != "" {
		out.Set("node", node)
	}
	return xmlel.New(ns, "pubsub").Add(out), nil
}

// svcOwnerIQ serves <pubsub xmlns='http://jabber.org/protocol/pubsub#owner'/>
// at the service: the owner's configure, delete, purge, affiliations and
// subscriptions (XEP-0060 8).
func svcOwnerIQ(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	op, bad := pubsubOp(r, errForbidden)
	if bad != nil {
		return nil, bad
	}
	ctx := context.Background()
	if op.Name.Local == "default" {
		return defaultConfig(r, pubsub.ServiceDefault())
	}
	switch op.Name.Local {
	case "configure", "delete", "purge", "affiliations", "subscriptions":
	default:
		return nil, &errBadRequest
	}
	n, bad := s.svcNode(ctx, r, op.Get("node"))
	if bad != nil {
		return nil, bad
	}
	if n.aff != pubsub.Owner {
		return nil, &errForbidden
	}
	get := r.typ == "get"
	if !get && r.typ != "set" {
		return nil, &errBadRequest
	}
	switch op.Name.Local {
	case "configure":
		if get {
			return xmlel.New(pubsub.NSOwner, "pubsub").Add(xmlel.New(pubsub.NSOwner, "configure", "node", n.Name).Add(n.cfg.Form())), nil
		}
		cfg, bad := configured(n.cfg, op.Child(pubsub.NSData, "x"))
		if bad != nil {
			return nil, bad
		}
		if cfg.PersonalOnly() {
			return nil, errPersonalAccess
		}
		n.Config, n.MaxItems, n.ItemExpire = cfg.Encode(), cfg.Kept(), cfg.ItemExpire
		if err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.ConfigureServiceNode(ctx, n.PubsubNode) }); err != nil {
			return nil, &errInternal
		}
		return nil, nil
	case "affiliations":
		if get {
			return s.svcAffiliations(ctx, n)
		}
		return s.svcSetAffiliations(ctx, r, n, op)
	case "subscriptions":
		if !get {
			return nil, unsupported("manage-subscriptions")
		}
		subs, err := s.st.NodeSubscriptions(ctx, n.ID)
		if err != nil {
			return nil, &errInternal
		}
		out := xmlel.New(pubsub.NSOwner, "subscriptions", "node", n.Name)
		for _, sub := range subs {
			out.Add(xmlel.New(pubsub.NSOwner, "subscription", "jid", sub.JID, "subid", sub.SubID, "subscription", "subscribed"))
		}
		return xmlel.New(pubsub.NSOwner, "pubsub").Add(out), nil
	case "delete", "purge":
		if get {
			return nil, &errBadRequest
		}
		// The subscribers are read before a delete takes them away.
		subs, err := s.st.NodeSubscriptions(ctx, n.ID)
		if err != nil {
			return nil, &errInternal
		}
		err = s.st.Write(ctx, func(tx *store.Tx) error {
			if op.Name.Local == "delete" {
				return tx.DeleteServiceNode(ctx, n.ID)
			}
			_, err := tx.PurgeServiceNode(ctx, n.ID)
			return err
		})
		if err != nil {
			return nil, &errInternal
		}
		s.svcNotify(ctx, r.dom, n, xmlel.New(pubsub.NSEvent, op.Name.Local, "node", n.Name), subs)
		return nil, nil
	}
	return nil, &errBadRequest
}

func (s *Server) svcAffiliations(ctx context.Context, n svcNode) (*xmlel.Element, *stanzaErr) {
	affs, err := s.st.NodeAffiliations(ctx, n.ID)
	if err != nil {
		return nil, &errInternal
	}
	out := xmlel.New(pubsub.NSOwner, "affiliations", "node", n.Name)
	for _, a := range affs {
		out.Add(xmlel.New(pubsub.NSOwner, "affiliation", "jid", a.JID, "affiliation", a.Aff))
	}
	return xmlel.New(pubsub.NSOwner, "pubsub").Add(out), nil
}

// svcSetAffiliations applies the owner's affiliation changes (XEP-0060
// 8.9.2) all or none: a JID that is not a local user, an unknown
// affiliation or a node left without owner refuses the request.
func (s *Server) svcSetAffiliations(ctx context.Context, r *iqReq, n svcNode, op *xmlel.Element) (*xmlel.Element, *stanzaErr) {
	type change struct {
		user int64
		aff  string
	}
	var changes []change
	for _, a := range op.Elements() {
		if a.Name.Local != "affiliation" {
			continue
		}
		j, err := jid.Parse(a.Get("jid"))
		if err != nil || j.Localpart() == "" || !pubsub.ValidAffiliation(a.Get("affiliation")) {
			return nil, &errNotAcceptable
		}
		u, err := s.st.UserByJID(ctx, j.Domainpart(), j.Localpart())
		if err != nil {
			return nil, &stanzaErr{typ: "modify", cond: "not-acceptable", text: j.Bare().String() + " is not a user of this server"}
		}
		changes = append(changes, change{u.ID, a.Get("affiliation")})
	}
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		for _, ch := range changes {
			aff := ch.aff
			if aff == pubsub.None {
				aff = store.AffNone
			}
			if err := tx.SetNodeAffiliation(ctx, n.ID, ch.user, aff); err != nil {
				return err
			}
		}
		return nil
	})
	if errors.Is(err, store.ErrLastOwner) {
		return nil, &stanzaErr{typ: "modify", cond: "not-acceptable", text: "a node keeps at least one owner"}
	}
	if err != nil {
		return nil, &errInternal
	}
	return nil, nil
}

// svcNotify sends event ev of node n to its subscribers (subs, or the
// node's current ones if nil) that its access model still admits.
func (s *Server) svcNotify(ctx context.Context, d modcfg.Domain, n svcNode, ev *xmlel.Element, subs []store.Subscription) {
	if subs == nil {
		var err error
		if subs, err = s.st.NodeSubscriptions(ctx, n.ID); err != nil {
			s.log.Warn("pubsub subscribers", zap.Error(err))
			return
		}
	}
	var affs map[int64]string
	if n.cfg.Access == pubsub.Whitelist {
		list, err := s.st.NodeAffiliations(ctx, n.ID)
		if err != nil {
			return
		}
		affs = map[int64]string{}
		for _, a := range list {
			affs[a.UserID] = a.Aff
		}
	}
	for _, sub := range subs {
		if affs != nil && !n.cfg.AllowsAffiliated(affs[sub.UserID]) {
			continue
		}
		if to, err := jid.Parse(sub.JID); err == nil {
			s.svcSend(d, to, ev)
		}
	}
}

// svcSend sends an event as a headline from the service, to every
// available resource of a bare JID.
func (s *Server) svcSend(d modcfg.Domain, to jid.JID, ev *xmlel.Element) {
	from := jid.MustParse(svcJID(d))
	m := xmlel.New(nsClient, "message", "from", from.String(), "to", to.String(), "type", "headline", "id", newID()).
		Add(xmlel.New(pubsub.NSEvent, "event").Add(ev))
	s.routeMessage(m, from, to)
}

// svcVisible lists the nodes of the service r may see.
func (s *Server) svcVisible(ctx context.Context, r *iqReq) ([]store.PubsubNode, error) {
	nodes, err := s.st.ServiceNodes(ctx, r.dom.ID)
	if err != nil {
		return nil, err
	}
	// The requester's affiliations decide: whitelists admit, outcasts are
	// kept out even of open nodes.
	affs := map[int64]string{}
	if !r.c.anon && len(nodes) > 0 {
		list, err := s.st.UserAffiliations(ctx, r.dom.ID, r.c.user.ID)
		if err != nil {
			return nil, err
		}
		for _, a := range list {
			affs[a.NodeID] = a.Aff
		}
	}
	out := nodes[:0]
	for _, n := range nodes {
		if pubsub.Decode(n.Config).AllowsAffiliated(affs[n.ID]) {
			out = append(out, n)
		}
	}
	return out, nil
}

// svcDiscoItems lists the service's nodes (XEP-0060 5.2) or a node's
// items (5.5), as far as the requester may see them.
func svcDiscoItems(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	ctx := context.Background()
	q := xmlel.New(nsDiscoItems, "query")
	service := svcJID(r.dom)
	if name := r.q.Get("node"); name != "" {
		if r.c.anon {
			return nil, &errItemNotFound
		}
		n, bad := s.svcNode(ctx, r, name)
		if bad == nil {
			bad = n.readable()
		}
		if bad != nil {
			return nil, bad
		}
		items, err := s.st.ServiceItems(ctx, n.ID, 0, nil)
		if err != nil {
			return nil, &errInternal
		}
		q.Set("node", name)
		for _, it := range items {
			q.Add(xmlel.New(nsDiscoItems, "item", "jid", service, "name", it.ID))
		}
		return q, nil
	}
	nodes, err := s.svcVisible(ctx, r)
	if err != nil {
		return nil, &errInternal
	}
	for _, n := range nodes {
		item := xmlel.New(nsDiscoItems, "item", "jid", service, "node", n.Name)
		if t := pubsub.Decode(n.Config).Title; t != "" {
			item.Set("name", t)
		}
		q.Add(item)
	}
	return q, nil
}

// svcNodeInfo is a node's disco#info (XEP-0060 5.3, 5.4): a leaf with
// its meta-data.
func svcNodeInfo(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	if r.c.anon {
		return nil, &errItemNotFound
	}
	ctx := context.Background()
	n, bad := s.svcNode(ctx, r, r.q.Get("node"))
	if bad == nil {
		bad = n.readable()
	}
	if bad != nil {
		return nil, bad
	}
	affs, err := s.st.NodeAffiliations(ctx, n.ID)
	if err != nil {
		return nil, &errInternal
	}
	var owners []string
	for _, a := range affs {
		if a.Aff == pubsub.Owner {
			owners = append(owners, a.JID)
		}
	}
	return xmlel.New(nsDiscoInfo, "query", "node", n.Name).
		Add(xmlel.New(nsDiscoInfo, "identity", "category", "pubsub", "type", "leaf")).
		Add(xmlel.New(nsDiscoInfo, "feature", "var", pubsub.NS)).
		Add(n.cfg.MetaData(owners, n.Created)), nil
}
