// Package slixmpptest logs users in to a server under test with slixmpp
// (Debian's python3-slixmpp, run by /usr/bin/python3), an independent
// client that, like Gajim and Conversations, picks the strongest SASL
// mechanism offered and runs passwords through SASLprep. The client script
// (login.py) is embedded; testdata/migrate/ejabberd-23.01/regen.sh runs the
// same file against ejabberd.
package slixmpptest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Python is Debian's interpreter, the one python3-slixmpp is installed for.
const Python = "/usr/bin/python3"

//go:embed login.py
var script []byte

// Login is one login to make: Mech "" lets slixmpp pick the strongest
// mechanism offered.
type Login struct {
	JID      string `json:"jid"`
	Password string `json:"password"`
	Mech     string `json:"mech"`
}

// Result is how a login went: Used is the mechanism that succeeded, Failed
// the ones the server refused before it (slixmpp then tries the next).
type Result struct {
	JID    string   `json:"jid"`
	Mech   string   `json:"mech"`
	OK     bool     `json:"ok"`
	Used   string   `json:"used"`
	Failed []string `json:"failed"`
}

var available = sync.OnceValue(func() error {
	return exec.Command(Python, "-c", "import slixmpp").Run()
})

// Require skips the test when /usr/bin/python3 cannot import slixmpp
// (`make deps` installs python3-slixmpp).
func Require(t testing.TB) {
	t.Helper()
	if err := available(); err != nil {
		t.Skipf("slixmpp is not available (%s -c 'import slixmpp': %v); `make deps` installs python3-slixmpp", Python, err)
	}
}

// Run makes the logins at once against the STARTTLS listener addr
// (host:port) and returns their results in the same order.
func Run(t testing.TB, addr string, logins []Login) []Result {
	t.Helper()
	Require(t)
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "login.py")
	require.NoError(t, os.WriteFile(path, script, 0o600))
	in, err := json.Marshal(logins)
	require.NoError(t, err)
	cmd := exec.Command(Python, path, host, port)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "slixmpp: %s", stderr.String())
	var res []Result
	d := json.NewDecoder(bytes.NewReader(out))
	for d.More() {
		var r Result
		require.NoError(t, d.Decode(&r))
		res = append(res, r)
	}
	require.Len(t, res, len(logins), "slixmpp: %s", stderr.String())
	return res
}

//go:embed pep.py
var pepScript []byte

// PEP runs the XEP-0163 scenario of pep.py against the STARTTLS listener
// addr with users "alice", "bob" (presence subscriptions both ways) and
// "carol" (a stranger), each [jid, password], and returns its observations.
func PEP(t testing.TB, addr string, users map[string][2]string) map[string]json.RawMessage {
	t.Helper()
	var out map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(runScript(t, pepScript, addr, users), &out))
	return out
}

// runScript runs an embedded script with host and port (then args) as
// arguments and in as JSON on stdin (nil: none), and returns what it
// printed.
func runScript(t testing.TB, script []byte, addr string, in any, args ...string) []byte {
	t.Helper()
	Require(t)
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "script.py")
	require.NoError(t, os.WriteFile(path, script, 0o600))
	cmd := exec.Command(Python, append([]string{path, host, port}, args...)...)
	if in != nil {
		b, err := json.Marshal(in)
		require.NoError(t, err)
		cmd.Stdin = bytes.NewReader(b)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "slixmpp: %s", stderr.String())
	return out
}

//go:embed pubsub.py
var pubsubScript []byte

// Pubsub runs the XEP-0060 service scenario of pubsub.py (mode "full" or
// "acl") against the STARTTLS listener addr and the service JID, with
// users "alice", "bob" and "carol", each [jid, password]; it returns the
// observations.
func Pubsub(t testing.TB, addr, service, mode string, users map[string][2]string) map[string]json.RawMessage {
	t.Helper()
	in := map[string]any{"service": service, "mode": mode}
	for k, v := range users {
		in[k] = v
	}
	var out map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(runScript(t, pubsubScript, addr, in), &out))
	return out
}
