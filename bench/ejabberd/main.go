// Command ejabberd benchmarks the ejabberd dialect the way issue 4 asks:
// `register` through POST /api/register at concurrency 16 for 10 s, against
// the real server process (synchronous: each reply comes after the change,
// SCRAM derivation included, is applied). It prints accounts/s, p50, p99 and
// the server's CPU per account.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/http"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xmppgate/xmppgate/bench/benchproc"
)

var (
	bin  = flag.String("bin", "bin/xmppgate", "xmppgate binary")
	conc = flag.Int("c", 16, "concurrency")
	dur  = flag.Duration("d", 10*time.Second, "duration")
)

func main() {
	flag.Parse()
	data, err := os.MkdirTemp("", "xmppgate-bench-ejabberd")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(data)
	p, err := benchproc.Start(*bin, data, nil, "XMPPGATE_LOG_LEVEL=warn")
	if err != nil {
		log.Fatal(err)
	}
	defer p.Stop()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	register := func(name string) error { return p.Register(client, name, "benchpass") }
	for i := 0; i < 50; i++ { // warm up
		if err := register(fmt.Sprintf("warm%d", i)); err != nil {
			log.Fatal(err)
		}
	}
	var (
		n   atomic.Int64
		mu  sync.Mutex
		lat []time.Duration
		wg  sync.WaitGroup
	)
	deadline := time.Now().Add(*dur)
	start, cpu0 := time.Now(), p.CPU()
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := register(fmt.Sprintf("u%d", n.Add(1))); err != nil {
					log.Fatal(err)
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed, used := time.Since(start), p.CPU()-cpu0
	fmt.Printf("ejabberd register, %s, %d CPUs\n", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU())
	fmt.Printf("register %8.0f accounts/s  p50 %v  p99 %v  server CPU %v/account  (%d accounts, c=%d, %v)\n",
		float64(len(lat))/elapsed.Seconds(), benchproc.Percentile(lat, 0.5).Round(10*time.Microsecond), benchproc.Percentile(lat, 0.99).Round(10*time.Microsecond),
		(used / time.Duration(len(lat))).Round(time.Microsecond), len(lat), *conc, elapsed.Round(time.Millisecond))
}
