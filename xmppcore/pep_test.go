package xmppcore_test

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"

	"github.com/xmppgate/xmppgate/internal/slixmpptest"
	"github.com/xmppgate/xmppgate/store"
)

// TestIntegrationPEPSlixmpp drives personal eventing with slixmpp (pep.py
// says the scenario): +notify from caps, last item on available presence,
// an OMEMO device list published with publish-options, access models, and
// bookmarks kept in step between private XML and PEP, the avatar between
// the vCard and PEP.
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

	// Bookmarks: private XML, XEP-0402 items and the XEP-0048 PEP node in step.
	require.JSONEq(t, `{"items":[["room1@conf.example",`+
		`"<ns0:conference xmlns:ns0=\"urn:xmpp:bookmarks:1\" name=\"Room 1\" autojoin=\"true\"><ns0:nick>al</ns0:nick></ns0:conference>"]]}`,
		string(out["bookmarks_402"]))
	require.JSONEq(t, `"<ns0:storage xmlns:ns0=\"storage:bookmarks\">`+
		`<ns0:conference jid=\"room1@conf.example\" name=\"Room 1\" autojoin=\"true\"><ns0:nick>al</ns0:nick></ns0:conference>`+
		`<ns0:conference jid=\"room2@conf.example\" name=\"Room 2\"><ns0:nick>al2</ns0:nick></ns0:conference>`+
		`<ns0:url url=\"https://example.org/\" name=\"site\" /></ns0:storage>"`, string(out["bookmarks_private"]),
		"the XEP-0402 item joins private XML, the URL stays")
	require.JSONEq(t, `{"items":[["room3@conf.example",`+
		`"<ns0:conference xmlns:ns0=\"urn:xmpp:bookmarks:1\" name=\"room3@conf.example\"><ns0:nick>al3</ns0:nick></ns0:conference>"]]}`,
		string(out["bookmarks_after_legacy"]), "the XEP-0048 PEP node replaces the set")
	require.JSONEq(t, `{"error":"not-allowed","app":["{http://jabber.org/protocol/pubsub#errors}closed-node"]}`, string(out["bob_bookmarks"]))

	// Avatars: PEP to vCard, vCard to PEP (XEP-0398).
	img1, img2 := sha1.Sum([]byte("\x89PNG first image")), sha1.Sum([]byte("\xff\xd8 second image"))
	require.JSONEq(t, `["image/png","`+hex.EncodeToString(img1[:])+`"]`, string(out["avatar_vcard"]))
	id2 := hex.EncodeToString(img2[:])
	require.JSONEq(t, `{"metadata":{"items":[["`+id2+`","<ns0:metadata xmlns:ns0=\"urn:xmpp:avatar:metadata\">`+
		`<ns0:info bytes=\"15\" id=\"`+id2+`\" type=\"image/jpeg\" /></ns0:metadata>"]]},"data_ids":["`+id2+`"],"img2":"`+id2+`"}`,
		string(out["vcard_avatar"]))
}

// capsVer is the XEP-0115 sha-1 ver of a client identity with features.
func capsVer(features ...string) string {
	slices.Sort(features)
	h := sha1.Sum([]byte("client/pc//<" + strings.Join(features, "<") + "<"))
	return base64.StdEncoding.EncodeToString(h[:])
}

// withCaps sends available presence announcing features and answers the
// server's disco#info query of them.
func withCaps(t testing.TB, c *goxmpptest.Client, features ...string) {
	t.Helper()
	ver := capsVer(features...)
	_, err := c.SendOrg(`<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='urn:test' ver='` + ver + `'/></presence>`)
	require.NoError(t, err)
	q := c.Expect(t, "the caps query", func(st any) bool {
		q, ok := st.(goxmpp.IQ)
		return ok && q.Type == "get" && strings.Contains(string(q.Query), "urn:test#"+ver)
	}).(goxmpp.IQ)
	var b strings.Builder
	b.WriteString(`<query xmlns='http://jabber.org/protocol/disco#info' node='urn:test#` + ver + `'><identity category='client' type='pc'/>`)
	for _, f := range features {
		b.WriteString(`<feature var='` + f + `'/>`)
	}
	b.WriteString(`</query>`)
	_, err = c.RawInformation(c.JID(), q.From, q.ID, "result", b.String())
	require.NoError(t, err)
	// The session's stanzas are handled in order: once a ping is answered,
	// so is the caps reply.
	require.Equal(t, "result", c.Ask(t, "caps-ping", "get", "", "<ping xmlns='urn:xmpp:ping'/>").Type)
}

// pepEvent matches an event of node (go-xmpp drops its sender) with an
// item whose id or payload holds contains, or with no item if contains is "".
func pepEvent(node, contains string) func(any) bool {
	return func(st any) bool {
		e, ok := st.(goxmpp.PubsubEvent)
		if !ok || e.Node != node {
			return false
		}
		if contains == "" {
			return len(e.Items) == 0
		}
		for _, it := range e.Items {
			if it.ID == contains || strings.Contains(string(it.InnerXML), contains) {
				return true
			}
		}
		return false
	}
}

