package xmppcore_test

import (
	"encoding/json"
	"strings"

	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
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

// setPubsubACL sets moduleConfig.modPubsub.createnodeAcl, as the REST
// domain PUT does.
func (b *testBundle) setPubsubACL(t *testing.T, acl string) {
	t.Helper()
	raw, err := json.Marshal(map[string]any{"moduleConfig": map[string]any{"modPubsub": map[string]any{"enabled": true, "createnodeAcl": acl}}})
	require.NoError(t, err)
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		return tx.SetDomainSettings(b.ctx, b.domains[domain].ID, raw)
	}))
	b.srv.DomainSettingsChanged(domain)
}

// TestIntegrationPubsubServiceACLSlixmpp: with createnodeAcl
// pubsub_create_users only the domain's admins create nodes; slixmpp sees
// a plain user refused.
func TestIntegrationPubsubServiceACLSlixmpp(t *testing.T) {
	t.Parallel()
	slixmpptest.Require(t)
	b := setup(t)
	b.user(t, domain, "bob", "pw-bob", store.StatusActive)
	b.setPubsubACL(t, "pubsub_create_users")
	out := slixmpptest.Pubsub(t, b.c2s, "pubsub."+domain, "acl", map[string][2]string{"bob": {"bob@" + domain, "pw-bob"}})
	require.JSONEq(t, `"forbidden"`, string(out["create_refused"]))
}

