package xmppcore_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/store"
)

// BenchmarkPEPPublish is one PEP publish as a client sees it: the IQ
// round trip (node lookup, item write and max_items trim in one
// transaction) and the event to a contact whose caps ask for the node,
// which the benchmark waits for too.
func BenchmarkPEPPublish(b *testing.B) {
	t := b
	bb := setup(t)
	alice := bb.user(t, domain, "alice", "pw-a", store.StatusActive)
	bob := bb.user(t, domain, "bob", "pw-b", store.StatusActive)
	bb.befriend(t, alice, bob)
	a := bb.mustLogin(t, "alice", "pw-a", loginOpts{resource: "r"})
	c := bb.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r"})
	withCaps(t, c, nodeGeo+"+notify")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		id := strconv.Itoa(i)
		q := a.Ask(b, "p"+id, "set", "", publishGeo("g"+id, "x", ""))
		require.Equal(b, "result", q.Type)
		c.Expect(b, "the event", pepEvent(nodeGeo, "g"+id))
	}
}

// BenchmarkPresenceCaps is an available presence with caps (known to the
// server) and its echo to the sender, with modPep on and off: what
// personal eventing adds to a presence.
func BenchmarkPresenceCaps(b *testing.B) {
	for _, on := range []bool{true, false} {
		b.Run(map[bool]string{true: "pep-on", false: "pep-off"}[on], func(b *testing.B) {
			bb := setup(b)
			bb.user(b, domain, "alice", "pw-a", store.StatusActive)
			a := bb.mustLogin(b, "alice", "pw-a", loginOpts{resource: "r"})
			withCaps(b, a, nodeGeo+"+notify")
			if !on {
				mc, _ := json.Marshal(map[string]any{"moduleConfig": map[string]any{"modPep": map[string]bool{"enabled": false}}})
				require.NoError(b, bb.st.Write(bb.ctx, func(tx *store.Tx) error { return tx.SetDomainSettings(bb.ctx, bb.domains[domain].ID, mc) }))
				bb.srv.DomainSettingsChanged(domain)
			}
			ver := capsVer(nodeGeo + "+notify")
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				status := strconv.Itoa(i)
				_, err := a.SendOrg(`<presence><status>` + status + `</status><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:test' ver='` + ver + `'/></presence>`)
				require.NoError(b, err)
				a.Expect(b, "the echo", func(st any) bool {
					p, ok := st.(goxmpp.Presence)
					return ok && p.Status == status
				})
			}
		})
	}
}