const (
	nsPubsub = "http://jabber.org/protocol/pubsub"
	nodeGeo  = "http://jabber.org/protocol/geoloc"
)

func publishGeo(id, text, options string) string {
	return `<pubsub xmlns='` + nsPubsub + `'><publish node='` + nodeGeo + `'><item id='` + id + `'><geoloc xmlns='` + nodeGeo + `'><text>` +
		text + `</text></geoloc></item></publish>` + options + `</pubsub>`
}

// TestPEPWire checks the XEP-0060 answers a client library does not show:
// account disco, the errors of retrieval and publication, owner use cases,
// and the module switch.
func TestPEPWire(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := b.user(t, domain, "alice", "pw-a", store.StatusActive)
	bob := b.user(t, domain, "bob", "pw-b", store.StatusActive)
	b.user(t, domain, "carol", "pw-c", store.StatusActive)
	b.befriend(t, alice, bob)
	aj := "alice@" + domain
	login := func(user, pw string) *goxmpptest.Client {
		return goxmpptest.Login(t, b.c2s, user+"@"+domain, pw, goxmpptest.Resource("r"), goxmpptest.Transcript())
	}
	a, bc, cc := login("alice", "pw-a"), login("bob", "pw-b"), login("carol", "pw-c")
	// stanzaErr asks and returns the error the server answered with.
	stanzaErr := func(c *goxmpptest.Client, id, to, payload string) string {
		t.Helper()
		q := c.Ask(t, id, map[bool]string{true: "get", false: "set"}[strings.Contains(payload, "<items")], to, payload)
		require.Equal(t, "error", q.Type, "%s", q.Query)
		tr := c.Transcript()
		i := strings.LastIndex(tr, `type="error" id="`+id+`"`)
		require.GreaterOrEqual(t, i, 0, "no error for %s", id)
		return tr[i : i+strings.Index(tr[i:], "</iq>")]
	}
	withCaps(t, bc, nodeGeo+"+notify")
	withCaps(t, a, nodeGeo+"+notify", "urn:test:alice") // another ver: asked again

	info := bc.Ask(t, "i1", "get", aj, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	require.Contains(t, string(info.Query), `category="pubsub" type="pep"`)
	require.Contains(t, features(info), nsPubsub+"#publish-options")

	// The owner's own session gets the event before the result.
	_, err := a.RawInformation(a.JID(), "", "p1", "set", publishGeo("g1", "home", ""))
	require.NoError(t, err)
	a.Expect(t, "alice's own event", pepEvent(nodeGeo, "home"))
	q := a.Expect(t, "the publish result", goxmpptest.IQ("p1", "result", `<item id="g1"`)).(goxmpp.IQ)
	require.Contains(t, string(q.Query), `node="`+nodeGeo+`"`)
	bc.Expect(t, "bob's geoloc event", pepEvent(nodeGeo, "home"))

	// An item without id gets one.
	q = a.Ask(t, "p2", "set", "", strings.Replace(publishGeo("", "work", ""), " id=''", "", 1))
	require.Equal(t, "result", q.Type, "%s", q.Query)
	require.Regexp(t, `<item id="[^"]+"`, string(q.Query))

	items := func(c *goxmpptest.Client, id, extra string) goxmpp.IQ {
		return c.Ask(t, id, "get", aj, `<pubsub xmlns='`+nsPubsub+`'><items node='`+nodeGeo+`'`+extra+`</pubsub>`)
	}
	q = items(bc, "g1", "/>")
	require.Equal(t, "result", q.Type)
	require.Contains(t, string(q.Query), "work", "max_items 1 by default: the last one")
	require.NotContains(t, string(q.Query), "home")
	e := stanzaErr(cc, "g2", aj, `<pubsub xmlns='`+nsPubsub+`'><items node='`+nodeGeo+`'/></pubsub>`)
	require.Contains(t, e, `<error type="auth"><not-authorized xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><presence-subscription-required xmlns="`+nsPubsub+`#errors"/>`,
		"presence access: a stranger is refused")
	e = stanzaErr(cc, "g3", aj, `<pubsub xmlns='`+nsPubsub+`'><items node='nope'/></pubsub>`)
	require.Contains(t, e, "<item-not-found")
	e = stanzaErr(cc, "g4", aj, publishGeo("x", "mine", ""))
	require.Contains(t, e, "<forbidden", "publishing to another's account")

	// disco#items: bob sees the node, carol does not.
	q = bc.Ask(t, "d1", "get", aj, "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	require.Contains(t, string(q.Query), `node="`+nodeGeo+`"`)
	q = cc.Ask(t, "d2", "get", aj, "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	require.NotContains(t, string(q.Query), nodeGeo)

	// Owner: configure keeps 5 items and opens the node.
	q = a.Ask(t, "c1", "get", "", `<pubsub xmlns='`+nsPubsub+`#owner'><configure node='`+nodeGeo+`'/></pubsub>`)
	require.Contains(t, string(q.Query), `var="pubsub#access_model"`)
	q = a.Ask(t, "c2", "set", "", `<pubsub xmlns='`+nsPubsub+`#owner'><configure node='`+nodeGeo+`'><x xmlns='jabber:x:data' type='submit'>`+
		`<field var='FORM_TYPE' type='hidden'><value>`+nsPubsub+`#node_config</value></field>`+
		`<field var='pubsub#max_items'><value>5</value></field><field var='pubsub#access_model'><value>open</value></field></x></configure></pubsub>`)
	require.Equal(t, "result", q.Type, "%s", q.Query)
	require.Equal(t, "result", a.Ask(t, "p3", "set", "", publishGeo("g3", "park", "")).Type)
	q = items(cc, "g5", " max_items='2'/>")
	require.Equal(t, "result", q.Type, "%s", q.Query)
	require.Contains(t, string(q.Query), "park")
	require.Contains(t, string(q.Query), "work")
	q = items(cc, "g6", "><item id='g3'/></items>")
	require.Contains(t, string(q.Query), "park")
	require.NotContains(t, string(q.Query), "work")

	// publish-options that disagree with the node.
	opts := `<publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>` + nsPubsub +
		`#publish-options</value></field><field var='pubsub#access_model'><value>whitelist</value></field></x></publish-options>`
	e = stanzaErr(a, "p4", "", publishGeo("g4", "x", opts))
	require.Contains(t, e, `<error type="cancel"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><precondition-not-met xmlns="`+nsPubsub+`#errors"/>`)

	// Retract notifies; delete too, and the node is gone.
	q = a.Ask(t, "r1", "set", "", `<pubsub xmlns='`+nsPubsub+`'><retract node='`+nodeGeo+`' notify='true'><item id='g3'/></retract></pubsub>`)
	require.Equal(t, "result", q.Type, "%s", q.Query)
	bc.Expect(t, "the retraction", pepEvent(nodeGeo, ""))
	e = stanzaErr(a, "r2", "", `<pubsub xmlns='`+nsPubsub+`'><retract node='`+nodeGeo+`'><item id='g3'/></retract></pubsub>`)
	require.Contains(t, e, "<item-not-found")
	q = a.Ask(t, "x1", "set", "", `<pubsub xmlns='`+nsPubsub+`#owner'><delete node='`+nodeGeo+`'/></pubsub>`)
	require.Equal(t, "result", q.Type, "%s", q.Query)
	bc.Expect(t, "the deletion", pepEvent("", ""))
	require.Contains(t, stanzaErr(bc, "g7", aj, `<pubsub xmlns='`+nsPubsub+`'><items node='`+nodeGeo+`'/></pubsub>`), "<item-not-found")

	// Explicit creation, twice.
	create := `<pubsub xmlns='` + nsPubsub + `'><create node='urn:x'/></pubsub>`
	require.Equal(t, "result", a.Ask(t, "n1", "set", "", create).Type)
	require.Contains(t, stanzaErr(a, "n2", "", create), "<conflict")

	// Switched off: no identity, and the requests are refused.
	b.setModules(t, map[string]bool{"modPep": false})
	info = bc.Ask(t, "i2", "get", aj, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	require.NotContains(t, string(info.Query), "pep")
	require.Contains(t, stanzaErr(a, "p5", "", publishGeo("g5", "x", "")), "<service-unavailable")
}

// TestPEPLastItemOnSubscription: a contact whose subscription is approved
// while online gets the last item at once (XEP-0163 4.3.4), not at its
// next presence.
func TestPEPLastItemOnSubscription(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "carol", "pw-c", store.StatusActive)
	a := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "r"})
	c := b.mustLogin(t, "carol", "pw-c", loginOpts{resource: "r"})
	_, err := a.SendOrg("<presence/>")
	require.NoError(t, err)
	require.Equal(t, "result", a.Ask(t, "p1", "set", "", publishGeo("g1", "before", "")).Type)
	withCaps(t, c, nodeGeo+"+notify")
	c.ExpectNone(t, "an item of a stranger", 200*time.Millisecond, pepEvent(nodeGeo, "before"))

	_, err = c.SendOrg("<presence to='alice@" + domain + "' type='subscribe'/>")
	require.NoError(t, err)
	a.Expect(t, "the request", goxmpptest.Presence("carol@"+domain, "subscribe"))
	_, err = a.SendOrg("<presence to='carol@" + domain + "' type='subscribed'/>")
	require.NoError(t, err)
	c.Expect(t, "alice's last item", pepEvent(nodeGeo, "before"))
}
