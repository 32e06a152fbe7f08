package xmppcore_test

import (
	"encoding/json"

	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/slixmpptest"
	"github.com/xmppgate/xmppgate/store"
)

// TestIntegrationPubsubServiceSlixmpp drives the pubsub service with
// slixmpp (pubsub.py says the scenario): nodes created and configured,
// subscriptions, events, items, affiliations, deletion.
func TestIntegrationPubsubServiceSlixmpp(t *testing.T) {
	t.Parallel()
	slixmpptest.Require(t)
	b := setup(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		b.user(t, domain, u, "pw-"+u, store.StatusActive)
	}
	users := map[string][2]string{
		"alice": {"alice@" + domain, "pw-alice"}, "bob": {"bob@" + domain, "pw-bob"}, "carol": {"carol@" + domain, "pw-carol"},
	}
	out := slixmpptest.Pubsub(t, b.c2s, "pubsub."+domain, "full", users)
	want := map[string]string{
		"instant":           `true`,
		"config":            `{"pubsub#title":"News","pubsub#max_items":"2","pubsub#access_model":"open"}`,
		"meta":              `{"pubsub#title":"News","pubsub#owner":["alice@` + domain + `"],"pubsub#access_model":"open"}`,
		"subscribed":        `"subscribed"`,
		"bob_subs":          `[["news","bob@` + domain + `"]]`,
		"invalid_jid":       `"bad-request"`,
		"events":            `[["publish","news","1"],["publish","news","2"],["publish","news","3"]]`,
		"items_all":         `["2","3"]`,
		"items_max":         `["3"]`,
		"items_id":          `["2"]`,
		"carol_publish":     `"forbidden"`,
		"retracted":         `["retract","news","2"]`,
		"carol_outcast":     `"forbidden"`,
		"affiliations":      `[["alice@` + domain + `","owner"],["carol@` + domain + `","outcast"]]`,
		"after_unsubscribe": `null`,
		"deleted":           `[["publish","news","4"],["delete","news",""]]`,
		"gone":              `"item-not-found"`,
	}
	for k, v := range want {
		require.JSONEq(t, v, string(out[k]), "%s: %s", k, out[k])
	}
	var nodes []string
	require.NoError(t, json.Unmarshal(out["disco_items"], &nodes))
	require.Len(t, nodes, 2)
	require.Contains(t, nodes, "news")
}
