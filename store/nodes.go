package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// The node table: every serving process sharing this store keeps a row
// alive with a lease (docs/scale-out.md, "The queue across nodes"). A
// node whose lease has passed is dead, and the batches it claimed are
// anyone's to recover. Leases are read against one clock, the database's
// (PostgreSQL's clock_timestamp), so nodes whose clocks disagree still
// agree on who is dead; SQLite serves one process, whose clock it uses.

// Node is one serving process among those sharing the store.
type Node struct {
	Name string
	// Incarnation is random per process start.
	Incarnation string
	Started     time.Time
	Heartbeat   time.Time
	LeaseUntil  time.Time
	// Addrs are the node's listener addresses by role ("http", "c2s", ...).
	Addrs map[string]string
	// Leaving: leave_cluster asked the node to stop claiming batches.
	Leaving bool
}

// Alive reports whether n's lease still runs at now (the store's
// NodeClock).
func (n Node) Alive(now time.Time) bool { return now.Before(n.LeaseUntil) }

// NodeLiveError is Register's refusal: a live node already has the name.
type NodeLiveError struct{ Node Node }

func (e *NodeLiveError) Error() string {
	addrs, _ := json.Marshal(e.Node.Addrs)
	return fmt.Sprintf("a live node named %s already serves this store (started %s, listening on %s, lease until %s): "+
		"give this one another node name (config node, XMPPGATE_NODE); a node that crashed may start again once its lease has passed",
		e.Node.Name, e.Node.Started.Format(TimeLayout), addrs, e.Node.LeaseUntil.UTC().Format(time.RFC3339))
}

const nodeCols = `name, incarnation, started, heartbeat, lease_until, addrs, leaving`

func scanNode(row rowScanner) (Node, error) {
	var n Node
	var started, addrs string
	var hb, lease int64
	err := row.Scan(&n.Name, &n.Incarnation, &started, &hb, &lease, &addrs, &n.Leaving)
	if errors.Is(err, sql.ErrNoRows) {
		return n, ErrNotFound
	}
	if err != nil {
		return n, err
	}
	n.Started = parseTime(sql.NullString{String: started, Valid: true})
	n.Heartbeat, n.LeaseUntil = time.UnixMilli(hb).UTC(), time.UnixMilli(lease).UTC()
	_ = json.Unmarshal([]byte(addrs), &n.Addrs)
	return n, nil
}

const qDBClock = `SELECT (extract(epoch from clock_timestamp()) * 1000)::bigint`

// NodeClock is the clock leases are measured with: the database's on
// PostgreSQL, the store's on SQLite.
func (r Reader) NodeClock(ctx context.Context) (time.Time, error) {
	if !r.pg {
		return r.now().UTC(), nil
	}
	var ms int64
	if err := r.q.QueryRowContext(ctx, qDBClock).Scan(&ms); err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(ms).UTC(), nil
}

// Registering replaces a row whose lease has passed (a node that crashed
// or stopped), or any row when the caller says no other process can hold
// the name (takeover: on SQLite the data directory's lock proves it).
const qRegisterNode = `INSERT INTO nodes (` + nodeCols + `) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)
	ON CONFLICT (name) DO UPDATE SET incarnation = excluded.incarnation, started = excluded.started,
		heartbeat = excluded.heartbeat, lease_until = excluded.lease_until, addrs = excluded.addrs, leaving = 0
	WHERE nodes.lease_until <= ?4 OR ?7 = 1
	RETURNING ` + nodeCols

// RegisterNode records n as live for lease from now. A live node of the
// same name (another incarnation) makes it a *NodeLiveError, unless
// takeover.
func (t *Tx) RegisterNode(ctx context.Context, n Node, lease time.Duration, takeover bool) (Node, error) {
	now, err := t.NodeClock(ctx)
	if err != nil {
		return Node{}, err
	}
	addrs, err := json.Marshal(n.Addrs)
	if err != nil {
		return Node{}, err
	}
	if n.Addrs == nil {
		addrs = []byte("{}")
	}
	over := 0
	if takeover {
		over = 1
	}
	got, err := scanNode(t.q.QueryRowContext(ctx, qRegisterNode, n.Name, n.Incarnation, t.stamp(), now.UnixMilli(),
		now.Add(lease).UnixMilli(), string(addrs), over))
	if errors.Is(err, ErrNotFound) {
		live, err := t.NodeByName(ctx, n.Name)
		if err != nil {
			return Node{}, err
		}
		return Node{}, &NodeLiveError{Node: live}
	}
	return got, err
}

// RenewNode extends the lease of name's incarnation and returns its row
// (whose Leaving the node obeys). ErrNotFound: the row is gone or another
// incarnation took the name over, so this process must stop claiming.
func (t *Tx) RenewNode(ctx context.Context, name, incarnation string, lease time.Duration) (Node, error) {
	now, err := t.NodeClock(ctx)
	if err != nil {
		return Node{}, err
	}
	return scanNode(t.q.QueryRowContext(ctx, `UPDATE nodes SET heartbeat = ?, lease_until = ?
		WHERE name = ? AND incarnation = ? RETURNING `+nodeCols, now.UnixMilli(), now.Add(lease).UnixMilli(), name, incarnation))
}

// RemoveNode deletes name's row on a clean stop, if incarnation still
// holds it. Batches it left running, if any, are then anyone's.
func (t *Tx) RemoveNode(ctx context.Context, name, incarnation string) error {
	_, err := t.q.ExecContext(ctx, `DELETE FROM nodes WHERE name = ? AND incarnation = ?`, name, incarnation)
	return err
}

// SetNodeLeaving sets or clears the leaving mark of a live node;
// ErrNotFound if no live node has the name.
func (t *Tx) SetNodeLeaving(ctx context.Context, name string, leaving bool) error {
	now, err := t.NodeClock(ctx)
	if err != nil {
		return err
	}
	return mustAffect(t.q.ExecContext(ctx, `UPDATE nodes SET leaving = ? WHERE name = ? AND lease_until > ?`,
		leaving, name, now.UnixMilli()))
}

// NodeByName returns name's row, live or not.
func (r Reader) NodeByName(ctx context.Context, name string) (Node, error) {
	return scanNode(r.q.QueryRowContext(ctx, `SELECT `+nodeCols+` FROM nodes WHERE name = ?`, name))
}

// Nodes lists every node row by name, with the lease clock's time now to
// tell the live ones (Node.Alive).
func (r Reader) Nodes(ctx context.Context) ([]Node, time.Time, error) {
	now, err := r.NodeClock(ctx)
	if err != nil {
		return nil, now, err
	}
	ns, err := queryAll(ctx, r.q, scanNode, `SELECT `+nodeCols+` FROM nodes ORDER BY name`)
	return ns, now, err
}

// RenewNodeNow is RenewNode outside the group committer where the engine
// allows: on PostgreSQL one autocommitted statement on the read pool, so a
// long batch transaction holding the writer cannot starve the lease (the
// batch it applies is locked against recovery meanwhile, see HoldBatch,
// but the node's other claimed batches are not). On SQLite, whose readers
// cannot write, it goes through Write.
func (s *Store) RenewNodeNow(ctx context.Context, name, incarnation string, lease time.Duration) (Node, error) {
	if s.pg {
		t := &Tx{Reader: Reader{q: pgQuerier{db: s.r}, now: s.now, pg: true}}
		return t.RenewNode(ctx, name, incarnation, lease)
	}
	var n Node
	err := s.Write(ctx, func(tx *Tx) (err error) {
		n, err = tx.RenewNode(ctx, name, incarnation, lease)
		return err
	})
	return n, err
}
