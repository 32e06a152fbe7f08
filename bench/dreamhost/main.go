// Command dreamhost benchmarks xmppgate's spine through the real server
// process and its DreamHost API:
//
//   - add:    jabber-add_user at concurrency 16 for 10 s: acknowledged
//     requests/s, p50, p99 (each reply is a committed change);
//   - derive: applying one batch of 2,000 queued add_user changes, SCRAM-SHA-1
//     and SCRAM-SHA-256 key derivation included: accounts/s;
//   - status: applying one batch of 10,000 status changes (deactivate,
//     reactivate, remove): seconds.
//
// Batch apply times come from the worker's own "batch applied" log line of
// the server process; the worker is triggered by a restart, whose first act
// is to apply what is queued.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/xmppgate/xmppgate/bench/benchproc"
)

var (
	bin      = flag.String("bin", "bin/xmppgate", "xmppgate binary")
	conc     = flag.Int("c", 16, "concurrency of the add benchmark")
	dur      = flag.Duration("d", 10*time.Second, "duration of the add benchmark")
	nDerive  = flag.Int("derive", 2000, "add_user changes in the derivation batch")
	nStatus  = flag.Int("status", 10000, "status changes in the status batch")
	syncMode = flag.String("synchronous", "FULL", "SQLite synchronous mode of the server")
)

type server struct {
	*benchproc.Proc
	batches chan batchLine
}

type batchLine struct {
	Changes  int     `json:"changes"`
	Duration float64 `json:"duration"`
	Status   string  `json:"status"`
}

// start runs the server on data; its worker's "batch applied" log lines
// arrive on batches.
func start(data string) *server {
	s := &server{batches: make(chan batchLine, 16)}
	p, err := benchproc.Start(*bin, data, func(line []byte) {
		var l struct {
			Msg string `json:"msg"`
			batchLine
		}
		if json.Unmarshal(line, &l) == nil && l.Msg == "batch applied" {
			s.batches <- l.batchLine
		}
	}, "XMPPGATE_WORKER_SCHEDULE=@every 1h", "XMPPGATE_LOG_LEVEL=info", "XMPPGATE_SYNCHRONOUS="+*syncMode)
	if err != nil {
		log.Fatal(err)
	}
	s.Proc = p
	return s
}

var client = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func (s *server) call(v url.Values) error {
	v.Set("key", s.Boot.Key)
	resp, err := client.PostForm("http://"+s.Addr+"/", v)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if !strings.HasPrefix(string(body), "success\n") {
		return fmt.Errorf("%s: %q", v.Get("cmd"), body)
	}
	return nil
}

// queue sends n calls made by mk at concurrency c.
func (s *server) queue(n, c int, mk func(i int) url.Values) {
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := s.call(mk(i)); err != nil {
					log.Fatal(err)
				}
			}
		}()
	}
	wg.Wait()
}

// applied restarts the server (whose first act is to apply the queue) and
// returns the worker's report for the batch.
func (s *server) applied() (*server, batchLine) {
	s.Stop()
	s2 := start(s.Data)
	select {
	case b := <-s2.batches:
		return s2, b
	case <-time.After(5 * time.Minute):
		log.Fatal("batch not applied")
	}
	return nil, batchLine{}
}

func addUser(domain string, name string) url.Values {
	return url.Values{"cmd": {"jabber-add_user"}, "username": {name}, "domain": {domain}, "password": {"benchpass-" + name}}
}

