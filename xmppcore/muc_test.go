package xmppcore_test

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/internal/slixmpptest"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore"
)

const (
	mucSvc  = "conference." + domain
	mucRoom = "room@" + mucSvc
)

// mucUser logs name in over raw XML with resource r and an available presence.
func mucUser(t *testing.T, b *testBundle, name string) *rawStream {
	t.Helper()
	b.user(t, domain, name, "pw-"+name, store.StatusActive)
	r, _ := smLogin(t, b, name, "pw-"+name)
	r.bind("r")
	return r
}

// join sends a MUC join of room/nick and reads up to the subject (or
// the self-presence with 201 for a new room).
func (r *rawStream) join(room, nick, extra string) string {
	r.t.Helper()
	r.send("<presence to='" + room + "/" + nick + "'><x xmlns='http://jabber.org/protocol/muc'>" + extra + "</x></presence>")
	out := r.expect("code=\"110\"")
	out += r.expect("<subject")
	return out + r.expect("</message>")
}

// instant creates room as an instant room (XEP-0045 10.1.2).
func (r *rawStream) instant(room, nick string) {
	r.t.Helper()
	out := r.join(room, nick, "")
	require.Contains(r.t, out, `code="201"`)
	r.send("<iq type='set' id='inst' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
	require.Contains(r.t, r.expect(`id="inst"`), `type="result"`)
}

func TestMUCRawCreateChatHistory(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, bob := mucUser(t, b, "alice"), mucUser(t, b, "bob")
	alice.instant(mucRoom, "Alice")

	// A locked room is not for others; the instant form unlocked it.
	out := bob.join(mucRoom, "Bob", "")
	require.Contains(t, out, `from="`+mucRoom+`/Alice"`)
	require.Contains(t, out, `affiliation="owner" role="moderator"`)
	require.NotContains(t, out, `jid="alice@`, "semi-anonymous: participants do not see real JIDs")
	require.Contains(t, alice.expect("</presence>"), `jid="bob@`+domain+`/r"`, "moderators see real JIDs")

	alice.send("<message to='" + mucRoom + "' type='groupchat' id='m1'><body>hello</body></message>")
	got := bob.expect("</message>")
	require.Contains(t, got, `to="bob@`+domain+`/r"`)
	require.Contains(t, got, `from="`+mucRoom+`/Alice"`)
	require.Contains(t, got, `<stanza-id xmlns="urn:xmpp:sid:0"`)
	require.Contains(t, alice.expect("</message>"), "hello", "the sender gets its own copy")

	// Nick conflict, case-insensitive.
	carol := mucUser(t, b, "carol")
	carol.send("<presence to='" + mucRoom + "/bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	require.Contains(t, carol.expect("</presence>"), "<conflict")

	// History on a later join, with a delay from the room, then the subject.
	out = carol.join(mucRoom, "Carol", "<history maxstanzas='5'/>")
	i := strings.Index(out, "<body>hello</body>")
	require.Positive(t, i, out)
	require.Contains(t, out, `<delay xmlns="urn:xmpp:delay" from="`+mucRoom+`"`)
	require.Greater(t, strings.Index(out, "<subject"), i)

	// A session that ends leaves its rooms.
	carol.send("</stream:stream>")
	bob.expect(`type="unavailable" from="` + mucRoom + `/Carol"`)
	_ = time.Second
}

const (
	nsOwnerQ = "<query xmlns='http://jabber.org/protocol/muc#owner'>"
	nsAdminQ = "<query xmlns='http://jabber.org/protocol/muc#admin'>"
)

// configure submits a muc#roomconfig form with the given fields.
func (r *rawStream) configure(room, id string, kv ...string) string {
	r.t.Helper()
	f := "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>"
	for i := 0; i+1 < len(kv); i += 2 {
		f += "<field var='" + kv[i] + "'><value>" + kv[i+1] + "</value></field>"
	}
	r.send("<iq type='set' id='" + id + "' to='" + room + "'>" + nsOwnerQ + f + "</x></query></iq>")
	return r.expect(`id="`+id+`"`) + r.expect(">")
}

// iq sends an IQ and returns its answer's opening tag and payload up to
// the end of the iq (or the self-closing tag).
func (r *rawStream) ask(id, s string) string {
	r.t.Helper()
	r.send(s)
	out := r.expect(`id="` + id + `"`)
	i := strings.LastIndex(out, "<iq ")
	rest := r.expect(">")
	if strings.HasSuffix(rest, "/>") {
		return out[i:] + rest
	}
	return out[i:] + rest + r.expect("</iq>")
}

func TestMUCRawMembersOnlyErrorsAndModeration(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, bob, carol := mucUser(t, b, "alice"), mucUser(t, b, "bob"), mucUser(t, b, "carol")
	alice.instant(mucRoom, "Alice")
	require.Contains(t, alice.configure(mucRoom, "c1", "muc#roomconfig_membersonly", "1"), `type="result"`)

	// Not a member: registration-required.
	bob.send("<presence to='" + mucRoom + "/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	require.Contains(t, bob.expect("</presence>"), "<registration-required")

	// The owner makes bob a member; he enters.
	require.Contains(t, alice.ask("a1", "<iq type='set' id='a1' to='"+mucRoom+"'>"+nsAdminQ+
		"<item affiliation='member' jid='bob@"+domain+"'/></query></iq>"), `type="result"`)
	out := bob.join(mucRoom, "Bob", "")
	require.Contains(t, out, `affiliation="member" role="participant"`)
	require.Contains(t, alice.ask("l1", "<iq type='get' id='l1' to='"+mucRoom+"'>"+nsAdminQ+"<item affiliation='member'/></query></iq>"),
		`jid="bob@`+domain+`"`)
	require.Contains(t, bob.ask("l2", "<iq type='get' id='l2' to='"+mucRoom+"'>"+nsAdminQ+"<item affiliation='member'/></query></iq>"),
		"<forbidden", "a member does not list members")

	// Password: not-authorized without it.
	require.Contains(t, alice.configure(mucRoom, "c2", "muc#roomconfig_membersonly", "0",
		"muc#roomconfig_passwordprotectedroom", "1", "muc#roomconfig_roomsecret", "s3cret"), `type="result"`)
	require.Contains(t, bob.expect("</message>"), `code="104"`, "configuration change announced")
	carol.send("<presence to='" + mucRoom + "/Carol'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	require.Contains(t, carol.expect("</presence>"), "<not-authorized")
	carol.join(mucRoom, "Carol", "<password>s3cret</password>")

	// Nick change: 303 with the new nick, then the new presence.
	carol.send("<presence to='" + mucRoom + "/Caz'/>")
	got := bob.expect(`code="303"`)
	require.Contains(t, got, `type="unavailable" from="`+mucRoom+`/Carol"`)
	require.Contains(t, got, `nick="Caz"`)
	require.Contains(t, bob.expect("</presence>")+bob.expect("</presence>"), `from="`+mucRoom+`/Caz"`)

	// Private message through the room.
	bob.send("<message to='" + mucRoom + "/Caz' type='chat' id='pm'><body>psst</body></message>")
	pm := carol.expect("psst")
	require.Contains(t, pm, `from="`+mucRoom+`/Bob"`)
	bob.send("<message to='" + mucRoom + "/Nobody' type='chat' id='pm2'><body>x</body></message>")
	require.Contains(t, bob.expect(`id="pm2"`)+bob.expect("</message>"), "<item-not-found")

	// Self-ping answered by the service; not joined: not-acceptable.
	require.Contains(t, bob.ask("sp", "<iq type='get' id='sp' to='"+mucRoom+"/Bob'><ping xmlns='urn:xmpp:ping'/></iq>"), `type="result"`)
	dave := mucUser(t, b, "dave")
	require.Contains(t, dave.ask("sp2", "<iq type='get' id='sp2' to='"+mucRoom+"/Bob'><ping xmlns='urn:xmpp:ping'/></iq>"), "<not-acceptable")

	// Kick (307) and ban (301).
	require.Contains(t, alice.ask("k", "<iq type='set' id='k' to='"+mucRoom+"'>"+nsAdminQ+
		"<item nick='Caz' role='none'><reason>calm down</reason></item></query></iq>"), `type="result"`)
	kicked := carol.expect(`code="307"`)
	require.Contains(t, kicked, `code="110"`)
	require.Contains(t, kicked, "<reason>calm down</reason>")
	require.Contains(t, kicked, `<actor nick="Alice"/>`)
	carol.expect("</presence>")
	require.Contains(t, bob.ask("k2", "<iq type='set' id='k2' to='"+mucRoom+"'>"+nsAdminQ+
		"<item nick='Alice' role='none'/></query></iq>"), "<not-allowed", "a participant kicks no one")
	require.Contains(t, alice.ask("bn", "<iq type='set' id='bn' to='"+mucRoom+"'>"+nsAdminQ+
		"<item affiliation='outcast' jid='carol@"+domain+"'/></query></iq>"), `type="result"`)
	carol.send("<presence to='" + mucRoom + "/Carol'><x xmlns='http://jabber.org/protocol/muc'><password>s3cret</password></x></presence>")
	require.Contains(t, carol.expect("</presence>"), "<forbidden")
	require.Contains(t, alice.ask("bn2", "<iq type='set' id='bn2' to='"+mucRoom+"'>"+nsAdminQ+
		"<item affiliation='outcast' jid='bob@"+domain+"'/></query></iq>"), `type="result"`)
	require.Contains(t, bob.expect(`code="301"`), `role="none"`)

	// Max users: full for the next unaffiliated entrant.
	require.Contains(t, alice.configure(mucRoom, "c3", "muc#roomconfig_passwordprotectedroom", "0", "muc#roomconfig_maxusers", "1"), `type="result"`)
	dave.send("<presence to='" + mucRoom + "/Dave'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	require.Contains(t, dave.expect("</presence>"), "<service-unavailable")

	// Destroy with reason and alternate venue.
	alice.send("<iq type='set' id='d' to='" + mucRoom + "'>" + nsOwnerQ +
		"<destroy jid='other@" + mucSvc + "'><reason>moving</reason></destroy></query></iq>")
	require.Contains(t, alice.expect("</destroy>"), `<destroy jid="other@`+mucSvc+`"><reason>moving</reason></destroy>`)
	require.Contains(t, alice.expect(`id="d"`), `type="result"`)
	require.Contains(t, dave.ask("gone", "<iq type='get' id='gone' to='"+mucRoom+"'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"), "<item-not-found")
}

func TestMUCRawDiscoAndSwitch(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, bob := mucUser(t, b, "alice"), mucUser(t, b, "bob")
	require.Contains(t, alice.ask("di", "<iq type='get' id='di' to='"+domain+"'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>"),
		`jid="`+mucSvc+`"`)
	require.Contains(t, alice.ask("si", "<iq type='get' id='si' to='"+mucSvc+"'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"),
		`category="conference"`)
	alice.instant("pub@"+mucSvc, "A")
	alice.instant("hid@"+mucSvc, "A")
	alice.configure("hid@"+mucSvc, "h", "muc#roomconfig_publicroom", "0")
	items := bob.ask("it", "<iq type='get' id='it' to='"+mucSvc+"'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>")
	require.Contains(t, items, `jid="pub@`+mucSvc+`"`)
	require.NotContains(t, items, "hid@", "hidden rooms are not listed")
	info := bob.ask("ri", "<iq type='get' id='ri' to='hid@"+mucSvc+"'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	for _, f := range []string{"muc_hidden", "muc_open", "muc_unmoderated", "muc_unsecured", "muc_semianonymous", "muc_temporary", "muc#roominfo_occupants"} {
		require.Contains(t, info, f)
	}
	bob.join("pub@"+mucSvc, "B", "")

	// modMuc off: occupants removed with 332, the service leaves disco, joins fail.
	b.setModules(t, map[string]bool{"modMuc": false})
	require.Contains(t, bob.expect(`<status code="110"/><status code="332"/>`), `type="unavailable"`)
	bob.expect("</presence>")
	require.NotContains(t, alice.ask("di2", "<iq type='get' id='di2' to='"+domain+"'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>"), mucSvc)
	bob.send("<presence to='pub@" + mucSvc + "/B'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	require.Contains(t, bob.expect("</presence>"), "<remote-server-not-found")
	b.setModules(t, map[string]bool{"modMuc": true})
	bob.send("<presence to='new@" + mucSvc + "/B'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	require.Contains(t, bob.expect("</presence>"), `code="201"`)
}

func TestMUCRawArchive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, bob := mucUser(t, b, "alice"), mucUser(t, b, "bob")
	alice.instant(mucRoom, "Alice")
	require.Contains(t, alice.configure(mucRoom, "c1", "muc#roomconfig_membersonly", "1"), `type="result"`)
	for i := 0; i < 5; i++ {
		alice.send("<message to='" + mucRoom + "' type='groupchat'><body>m" + string(rune('0'+i)) + "</body></message>")
		alice.expect("</message>")
	}
	// A non-member may not read a members-only room's archive.
	require.Contains(t, bob.ask("q0", "<iq type='set' id='q0' to='"+mucRoom+"'><query xmlns='urn:xmpp:mam:2'/></iq>"), "<forbidden")
	alice.send("<iq type='set' id='q1' to='" + mucRoom + "'><query xmlns='urn:xmpp:mam:2' queryid='x'><set xmlns='http://jabber.org/protocol/rsm'><max>3</max></set></query></iq>")
	page := alice.expect(`id="q1"`) + alice.expect("</iq>")
	require.Equal(t, 3, strings.Count(page, "<result "), page)
	require.Contains(t, page, `from="`+mucRoom+`"`)
	require.Contains(t, page, `<message xmlns="jabber:client" from="`+mucRoom+`/Alice" type="groupchat"><body>m0</body></message>`)
	require.NotContains(t, page, "complete=\"true\"")
	last := page[strings.Index(page, "<last>")+6 : strings.Index(page, "</last>")]
	alice.send("<iq type='set' id='q2' to='" + mucRoom + "'><query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><max>3</max><after>" + last + "</after></set></query></iq>")
	page = alice.expect(`id="q2"`) + alice.expect("</iq>")
	require.Equal(t, 2, strings.Count(page, "<result "), page)
	require.Contains(t, page, `complete="true"`)
	require.Contains(t, page, "m4")

	// with: one occupant (room/nick), the whole room, or anyone else.
	with := func(id, jid string) string {
		alice.send("<iq type='set' id='" + id + "' to='" + mucRoom + "'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'>" +
			"<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='with'><value>" + jid + "</value></field></x></query></iq>")
		return alice.expect(`id="`+id+`"`) + alice.expect("</iq>")
	}
	require.Equal(t, 5, strings.Count(with("w1", mucRoom+"/Alice"), "<result "))
	require.Equal(t, 0, strings.Count(with("w2", mucRoom+"/Bob"), "<result "))
	require.Equal(t, 5, strings.Count(with("w3", mucRoom), "<result "))
	require.Equal(t, 0, strings.Count(with("w4", "alice@"+domain), "<result "))
	// after-id at the top of the ID range leaves nothing (it used to wrap).
	alice.send("<iq type='set' id='a1' to='" + mucRoom + "'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='after-id'><value>9223372036854775807</value></field></x></query></iq>")
	page = alice.expect(`id="a1"`) + alice.expect("</iq>")
	require.Equal(t, 0, strings.Count(page, "<result "), page)
}

// TestIntegrationMUCSlixmpp drives the MUC service with slixmpp's
// xep_0045 and xep_0313 (muc.py says the scenario).
func TestIntegrationMUCSlixmpp(t *testing.T) {
	t.Parallel()
	slixmpptest.Require(t)
	b := setup(t)
	for _, u := range []string{"alice", "bob", "carol"} {
		b.user(t, domain, u, "pw", store.StatusActive)
	}
	res := slixmpptest.MUC(t, b.c2s, "alice@"+domain, "bob@"+domain, "carol@"+domain, "pw", "team@"+mucSvc)
	require.Equal(t, []int{110, 170, 201}, res.Created)
	require.GreaterOrEqual(t, res.ConfigVars, 13)
	require.Equal(t, "registration-required", res.BeforeMember)
	require.Equal(t, []string{"member", "participant"}, res.BobJoined)
	require.Equal(t, []string{"hello bob"}, res.BobGot)
	require.Equal(t, []string{"hi alice"}, res.AliceGot)
	require.Equal(t, "registration-required", res.CarolRefused)
	require.Equal(t, []string{"hello bob", "hi alice", "third"}, res.History)
	require.Equal(t, []string{"hello bob", "hi alice", "third"}, res.Archive)
}

func TestMUCRawSubscriptions(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, bob := mucUser(t, b, "alice"), mucUser(t, b, "bob")
	bob.send("<presence/>")
	alice.instant(mucRoom, "Alice")
	require.Contains(t, bob.ask("s1", "<iq type='set' id='s1' to='"+mucRoom+"'><subscribe xmlns='urn:xmpp:mucsub:0' nick='Bob'>"+
		"<event node='urn:xmpp:mucsub:nodes:messages'/><event node='urn:xmpp:mucsub:nodes:subject'/></subscribe></iq>"),
		`<subscribe xmlns="urn:xmpp:mucsub:0" nick="Bob"><event node="urn:xmpp:mucsub:nodes:messages"/>`)
	require.Contains(t, bob.ask("s2", "<iq type='get' id='s2' to='"+mucSvc+"'><subscriptions xmlns='urn:xmpp:mucsub:0'/></iq>"),
		`<subscription jid="`+mucRoom+`">`)
	require.Contains(t, alice.ask("s3", "<iq type='get' id='s3' to='"+mucRoom+"'><subscriptions xmlns='urn:xmpp:mucsub:0'/></iq>"),
		`jid="bob@`+domain+`" nick="Bob"`)
	require.Contains(t, bob.ask("s4", "<iq type='get' id='s4' to='"+mucRoom+"'><subscriptions xmlns='urn:xmpp:mucsub:0'/></iq>"),
		"<forbidden", "only moderators list subscribers")

	// Not in the room, online: the event arrives.
	alice.send("<message to='" + mucRoom + "' type='groupchat'><body>while away</body></message>")
	ev := bob.expect("</message></item></items></event>")
	require.Contains(t, ev, `<items node="urn:xmpp:mucsub:nodes:messages">`)
	require.Contains(t, ev, `from="`+mucRoom+`/Alice"`)

	// Offline: stored, delivered at the next login.
	bob.send("</stream:stream>")
	time.Sleep(200 * time.Millisecond)
	alice.send("<message to='" + mucRoom + "' type='groupchat'><body>while offline</body></message>")
	alice.expect("while offline")
	time.Sleep(300 * time.Millisecond)
	again, _ := smLogin(t, b, "bob", "pw-bob")
	again.bind("r2")
	again.send("<presence/>")
	require.Contains(t, again.expect("while offline"), `urn:xmpp:mucsub:nodes:messages`)

	require.Contains(t, again.ask("u", "<iq type='set' id='u' to='"+mucRoom+"'><unsubscribe xmlns='urn:xmpp:mucsub:0'/></iq>"), `type="result"`)
	require.NotContains(t, again.ask("s5", "<iq type='get' id='s5' to='"+mucSvc+"'><subscriptions xmlns='urn:xmpp:mucsub:0'/></iq>"), "subscription ")
}

// TestIntegrationMUCGoXMPP: go-xmpp's MUC calls against the service:
// create (and accept the instant form), a second occupant, chat both
// ways, history with a delay stamp on rejoin.
func TestIntegrationMUCGoXMPP(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	a := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "r"})
	c := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r"})
	room := "go@" + mucSvc
	_, err := a.JoinMUCNoHistory(room, "Alice")
	require.NoError(t, err)
	a.Expect(t, "alice's own presence", goxmpptest.Presence(room+"/Alice", ""))
	q := a.Ask(t, "inst", "set", room, "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query>")
	require.Equal(t, "result", q.Type)
	_, err = c.JoinMUCNoHistory(room, "Bob")
	require.NoError(t, err)
	c.Expect(t, "bob's own presence", goxmpptest.Presence(room+"/Bob", ""))
	a.Expect(t, "bob entering", goxmpptest.Presence(room+"/Bob", ""))

	groupchat := func(from, text string) func(any) bool {
		return func(st any) bool {
			m, ok := st.(goxmpp.Chat)
			return ok && m.Type == "groupchat" && m.Remote == from && m.Text == text
		}
	}
	_, err = a.Send(goxmpp.Chat{Remote: room, Type: "groupchat", Text: "hi all"})
	require.NoError(t, err)
	c.Expect(t, "alice's message", groupchat(room+"/Alice", "hi all"))
	_, err = c.Send(goxmpp.Chat{Remote: room, Type: "groupchat", Text: "hi alice"})
	require.NoError(t, err)
	a.Expect(t, "bob's message", groupchat(room+"/Bob", "hi alice"))

	_, err = c.LeaveMUC(room + "/Bob")
	require.NoError(t, err)
	a.Expect(t, "bob leaving", goxmpptest.Presence(room+"/Bob", "unavailable"))
	_, err = a.Send(goxmpp.Chat{Remote: room, Type: "groupchat", Text: "bob missed this"})
	require.NoError(t, err)
	a.Expect(t, "her own copy, so the room has it before bob is back", groupchat(room+"/Alice", "bob missed this"))
	_, err = c.JoinMUC(room, "Bob", goxmpp.StanzaHistory, 1, nil)
	require.NoError(t, err)
	m := c.Expect(t, "the history", groupchat(room+"/Alice", "bob missed this")).(goxmpp.Chat)
	require.False(t, m.Stamp.IsZero(), "history carries its delay stamp: %+v", m)
}

// TestMUCRawTwoSessionsOneNick: an account's two sessions share a
// nickname, as ejabberd and Prosody allow: both get the room's traffic
// and private messages; one leaving is not the occupant leaving.
func TestMUCRawTwoSessionsOneNick(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice, bob := mucUser(t, b, "alice"), mucUser(t, b, "bob")
	alice.instant(mucRoom, "Alice")
	phone, _ := smLogin(t, b, "alice", "pw-alice")
	phone.bind("phone")
	out := phone.join(mucRoom, "alice", "")
	require.NotContains(t, out, "<conflict", "the same account may take its nickname again")
	require.Contains(t, alice.expect(`code="110"`), `jid="alice@`+domain+`/phone"`, "the first session sees its sibling as itself")
	bob.join(mucRoom, "Bob", "")

	bob.send("<message to='" + mucRoom + "/Alice' type='chat'><body>to both</body></message>")
	require.Contains(t, alice.expect("to both"), `from="`+mucRoom+`/Bob"`)
	require.Contains(t, phone.expect("to both"), `from="`+mucRoom+`/Bob"`)
	require.Contains(t, bob.ask("sp", "<iq type='get' id='sp' to='"+mucRoom+"/Bob'><ping xmlns='urn:xmpp:ping'/></iq>"), `type="result"`)
	require.Contains(t, phone.ask("sp2", "<iq type='get' id='sp2' to='"+mucRoom+"/Alice'><ping xmlns='urn:xmpp:ping'/></iq>"), `type="result"`)

	// The first session leaves: only it hears; the phone stays in the room.
	alice.send("<presence type='unavailable' to='" + mucRoom + "/Alice'/>")
	require.Contains(t, alice.expect(`code="110"`), `type="unavailable"`)
	bob.send("<message to='" + mucRoom + "' type='groupchat'><body>still there?</body></message>")
	require.Contains(t, phone.expect("still there?"), `from="`+mucRoom+`/Bob"`)
	require.NotContains(t, bob.rest(200*time.Millisecond), `type="unavailable"`, "others do not see the occupant leave")
}

// TestMUCRoomRowsAndRestart: a join into a new temporary room writes no
// row; the row is written, from what the room holds in memory (its form,
// its subject), once the API asks for the domain's rooms (StoreRooms). A
// crash (the store copied while the rooms live) and a start over that
// copy keep the persistent room, with its configuration, and drop the
// temporary ones, stored or not, as ejabberd does.
func TestMUCRoomRowsAndRestart(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := b.ctx
	dom := b.domains[domain]
	alice := mucUser(t, b, "alice")
	room := func(name string) string { return name + "@" + mucSvc }
	stored := func(st *store.Store, name string) (store.Room, bool) {
		row, err := st.Room(ctx, dom.ID, name)
		if errors.Is(err, store.ErrNotFound) {
			return row, false
		}
		require.NoError(t, err)
		return row, true
	}

	alice.instant(room("asked"), "A")
	require.Contains(t, alice.configure(room("asked"), "c1", "muc#roomconfig_roomname", "Asked Room"), `type="result"`)
	alice.send("<message to='" + room("asked") + "' type='groupchat' id='s1'><subject>the plan</subject></message>")
	require.Contains(t, alice.expect("</message>"), "the plan")
	_, ok := stored(b.st, "asked")
	require.False(t, ok, "a temporary room is not stored by its join, its form or its subject")

	b.srv.StoreRooms(domain)
	row, ok := stored(b.st, "asked")
	require.True(t, ok, "the API's StoreRooms writes the row")
	require.Contains(t, string(row.Config), `"Asked Room"`, "the form kept in memory is in the row")
	require.Equal(t, "the plan", row.Subject)
	require.Equal(t, "A", row.SubjectBy)

	alice.instant(room("temp"), "A")
	alice.join(room("keep"), "A", "")
	require.Contains(t, alice.configure(room("keep"), "c2", "muc#roomconfig_persistentroom", "1",
		"muc#roomconfig_roomname", "Kept"), `type="result"`)
	row, ok = stored(b.st, "keep")
	require.True(t, ok, "a persistent room is stored before the owner has the answer")
	require.Contains(t, string(row.Config), `"Kept"`)
	_, ok = stored(b.st, "temp")
	require.False(t, ok)

	// The crash: the store as it is while every room lives.
	snap := filepath.Join(t.TempDir(), "crash.db")
	require.NoError(t, b.st.BackupTo(ctx, snap))
	st2, err := store.Open(ctx, snap, store.Options{})
	require.NoError(t, err)
	b2 := &testBundle{ctx: ctx, st: st2, domains: b.domains, dataDir: t.TempDir()}
	b2.serve(t, xmppcore.Config{C2SAddr: "127.0.0.1:0", C2STLSAddr: "127.0.0.1:0", DataDir: b2.dataDir})

	_, ok = stored(st2, "asked")
	require.False(t, ok, "a temporary room's row goes at start")
	_, ok = stored(st2, "keep")
	require.True(t, ok)
	alice2, _ := smLogin(t, b2, "alice", "pw-alice")
	alice2.bind("r")
	out := alice2.join(room("keep"), "A", "")
	require.NotContains(t, out, `code="201"`, "the persistent room is there")
	require.Contains(t, alice2.ask("g", "<iq type='get' id='g' to='"+room("keep")+"'>"+nsOwnerQ+"</query></iq>"), "<value>Kept</value>")
	require.Contains(t, alice2.join(room("temp"), "A", ""), `code="201"`, "the temporary room is gone: joining makes it anew")
}