// TestPubsubServiceWire checks the service's error conditions (XEP-0060
// pubsub#errors) with go-xmpp, createnodeAcl for admins, domain isolation
// and the module switch.
func TestPubsubServiceWire(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.user(t, domain, "admin", "pw-admin", store.StatusActive)
	b.user(t, domain, "bob", "pw-bob", store.StatusActive)
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		return tx.PutEjabberdPermission(b.ctx, store.EjabberdPermission{UserID: admin.ID, AccountID: b.account, What: []string{"*"}})
	}))
	svc := "pubsub." + domain
	login := func(user, pw string) *goxmpptest.Client {
		return goxmpptest.Login(t, b.c2s, user+"@"+domain, pw, goxmpptest.Resource("r"), goxmpptest.Transcript())
	}
	a, bc := login("admin", "pw-admin"), login("bob", "pw-bob")
	ask := func(c *goxmpptest.Client, id, typ, payload string) (string, string) {
		t.Helper()
		q := c.Ask(t, id, typ, svc, payload)
		if q.Type != "error" {
			return q.Type, string(q.Query)
		}
		tr := c.Transcript()
		i := strings.LastIndex(tr, `type="error" id="`+id+`"`)
		require.GreaterOrEqual(t, i, 0, "no error for %s", id)
		return q.Type, tr[i : i+strings.Index(tr[i:], "</iq>")]
	}
	ps := func(body string) string { return "<pubsub xmlns='" + nsPubsub + "'>" + body + "</pubsub>" }
	owner := func(body string) string { return "<pubsub xmlns='" + nsPubsub + "#owner'>" + body + "</pubsub>" }
	config := func(fields string) string {
		return "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>" + nsPubsub +
			"#node_config</value></field>" + fields + "</x>"
	}
	field := func(v, val string) string { return "<field var='" + v + "'><value>" + val + "</value></field>" }

	b.setPubsubACL(t, "pubsub_create_users")
	typ, _ := ask(a, "c1", "set", ps("<create node='n1'/>"))
	require.Equal(t, "result", typ, "an admin creates nodes")
	_, e := ask(bc, "c2", "set", ps("<create node='n2'/>"))
	require.Contains(t, e, "<forbidden")
	b.setPubsubACL(t, "local")

	_, e = ask(bc, "c3", "set", ps("<create node='n1'/>"))
	require.Contains(t, e, `<error type="cancel"><conflict`)
	_, e = ask(bc, "c4", "set", ps("<create node='p'/><configure>"+config(field("pubsub#access_model", "presence"))+"</configure>"))
	require.Contains(t, e, `<not-acceptable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><unsupported-access-model xmlns="`+nsPubsub+`#errors"/>`,
		"presence access is personal eventing's")
	_, e = ask(a, "c5", "set", owner("<configure node='n1'>"+config(field("pubsub#access_model", "roster"))+"</configure>"))
	require.Contains(t, e, "<unsupported-access-model")
	_, e = ask(bc, "c6", "set", owner("<configure node='n1'>"+config(field("pubsub#title", "x"))+"</configure>"))
	require.Contains(t, e, `<error type="auth"><forbidden`, "only owners configure")
	_, e = ask(bc, "c7", "set", owner("<delete node='n1'/>"))
	require.Contains(t, e, "<forbidden")

	_, e = ask(a, "p1", "set", ps("<publish node='n1'/>"))
	require.Contains(t, e, "<item-required")
	_, e = ask(a, "p2", "set", ps("<publish node='n1'><item id='1'/></publish>"))
	require.Contains(t, e, "<payload-required")
	_, e = ask(a, "p3", "set", ps("<publish node='nope'><item><x xmlns='urn:t'/></item></publish>"))
	require.Contains(t, e, "<item-not-found")
	_, e = ask(a, "p4", "set", ps("<publish node='n1'><item id='1'><x xmlns='urn:t'/></item></publish><publish-options>"+
		strings.Replace(config(field("pubsub#access_model", "whitelist")), "#node_config", "#publish-options", 1)+"</publish-options>"))
	require.Contains(t, e, "<precondition-not-met")
	typ, _ = ask(a, "p5", "set", ps("<publish node='n1'><item id='1'><x xmlns='urn:t'/></item></publish>"))
	require.Equal(t, "result", typ)
	_, e = ask(a, "r1", "set", ps("<retract node='n1'><item id='nope'/></retract>"))
	require.Contains(t, e, "<item-not-found")

	_, e = ask(bc, "s1", "set", ps("<subscribe node='n1' jid='admin@"+domain+"'/>"))
	require.Contains(t, e, `<bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><invalid-jid`)
	_, e = ask(bc, "s2", "set", ps("<unsubscribe node='n1' jid='bob@"+domain+"'/>"))
	require.Contains(t, e, `<unexpected-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><not-subscribed`)
	_, e = ask(bc, "s3", "set", ps("<subscribe node='nope' jid='bob@"+domain+"'/>"))
	require.Contains(t, e, "<item-not-found")

	// A whitelist: bob, without affiliation, is refused the items and the
	// node is not listed to him; made a member, he reads them.
	typ, _ = ask(a, "w1", "set", owner("<configure node='n1'>"+config(field("pubsub#access_model", "whitelist"))+"</configure>"))
	require.Equal(t, "result", typ)
	_, e = ask(bc, "w2", "get", ps("<items node='n1'/>"))
	require.Contains(t, e, `<not-allowed xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><closed-node`)
	_, e = ask(bc, "w3", "get", "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	require.NotContains(t, e, "n1")
	_, e = ask(a, "w4", "set", owner("<affiliations node='n1'><affiliation jid='admin@"+domain+"' affiliation='none'/></affiliations>"))
	require.Contains(t, e, "<not-acceptable", "the last owner stays")
	typ, _ = ask(a, "w5", "set", owner("<affiliations node='n1'><affiliation jid='bob@"+domain+"' affiliation='member'/></affiliations>"))
	require.Equal(t, "result", typ)
	typ, e = ask(bc, "w6", "get", ps("<items node='n1'/>"))
	require.Equal(t, "result", typ)
	require.Contains(t, e, `<item id="1"`)

	// An outcast is not shown the node.
	typ, _ = ask(a, "w7", "set", owner("<affiliations node='n1'><affiliation jid='bob@"+domain+"' affiliation='outcast'/></affiliations>"))
	require.Equal(t, "result", typ)
	_, e = ask(a, "w8", "set", owner("<configure node='n1'>"+config(field("pubsub#access_model", "open"))+"</configure>"))
	require.NotContains(t, e, "error")
	_, e = ask(bc, "w9", "get", "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	require.NotContains(t, e, "n1")

	// Isolation: the other domain's service does not see this one's nodes.
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		_, err := tx.InsertDomain(b.ctx, b.account, "other.test")
		return err
	}))
	_, e = ask(a, "i1", "get", "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	require.Contains(t, e, `node="n1"`)
	q := a.Ask(t, "i2", "get", "pubsub.other.test", "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	require.Equal(t, "result", q.Type)
	require.NotContains(t, string(q.Query), "n1")

	// Switched off, the service's JID is gone and leaves the domain's disco#items.
	b.setModules(t, map[string]bool{"modPubsub": false})
	q = a.Ask(t, "off1", "get", domain, "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	require.NotContains(t, string(q.Query), svc)
	_, e = ask(a, "off2", "get", ps("<items node='n1'/>"))
	require.Contains(t, e, "<remote-server-not-found", "no such JID (the server does not federate)")
	b.setModules(t, map[string]bool{"modPubsub": true})
	q = a.Ask(t, "on1", "get", domain, "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	require.Contains(t, string(q.Query), svc)
}
