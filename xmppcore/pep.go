package xmppcore

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"time"

	"go.uber.org/zap"
	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/pubsub"
)

// XEP-0163 Personal Eventing: every account is a pubsub service (its bare
// JID) whose nodes its owner publishes to. Contacts are subscribed
// implicitly: a session receives a node's events when its user has a
// presence subscription to the owner and its XEP-0115 caps list the node
// with +notify, as far as the node's access model allows.

// pepFeatures are the pubsub features of an account's disco#info.
var pepFeatures = []string{
	pubsub.NS,
	pubsub.NS + "#access-open",
	pubsub.NS + "#access-presence",
	pubsub.NS + "#access-roster",
	pubsub.NS + "#access-whitelist",
	pubsub.NS + "#auto-create",
	pubsub.NS + "#auto-subscribe",
	pubsub.NS + "#config-node",
	pubsub.NS + "#create-and-configure",
	pubsub.NS + "#create-nodes",
	pubsub.NS + "#delete-items",
	pubsub.NS + "#delete-nodes",
	pubsub.NS + "#filtered-notifications",
	pubsub.NS + "#item-ids",
	pubsub.NS + "#last-published",
	pubsub.NS + "#persistent-items",
	pubsub.NS + "#presence-notifications",
	pubsub.NS + "#publish",
	pubsub.NS + "#publish-options",
	pubsub.NS + "#purge-nodes",
	pubsub.NS + "#retract-items",
	pubsub.NS + "#retrieve-default",
	pubsub.NS + "#retrieve-items",
}

// pepState is the server's caps knowledge: +notify sets by caps key once
// verified, and the disco#info queries in flight. The zero value is ready.
type pepState struct {
	mu      sync.Mutex
	known   map[string]pubsub.Notify
	asked   map[string]capsQuery // by IQ id
	waiting map[string]*capsWait // by caps key
}

// capsWait is the sessions whose caps are being asked, and when the
// question was sent.
type capsWait struct {
	conns []*conn
	asked time.Time
}

type capsQuery struct {
	caps pubsub.Caps
	c    *conn
}

// bounds on the caps state; past them it is dropped and rebuilt by asking again.
const (
	maxCapsKnown = 10000
	maxCapsAsked = 10000
	// capsPatience is how long a caps question may go unanswered before a
	// session with the same caps is asked in turn.
	capsPatience = 30 * time.Second
)

func pepErr(typ, cond, app, feature string) *stanzaErr {
	e := stanzaErr{typ: typ, cond: cond}
	if app != "" {
		e.app = xmlel.New(pubsub.NSErrors, app, "feature", feature)
	}
	return &e
}

func unsupported(feature string) *stanzaErr {
	return pepErr("cancel", "feature-not-implemented", "unsupported", feature)
}

var (
	errNodeRequired    = pepErr("modify", "bad-request", "nodeid-required", "")
	errItemRequired    = pepErr("modify", "bad-request", "item-required", "")
	errPayloadRequired = pepErr("modify", "bad-request", "payload-required", "")
	errInvalidPayload  = pepErr("modify", "bad-request", "invalid-payload", "")
	errPrecondition    = pepErr("cancel", "conflict", "precondition-not-met", "")
	errNodeExists      = &stanzaErr{typ: "cancel", cond: "conflict"}
	errTooManyNodes    = &stanzaErr{typ: "cancel", cond: "policy-violation", text: "too many nodes"}
)

// maxNodes bounds the nodes of one account.
const maxNodes = 1000

// roomForNode says whether userID may have one more node.
func roomForNode(ctx context.Context, tx *store.Tx, userID int64) (bool, error) {
	n, err := tx.PubsubNodeCount(ctx, userID)
	return n < maxNodes, err
}

// pepOwner is the account r addresses and whether the requester owns it.
func pepOwner(r *iqReq) (store.User, string, bool) {
	if r.target == targetOther {
		return r.user, r.user.Username + "@" + r.dom.FQDN, false
	}
	return r.c.user, r.c.bare, true
}

