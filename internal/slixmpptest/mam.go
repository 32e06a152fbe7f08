package slixmpptest

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

//go:embed mam.py
var mamScript []byte

// MAMResult is what mam.py saw (its docstring says how).
type MAMResult struct {
	Sent      []string `json:"sent"`
	Paged     []string `json:"paged"`
	With      []string `json:"with"`
	Last      []string `json:"last"`
	Never     []string `json:"never"`
	StanzaIDs int      `json:"stanza_ids"`
}

// MAM runs mam.py against the STARTTLS listener addr with two users
// sharing password.
func MAM(t testing.TB, addr, alice, bob, password string) MAMResult {
	t.Helper()
	Require(t)
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "mam.py")
	require.NoError(t, os.WriteFile(path, mamScript, 0o600))
	in, err := json.Marshal(map[string]string{"alice": alice, "bob": bob, "password": password})
	require.NoError(t, err)
	cmd := exec.Command(Python, path, host, port)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "slixmpp: %s", stderr.String())
	var res MAMResult
	require.NoError(t, json.Unmarshal(out, &res), "slixmpp: %s %s", out, stderr.String())
	return res
}
