package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Personal eventing (XEP-0163) nodes and items. A node belongs to a user;
// its configuration is an opaque JSON object except for the two limits the
// store enforces itself (MaxItems on every publish, in the same
// transaction; ItemExpire for the expiry purge).

// PubsubNode is one node of a user's account (UserID) or of a domain's
// pubsub service (DomainID, store/pubsub_service.go).
type PubsubNode struct {
	ID       int64
	UserID   int64
	DomainID int64
	Name     string
	// Config is the node configuration, a JSON object.
	Config []byte
	// MaxItems is how many items the node keeps (0: none are kept).
	MaxItems int
	// ItemExpire is how long an item is kept, in seconds (0: for ever).
	ItemExpire int64
	Created    time.Time
}

// PubsubItem is one published item.
type PubsubItem struct {
	ID string
	// Payload is the serialised payload element (empty: none).
	Payload   []byte
	Publisher string
	Published time.Time
}

// PubsubLast is the last item of one node, as delivered to a contact that
// becomes available.
type PubsubLast struct {
	Owner string // bare JID
	Node  PubsubNode
	Item  PubsubItem
}

const (
	pubsubNodeCols = `id, user_id, 0, node, config, max_items, item_expire, created`
	pubsubItemCols = `item_id, payload, publisher, published`
	// The last item of the nodes named in ?2 of the accounts in ?1 (a JSON
	// list of [fqdn, username]): the joins use the domain and user indexes.
	qPubsubLast = `SELECT u.username || '@' || d.fqdn, n.id, n.user_id, n.node, n.config, n.max_items, n.item_expire, n.created,
			i.item_id, i.payload, i.publisher, i.published
		FROM json_each(?1) j
		JOIN domains d ON d.fqdn = json_extract(j.value, '$[0]')
		JOIN users u ON u.domain_id = d.id AND u.username = json_extract(j.value, '$[1]')
		JOIN pubsub_nodes n ON n.user_id = u.id AND n.node IN (SELECT value FROM json_each(?2))
		JOIN pubsub_items i ON i.id = (SELECT max(id) FROM pubsub_items WHERE node_id = n.id)
		ORDER BY n.id`
	qPubsubLastPG = `SELECT u.username || '@' || d.fqdn, n.id, n.user_id, n.node, n.config, n.max_items, n.item_expire, n.created,
			i.item_id, i.payload, i.publisher, i.published
		FROM json_array_elements($1::json) j
		JOIN domains d ON d.fqdn = j.value ->> 0
		JOIN users u ON u.domain_id = d.id AND u.username = j.value ->> 1
		JOIN pubsub_nodes n ON n.user_id = u.id AND n.node IN (SELECT value FROM json_array_elements_text($2::json))
		JOIN pubsub_items i ON i.id = (SELECT max(id) FROM pubsub_items WHERE node_id = n.id)
		ORDER BY n.id`
)

func scanPubsubNode(row rowScanner) (PubsubNode, error) {
	var n PubsubNode
	var created sql.NullString
	var cfg string
	err := row.Scan(&n.ID, &n.UserID, &n.DomainID, &n.Name, &cfg, &n.MaxItems, &n.ItemExpire, &created)
	n.Config, n.Created = []byte(cfg), parseTime(created)
	return n, err
}

func scanPubsubItem(row rowScanner) (PubsubItem, error) {
	var it PubsubItem
	var published sql.NullString
	err := row.Scan(&it.ID, &it.Payload, &it.Publisher, &published)
	it.Published = parseTime(published)
	return it, err
}

// PubsubNode returns a user's node by name; ErrNotFound if none.
func (r Reader) PubsubNode(ctx context.Context, userID int64, name string) (PubsubNode, error) {
	return r.node(ctx, `SELECT `+pubsubNodeCols+` FROM pubsub_nodes WHERE user_id = ? AND node = ?`, userID, name)
}

func (r Reader) node(ctx context.Context, query string, owner int64, name string) (PubsubNode, error) {
	n, err := scanPubsubNode(r.q.QueryRowContext(ctx, query, owner, name))
	if errors.Is(err, sql.ErrNoRows) {
		return n, ErrNotFound
	}
	return n, err
}

// PubsubNodes lists a user's nodes by name.
func (r Reader) PubsubNodes(ctx context.Context, userID int64) ([]PubsubNode, error) {
	return queryAll(ctx, r.q, scanPubsubNode, `SELECT `+pubsubNodeCols+` FROM pubsub_nodes WHERE user_id = ? ORDER BY node`, userID)
}

// PubsubNodeCount says how many nodes a user has.
func (r Reader) PubsubNodeCount(ctx context.Context, userID int64) (int, error) {
	var n int
	err := r.q.QueryRowContext(ctx, `SELECT count(*) FROM pubsub_nodes WHERE user_id = ?`, userID).Scan(&n)
	return n, err
}