// pepIQ serves <pubsub xmlns='http://jabber.org/protocol/pubsub'/>.
func pepIQ(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	if r.c.anon {
		return nil, &errNotAllowed
	}
	kids := r.q.Elements()
	if len(kids) == 0 {
		return nil, &errBadRequest
	}
	op := kids[0]
	_, _, owner := pepOwner(r)
	switch {
	case op.Name.Local == "items" && r.typ == "get":
		return s.pepItems(r, op)
	case r.typ != "set":
		if op.Name.Local == "subscriptions" || op.Name.Local == "affiliations" || op.Name.Local == "options" {
			return nil, unsupported("retrieve-" + op.Name.Local)
		}
		return nil, &errBadRequest
	case op.Name.Local == "subscribe" || op.Name.Local == "unsubscribe":
		// Subscriptions to personal nodes are implied by presence and caps.
		return nil, unsupported("subscribe")
	case op.Name.Local == "options":
		return nil, unsupported("subscription-options")
	case !owner:
		return nil, &errForbidden
	case op.Name.Local == "publish":
		return s.pepPublish(r, op, r.q.Child(pubsub.NS, "publish-options"))
	case op.Name.Local == "retract":
		return s.pepRetract(r, op)
	case op.Name.Local == "create":
		return s.pepCreate(r, op, r.q.Child(pubsub.NS, "configure"))
	}
	return nil, &errBadRequest
}

// pepOwnerIQ serves <pubsub xmlns='http://jabber.org/protocol/pubsub#owner'/>.
func pepOwnerIQ(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	op, bad := pubsubOp(r, errNotAllowed)
	if bad != nil {
		return nil, bad
	}
	ctx := context.Background()
	if op.Name.Local == "default" {
		return defaultConfig(r, pubsub.Default())
	}
	name := op.Get("node")
	switch op.Name.Local {
	case "configure", "delete", "purge":
	case "affiliations":
		return nil, unsupported("modify-affiliations")
	case "subscriptions":
		return nil, unsupported("manage-subscriptions")
	default:
		return nil, &errBadRequest
	}
	if name == "" {
		return nil, errNodeRequired
	}
	node, err := s.st.PubsubNode(ctx, r.c.user.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &errItemNotFound
	}
	if err != nil {
		return nil, &errInternal
	}
	cfg := pubsub.Decode(node.Config)
	switch {
	case op.Name.Local == "configure" && r.typ == "get":
		return xmlel.New(pubsub.NSOwner, "pubsub").Add(xmlel.New(pubsub.NSOwner, "configure", "node", name).Add(cfg.Form())), nil
	case r.typ != "set":
		return nil, &errBadRequest
	case op.Name.Local == "configure":
		var bad *stanzaErr
		if cfg, bad = configured(cfg, op.Child(pubsub.NSData, "x")); bad != nil {
			return nil, bad
		}
		node.Config, node.MaxItems, node.ItemExpire = cfg.Encode(), cfg.Kept(), cfg.ItemExpire
		if err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.ConfigurePubsubNode(ctx, node) }); err != nil {
			return nil, &errInternal
		}
		return nil, nil
	default: // delete or purge
		var synced []pubsub.Change
		err := s.st.Write(ctx, func(tx *store.Tx) error {
			var err error
			if op.Name.Local == "delete" {
				err = tx.DeletePubsubNode(ctx, node.ID)
			} else {
				_, err = tx.PurgePubsubNode(ctx, node.ID)
			}
			if err != nil {
				return err
			}
			synced, err = pepWritten(ctx, tx, r.c, name, nil)
			return err
		})
		if err != nil {
			return nil, &errInternal
		}
		s.pepNotify(r.c.user, r.c.bare, cfg, name, xmlel.New(pubsub.NSEvent, op.Name.Local, "node", name))
		s.pepChanges(r.c, synced)
		return nil, nil
	}
}

// pubsubOp is the operation of a pubsub request; anonymous users get anon.
func pubsubOp(r *iqReq, anon stanzaErr) (*xmlel.Element, *stanzaErr) {
	if r.c.anon {
		return nil, &anon
	}
	op := r.q.First()
	if op == nil {
		return nil, &errBadRequest
	}
	return op, nil
}

