package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// The XEP-0060 service of a domain (pubsub.<domain>): its nodes hold
// items as personal eventing nodes do (the same SQL over other tables),
// plus affiliations and explicit subscriptions of the domain's users.

// Affiliations (XEP-0060 4.1); AffNone is the absence of a row.
const (
	AffOwner     = "owner"
	AffPublisher = "publisher"
	AffMember    = "member"
	AffOutcast   = "outcast"
	AffNone      = "none"
)

// Affiliation is a user's affiliation with a node.
type Affiliation struct {
	NodeID int64
	Node   string
	UserID int64
	JID    string // the user's bare JID
	Aff    string
}

// Subscription is a JID's subscription to a node.
type Subscription struct {
	NodeID int64
	Node   string
	UserID int64
	JID    string
	SubID  string
}

// ErrLastOwner: the change would leave a node without an owner.
var ErrLastOwner = errors.New("store: a node keeps an owner")

const serviceNodeCols = `id, 0, domain_id, node, config, max_items, item_expire, created`

// ServiceNode returns a node of a domain's service; ErrNotFound if none.
func (r Reader) ServiceNode(ctx context.Context, domainID int64, name string) (PubsubNode, error) {
	return r.node(ctx, `SELECT `+serviceNodeCols+` FROM pubsub_service_nodes WHERE domain_id = ? AND node = ?`, domainID, name)
}

// ServiceNodes lists the nodes of a domain's service by name.
func (r Reader) ServiceNodes(ctx context.Context, domainID int64) ([]PubsubNode, error) {
	return queryAll(ctx, r.q, scanPubsubNode, `SELECT `+serviceNodeCols+` FROM pubsub_service_nodes WHERE domain_id = ? ORDER BY node`, domainID)
}

// OwnedServiceNodes says how many service nodes a user owns.
func (r Reader) OwnedServiceNodes(ctx context.Context, userID int64) (int, error) {
	var n int
	err := r.q.QueryRowContext(ctx, `SELECT count(*) FROM pubsub_service_affiliations WHERE user_id = ? AND affiliation = 'owner'`, userID).Scan(&n)
	return n, err
}

// ServiceItems is PubsubItems for a service node.
func (r Reader) ServiceItems(ctx context.Context, nodeID int64, max int, ids []string) ([]PubsubItem, error) {
	return r.items(ctx, serviceTables, nodeID, max, ids)
}

// NodeAffiliation is userID's affiliation with a node (AffNone if none).
func (r Reader) NodeAffiliation(ctx context.Context, nodeID, userID int64) (string, error) {
	var aff string
	err := r.q.QueryRowContext(ctx, `SELECT affiliation FROM pubsub_service_affiliations WHERE node_id = ? AND user_id = ?`, nodeID, userID).Scan(&aff)
	if errors.Is(err, sql.ErrNoRows) {
		return AffNone, nil
	}
	return aff, err
}

const qAffiliations = `SELECT a.node_id, n.node, a.user_id, u.username || '@' || d.fqdn, a.affiliation
	FROM pubsub_service_affiliations a JOIN pubsub_service_nodes n ON n.id = a.node_id
	JOIN users u ON u.id = a.user_id JOIN domains d ON d.id = u.domain_id`

func scanAffiliation(row rowScanner) (Affiliation, error) {
	var a Affiliation
	err := row.Scan(&a.NodeID, &a.Node, &a.UserID, &a.JID, &a.Aff)
	return a, err
}

// NodeAffiliations lists the affiliations of a node by JID.
func (r Reader) NodeAffiliations(ctx context.Context, nodeID int64) ([]Affiliation, error) {
	return queryAll(ctx, r.q, scanAffiliation, qAffiliations+` WHERE a.node_id = ? ORDER BY 4`, nodeID)
}

// UserAffiliations lists a user's affiliations with the nodes of a domain's service.
func (r Reader) UserAffiliations(ctx context.Context, domainID, userID int64) ([]Affiliation, error) {
	return queryAll(ctx, r.q, scanAffiliation, qAffiliations+` WHERE n.domain_id = ? AND a.user_id = ? ORDER BY n.node`, domainID, userID)
}

const qSubscriptions = `SELECT s.node_id, n.node, s.user_id, s.jid, s.subid
	FROM pubsub_service_subscriptions s JOIN pubsub_service_nodes n ON n.id = s.node_id`

func scanSubscription(row rowScanner) (Subscription, error) {
	var s Subscription
	err := row.Scan(&s.NodeID, &s.Node, &s.UserID, &s.JID, &s.SubID)
	return s, err
}

// NodeSubscriptions lists the subscriptions to a node by JID.
func (r Reader) NodeSubscriptions(ctx context.Context, nodeID int64) ([]Subscription, error) {
	return queryAll(ctx, r.q, scanSubscription, qSubscriptions+` WHERE s.node_id = ? ORDER BY s.jid`, nodeID)
}

