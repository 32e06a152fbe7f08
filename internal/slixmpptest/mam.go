package slixmpptest

import (
	_ "embed"
	"encoding/json"
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
	var res MAMResult
	require.NoError(t, json.Unmarshal(runScript(t, mamScript, addr, map[string]string{"alice": alice, "bob": bob, "password": password}), &res))
	return res
}
