package xmppcore_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/slixmpptest"
	"github.com/xmppgate/xmppgate/store"
)

// befriend gives a and b presence subscriptions both ways.
func (b *testBundle) befriend(t *testing.T, a, c store.User) {
	t.Helper()
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		if _, err := tx.PutRosterItem(b.ctx, a.ID, store.RosterItem{Contact: c.Username + "@" + domain, Subscription: store.SubBoth, Visible: true}); err != nil {
			return err
		}
		_, err := tx.PutRosterItem(b.ctx, c.ID, store.RosterItem{Contact: a.Username + "@" + domain, Subscription: store.SubBoth, Visible: true})
		return err
	}))
}

// TestIntegrationPEPSlixmpp drives personal eventing with slixmpp (pep.py
// says the scenario): +notify from caps, last item on available presence,
// an OMEMO device list published with publish-options, access models.
func TestIntegrationPEPSlixmpp(t *testing.T) {
	t.Parallel()
	slixmpptest.Require(t)
	b := setup(t)
	alice := b.user(t, domain, "alice", "pw-a", store.StatusActive)
	bob := b.user(t, domain, "bob", "pw-b", store.StatusActive)
	b.user(t, domain, "carol", "pw-c", store.StatusActive)
	b.befriend(t, alice, bob)
	out := slixmpptest.PEP(t, b.c2s, map[string][2]string{
		"alice": {"alice@" + domain, "pw-a"}, "bob": {"bob@" + domain, "pw-b"}, "carol": {"carol@" + domain, "pw-c"},
	})
	type ev struct{ ID, XML string }
	var last, dl ev
	require.NoError(t, json.Unmarshal(out["bob_last_tune"], &last), "bob got no last tune: %s", out["bob_last_tune"])
	require.Equal(t, "t1", last.ID)
	require.Contains(t, last.XML, ":title>first</")
	require.NoError(t, json.Unmarshal(out["bob_event_devicelist"], &dl), "bob got no device list event: %s", out["bob_event_devicelist"])
	require.Equal(t, "current", dl.ID)
	require.Contains(t, dl.XML, `:device id="1002" />`)

	// The device list as read by a stranger (open node) and, after she
	// reconnected, by its owner and the stranger again.
	for _, step := range []string{"carol_devicelist", "alice_again", "carol_again"} {
		var got struct{ Items [][2]string }
		require.NoError(t, json.Unmarshal(out[step], &got), step)
		require.Len(t, got.Items, 1, "%s: %s", step, out[step])
		require.Equal(t, "current", got.Items[0][0], step)
		require.Regexp(t, `^<ns0:list xmlns:ns0="eu.siacs.conversations.axolotl"><ns0:device id="1001" /><ns0:device id="1002" /></ns0:list>$`, got.Items[0][1], step)
	}
	require.JSONEq(t, `["conflict","{http://jabber.org/protocol/pubsub#errors}precondition-not-met"]`, string(out["precondition"]))
	require.JSONEq(t, `{"error":"not-allowed","app":["{http://jabber.org/protocol/pubsub#errors}closed-node"]}`, string(out["bob_whitelist"]))
}
