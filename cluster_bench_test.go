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
// second. One account: its changes share one waiting batch at a time, so
// the nodes take turns applying rather than applying one batch together.
func BenchmarkClusterProvisioning(b *testing.B) {
	for _, nodes := range []int{1, 3} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			dsn := postgres(b)
			ps := startCluster(b, dsn, nodes)
			st, err := store.Open(context.Background(), dsn, store.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			boot := ps[0].boot
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
							if _, err := addUser(client, ps[i%nodes], boot, fmt.Sprintf("b%d-%05d", it, i), "bench-pw"); err != nil {
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
		})
	}
}