// UserSubscriptions lists a user's subscriptions to the nodes of a domain's service.
func (r Reader) UserSubscriptions(ctx context.Context, domainID, userID int64) ([]Subscription, error) {
	return queryAll(ctx, r.q, scanSubscription, qSubscriptions+` WHERE n.domain_id = ? AND s.user_id = ? ORDER BY n.node, s.jid`, domainID, userID)
}

// CreateServiceNode creates a node of domain n.DomainID owned by ownerID; ErrDuplicate if the
// domain's service has one by that name.
func (t *Tx) CreateServiceNode(ctx context.Context, n PubsubNode, ownerID int64) (PubsubNode, error) {
	n.Created = t.now().UTC().Truncate(time.Second)
	var err error
	n.ID, err = t.insertUnique(ctx, `INSERT INTO pubsub_service_nodes (domain_id, node, config, max_items, item_expire, created)
		VALUES (?, ?, ?, ?, ?, ?)`, n.DomainID, n.Name, string(n.Config), n.MaxItems, n.ItemExpire, t.stamp())
	if err != nil {
		return n, constraintErr(err)
	}
	_, err = t.q.ExecContext(ctx, `INSERT INTO pubsub_service_affiliations (node_id, user_id, affiliation) VALUES (?, ?, 'owner')`, n.ID, ownerID)
	return n, err
}

// ConfigureServiceNode is ConfigurePubsubNode for a service node.
func (t *Tx) ConfigureServiceNode(ctx context.Context, n PubsubNode) error {
	return t.configure(ctx, serviceTables, n.ID, n.Config, n.MaxItems, n.ItemExpire)
}

// DeleteServiceNode deletes a node with everything it has; ErrNotFound if it is gone.
func (t *Tx) DeleteServiceNode(ctx context.Context, nodeID int64) error {
	return mustAffect(t.q.ExecContext(ctx, `DELETE FROM pubsub_service_nodes WHERE id = ?`, nodeID))
}

// PublishServiceItem is PublishPubsubItem for a service node.
func (t *Tx) PublishServiceItem(ctx context.Context, nodeID int64, it PubsubItem) error {
	return t.publish(ctx, serviceTables, nodeID, it)
}

// RetractServiceItem is RetractPubsubItem for a service node.
func (t *Tx) RetractServiceItem(ctx context.Context, nodeID int64, itemID string) error {
	return t.retract(ctx, serviceTables, nodeID, itemID)
}

// PurgeServiceNode is PurgePubsubNode for a service node.
func (t *Tx) PurgeServiceNode(ctx context.Context, nodeID int64) (int64, error) {
	return t.purge(ctx, serviceTables, nodeID)
}

// SetNodeAffiliation sets userID's affiliation with a node (AffNone
// removes it); an outcast loses its subscriptions. ErrLastOwner if the
// node's last owner would go.
func (t *Tx) SetNodeAffiliation(ctx context.Context, nodeID, userID int64, aff string) error {
	var owners int
	var was string
	err := t.q.QueryRowContext(ctx, `SELECT count(*) FILTER (WHERE affiliation = 'owner'),
		coalesce(max(CASE WHEN user_id = ? THEN affiliation END), '') FROM pubsub_service_affiliations WHERE node_id = ?`, userID, nodeID).Scan(&owners, &was)
	if err != nil {
		return err
	}
	if was == AffOwner && aff != AffOwner && owners == 1 {
		return ErrLastOwner
	}
	if aff == AffNone {
		_, err = t.q.ExecContext(ctx, `DELETE FROM pubsub_service_affiliations WHERE node_id = ? AND user_id = ?`, nodeID, userID)
		return err
	}
	_, err = t.q.ExecContext(ctx, `INSERT INTO pubsub_service_affiliations (node_id, user_id, affiliation) VALUES (?, ?, ?)
		ON CONFLICT (node_id, user_id) DO UPDATE SET affiliation = excluded.affiliation`, nodeID, userID, aff)
	if err == nil && aff == AffOutcast {
		_, err = t.q.ExecContext(ctx, `DELETE FROM pubsub_service_subscriptions WHERE node_id = ? AND user_id = ?`, nodeID, userID)
	}
	return err
}

// Subscribe subscribes jid (of userID) to a node, keeping the subid of an
// existing subscription; it returns the subscription's subid.
func (t *Tx) Subscribe(ctx context.Context, nodeID, userID int64, jid, subid string) (string, error) {
	err := t.q.QueryRowContext(ctx, `INSERT INTO pubsub_service_subscriptions (node_id, user_id, jid, subid) VALUES (?, ?, ?, ?)
		ON CONFLICT (node_id, jid) DO UPDATE SET user_id = pubsub_service_subscriptions.user_id RETURNING subid`, nodeID, userID, jid, subid).Scan(&subid)
	return subid, err
}

// Unsubscribe removes jid's subscription to a node; ErrNotFound if it had none.
func (t *Tx) Unsubscribe(ctx context.Context, nodeID int64, jid string) error {
	return mustAffect(t.q.ExecContext(ctx, `DELETE FROM pubsub_service_subscriptions WHERE node_id = ? AND jid = ?`, nodeID, jid))
}
