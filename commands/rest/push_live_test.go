package rest_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

const pushOn = "<enable xmlns='urn:xmpp:push:0' jid='push.example' node='n1'/>"

// TestRESTLivePushSwitch switches modPush off and on through PUT while an
// independent client stays connected: the account's own disco#info stops
// and starts listing urn:xmpp:push:0, and <enable/> is refused with
// service-unavailable meanwhile.
func TestRESTLivePushSwitch(t *testing.T) {
	t.Parallel()
	l := &liveServer{}
	b := setup(t, l)
	addr := startXMPP(t, b, l)
	alice := login(t, addr, "alice@a.example", "alicepw")

	require.Contains(t, string(alice.Ask(t, "d0", "get", "alice@a.example", discoInfo).Query), `var="urn:xmpp:push:0"`)
	require.Equal(t, "result", alice.Ask(t, "e0", "set", "", pushOn).Type)

	status, _, body := b.send("PUT /api/1.0/xmppdomains/a.example\n\n{\"moduleConfig\": {\"modPush\": false}}")
	require.Equal(t, 200, status, body)
	require.NotContains(t, string(alice.Ask(t, "d1", "get", "alice@a.example", discoInfo).Query), "urn:xmpp:push:0")
	require.Equal(t, "error", alice.Ask(t, "e1", "set", "", pushOn).Type)
	require.Equal(t, "service-unavailable", errorCondition(alice, "e1"))

	status, _, body = b.send("PUT /api/1.0/xmppdomains/a.example\n\n{\"moduleConfig\": {\"modPush\": {\"enabled\": true}}}")
	require.Equal(t, 200, status, body)
	require.Contains(t, string(alice.Ask(t, "d2", "get", "alice@a.example", discoInfo).Query), `var="urn:xmpp:push:0"`)
	require.Equal(t, "result", alice.Ask(t, "e2", "set", "", pushOn).Type)
}
