package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/xmppgate/xmppgate/store"
)

// BenchmarkClusterProvisioning: DreamHost jabber-add_user acknowledgements
// per second, sent round robin to 1 or 3 real nodes sharing one PostgreSQL
// store (24 concurrent clients), and changes applied per second from the
// first request until the queue is drained, every worker ticking each
// second. With one account its changes share one waiting batch at a time,
// so the nodes take turns applying rather than applying one batch
// together; with 24 accounts (a tenant per client, made with the CLI on
// the shared store) each has its own batches, which the nodes claim side
// by side.
func BenchmarkClusterProvisioning(b *testing.B) {
	for _, accounts := range []int{1, 24} {
		for _, nodes := range []int{1, 3} {
			b.Run(fmt.Sprintf("accounts=%d/nodes=%d", accounts, nodes), func(b *testing.B) {
				benchProvisioning(b, accounts, nodes)
			})
		}
	}
}

func benchProvisioning(b *testing.B, accounts, nodes int) {
	dsn := postgres(b)
	ps := startCluster(b, dsn, nodes)
	st, err := store.Open(context.Background(), dsn, store.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	tenants := []Bootstrap{ps[0].boot}
	for i := 1; i < accounts; i++ {
		t := ps[0].boot
		id := ps[0].cli(b, "account", "add", fmt.Sprintf("tenant%d", i))
		t.Domain = fmt.Sprintf("t%d.bench.test", i)
		ps[0].cli(b, "domain", "add", t.Domain, "--account", id)
		t.Key = ps[0].cli(b, "key", "add", "--account", id, "--cmds", "*")
		tenants = append(tenants, t)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	const per = 1500
	var ackTime, drainTime time.Duration
	b.ResetTimer()
	for it := 0; it < b.N; it++ {
		start := time.Now()
		work := make(chan int)
		var wg sync.WaitGroup
		for w := 0; w < 24; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range work {
					if _, err := addUser(client, ps[i%nodes], tenants[w%accounts], fmt.Sprintf("b%d-%05d", it, i), "bench-pw"); err != nil {
						b.Error(err)
					}
				}
			}()
		}
		for i := 0; i < per; i++ {
			work <- i
		}
		close(work)
		wg.Wait()
		ackTime += time.Since(start)
		for {
			d, err := st.Depth(context.Background(), nil)
			if err != nil {
				b.Fatal(err)
			}
			if d.Waiting == 0 && d.Running == 0 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		drainTime += time.Since(start)
	}
	b.StopTimer()
	b.ReportMetric(float64(per*b.N)/ackTime.Seconds(), "acks/s")
	b.ReportMetric(float64(per*b.N)/drainTime.Seconds(), "applied/s")
}