// defaultConfig answers a request for the default node configuration cfg
// (XEP-0060 8.3).
func defaultConfig(r *iqReq, cfg pubsub.Config) (*xmlel.Element, *stanzaErr) {
	if r.typ != "get" {
		return nil, &errBadRequest
	}
	return xmlel.New(pubsub.NSOwner, "pubsub").Add(xmlel.New(pubsub.NSOwner, "default").Add(cfg.Form())), nil
}

// pepPublish publishes one item (XEP-0060 7.1), creating the node with the
// publish-options, or checking them against it (XEP-0223).
func (s *Server) pepPublish(r *iqReq, op, opts *xmlel.Element) (*xmlel.Element, *stanzaErr) {
	p, bad := parsePublish(op, opts)
	if bad != nil {
		return nil, bad
	}
	name, id, payload, fields := p.node, p.id, p.payload, p.fields
	ctx := context.Background()
	var cfg pubsub.Config
	var fail *stanzaErr
	var synced []pubsub.Change
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		fail = nil
		node, err := tx.PubsubNode(ctx, r.c.user.ID, name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			if cfg, err = pubsub.Default().Apply(fields); err != nil {
				fail = errPrecondition
				return nil
			}
			if ok, err := roomForNode(ctx, tx, r.c.user.ID); err != nil || !ok {
				fail = errTooManyNodes
				return err
			}
			node, err = tx.CreatePubsubNode(ctx, store.PubsubNode{UserID: r.c.user.ID, Name: name,
				Config: cfg.Encode(), MaxItems: cfg.Kept(), ItemExpire: cfg.ItemExpire})
			if err != nil {
				return err
			}
		case err != nil:
			return err
		default:
			cfg = pubsub.Decode(node.Config)
			if fields != nil && !cfg.Matches(fields) {
				fail = errPrecondition
				return nil
			}
		}
		if err := tx.PublishPubsubItem(ctx, node.ID, store.PubsubItem{ID: id, Payload: payload.Bytes(""), Publisher: r.c.bare}); err != nil {
			return err
		}
		synced, err = pepWritten(ctx, tx, r.c, name, payload)
		return err
	})
	if err != nil {
		s.log.Warn("pep publish", zap.Error(err))
		return nil, &errInternal
	}
	if fail != nil {
		return nil, fail
	}
	s.pepNotify(r.c.user, r.c.bare, cfg, name, p.itemsEvent())
	s.pepChanges(r.c, synced)
	return p.result(), nil
}

// publishReq is a parsed <publish/> with its publish-options.
type publishReq struct {
	node, id string
	payload  *xmlel.Element
	fields   map[string][]string // nil: no publish-options
}

// parsePublish reads a <publish/> of one item with one payload (XEP-0060
// 7.1.3's errors otherwise); an item without an id gets one.
func parsePublish(op, opts *xmlel.Element) (publishReq, *stanzaErr) {
	p := publishReq{node: op.Get("node")}
	if p.node == "" {
		return p, errNodeRequired
	}
	items := op.Elements()
	if len(items) == 0 {
		return p, errItemRequired
	}
	if len(items) > 1 || items[0].Name.Local != "item" {
		return p, errInvalidPayload
	}
	payloads := items[0].Elements()
	if len(payloads) == 0 {
		return p, errPayloadRequired
	}
	if len(payloads) > 1 {
		return p, errInvalidPayload
	}
	if opts != nil && opts.First() != nil {
		var err error
		if p.fields, err = pubsub.Fields(opts.First(), pubsub.FormPublishOptions); err != nil {
			return p, &errBadRequest
		}
	}
	if p.id = items[0].Get("id"); p.id == "" {
		p.id = newID()
	}
	p.payload = payloads[0]
	return p, nil
}

// result is the publish's IQ result, naming the item.
func (p publishReq) result() *xmlel.Element {
	return xmlel.New(pubsub.NS, "pubsub").Add(xmlel.New(pubsub.NS, "publish", "node", p.node).
		Add(xmlel.New(pubsub.NS, "item", "id", p.id)))
}

