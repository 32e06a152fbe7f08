// Package benchproc runs bin/xmppgate as a separate process for the
// benchmark programs under bench/: a throw-away data directory, loopback
// listeners, its bootstrap credentials, and its CPU time.
package benchproc

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// Bootstrap is the part of DATA/bootstrap.json the benchmarks use.
type Bootstrap struct {
	Key           string `json:"key"`
	Domain        string `json:"domain"`
	AdminJID      string `json:"admin_jid"`
	AdminPassword string `json:"admin_password"`
}

// Proc is a running server.
type Proc struct {
	Addr string // HTTP listener
	Data string
	Boot Bootstrap
	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs `bin serve` on data with the HTTP API on a free loopback port
// and the XMPP listeners on ephemeral ones; env adds XMPPGATE_* settings
// (BENCH_PPROF, if set, becomes its pprof_addr). Each stderr line (the JSON
// log) goes to onLog if it is not nil. Start returns once the API answers.
func Start(bin, data string, onLog func(line []byte), env ...string) (*Proc, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), append([]string{"XMPPGATE_DATA=" + data, "XMPPGATE_HTTP_ADDR=" + addr,
		"XMPPGATE_C2S_ADDR=127.0.0.1:0", "XMPPGATE_C2STLS_ADDR=127.0.0.1:0", "XMPPGATE_S2S_ADDR=", "XMPPGATE_S2STLS_ADDR=",
		"XMPPGATE_PPROF_ADDR=" + os.Getenv("BENCH_PPROF")}, env...)...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p := &Proc{Addr: addr, Data: data, cmd: cmd, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if onLog != nil {
				onLog(sc.Bytes())
			}
		}
	}()
	for i := 0; ; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if i > 1500 {
			p.Stop()
			return nil, fmt.Errorf("benchproc: %s did not start", bin)
		}
		time.Sleep(20 * time.Millisecond)
	}
	raw, err := os.ReadFile(filepath.Join(data, "bootstrap.json"))
	if err == nil {
		err = json.Unmarshal(raw, &p.Boot)
	}
	if err != nil {
		p.Stop()
		return nil, fmt.Errorf("benchproc: bootstrap.json: %w", err)
	}
	return p, nil
}

// Stop ends the server with SIGTERM and waits for it.
func (p *Proc) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	<-p.done
	_ = p.cmd.Wait()
}

// PID is the server process's id (for its RSS in /proc).
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// CPU returns the process's user+system CPU time so far.
func (p *Proc) CPU() time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return time.Duration(ut+st) * 10 * time.Millisecond // USER_HZ is 100 on Linux
}

// InsertUsers adds the active users u0..u(n-1) to domain, all with cred
// (one password derivation, shared: the server's cost does not depend on
// it).
func InsertUsers(ctx context.Context, tx *store.Tx, domain int64, n int, cred credential.SCRAM) error {
	for i := range n {
		u, err := tx.InsertUser(ctx, store.User{DomainID: domain, Username: "u" + strconv.Itoa(i), Status: store.StatusActive})
		if err != nil {
			return err
		}
		if err := tx.SetUserCredentials(ctx, u.ID, cred, nil); err != nil {
			return err
		}
	}
	return nil
}

// Each runs f(0) .. f(n-1) on conc goroutines and returns when all did.
func Each(n, conc int, f func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// RSSKiB reads VmRSS of pid from /proc/<pid>/status.
func RSSKiB(pid int) (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// Percentile returns the p-quantile (0..1) of d, sorting it in place.
func Percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
	return d[int(float64(len(d)-1)*p)]
}

// Register creates user name in the bootstrap domain through the ejabberd
// API's POST /api/register with the bootstrap admin's Basic credentials;
// the reply comes once the change is applied.
func (p *Proc) Register(client *http.Client, name, password string) error {
	body, _ := json.Marshal(map[string]string{"user": name, "host": p.Boot.Domain, "password": password})
	req, _ := http.NewRequest(http.MethodPost, "http://"+p.Addr+"/api/register", bytes.NewReader(body))
	req.SetBasicAuth(p.Boot.AdminJID, p.Boot.AdminPassword)
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
