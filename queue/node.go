package queue

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/store"
)

// Lease defaults: a node renews its lease every DefaultRenew and is dead
// DefaultLease after its last renewal, so a loaded machine may miss a few
// renewals before its batches are taken from it.
const (
	DefaultLease = 10 * time.Second
	DefaultRenew = 2 * time.Second
)

// NodeOptions describe this process as a node; zero values are defaults.
type NodeOptions struct {
	// Name is the node's name (Config.NodeName: name@host); "" is refused.
	Name string
	// Addrs are its listener addresses by role, shown to the operator.
	Addrs map[string]string
	// Lease and Renew: see DefaultLease and DefaultRenew.
	Lease, Renew time.Duration
	// Takeover: no other process can hold this name, so a live-looking
	// row of it is a crashed earlier run (on SQLite the data directory's
	// lock proves it; never on a store that several hosts share).
	Takeover bool
	Logger   *zap.Logger
}

// Node is this process's row in the store's node table, kept alive by a
// heartbeat until Close. The worker asks it whether to claim batches.
type Node struct {
	st          *store.Store
	name, incar string
	lease       time.Duration
	log         *zap.Logger
	// leaving mirrors the row's mark (leave_cluster); fenced says another
	// process took the name over, after this one's lease had passed.
	leaving, fenced atomic.Bool
	stop            chan struct{}
	done            chan struct{}
	once            sync.Once
}

// JoinNodes registers this process as node o.Name and starts renewing its
// lease. A live node of the same name is a *store.NodeLiveError.
func JoinNodes(ctx context.Context, st *store.Store, o NodeOptions) (*Node, error) {
	if o.Name == "" {
		return nil, errors.New("queue: a node needs a name")
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.Renew <= 0 {
		o.Renew = min(DefaultRenew, o.Lease/3)
	}
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	n := &Node{st: st, name: o.Name, incar: hex.EncodeToString(b), lease: o.Lease, log: o.Logger,
		stop: make(chan struct{}), done: make(chan struct{})}
	if err := n.register(ctx, o); err != nil {
		return nil, err
	}
	n.log.Info("node registered", zap.String("node", o.Name), zap.Duration("lease", o.Lease), zap.Any("addrs", o.Addrs))
	go n.heartbeat(o.Renew)
	return n, nil
}

// register takes the name. A live-looking row whose lease is not renewed
// while we wait is an earlier run of this node that crashed: a service
// manager restarts it at once, and refusing it until the lease passes
// would exhaust the manager's restart limit. A row that is renewed
// meanwhile belongs to a process that is alive, and is refused.
func (n *Node) register(ctx context.Context, o NodeOptions) error {
	var first time.Time
	deadline := time.Now().Add(o.Lease + o.Renew)
	for {
		err := n.st.Write(ctx, func(tx *store.Tx) error {
			_, err := tx.RegisterNode(ctx, store.Node{Name: o.Name, Incarnation: n.incar, Addrs: o.Addrs}, o.Lease, o.Takeover)
			return err
		})
		var live *store.NodeLiveError
		if !errors.As(err, &live) {
			return err
		}
		switch {
		case first.IsZero():
			first = live.Node.LeaseUntil
			n.log.Warn("this node's name is held by a lease; waiting for it to run out in case it is an earlier run that crashed",
				zap.String("node", o.Name), zap.Time("lease_until", first))
		case live.Node.LeaseUntil.After(first), time.Now().After(deadline):
			return err // renewed: another live process has the name
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(min(time.Second, o.Renew)):
		}
	}
}

// Name is the node's name; batches it claims carry it.
func (n *Node) Name() string {
	if n == nil {
		return ""
	}
	return n.name
}

// Claiming reports whether the node may claim batches: not when it is
// leaving the cluster, nor when another process took its name over. A
// nil Node (a worker without one) always claims.
func (n *Node) Claiming() bool {
	return n == nil || (!n.leaving.Load() && !n.fenced.Load())
}

func (n *Node) heartbeat(every time.Duration) {
	defer close(n.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-t.C:
		}
		n.renew()
	}
}

// renew extends the lease once and follows the row's leaving mark.
func (n *Node) renew() {
	ctx, cancel := context.WithTimeout(context.Background(), n.lease)
	defer cancel()
	row, err := n.st.RenewNodeNow(ctx, n.name, n.incar, n.lease)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if !n.fenced.Swap(true) {
			n.log.Error("this node's row was taken over by another process of the same name (its lease had passed): "+
				"no longer claiming batches; restart this node under another name", zap.String("node", n.name))
		}
	case err != nil:
		n.log.Warn("node lease not renewed", zap.String("node", n.name), zap.Error(err))
	case row.Leaving != n.leaving.Load():
		n.leaving.Store(row.Leaving)
		if row.Leaving {
			n.log.Warn("node is leaving the cluster (leave_cluster): it no longer claims batches; it finishes those it holds and keeps serving",
				zap.String("node", n.name))
		} else {
			n.log.Info("node rejoined the cluster (join_cluster): it claims batches again", zap.String("node", n.name))
		}
	}
}

// Close stops the heartbeat and removes the node's row: a clean stop
// frees its name at once (a crash frees it when the lease passes).
func (n *Node) Close() error {
	if n == nil {
		return nil
	}
	var err error
	n.once.Do(func() {
		close(n.stop)
		<-n.done
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err = n.st.Write(ctx, func(tx *store.Tx) error { return tx.RemoveNode(ctx, n.name, n.incar) })
	})
	return err
}
