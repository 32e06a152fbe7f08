package slixmpptest

import (
	_ "embed"
	"encoding/json"
	"os/exec"
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
	var r UploadResult
	require.NoError(t, json.Unmarshal(runScript(t, uploadScript, addr, nil, jid, password, file), &r))
	return r
}
