package ejabberd_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// A push registration an independent client enables is what
// delete_old_push_sessions purges: only the caller's domains' (another
// account's call leaves it), and only the old enough.
func TestEjabberdPushLive(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	b.register("carol@a.example", "carolpw")
	c := goxmpptest.Login(t, b.XMPPAddr, "carol@a.example", "carolpw", goxmpptest.Resource("r"))
	enable := func() {
		t.Helper()
		ownIQ(t, c, "en", "set", "<enable xmlns='urn:xmpp:push:0' jid='push.example' node='n1'/>")
	}
	// still reports whether carol's registration was there (and removes it).
	still := func() bool {
		t.Helper()
		q := c.Ask(t, "dis", "set", "carol@a.example", "<disable xmlns='urn:xmpp:push:0' jid='push.example' node='n1'/>")
		return q.Type == "result" // item-not-found otherwise (xmppcore's tests check the condition)
	}
	enable()
	require.Equal(t, "0", b.ok("POST /api/delete_old_push_sessions\nAs: other\n\n"+`{"days":0}`))
	require.True(t, still(), "another account's purge leaves it")
	enable()
	require.Equal(t, "0", b.ok("POST /api/delete_old_push_sessions\nAs: acme\n\n"+`{"days":1}`))
	require.True(t, still(), "not a day old")
	enable()
	require.Equal(t, "0", b.ok("POST /api/delete_old_push_sessions\nAs: acme\n\n"+`{"days":0}`))
	require.False(t, still(), "days 0 purges every one")
	status, _, body := b.send("POST /api/delete_old_push_sessions\nAs: acme\n\n" + `{"days":"x"}`)
	require.Equal(t, 400, status)
	require.True(t, strings.Contains(body, "not in format integer"), body)
}