// PubsubItems returns items of a node, oldest first: those with the given
// ids, or (ids nil) the last max ones (max <= 0: all).
func (r Reader) PubsubItems(ctx context.Context, nodeID int64, max int, ids []string) ([]PubsubItem, error) {
	return r.items(ctx, pepTables, nodeID, max, ids)
}

// pubsubTables names the node and item tables of personal eventing
// (0017) or of the pubsub service (0022): their items behave alike.
type pubsubTables struct{ nodes, items string }

var (
	pepTables     = pubsubTables{"pubsub_nodes", "pubsub_items"}
	serviceTables = pubsubTables{"pubsub_service_nodes", "pubsub_service_items"}
)

func (r Reader) items(ctx context.Context, tb pubsubTables, nodeID int64, max int, ids []string) ([]PubsubItem, error) {
	if ids != nil {
		list, err := jsonList(ids)
		if err != nil {
			return nil, err
		}
		return queryAll(ctx, r.q, scanPubsubItem, `SELECT `+pubsubItemCols+` FROM `+tb.items+`
			WHERE node_id = ? AND item_id IN (SELECT value FROM json_each(?)) ORDER BY id`, nodeID, list)
	}
	var limit any = max
	if max <= 0 {
		limit = r.noLimit()
	}
	return queryAll(ctx, r.q, scanPubsubItem, `SELECT `+pubsubItemCols+` FROM
		(SELECT id, `+pubsubItemCols+` FROM `+tb.items+` WHERE node_id = ? ORDER BY id DESC LIMIT ?) AS newest ORDER BY id`, nodeID, limit)
}

// PubsubLastItems returns the last item of each node named in nodes of the
// accounts owners (bare JIDs), for the nodes that hold one.
func (r Reader) PubsubLastItems(ctx context.Context, owners, nodes []string) ([]PubsubLast, error) {
	pairs := make([][2]string, 0, len(owners))
	for _, o := range owners {
		if local, dom, ok := strings.Cut(o, "@"); ok {
			pairs = append(pairs, [2]string{dom, local})
		}
	}
	if len(pairs) == 0 || len(nodes) == 0 {
		return nil, nil
	}
	po, err := json.Marshal(pairs)
	if err != nil {
		return nil, err
	}
	pn, err := jsonList(nodes)
	if err != nil {
		return nil, err
	}
	return queryAll(ctx, r.q, func(row rowScanner) (PubsubLast, error) {
		var l PubsubLast
		var cfg string
		var created, published sql.NullString
		err := row.Scan(&l.Owner, &l.Node.ID, &l.Node.UserID, &l.Node.Name, &cfg, &l.Node.MaxItems, &l.Node.ItemExpire, &created,
			&l.Item.ID, &l.Item.Payload, &l.Item.Publisher, &published)
		l.Node.Config, l.Node.Created, l.Item.Published = []byte(cfg), parseTime(created), parseTime(published)
		return l, err
	}, r.pick(qPubsubLast, qPubsubLastPG), string(po), pn)
}

// CreatePubsubNode creates a node; ErrDuplicate if the user has one by that name.
func (t *Tx) CreatePubsubNode(ctx context.Context, n PubsubNode) (PubsubNode, error) {
	n.Created = t.now().UTC().Truncate(time.Second)
	var err error
	n.ID, err = t.insertUnique(ctx, `INSERT INTO pubsub_nodes (user_id, node, config, max_items, item_expire, created)
		VALUES (?, ?, ?, ?, ?, ?)`, n.UserID, n.Name, string(n.Config), n.MaxItems, n.ItemExpire, t.stamp())
	return n, constraintErr(err)
}

// ConfigurePubsubNode replaces a node's configuration and drops the oldest
// items beyond its new MaxItems.
func (t *Tx) ConfigurePubsubNode(ctx context.Context, n PubsubNode) error {
	return t.configure(ctx, pepTables, n.ID, n.Config, n.MaxItems, n.ItemExpire)
}

func (t *Tx) configure(ctx context.Context, tb pubsubTables, id int64, cfg []byte, maxItems int, expire int64) error {
	err := mustAffect(t.q.ExecContext(ctx, `UPDATE `+tb.nodes+` SET config = ?, max_items = ?, item_expire = ? WHERE id = ?`,
		string(cfg), maxItems, expire, id))
	if err != nil {
		return err
	}
	_, err = t.q.ExecContext(ctx, `DELETE FROM `+tb.items+` WHERE node_id = ?1 AND id NOT IN
		(SELECT id FROM `+tb.items+` WHERE node_id = ?1 ORDER BY id DESC LIMIT ?2)`, id, maxItems)
	return err
}

// DeletePubsubNode deletes a node with its items; ErrNotFound if it is gone.
func (t *Tx) DeletePubsubNode(ctx context.Context, nodeID int64) error {
	return mustAffect(t.q.ExecContext(ctx, `DELETE FROM pubsub_nodes WHERE id = ?`, nodeID))
}

