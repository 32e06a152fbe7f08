package slixmpptest

import (
	"bufio"
	_ "embed"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/syncbuf"
)

//go:embed sm.py
var driverScript []byte

// Event is one line the driven client printed: "event" names it (see
// sm.py for the list and their fields).
type Event map[string]any

// S returns a string field of the event ("" if missing).
func (e Event) S(k string) string { s, _ := e[k].(string); return s }

// Driver is one slixmpp client (sm.py) the test drives command by command:
// stream management and CSI through slixmpp's own plugins.
type Driver struct {
	t      testing.TB
	cmd    *exec.Cmd
	in     io.WriteCloser
	stderr syncbuf.Buffer

	mu      sync.Mutex
	backlog []Event
	more    chan struct{}
}

// Drive starts a client for jid (with resource) and password; it is ended
// when the test ends.
func Drive(t testing.TB, jid, password string) *Driver {
	t.Helper()
	return drive(t, "sm.py", driverScript, jid, password)
}

// drive runs script (a driver with sm.py's protocol: JSON commands in,
// JSON events out) for jid and password.
func drive(t testing.TB, name string, script []byte, jid, password string) *Driver {
	t.Helper()
	Require(t)
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, script, 0o600))
	d := &Driver{t: t, more: make(chan struct{}, 1)}
	d.cmd = exec.Command(Python, path, jid, password)
	d.cmd.Stderr = &d.stderr
	var err error
	d.in, err = d.cmd.StdinPipe()
	require.NoError(t, err)
	out, err := d.cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, d.cmd.Start())
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var e Event
			if json.Unmarshal(sc.Bytes(), &e) != nil {
				continue
			}
			d.mu.Lock()
			d.backlog = append(d.backlog, e)
			d.mu.Unlock()
			select {
			case d.more <- struct{}{}:
			default:
			}
		}
	}()
	t.Cleanup(func() {
		d.in.Close()
		done := make(chan struct{})
		go func() { d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			d.cmd.Process.Kill()
			<-done
		}
	})
	return d
}

// Do sends one command (see sm.py).
func (d *Driver) Do(cmd string, args ...any) {
	d.t.Helper()
	m := map[string]any{"cmd": cmd}
	for i := 0; i+1 < len(args); i += 2 {
		m[args[i].(string)] = args[i+1]
	}
	b, err := json.Marshal(m)
	require.NoError(d.t, err)
	_, err = d.in.Write(append(b, '\n'))
	require.NoError(d.t, err)
}

// Connect connects to addr (direct TLS or STARTTLS) and waits for the
// session to start or be resumed; it returns which.
func (d *Driver) Connect(addr string, direct bool) string {
	d.t.Helper()
	host, port, err := net.SplitHostPort(addr)
	require.NoError(d.t, err)
	p, _ := strconv.Atoi(port)
	d.Do("connect", "host", host, "port", p, "direct", direct)
	e := d.Wait("session start or resumption", 20*time.Second, func(e Event) bool {
		return e.S("event") == "session_start" || e.S("event") == "session_resumed"
	})
	return e.S("event")
}

// Wait returns the first event, old or new, that match accepts, and
// removes it; the others stay for later waits. It fails the test after
// timeout.
func (d *Driver) Wait(what string, timeout time.Duration, match func(Event) bool) Event {
	d.t.Helper()
	deadline := time.After(timeout)
	for {
		d.mu.Lock()
		for i, e := range d.backlog {
			if match(e) {
				d.backlog = append(d.backlog[:i], d.backlog[i+1:]...)
				d.mu.Unlock()
				return e
			}
		}
		d.mu.Unlock()
		select {
		case <-d.more:
		case <-deadline:
			d.mu.Lock()
			seen := append([]Event(nil), d.backlog...)
			d.mu.Unlock()
			require.FailNow(d.t, "slixmpp: no "+what, "events: %v\nstderr: %s", seen, d.stderr.String())
		}
	}
}

// Events returns the events not taken by Wait yet, and forgets them.
func (d *Driver) Events() []Event {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.backlog
	d.backlog = nil
	return out
}

// Message matches a message event with that body.
func Message(body string) func(Event) bool {
	return func(e Event) bool { return e.S("event") == "message" && e.S("body") == body }
}

// Is matches an event by name.
func Is(name string) func(Event) bool {
	return func(e Event) bool { return e.S("event") == name }
}
