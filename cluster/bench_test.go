package cluster

import (
	"context"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"
	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/internal/natstest"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
	"github.com/xmppgate/xmppgate/xmppcore"
)

const benchDomain = "example.test"

// seedStore is an SQLite store with one domain, benchDomain (its settings
// JSON, if any), and users whose password is "pw".
func seedStore(tb testing.TB, settings string, users ...string) *store.Store {
	tb.Helper()
	return seedDomain(tb, benchDomain, settings, users...)
}

// seedDomain is seedStore for the domain fqdn.
func seedDomain(tb testing.TB, fqdn, settings string, users ...string) *store.Store {
	tb.Helper()
	return seedAt(tb, filepath.Join(tb.TempDir(), "x.db"), fqdn, settings, users...)
}

// seedAt is seedDomain on the store at loc (an SQLite file or a
// postgres:// DSN).
func seedAt(tb testing.TB, loc, fqdn, settings string, users ...string) *store.Store {
	tb.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, loc, store.Options{Synchronous: "NORMAL"})
	require.NoError(tb, err)
	tb.Cleanup(func() { st.Close() })
	cred, err := credential.New("pw")
	require.NoError(tb, err)
	require.NoError(tb, st.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.InsertAccount(ctx, "acme", 0)
		if err != nil {
			return err
		}
		d, err := tx.InsertDomain(ctx, a.ID, fqdn)
		if err != nil {
			return err
		}
		if settings != "" {
			if err := tx.SetDomainSettings(ctx, d.ID, []byte(settings)); err != nil {
				return err
			}
		}
		for _, name := range users {
			u, err := tx.InsertUser(ctx, store.User{DomainID: d.ID, Username: name, Status: store.StatusActive})
			if err != nil {
				return err
			}
			if err := tx.SetUserCredentials(ctx, u.ID, cred, nil); err != nil {
				return err
			}
		}
		return nil
	}))
	return st
}

// startXMPP serves st with a node of its own (nil: alone), its
// configuration changed by opts.
func startXMPP(b testing.TB, st *store.Store, node *Node, opts ...func(*xmppcore.Config)) *xmppcore.Server {
	b.Helper()
	cfg := xmppcore.Config{C2SAddr: "127.0.0.1:0", DataDir: b.TempDir(), Logger: zap.NewNop()}
	if node != nil {
		cfg.Cluster = node
	}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := xmppcore.New(cfg, st)
	require.NoError(b, err)
	require.NoError(b, srv.Start(context.Background()))
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	if node != nil {
		require.NoError(b, node.Start(srv))
		b.Cleanup(node.Close)
	}
	return srv
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCrossNodeMessages sends chat messages between pairs of go-xmpp
// clients, 100 in flight per pair, with the receivers' bare JIDs (so the
// priority rules across nodes run): "alone" is one server without a
// cluster (what a one-node install runs), "one-node" the same with a
// cluster wired but every pair on it, "two-nodes" senders on node A and
// receivers on node B, through an embedded NATS server. Everything runs in
// this process on one machine, so cpu-µs/msg counts the clients', both
// servers' and NATS's CPU; the cross-node overhead is the difference
// between two-nodes and one-node.
//
// The machine these figures come from is shared: compare rows of one run.
func BenchmarkCrossNodeMessages(b *testing.B) {
	// window=1: one message in flight, so wall µs/msg is the latency of
	// one message from client to client.
	for _, load := range []struct{ pairs, window int }{{1, 1}, {20, 100}} {
		for _, mode := range []string{"alone", "one-node", "two-nodes"} {
			b.Run(fmt.Sprintf("%s/pairs=%d/window=%d", mode, load.pairs, load.window), func(b *testing.B) {
				benchCross(b, mode, load.pairs, load.window)
			})
		}
	}
}

func benchCross(b *testing.B, mode string, pairs, window int) {
	var users []string
	for i := 0; i < pairs; i++ {
		users = append(users, fmt.Sprintf("s%d", i), fmt.Sprintf("r%d", i))
	}
	// The archive off: it is a store write per message on every layout.
	st := seedStore(b, `{"moduleConfig":{"modMam":{"enabled":false}}}`, users...)
	var err error
	var nodeA, nodeB *Node
	if mode != "alone" {
		url := natstest.Start(b)
		if nodeA, err = Connect(Options{URL: url, Node: "a@bench"}); err != nil {
			b.Fatal(err)
		}
		if nodeB, err = Connect(Options{URL: url, Node: "b@bench"}); err != nil {
			b.Fatal(err)
		}
	}
	srvA := startXMPP(b, st, nodeA)
	addrA, _ := srvA.Addrs()
	addrB := addrA
	if mode != "alone" {
		srvB := startXMPP(b, st, nodeB)
		if mode == "two-nodes" {
			addrB, _ = srvB.Addrs()
		}
	}
	flows := make([]goxmpptest.Flow, pairs)
	for i := range flows {
		s := goxmpptest.Login(b, addrA.String(), fmt.Sprintf("s%d@%s", i, benchDomain), "pw", goxmpptest.Resource("r"))
		r := goxmpptest.Login(b, addrB.String(), fmt.Sprintf("r%d@%s", i, benchDomain), "pw", goxmpptest.Resource("r"))
		_, err := r.SendPresence(goxmpp.Presence{})
		require.NoError(b, err)
		r.Expect(b, "own presence", goxmpptest.Presence(fmt.Sprintf("r%d@", i), ""))
		flows[i] = goxmpptest.Flow{From: s, To: r, ToJID: fmt.Sprintf("r%d@%s", i, benchDomain)}
	}
	if mode != "alone" {
		// The receivers' available presence must have reached node A.
		require.Eventually(b, func() bool {
			for i := range flows {
				rs := nodeA.Remote(fmt.Sprintf("r%d@%s", i, benchDomain))
				if mode == "two-nodes" && (len(rs) != 1 || !rs[0].Available) {
					return false
				}
			}
			return true
		}, 30*time.Second, 10*time.Millisecond)
	}
	per := max(1, b.N/pairs)
	b.ResetTimer()
	cpu0, t0 := cpuNow(), time.Now()
	n := goxmpptest.Pump(b, flows, per, window)
	cpu, wall := cpuNow()-cpu0, time.Since(t0)
	b.StopTimer()
	b.ReportMetric(float64(n)/wall.Seconds(), "msgs/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/msg")
	b.ReportMetric(float64(wall.Microseconds())/float64(n), "wall-µs/msg")
	b.ReportMetric(0, "ns/op")
}
