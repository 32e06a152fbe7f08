package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
)

// binDir holds the binary buildBinary built; TestMain removes it.
var binDir string

// buildOnce builds the binary for every test that runs a real process: they
// run in parallel and only execute it, and each build of its own cost a
// link, or on a cold build cache a whole compile, side by side on the
// same cores.
var buildOnce = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "xmppgate-test-bin-")
	if err != nil {
		return "", err
	}
	binDir = dir
	bin := filepath.Join(dir, "xmppgate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %w\n%s", err, out)
	}
	return bin, nil
})

// buildBinary builds bin/xmppgate for tests that need a real process.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin, err := buildOnce()
	require.NoError(t, err)
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	return ln.Addr().String()
}

type proc struct {
	cmd  *exec.Cmd
	addr string
	t    *testing.T
}

func startProc(t *testing.T, bin, data, schedule string) *proc {
	t.Helper()
	addr := freeAddr(t)
	cmd := exec.Command(bin, "serve")
	cmd.Env = append(os.Environ(), "XMPPGATE_DATA="+data, "XMPPGATE_HTTP_ADDR="+addr,
		"XMPPGATE_WORKER_SCHEDULE="+schedule, "XMPPGATE_LOG_LEVEL=warn", "XMPPGATE_C2S_ADDR=127.0.0.1:0", "XMPPGATE_C2STLS_ADDR=127.0.0.1:0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _, _ = cmd.Process.Wait() })
	p := &proc{cmd: cmd, addr: addr, t: t}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return p
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("server did not start")
	return nil
}

func (p *proc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	_, _ = p.cmd.Process.Wait()
}

func readBootstrap(t *testing.T, data string) Bootstrap { return readBootstrapTB(t, data) }

func readBootstrapTB(t testing.TB, data string) Bootstrap {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(data, bootstrapFile))
	require.NoError(t, err)
	var b Bootstrap
	require.NoError(t, json.Unmarshal(raw, &b))
	return b
}

// TestCrashWhileApplying queues 5,000 acknowledged changes, then SIGKILLs the
// server at random moments while its worker applies them, restarting it on
// the same data directory each time. After every kill the batch is either
// untouched or fully applied, and in the end every change is applied
// exactly once and the token reports success.
func TestCrashWhileApplying(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process crash test")
	}
	t.Parallel()
	bin := buildBinary(t)
	data := filepath.Join(t.TempDir(), "data")
	const n = 5000

	// Phase 1: queue n add_user changes; the worker never runs.
	p := startProc(t, bin, data, "@every 1h")
	boot := readBootstrap(t, data)
	base := "http://" + p.addr + "/"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var mu sync.Mutex
	tokens := map[string]int{}
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				v := url.Values{"key": {boot.Key}, "cmd": {"jabber-add_user"}, "username": {fmt.Sprintf("u%05d", i)},
					"domain": {boot.Domain}, "password": {fmt.Sprintf("pw%d", i)}}
				resp, err := client.PostForm(base, v)
				if err != nil {
					t.Error(err)
					return
				}
				sc := bufio.NewScanner(resp.Body)
				var lines []string
				for sc.Scan() {
					lines = append(lines, sc.Text())
				}
				resp.Body.Close()
				if len(lines) != 3 || lines[0] != "success" {
					t.Errorf("add_user %d: %q", i, lines)
					return
				}
				mu.Lock()
				tokens[lines[2]]++
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	require.Len(t, tokens, 1, "all changes share the waiting batch's token")
	var token string
	for tok, count := range tokens {
		token = tok
		require.Equal(t, n, count)
	}
	p.kill() // acknowledged means committed: even SIGKILL keeps them

	// Phase 2: every start applies the batch; kill it at random moments.
	for round := 0; round < 5; round++ {
		p := startProc(t, bin, data, "@every 1h")
		// The server listens at once and applies the batch in the
		// background (derivation for ~5 s, then one transaction).
		time.Sleep(time.Duration(rand.IntN(7000)) * time.Millisecond)
		p.kill()
		active, pending := countUsers(t, data)
		require.True(t, (active == 0 && pending == n) || (active == n && pending == 0),
			"round %d: half-applied batch: %d active, %d pending", round, active, pending)
		t.Logf("round %d: killed with %d of %d applied", round, active, n)
	}

	// Phase 3: a last start finishes whatever is left.
	p = startProc(t, bin, data, "@every 1h")
	deadline := time.Now().Add(2 * time.Minute)
	for {
		resp, err := http.Get("http://" + p.addr + "/?format=json&cmd=services-progress&key=" + boot.Key + "&token=" + token)
		require.NoError(t, err)
		var r struct {
			Data []map[string]string `json:"data"`
		}
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
		resp.Body.Close()
		require.Len(t, r.Data, 1)
		if r.Data[0]["status"] == "success" {
			break
		}
		require.NotEqual(t, "failure", r.Data[0]["status"])
		require.True(t, time.Now().Before(deadline), "batch never finished: %v", r.Data[0])
		time.Sleep(100 * time.Millisecond)
	}
	p.kill()
	active, pending := countUsers(t, data)
	require.Equal(t, n, active)
	require.Zero(t, pending)

	st, err := store.Open(context.Background(), filepath.Join(data, dbFile), store.Options{})
	require.NoError(t, err)
	defer st.Close()
	b, err := st.BatchByToken(context.Background(), token)
	require.NoError(t, err)
	changes, err := st.Changes(context.Background(), b.ID)
	require.NoError(t, err)
	require.Len(t, changes, n)
	for _, c := range changes {
		require.Equal(t, store.ChangeApplied, c.Status, c.Error)
	}
	u, err := st.UserByJID(context.Background(), boot.Domain, "u04321")
	require.NoError(t, err)
	require.True(t, u.Cred.Verify("pw4321"))
}

func countUsers(t *testing.T, data string) (active, pending int) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(data, dbFile), store.Options{})
	require.NoError(t, err)
	defer st.Close()
	us, err := st.Users(context.Background(), nil)
	require.NoError(t, err)
	for _, u := range us {
		switch {
		case u.Status == store.StatusActive && strings.HasPrefix(u.Username, "u"):
			active++
		case u.Status == store.StatusPendingActive:
			pending++
		}
	}
	return active, pending
}
