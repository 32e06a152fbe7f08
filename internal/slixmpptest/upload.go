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

//go:embed upload.py
var uploadScript []byte

// UploadResult is how an upload went: URL is the GET URL of the file,
// Error slixmpp's failure ("FileTooBig", or the stanza error's
// condition), Max the max-file-size the service announced.
type UploadResult struct {
	OK    bool   `json:"ok"`
	URL   string `json:"url"`
	Error string `json:"error"`
	Max   int64  `json:"max"`
}

// Upload logs jid in at the STARTTLS listener addr and uploads file with
// slixmpp's XEP-0363 plugin (service discovery, slot request, HTTP PUT).
func Upload(t testing.TB, addr, jid, password, file string) UploadResult {
	t.Helper()
	Require(t)
	if exec.Command(Python, "-c", "import aiohttp").Run() != nil {
		t.Skip("slixmpp's HTTP upload needs aiohttp (`make deps` installs python3-aiohttp)")
	}
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "upload.py")
	require.NoError(t, os.WriteFile(path, uploadScript, 0o600))
	cmd := exec.Command(Python, path, host, port, jid, password, file)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "slixmpp: %s", stderr.String())
	var r UploadResult
	require.NoError(t, json.Unmarshal(out, &r), "slixmpp: %s", stderr.String())
	return r
}
