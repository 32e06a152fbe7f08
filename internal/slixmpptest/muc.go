package slixmpptest

import (
	_ "embed"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

//go:embed muc.py
var mucScript []byte

// MUCResult is what muc.py saw (its docstring says how).
type MUCResult struct {
	Created      []int    `json:"created"`
	ConfigVars   int      `json:"config_vars"`
	BeforeMember string   `json:"before_member"`
	BobJoined    []string `json:"bob_joined"`
	AliceGot     []string `json:"alice_got"`
	BobGot       []string `json:"bob_got"`
	CarolRefused string   `json:"carol_refused"`
	History      []string `json:"history"`
	Archive      []string `json:"archive"`
}

// MUC runs muc.py against the STARTTLS listener addr: alice creates room
// and makes bob a member; carol is not one. The three share password.
func MUC(t testing.TB, addr, alice, bob, carol, password, room string) MUCResult {
	t.Helper()
	var res MUCResult
	out := runScript(t, mucScript, addr, map[string]string{"alice": alice, "bob": bob, "carol": carol, "password": password, "room": room})
	require.NoError(t, json.Unmarshal(out, &res), "%s", out)
	return res
}
