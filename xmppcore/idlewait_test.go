package xmppcore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
)

// TestIdleWaitSeesBufferedInput: stanzas that arrive together in one TLS
// record, split across records, or after whitespace keepalives are all
// answered; the idle wait between stanzas never sits on input TLS or the
// reader already holds.
func TestIdleWaitSeesBufferedInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	r, _ := smLogin(t, b, "alice", "pw-a")
	r.bind("raw")
	pingID := func(id string) string {
		return "<iq type='get' id='" + id + "'><ping xmlns='urn:xmpp:ping'/></iq>"
	}

	// Three stanzas in one write: one TLS record, read once.
	r.send(pingID("a") + pingID("b") + "  \n" + pingID("c"))
	for _, id := range []string{"a", "b", "c"} {
		r.expect(`id="` + id + `"`)
	}
	// One stanza split across records, with a pause in the middle.
	half := pingID("d")
	r.send(half[:10])
	time.Sleep(50 * time.Millisecond)
	r.send(half[10:])
	r.expect(`id="d"`)
	// Whitespace keepalives alone, then a stanza.
	for range 3 {
		r.send(" ")
		time.Sleep(20 * time.Millisecond)
	}
	r.send(pingID("e"))
	got := r.expect(`id="e"`)
	require.False(t, strings.Contains(got, "error"), got)
}