func main() {
	flag.Parse()
	tmp, err := os.MkdirTemp("", "xmppgate-bench")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	fmt.Printf("xmppgate DreamHost benchmark, %s, %d CPUs, synchronous=%s\n", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), *syncMode)

	// add: acknowledged add_user requests.
	s := start(filepath.Join(tmp, "add"))
	s.queue(200, *conc, func(i int) url.Values { return addUser(s.Boot.Domain, fmt.Sprintf("warm%d", i)) })
	var mu sync.Mutex
	var lat []time.Duration
	var n atomic.Int64
	deadline := time.Now().Add(*dur)
	var wg sync.WaitGroup
	for w := 0; w < *conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				i := n.Add(1)
				t0 := time.Now()
				if err := s.call(addUser(s.Boot.Domain, fmt.Sprintf("w%d", i))); err != nil {
					log.Fatal(err)
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	start0, cpu0 := time.Now(), s.CPU()
	wg.Wait()
	elapsed, cpu := time.Since(start0), s.CPU()-cpu0
	fmt.Printf("add_user acknowledged   %8.0f req/s  p50 %v  p99 %v  server CPU %v/request  (%d requests, c=%d, %v)\n",
		float64(len(lat))/elapsed.Seconds(), benchproc.Percentile(lat, 0.5).Round(10*time.Microsecond), benchproc.Percentile(lat, 0.99).Round(10*time.Microsecond),
		(cpu / time.Duration(len(lat))).Round(time.Microsecond), len(lat), *conc, elapsed.Round(time.Millisecond))
	s.Stop()

	// derive: one batch of add_user changes, keys derived by the worker.
	// The server derives queued passwords' keys in the background while
	// they are queued; what it has not derived by the restart, the apply
	// derives. queued→applied is the whole way, restart included.
	s = start(filepath.Join(tmp, "apply"))
	t0, cpu0 := time.Now(), s.CPU()
	s.queue(*nDerive, *conc, func(i int) url.Values { return addUser(s.Boot.Domain, fmt.Sprintf("d%05d", i)) })
	queued, queuedCPU := time.Since(t0), s.CPU()-cpu0
	s, b := s.applied()
	total := time.Since(t0)
	fmt.Printf("add_user batch applied  %8.0f accounts/s  (%d changes in %.3f s, %s)\n", float64(b.Changes)/b.Duration, b.Changes, b.Duration, b.Status)
	fmt.Printf("add_user queued→applied %8.0f accounts/s  (%.3f s: queued in %.3f s, %.0f acks/s, server CPU %v; restart and apply %.3f s)\n",
		float64(b.Changes)/total.Seconds(), total.Seconds(), queued.Seconds(), float64(*nDerive)/queued.Seconds(), queuedCPU.Round(time.Millisecond), (total - queued).Seconds())

	// status: 10,000 status changes in one batch.
	if extra := *nStatus - *nDerive; extra > 0 {
		s.queue(extra, *conc, func(i int) url.Values { return addUser(s.Boot.Domain, fmt.Sprintf("e%05d", i)) })
		s, _ = s.applied()
	}
	names := make([]string, 0, *nStatus)
	for i := 0; i < *nDerive && len(names) < *nStatus; i++ {
		names = append(names, fmt.Sprintf("d%05d", i))
	}
	for i := 0; len(names) < *nStatus; i++ {
		names = append(names, fmt.Sprintf("e%05d", i))
	}
	cmds := []string{"jabber-deactivate_user", "jabber-remove_user"}
	s.queue(len(names), *conc, func(i int) url.Values {
		return url.Values{"cmd": {cmds[i%2]}, "username": {names[i]}, "domain": {s.Boot.Domain}}
	})
	s, b = s.applied()
	fmt.Printf("status batch applied    %8.3f s  (%d deactivate/remove changes, %.0f changes/s, %s)\n", b.Duration, b.Changes, float64(b.Changes)/b.Duration, b.Status)
	// reactivate the deactivated half in a batch of its own.
	var half []string
	for i := 0; i < len(names); i += 2 {
		half = append(half, names[i])
	}
	s.queue(len(half), *conc, func(i int) url.Values {
		return url.Values{"cmd": {"jabber-reactivate_user"}, "username": {half[i]}, "domain": {s.Boot.Domain}}
	})
	s, b = s.applied()
	fmt.Printf("reactivate batch        %8.3f s  (%d changes, %s)\n", b.Duration, b.Changes, b.Status)
	s.Stop()
}
