// Command ejabberd benchmarks the ejabberd dialect the way issue 4 asks:
// `register` through POST /api/register at concurrency 16 for 10 s, against
// the real server process (synchronous: each reply comes after the change,
// SCRAM derivation included, is applied). It prints accounts/s, p50, p99 and
// the server's CPU per account.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
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
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(*bin, "serve")
	cmd.Env = append(os.Environ(), "XMPPGATE_DATA="+data, "XMPPGATE_HTTP_ADDR="+addr, "XMPPGATE_LOG_LEVEL=warn",
		"XMPPGATE_C2S_ADDR=127.0.0.1:0", "XMPPGATE_C2STLS_ADDR=127.0.0.1:0", "XMPPGATE_PPROF_ADDR="+os.Getenv("BENCH_PPROF"))
	cmd.Stdout, cmd.Stderr = io.Discard, os.Stderr
	if err := cmd.Start(); err != nil {
		log.Fatal(err)
	}
	defer func() { _ = cmd.Process.Signal(syscall.SIGTERM); _ = cmd.Wait() }()
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i > 1500 {
			log.Fatal("server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	raw, err := os.ReadFile(filepath.Join(data, "bootstrap.json"))
	if err != nil {
		log.Fatal(err)
	}
	var boot struct {
		Domain        string `json:"domain"`
		AdminJID      string `json:"admin_jid"`
		AdminPassword string `json:"admin_password"`
	}
	if err := json.Unmarshal(raw, &boot); err != nil {
		log.Fatal(err)
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	register := func(name string) error {
		body, _ := json.Marshal(map[string]string{"user": name, "host": boot.Domain, "password": "benchpass"})
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/api/register", bytes.NewReader(body))
		req.SetBasicAuth(boot.AdminJID, boot.AdminPassword)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || !strings.Contains(string(out), "successfully registered") {
			return fmt.Errorf("register %s: %d %s", name, resp.StatusCode, out)
		}
		return nil
	}
	cpu := func() time.Duration {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
		if err != nil {
			return 0
		}
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
		var ut, st int64
		fmt.Sscan(f[11], &ut)
		fmt.Sscan(f[12], &st)
		return time.Duration(ut+st) * 10 * time.Millisecond
	}
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
	start, cpu0 := time.Now(), cpu()
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
	elapsed, used := time.Since(start), cpu()-cpu0
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	fmt.Printf("ejabberd register, %s, %d CPUs\n", time.Now().UTC().Format(time.RFC3339), runtime.NumCPU())
	fmt.Printf("register %8.0f accounts/s  p50 %v  p99 %v  server CPU %v/account  (%d accounts, c=%d, %v)\n",
		float64(len(lat))/elapsed.Seconds(), lat[len(lat)/2].Round(10*time.Microsecond), lat[len(lat)*99/100].Round(10*time.Microsecond),
		(used / time.Duration(len(lat))).Round(time.Microsecond), len(lat), *conc, elapsed.Round(time.Millisecond))
}
