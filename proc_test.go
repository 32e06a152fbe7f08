package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/syncbuf"
)

// binDir holds the binary buildBinary built; TestMain removes it.
var binDir string

// buildOnce builds the binary for every test that runs a real process: they
// run in parallel and only execute it, and builds of their own would each
// cost a link (on a cold build cache a whole compile) side by side on the
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

// buildBinary is the xmppgate binary for tests that need a real process.
func buildBinary(t testing.TB) string {
	t.Helper()
	bin, err := buildOnce()
	require.NoError(t, err)
	return bin
}

func TestMain(m *testing.M) {
	code := m.Run()
	stopPostgres()
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

// serverProc is the real binary serving a data directory on known
// loopback ports. Its worker runs hourly, so only a start (or a test)
// applies changes; its log is kept, and shown if the test fails.
type serverProc struct {
	cmd       *exec.Cmd
	bin, data string
	env       []string
	// config, if set, is the config file the server reads (serve
	// --config): then only the data directory and env come from the
	// environment, so that the file's values hold.
	config    string
	http, c2s string
	boot      Bootstrap
	stderr    *syncbuf.Buffer
	exited    chan error
}

// cli runs the binary's command line on p's data directory and
// environment (its store) and returns what it printed, trimmed.
func (p *serverProc) cli(t testing.TB, args ...string) string {
	t.Helper()
	cmd := exec.Command(p.bin, args...)
	cmd.Env = append(append(os.Environ(), "XMPPGATE_DATA="+p.data), p.env...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "xmppgate %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// startBinary builds the binary and serves a fresh data directory with it,
// env overriding the defaults ("KEY=value").
func startBinary(t testing.TB, env ...string) *serverProc {
	t.Helper()
	p := (&serverProc{bin: buildBinary(t), data: filepath.Join(t.TempDir(), "data"), env: env}).restart(t)
	p.boot = readBootstrapTB(t, p.data)
	return p
}

// restart serves the same data directory with the same binary in a new
// process (on new ports), once this one is gone.
func (p *serverProc) restart(t testing.TB) *serverProc {
	t.Helper()
	n := &serverProc{bin: p.bin, data: p.data, env: p.env, config: p.config, boot: p.boot, stderr: &syncbuf.Buffer{}, exited: make(chan error, 1)}
	n.cmd = exec.Command(n.bin, "serve")
	// Port 0: the server picks free ports and says which in its "serving"
	// line (a port picked here could be taken before the server binds it).
	n.cmd.Env = append(append(os.Environ(), "XMPPGATE_DATA="+n.data, "XMPPGATE_HTTP_ADDR=127.0.0.1:0", "XMPPGATE_WORKER_SCHEDULE=@every 1h",
		"XMPPGATE_LOG_LEVEL=info", "XMPPGATE_C2S_ADDR=127.0.0.1:0", "XMPPGATE_C2STLS_ADDR=", "XMPPGATE_S2S_ADDR=", "XMPPGATE_S2STLS_ADDR="), n.env...)
	if n.config != "" {
		n.cmd = exec.Command(n.bin, "serve", "--config", n.config)
		n.cmd.Env = append(append(os.Environ(), "XMPPGATE_DATA="+n.data, "XMPPGATE_S2S_ADDR=", "XMPPGATE_S2STLS_ADDR="), n.env...)
	}
	n.cmd.Stdout, n.cmd.Stderr = io.Discard, n.stderr
	require.NoError(t, n.cmd.Start())
	go func() { n.exited <- n.cmd.Wait() }()
	t.Cleanup(func() {
		_ = n.cmd.Process.Kill()
		<-n.exited
		if t.Failed() {
			t.Logf("server log:\n%s", n.stderr)
		}
	})
	n.waitHTTP(t)
	return n
}

// waitHTTP waits until the server's last "serving" line names its
// addresses and the API answers there.
func (p *serverProc) waitHTTP(t testing.TB) {
	t.Helper()
	require.Eventually(t, func() bool {
		var serving struct{ HTTP, C2S string }
		for _, l := range strings.Split(p.stderr.String(), "\n") {
			if strings.Contains(l, `"msg":"serving"`) {
				_ = json.Unmarshal([]byte(l), &serving)
			}
		}
		if serving.HTTP == "" {
			return false
		}
		p.http, p.c2s = serving.HTTP, serving.C2S
		resp, err := http.Get("http://" + p.http + "/api/status")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	}, 30*time.Second, 20*time.Millisecond, "server did not answer; stderr:\n%s", p.stderr)
}

// waitExit waits for the process to stop by itself and returns how it ended.
func (p *serverProc) waitExit(t *testing.T) error {
	t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err // for the cleanup
		return err
	case <-time.After(20 * time.Second):
		require.FailNow(t, "the server did not stop", p.stderr.String())
		return nil
	}
}

// kill ends the process with SIGKILL, as a crash would, and waits for it.
func (p *serverProc) kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	p.exited <- <-p.exited // for the cleanup
}

// ctl runs the built binary's `xmppgate ctl ARGS` against the process from
// the working directory dir ("" for the test's), as a shell would: exit
// status, stdout, stderr.
func (p *serverProc) ctl(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.Command(p.bin, append([]string{"ctl"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "XMPPGATE_DATA="+p.data, "XMPPGATE_HTTP_ADDR="+p.http)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return code, out.String(), errb.String()
}

// call posts body to the process's ejabberd API as the bootstrap admin.
func (p *serverProc) call(t *testing.T, cmd, body string) (int, string) {
	t.Helper()
	return ejabberdCall(t, "http://"+p.http, p.boot, cmd, body)
}
