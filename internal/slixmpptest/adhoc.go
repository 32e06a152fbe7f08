package slixmpptest

import (
	_ "embed"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

//go:embed adhoc.py
var adhocScript []byte

// AdhocResult is what adhoc.py saw: the commands listed, the outcome of
// each one it ran, and the stanza error of each refused one by node.
type AdhocResult struct {
	Commands     []string          `json:"commands"`
	Ping         string            `json:"ping"`
	Online       int               `json:"online"`
	Registered   int               `json:"registered"`
	AnnounceForm []string          `json:"announce_form"`
	Announce     string            `json:"announce"`
	Errors       map[string]string `json:"errors"`
}

// Adhoc logs jid in at the STARTTLS listener addr and runs the server's
// XEP-0050 commands with slixmpp's xep_0050 plugin.
func Adhoc(t testing.TB, addr, jid, password string) AdhocResult {
	t.Helper()
	var r AdhocResult
	require.NoError(t, json.Unmarshal(runScript(t, adhocScript, addr, nil, jid, password), &r))
	return r
}