// itemsEvent is the <items/> event of a published item.
func (p publishReq) itemsEvent() *xmlel.Element {
	return xmlel.New(pubsub.NSEvent, "items", "node", p.node).Add(xmlel.New(pubsub.NSEvent, "item", "id", p.id).Add(p.payload))
}

// pepRetract deletes an item (XEP-0060 7.2).
func (s *Server) pepRetract(r *iqReq, op *xmlel.Element) (*xmlel.Element, *stanzaErr) {
	name, itemID, notify, bad := parseRetract(op)
	if bad != nil {
		return nil, bad
	}
	ctx := context.Background()
	node, err := s.st.PubsubNode(ctx, r.c.user.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &errItemNotFound
	}
	if err != nil {
		return nil, &errInternal
	}
	var synced []pubsub.Change
	err = s.st.Write(ctx, func(tx *store.Tx) error {
		if err := tx.RetractPubsubItem(ctx, node.ID, itemID); err != nil {
			return err
		}
		var err error
		synced, err = pepWritten(ctx, tx, r.c, name, nil)
		return err
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, &errItemNotFound
	}
	if err != nil {
		return nil, &errInternal
	}
	cfg := pubsub.Decode(node.Config)
	if notify || cfg.NotifyRetract {
		s.pepNotify(r.c.user, r.c.bare, cfg, name, retractEvent(name, itemID))
	}
	s.pepChanges(r.c, synced)
	return nil, nil
}

// parseRetract reads a <retract/> (XEP-0060 7.2) and its notify flag.
func parseRetract(op *xmlel.Element) (node, item string, notify bool, bad *stanzaErr) {
	if node = op.Get("node"); node == "" {
		return "", "", false, errNodeRequired
	}
	it := op.Child(pubsub.NS, "item")
	if it == nil || it.Get("id") == "" {
		return "", "", false, errItemRequired
	}
	n := op.Get("notify")
	return node, it.Get("id"), n == "1" || n == "true", nil
}

func retractEvent(node, item string) *xmlel.Element {
	return xmlel.New(pubsub.NSEvent, "items", "node", node).Add(xmlel.New(pubsub.NSEvent, "retract", "id", item))
}

// pepCreate creates a node, configured by the form that comes with it
// (XEP-0060 8.1). Instant nodes have no use on an account.
func (s *Server) pepCreate(r *iqReq, op, configure *xmlel.Element) (*xmlel.Element, *stanzaErr) {
	name := op.Get("node")
	if name == "" {
		return nil, pepErr("modify", "not-acceptable", "nodeid-required", "")
	}
	cfg := pubsub.Default()
	if configure != nil && configure.First() != nil {
		var bad *stanzaErr
		if cfg, bad = configured(cfg, configure.First()); bad != nil {
			return nil, bad
		}
	}
	ctx := context.Background()
	full := false
	err := s.st.Write(ctx, func(tx *store.Tx) error {
		ok, err := roomForNode(ctx, tx, r.c.user.ID)
		if full = !ok; err != nil || full {
			return err
		}
		_, err = tx.CreatePubsubNode(ctx, store.PubsubNode{UserID: r.c.user.ID, Name: name,
			Config: cfg.Encode(), MaxItems: cfg.Kept(), ItemExpire: cfg.ItemExpire})
		return err
	})
	if errors.Is(err, store.ErrDuplicate) {
		return nil, errNodeExists
	}
	if full && err == nil {
		return nil, errTooManyNodes
	}
	if err != nil {
		return nil, &errInternal
	}
	return nil, nil
}

// configured is cfg with a node_config form x applied (XEP-0060 8.2.5's
// errors otherwise).
func configured(cfg pubsub.Config, x *xmlel.Element) (pubsub.Config, *stanzaErr) {
	fields, err := pubsub.Fields(x, pubsub.FormNodeConfig)
	if err != nil {
		return cfg, &errBadRequest
	}
	if cfg, err = cfg.Apply(fields); err != nil {
		return cfg, &errNotAcceptable
	}
	return cfg, nil
}

// pepRelation is what the owner's roster says of the requester r.
func (s *Server) pepRelation(ctx context.Context, owner store.User, ownerBare, requester string) pubsub.Relation {
	if requester == ownerBare {
		return pubsub.Relation{Owner: true}
	}
	it, err := s.st.RosterItemWithShared(ctx, owner, requester)
	if err != nil || !it.Visible {
		return pubsub.Relation{}
	}
	return pubsub.Relation{Subscribed: it.Subscription == store.SubFrom || it.Subscription == store.SubBoth, Groups: it.Groups}
}

// pepItems retrieves items (XEP-0060 6.5) of the requester's own account
// or, as the node's access model allows, of another's.
func (s *Server) pepItems(r *iqReq, op *xmlel.Element) (*xmlel.Element, *stanzaErr) {
	owner, ownerBare, _ := pepOwner(r)
	name := op.Get("node")
	if name == "" {
		return nil, errNodeRequired
	}
	ctx := context.Background()
	node, err := s.st.PubsubNode(ctx, owner.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, &errItemNotFound
	}
	if err != nil {
		return nil, &errInternal
	}
	cfg := pubsub.Decode(node.Config)
	if !cfg.Allows(s.pepRelation(ctx, owner, ownerBare, r.c.bare)) {
		return nil, denied(cfg)
	}
	return answerItems(op, name, func(max int, ids []string) ([]store.PubsubItem, error) {
		return s.st.PubsubItems(ctx, node.ID, max, ids)
	})
}

// denied is the error for a requester cfg's access model refuses.
func denied(cfg pubsub.Config) *stanzaErr {
	cond, app := cfg.Denial()
	typ := "auth"
	if cond == "not-allowed" {
		typ = "cancel"
	}
	return pepErr(typ, cond, app, "")
}

// parseItems reads an <items/> request (XEP-0060 6.5): the items by id, or
// the last max_items (0: all).
func parseItems(op *xmlel.Element) (max int, ids []string, bad *stanzaErr) {
	for _, it := range op.Elements() {
		if it.Name.Local == "item" && it.Get("id") != "" {
			ids = append(ids, it.Get("id"))
		}
	}
	if m := op.Get("max_items"); m != "" {
		var err error
		if max, err = strconv.Atoi(m); err != nil || max < 1 {
			return 0, nil, &errBadRequest
		}
	}
	return max, ids, nil
}

// answerItems answers an <items/> request of node with the items fetch
// returns.
func answerItems(op *xmlel.Element, node string, fetch func(max int, ids []string) ([]store.PubsubItem, error)) (*xmlel.Element, *stanzaErr) {
	max, ids, bad := parseItems(op)
	if bad != nil {
		return nil, bad
	}
	items, err := fetch(max, ids)
	if err != nil {
		return nil, &errInternal
	}
	out := xmlel.New(pubsub.NS, "items", "node", node)
	for _, it := range items {
		out.Add(pepItemEl(pubsub.NS, it))
	}
	return xmlel.New(pubsub.NS, "pubsub").Add(out), nil
}

func pepItemEl(ns string, it store.PubsubItem) *xmlel.Element {
	e := xmlel.New(ns, "item", "id", it.ID)
	if p, err := xmlel.Parse(it.Payload); err == nil {
		e.Add(p)
	}
	return e
}

// pepNotify sends an event (<items/>, <delete/> or <purge/> of node) to
// the sessions of the owner and of the contacts subscribed to the owner's
// presence that asked for the node with +notify, as the access model allows.
func (s *Server) pepNotify(owner store.User, ownerBare string, cfg pubsub.Config, node string, ev *xmlel.Element) {
	event := xmlel.New(pubsub.NSEvent, "event").Add(ev)
	send := func(t *conn) {
		t.sendEl(xmlel.New(nsClient, "message", "from", ownerBare, "to", t.full.String(), "type", "headline", "id", newID()).Add(event))
	}
	for _, t := range s.availableOf(ownerBare) {
		if t.wantsNode(node) {
			send(t)
		}
	}
	s.pepForward(ownerBare, ownerBare, event)
	if cfg.Access == pubsub.Whitelist {
		return
	}
	items, _, err := s.st.RosterWithShared(context.Background(), owner)
	if err != nil {
		s.log.Warn("pep roster", zap.Error(err))
		return
	}
	d, _ := s.hosted(ownerFQDN(ownerBare))
	for _, it := range items {
		rel := pubsub.Relation{Subscribed: it.Subscription == store.SubFrom || it.Subscription == store.SubBoth, Groups: it.Groups}
		if !it.Visible || !rel.Subscribed || !cfg.Allows(rel) {
			continue
		}
		targets := append(s.availableOf(it.Contact), s.remoteTargets(it.Contact, ownerBare)...)
		elsewhere := s.cfg.Cluster != nil && len(s.remoteAvailable(it.Contact)) > 0
		if len(targets) == 0 && !elsewhere {
			continue
		}
		if d.On(modcfg.Blocking) {
			var who jid.JID
			if len(targets) > 0 {
				who = targets[0].full.Bare()
			} else {
				who, _ = jid.Parse(it.Contact) // only on other nodes
			}
			if s.blockedBy(ownerBare, owner.ID, who) {
				continue
			}
		}
		for _, t := range targets {
			if t.wantsNode(node) {
				send(t)
			}
		}
		if elsewhere {
			s.pepForward(ownerBare, it.Contact, event)
		}
	}
}

func ownerFQDN(bare string) string {
	for i := len(bare) - 1; i >= 0; i-- {
		if bare[i] == '@' {
			return bare[i+1:]
		}
	}
	return bare
}

// wantsNode reports whether the session's caps ask for events of node.
func (c *conn) wantsNode(node string) bool {
	c.smu.Lock()
	defer c.smu.Unlock()
	return c.notify.Has(node)
}

// pepAvailable learns the +notify set of a session from the caps of its
// available presence p, asking the client once per caps hash, and sends it
// the last items of the nodes it newly wants (XEP-0163 4.3.4: on its
// initial presence, of its contacts' and its own account's nodes).
func (s *Server) pepAvailable(c *conn, p *xmlel.Element, roster []store.RosterItem) {
	if c.anon || !s.domainOf(c).On(modcfg.Pep) {
		return
	}
	caps, ok := pubsub.ParseCaps(p)
	if !ok {
		return
	}
	key := caps.Key()
	c.smu.Lock()
	same := c.capsKey == key
	c.capsKey = key
	c.smu.Unlock()
	if same {
		return
	}
	s.pep.mu.Lock()
	n, known := s.pep.known[key]
	ask := false
	if !known {
		if s.pep.waiting == nil || len(s.pep.waiting) > maxCapsAsked {
			s.pep.waiting = map[string]*capsWait{}
		}
		w := s.pep.waiting[key]
		if w == nil {
			w = &capsWait{}
			s.pep.waiting[key] = w
		}
		// Sessions gone while waiting are dropped here, so a caps key that
		// is never answered holds only live sessions.
		w.conns = slices.DeleteFunc(w.conns, func(x *conn) bool { return !x.open() })
		w.conns = append(w.conns, c)
		if ask = len(w.conns) == 1 || time.Since(w.asked) > capsPatience; ask {
			w.asked = time.Now()
		}
	}
	s.pep.mu.Unlock()
	if known {
		s.pepSetNotify(c, n, roster)
		return
	}
	if ask {
		s.askCaps(c, caps)
	}
}

// askCaps sends the disco#info query of caps to c (XEP-0115 6.3).
func (s *Server) askCaps(c *conn, caps pubsub.Caps) {
	id := "caps-" + newID()
	s.pep.mu.Lock()
	if s.pep.asked == nil || len(s.pep.asked) > maxCapsAsked {
		s.pep.asked = map[string]capsQuery{}
	}
	s.pep.asked[id] = capsQuery{caps: caps, c: c}
	s.pep.mu.Unlock()
	q := xmlel.New(nsDiscoInfo, "query", "node", caps.Node+"#"+caps.Ver)
	c.sendEl(xmlel.New(nsClient, "iq", "type", "get", "id", id, "from", c.domain().FQDN, "to", c.full.String()).Add(q))
}

// pepIQReply takes the answer to a caps query sent by askCaps; it reports
// whether iq was one.
func (s *Server) pepIQReply(c *conn, iq *xmlel.Element) bool {
	id := iq.Get("id")
	if len(id) < 5 || id[:5] != "caps-" {
		return false
	}
	s.pep.mu.Lock()
	q, ok := s.pep.asked[id]
	if !ok || q.c != c {
		s.pep.mu.Unlock()
		return ok
	}
	delete(s.pep.asked, id)
	key := q.caps.Key()
	info := iq.Child(nsDiscoInfo, "query")
	n := pubsub.Notify{}
	good := iq.Get("type") == "result" && info != nil
	if good {
		n = pubsub.NotifyOf(info)
		// A hashed ver is shared by every client that claims it: only a
		// verified answer may serve them all. A legacy ver is scoped by
		// the client's node and taken on trust, as XEP-0115 1.3 had it.
		good = !q.caps.Hashed() && q.caps.Hash == "" || q.caps.Verify(info)
	}
	var served []*conn
	var next *conn
	if good {
		if s.pep.known == nil || len(s.pep.known) > maxCapsKnown {
			s.pep.known = map[string]pubsub.Notify{}
		}
		s.pep.known[key] = n
		if w := s.pep.waiting[key]; w != nil {
			served = w.conns
		}
		delete(s.pep.waiting, key)
	} else {
		// The answer serves only the client that gave it; the next
		// session with the same caps is asked in turn.
		served = []*conn{c}
		if w := s.pep.waiting[key]; w != nil {
			w.conns = slices.DeleteFunc(w.conns, func(x *conn) bool { return x == c || !x.open() })
			if len(w.conns) > 0 {
				next, w.asked = w.conns[0], time.Now()
			} else {
				delete(s.pep.waiting, key)
			}
		}
	}
	s.pep.mu.Unlock()
	for _, w := range served {
		w.smu.Lock()
		still := w.capsKey == key && w.available
		w.smu.Unlock()
		if still && w.open() {
			s.pepSetNotify(w, n, nil)
		}
	}
	if next != nil {
		s.askCaps(next, q.caps)
	}
	return true
}

// pepSetNotify gives c the +notify set n and sends it the last items of
// the nodes it did not want before.
func (s *Server) pepSetNotify(c *conn, n pubsub.Notify, roster []store.RosterItem) {
	c.smu.Lock()
	old := c.notify
	c.notify = n
	c.smu.Unlock()
	var nodes []string
	for node := range n {
		if !old.Has(node) {
			nodes = append(nodes, node)
		}
	}
	if len(nodes) > 0 {
		s.pepLastItems(c, nodes, roster)
	}
}

// pepLastItems sends c the last item of the given nodes of its own account
// and of the accounts it is subscribed to (XEP-0163 4.3.4 and 4.4).
func (s *Server) pepLastItems(c *conn, nodes []string, roster []store.RosterItem) {
	if owners, ok := s.remoteOwners(c); ok {
		// A remote contact's stand-in: the local users it follows.
		s.pepSendLast(c, owners, nodes)
		return
	}
	ctx := context.Background()
	if roster == nil {
		var err error
		if roster, _, err = s.st.RosterWithShared(ctx, c.user); err != nil {
			return
		}
	}
	owners := []string{c.bare}
	for _, it := range roster {
		if it.Visible && (it.Subscription == store.SubTo || it.Subscription == store.SubBoth) {
			owners = append(owners, it.Contact)
		}
	}
	s.pepSendLast(c, owners, nodes)
}

// pepSubscribed sends the available sessions of subscriber, just granted
// a presence subscription to owner, the last items of owner's nodes they
// want (XEP-0163 4.3.4: on_sub).
func (s *Server) pepSubscribed(subscriber, owner string) {
	if d, ok := s.hosted(ownerFQDN(owner)); !ok || !d.On(modcfg.Pep) {
		return
	}
	for _, t := range s.availableOf(subscriber) {
		t.smu.Lock()
		nodes := t.notify.Nodes()
		t.smu.Unlock()
		if len(nodes) > 0 {
			s.pepSendLast(t, []string{owner}, nodes)
		}
	}
}

// pepSendLast sends c the last item of each of nodes of the accounts
// owners, as their access models allow.
func (s *Server) pepSendLast(c *conn, owners, nodes []string) {
	ctx := context.Background()
	lasts, err := s.st.PubsubLastItems(ctx, owners, nodes)
	if err != nil {
		s.log.Warn("pep last items", zap.Error(err))
		return
	}
	for _, l := range lasts {
		cfg := pubsub.Decode(l.Node.Config)
		if cfg.SendLast == pubsub.SendNever {
			continue
		}
		if l.Owner != c.bare {
			// The contact's roster decides, not c's: a roster access
			// model names the owner's groups.
			if cfg.Access == pubsub.Whitelist {
				continue
			}
			if cfg.Access == pubsub.Roster {
				u, err := s.st.UserByID(ctx, l.Node.UserID)
				if err != nil || !cfg.Allows(s.pepRelation(ctx, u, l.Owner, c.bare)) {
					continue
				}
			}
		}
		ev := xmlel.New(pubsub.NSEvent, "event").Add(xmlel.New(pubsub.NSEvent, "items", "node", l.Node.Name).
			Add(pepItemEl(pubsub.NSEvent, l.Item)))
		c.sendEl(xmlel.New(nsClient, "message", "from", l.Owner, "to", c.full.String(), "type", "headline", "id", newID()).Add(ev).
			Add(xmlel.New(nsDelay, "delay", "from", l.Owner, "stamp", l.Item.Published.UTC().Format("2006-01-02T15:04:05Z"))))
	}
}

// pepDiscoInfo adds the personal eventing identity and features to the
// disco#info of an account (XEP-0163 6.1).
func pepDiscoInfo(r *iqReq, q *xmlel.Element) {
	if !r.dom.On(modcfg.Pep) {
		return
	}
	q.Add(xmlel.New(nsDiscoInfo, "identity", "category", "pubsub", "type", "pep"))
	for _, f := range pepFeatures {
		q.Add(xmlel.New(nsDiscoInfo, "feature", "var", f))
	}
	if r.dom.On(modcfg.Vcard) {
		// The vCard PHOTO and the PEP avatar are kept in step (pep_convert.go).
		q.Add(xmlel.New(nsDiscoInfo, "feature", "var", pubsub.FeatureVCardConv))
	}
	if r.dom.On(modcfg.Private) {
		// Bookmarks stored either way are kept in step (pep_convert.go).
		q.Add(xmlel.New(nsDiscoInfo, "feature", "var", pubsub.NSBookmarks+"#compat"),
			xmlel.New(nsDiscoInfo, "feature", "var", "urn:xmpp:bookmarks-conversion:0"))
	}
}

// pepDiscoItems lists the nodes of an account that the requester may
// retrieve (XEP-0060 5.2).
func (s *Server) pepDiscoItems(r *iqReq, q *xmlel.Element) *stanzaErr {
	if !r.dom.On(modcfg.Pep) || r.c.anon {
		return nil
	}
	owner, ownerBare, _ := pepOwner(r)
	ctx := context.Background()
	nodes, err := s.st.PubsubNodes(ctx, owner.ID)
	if err != nil {
		return &errInternal
	}
	var rel *pubsub.Relation
	for _, n := range nodes {
		if rel == nil {
			v := s.pepRelation(ctx, owner, ownerBare, r.c.bare)
			rel = &v
		}
		if pubsub.Decode(n.Config).Allows(*rel) {
			q.Add(xmlel.New(nsDiscoItems, "item", "jid", ownerBare, "node", n.Name))
		}
	}
	return nil
}