// PublishPubsubItem stores an item as the node's newest, replacing the
// item with the same id, then drops the oldest items beyond the node's
// max_items; a node that keeps no items stores nothing.
func (t *Tx) PublishPubsubItem(ctx context.Context, nodeID int64, it PubsubItem) error {
	return t.publish(ctx, pepTables, nodeID, it)
}

func (t *Tx) publish(ctx context.Context, tb pubsubTables, nodeID int64, it PubsubItem) error {
	if _, err := t.q.ExecContext(ctx, `DELETE FROM `+tb.items+` WHERE node_id = ? AND item_id = ?`, nodeID, it.ID); err != nil {
		return err
	}
	_, err := t.q.ExecContext(ctx, `INSERT INTO `+tb.items+` (node_id, item_id, payload, publisher, published)
		SELECT id, ?, ?, ?, ? FROM `+tb.nodes+` WHERE id = ? AND max_items > 0`, it.ID, it.Payload, it.Publisher, t.stamp(), nodeID)
	if err != nil {
		return err
	}
	_, err = t.q.ExecContext(ctx, `DELETE FROM `+tb.items+` WHERE node_id = ?1 AND id NOT IN
		(SELECT id FROM `+tb.items+` WHERE node_id = ?1 ORDER BY id DESC
		 LIMIT (SELECT max_items FROM `+tb.nodes+` WHERE id = ?1))`, nodeID)
	return err
}

// RetractPubsubItem deletes one item; ErrNotFound if the node has no such item.
func (t *Tx) RetractPubsubItem(ctx context.Context, nodeID int64, itemID string) error {
	return t.retract(ctx, pepTables, nodeID, itemID)
}

func (t *Tx) retract(ctx context.Context, tb pubsubTables, nodeID int64, itemID string) error {
	return mustAffect(t.q.ExecContext(ctx, `DELETE FROM `+tb.items+` WHERE node_id = ? AND item_id = ?`, nodeID, itemID))
}

// PurgePubsubNode deletes every item of a node; it returns how many.
func (t *Tx) PurgePubsubNode(ctx context.Context, nodeID int64) (int64, error) {
	return t.purge(ctx, pepTables, nodeID)
}

func (t *Tx) purge(ctx context.Context, tb pubsubTables, nodeID int64) (int64, error) {
	res, err := t.q.ExecContext(ctx, `DELETE FROM `+tb.items+` WHERE node_id = ?`, nodeID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// The items of the nodes of domains: of their users' accounts, and of
// their pubsub services.
var pubsubOfDomains = map[pubsubTables]string{
	pepTables: ` node_id IN (SELECT n.id FROM pubsub_nodes n JOIN users u ON u.id = n.user_id
		WHERE u.domain_id IN (SELECT value FROM json_each(?)))`,
	serviceTables: ` node_id IN (SELECT id FROM pubsub_service_nodes WHERE domain_id IN (SELECT value FROM json_each(?)))`,
}

// DeleteOldPubsubItems keeps the newest keep items of every node of
// domains (personal and service nodes, as ejabberd's command covers all of
// mod_pubsub) and deletes the others; it returns how many it deleted.
func (t *Tx) DeleteOldPubsubItems(ctx context.Context, domainIDs []int64, keep int) (int64, error) {
	var total int64
	for _, tb := range []pubsubTables{pepTables, serviceTables} {
		res, err := t.q.ExecContext(ctx, `DELETE FROM `+tb.items+` WHERE`+pubsubOfDomains[tb]+` AND id IN
			(SELECT id FROM (SELECT id, row_number() OVER (PARTITION BY node_id ORDER BY id DESC) AS k FROM `+tb.items+`) AS ranked WHERE k > ?)`,
			idList(domainIDs), keep)
		if err != nil {
			return 0, err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}

// DeleteExpiredPubsubItems deletes the items of the nodes of domains
// (personal and service nodes) published longer ago than their node's
// item_expire; it returns how many.
func (t *Tx) DeleteExpiredPubsubItems(ctx context.Context, domainIDs []int64) (int64, error) {
	var total int64
	for _, tb := range []pubsubTables{pepTables, serviceTables} {
		res, err := t.q.ExecContext(ctx, `DELETE FROM `+tb.items+` WHERE`+pubsubOfDomains[tb]+` AND id IN
			(SELECT i.id FROM `+tb.items+` i JOIN `+tb.nodes+` n ON n.id = i.node_id
			 WHERE n.item_expire > 0 AND i.published < `+t.pick(
			`strftime('%Y-%m-%d %H:%M:%S', ?, '-' || n.item_expire || ' seconds'))`,
			`to_char(?::timestamp - make_interval(secs => n.item_expire), 'YYYY-MM-DD HH24:MI:SS'))`),
			idList(domainIDs), t.stamp())
		if err != nil {
			return 0, err
		}
		n, _ := res.RowsAffected()
		total += n
	}
	return total, nil
}
