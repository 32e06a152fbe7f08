package commands

import (
	"context"
	"errors"

	"github.com/xmppgate/xmppgate/store"
)

// The cluster family (ejabberd_admin's list_cluster, join_cluster and
// leave_cluster), answered from the store's node table: the nodes of an
// xmppgate cluster are the processes sharing one PostgreSQL store (and
// one nats_url); docs/scale-out.md, "The queue across nodes".

// clusterDefs is the cluster family.
var clusterDefs = []*Def{ListCluster, JoinCluster, LeaveCluster}

// howToJoin is what an unknown node's answer says.
const howToJoin = "a node joins by starting with a copy of a member's data directory (the lock file aside), " +
	"the same store (postgres://…) and nats_url, its own ports and its own node name (config node, XMPPGATE_NODE); see docs/scale-out.md"

var argClusterNode = Arg{Name: "node", Type: String, Doc: "The node's name, name@host as list_cluster shows it."}

// ListCluster is ejabberd_admin's list_cluster.
var ListCluster = &Def{
	Name: "list_cluster",
	Doc: "Operator only. The names of the nodes serving this store now (their lease is live and they were not asked to leave), " +
		"sorted. On SQLite that is this one node.",
	Operator: true,
	Result:   Result{Kind: ResultList, Name: "nodes"},
	Names:    map[Dialect]string{Ejabberd: "list_cluster"},
	Handle:   listCluster,
}

func listCluster(ctx context.Context, c *Call) (any, error) {
	ns, now, err := c.Env.Store.Nodes(ctx)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, n := range ns {
		if n.Alive(now) && !n.Leaving {
			out = append(out, n.Name)
		}
	}
	return out, nil
}

// JoinCluster is ejabberd_admin's join_cluster.
var JoinCluster = &Def{
	Name: "join_cluster",
	Doc: "Operator only. A node joins by starting on the same store, so this answers 0 for a node that serves it, and " +
		"takes a node that was leaving (leave_cluster) back: it claims batches again within seconds. Any other name: " +
		"an error that says how to join.",
	Args:     []Arg{argClusterNode},
	Operator: true,
	Result:   Result{Kind: ResultStatus},
	Names:    map[Dialect]string{Ejabberd: "join_cluster"},
	Handle:   joinCluster,
}

func joinCluster(ctx context.Context, c *Call) (any, error) {
	name := c.Args.String("node")
	err := c.Env.Store.Write(ctx, func(tx *store.Tx) error { return tx.SetNodeLeaving(ctx, name, false) })
	if errors.Is(err, store.ErrNotFound) {
		msg := "node %s does not serve this store: " + howToJoin
		if !c.Env.Store.Postgres() {
			msg += "; this store is SQLite, which one node serves: move it to PostgreSQL first (xmppgate migrate-store)"
		}
		return nil, Errorf(Invalid, ReasonBadValue, "node", msg, name)
	}
	return rescode(err)
}

// LeaveCluster is ejabberd_admin's leave_cluster.
var LeaveCluster = &Def{
	Name: "leave_cluster",
	Doc: "Operator only. Marks a serving node as leaving: within seconds it stops claiming batches (and says so in its log), " +
		"finishes those it holds, drops out of list_cluster, and goes on serving its XMPP sessions and HTTP requests " +
		"(its synchronous requests wait for another node to apply them) until it is stopped; started again, or named " +
		"in join_cluster, it rejoins. The last node that claims batches cannot leave, nor can a node that does not serve the store.",
	Args:     []Arg{argClusterNode},
	Operator: true,
	Result:   Result{Kind: ResultStatus},
	Names:    map[Dialect]string{Ejabberd: "leave_cluster"},
	Handle:   leaveCluster,
}

func leaveCluster(ctx context.Context, c *Call) (any, error) {
	name := c.Args.String("node")
	err := c.Env.Store.Write(ctx, func(tx *store.Tx) error {
		ns, now, err := tx.Nodes(ctx)
		if err != nil {
			return err
		}
		found, others := false, 0
		for _, n := range ns {
			switch {
			case !n.Alive(now):
			case n.Name == name:
				found = true
			case !n.Leaving:
				others++
			}
		}
		if !found {
			return Errorf(Invalid, ReasonBadValue, "node", "node %s does not serve this store (list_cluster names those that do)", name)
		}
		if others == 0 {
			return Errorf(Invalid, ReasonRefused, "node", "node %s is the last node that claims batches: if it left, nothing would apply the queue", name)
		}
		return tx.SetNodeLeaving(ctx, name, true)
	})
	return rescode(err)
}
