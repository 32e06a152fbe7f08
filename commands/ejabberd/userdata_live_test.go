package ejabberd_test

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// ownIQ sends an IQ to the user's own bare JID and requires a result.
func ownIQ(t *testing.T, c *goxmpptest.Client, id, typ, payload string) goxmpp.IQ {
	t.Helper()
	bare, _, _ := strings.Cut(c.JID(), "/")
	q := c.Ask(t, id, typ, bare, payload)
	require.Equal(t, "result", q.Type, "iq %s: %s", id, q.Query)
	return q
}

// vcardTemp is the part of a vcard-temp element the test reads.
type vcardTemp struct {
	XMLName  xml.Name `xml:"vcard-temp vCard"`
	FN       string   `xml:"FN"`
	Nickname string   `xml:"NICKNAME"`
	Family   string   `xml:"N>FAMILY"`
	Tels     []struct {
		Home   *struct{} `xml:"HOME"`
		Number string    `xml:"NUMBER"`
	} `xml:"TEL"`
}

// A vCard set through /api is what an independent client's vCard get
// returns, and one the client sets is what get_vcard answers.
func TestEjabberdVcardLive(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	b.register("carol@a.example", "carolpw")
	for _, req := range []string{
		`POST /api/set_vcard` + "\nAs: acme\n\n" + `{"user":"carol","host":"a.example","name":"FN","content":"Carol Example"}`,
		`POST /api/set_vcard2` + "\nAs: acme\n\n" + `{"user":"carol","host":"a.example","name":"N","subname":"FAMILY","content":"Example"}`,
		`POST /api/set_vcard2` + "\nAs: acme\n\n" + `{"user":"carol","host":"a.example","name":"TEL","subname":"HOME","content":"+1 555 0100"}`,
	} {
		require.Equal(t, "0", b.ok(req))
	}
	c := goxmpptest.Login(t, b.XMPPAddr, "carol@a.example", "carolpw", goxmpptest.Resource("r"))
	var v vcardTemp
	require.NoError(t, xml.Unmarshal(ownIQ(t, c, "v1", "get", "<vCard xmlns='vcard-temp'/>").Query, &v))
	require.Equal(t, "Carol Example", v.FN)
	require.Equal(t, "Example", v.Family)
	require.Len(t, v.Tels, 1)
	require.NotNil(t, v.Tels[0].Home)
	require.Equal(t, "+1 555 0100", v.Tels[0].Number)

	ownIQ(t, c, "v2", "set", "<vCard xmlns='vcard-temp'><FN>Carol Client</FN><NICKNAME>caro</NICKNAME>"+
		"<N><FAMILY>Client</FAMILY><GIVEN>Carol</GIVEN></N></vCard>")
	for req, want := range map[string]string{
		`{"user":"carol","host":"a.example","name":"FN"}`:                           `{"content":"Carol Client"}`,
		`{"user":"carol","host":"a.example","name":"NICKNAME"}`:                     `{"content":"caro"}`,
		`{"user":"carol","host":"a.example","name":"N","subname":"GIVEN"}` + "\x00": `{"content":"Carol"}`,
	} {
		cmd := "get_vcard"
		if strings.HasSuffix(req, "\x00") {
			cmd, req = "get_vcard2", strings.TrimSuffix(req, "\x00")
		}
		require.Equal(t, want, b.ok("POST /api/"+cmd+"\nAs: acme\n\n"+req), req)
	}
	// set_nickname replaces the whole vCard, and the client sees that too.
	require.Equal(t, "0", b.ok("POST /api/set_nickname\nAs: acme\n\n"+`{"user":"carol","host":"a.example","nickname":"C"}`))
	v = vcardTemp{}
	require.NoError(t, xml.Unmarshal(ownIQ(t, c, "v3", "get", "<vCard xmlns='vcard-temp'/>").Query, &v))
	require.Equal(t, vcardTemp{XMLName: v.XMLName, Nickname: "C"}, v)

	// Private storage set through /api is what the client reads back.
	require.Equal(t, "0", b.ok("POST /api/private_set\nAs: acme\n\n"+
		`{"user":"carol","host":"a.example","element":"<storage xmlns='storage:rosternotes'><note jid='x@y'>hi</note></storage>"}`))
	q := ownIQ(t, c, "p1", "get", "<query xmlns='jabber:iq:private'><storage xmlns='storage:rosternotes'/></query>").Query
	require.Contains(t, string(q), "hi</note>")
	ownIQ(t, c, "p2", "set", "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'><conference jid='r@c' autojoin='true'/></storage></query>")
	require.Equal(t, `{"res":"<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'><conference jid='r@c' autojoin='true'/></storage></query>"}`,
		b.ok("POST /api/private_get\nAs: acme\n\n"+`{"user":"carol","host":"a.example","element":"storage","ns":"storage:bookmarks"}`))
}

var xepStamp = regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$`)

// get_last answers ONLINE while the user has a session, the end of its
// session afterwards, "Registered but didn't login" for a user never seen
// (ejabberd 23.01's answer) and NOT FOUND for one that does not exist.
func TestEjabberdLastLive(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	b.register("carol@a.example", "carolpw")
	last := func(user string) (ts, status string) {
		var r struct{ Timestamp, Status string }
		require.NoError(t, json.Unmarshal([]byte(b.ok("POST /api/get_last\nAs: acme\n\n"+
			fmt.Sprintf(`{"user":%q,"host":"a.example"}`, user))), &r))
		require.Regexp(t, xepStamp, r.Timestamp)
		return r.Timestamp, r.Status
	}
	ts, status := last("carol")
	require.Equal(t, commands.NeverLoggedIn, status)
	require.NotContains(t, ts, ".", "the creation time has no fraction")
	_, status = last("nobody")
	require.Equal(t, "NOT FOUND", status)

	c := goxmpptest.Login(t, b.XMPPAddr, "carol@a.example", "carolpw", goxmpptest.Resource("r"))
	_, err := c.SendPresence(goxmpp.Presence{Status: "here"})
	require.NoError(t, err)
	require.Eventually(t, func() bool { _, s := last("carol"); return s == "ONLINE" }, 5*time.Second, 20*time.Millisecond)
	c.Logout(t)
	require.Eventually(t, func() bool { _, s := last("carol"); return s == "here" }, 5*time.Second, 20*time.Millisecond)
	ts, _ = last("carol")
	require.NotContains(t, ts, ".", "a stored time has no fraction")
}

// Messages sent to an offline user are counted by get_offline_count and
// removed by delete_old_messages 0, delete_expired_messages and the batch
// task, whose status and abort answer as ejabberd's.
func TestEjabberdOfflineLive(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	b.register("carol@a.example", "carolpw")
	b.register("dave@a.example", "davepw")
	dave := goxmpptest.Login(t, b.XMPPAddr, "dave@a.example", "davepw", goxmpptest.Resource("r"))
	count := func() string {
		return b.ok("POST /api/get_offline_count\nAs: acme\n\n" + `{"user":"carol","server":"a.example"}`)
	}
	send := func(n int, extra string) {
		for i := 0; i < n; i++ {
			_, err := dave.SendOrg(fmt.Sprintf("<message to='carol@a.example' type='chat' id='m%d'><body>hello %d</body>%s</message>", i, i, extra))
			require.NoError(t, err)
		}
	}
	waitCount := func(want string) {
		t.Helper()
		require.Eventually(t, func() bool { return count() == want }, 5*time.Second, 20*time.Millisecond, "want %s, have %s", want, count())
	}
	send(3, "")
	waitCount(`{"value":3}`)
	// Another account sees neither the user nor its messages.
	status, _, _ := b.send("POST /api/get_offline_count\nAs: other\n\n" + `{"user":"carol","host":"a.example"}`)
	require.Equal(t, 400, status)
	require.Equal(t, "0", b.ok("POST /api/delete_old_messages\nAs: other\n\n"+`{"days":0}`))
	require.Equal(t, `{"value":3}`, count())
	require.Equal(t, "0", b.ok("POST /api/delete_old_messages\nAs: acme\n\n"+`{"days":1}`))
	require.Equal(t, `{"value":3}`, count())
	require.Equal(t, "0", b.ok("POST /api/delete_old_messages\nAs: acme\n\n"+`{"days":0}`))
	require.Equal(t, `{"value":0}`, count())

	// Expired messages go, the others stay.
	send(1, "<x xmlns='jabber:x:expire' seconds='0'/>")
	send(1, "<amp xmlns='http://jabber.org/protocol/amp'><rule condition='expire-at' action='drop' value='2000-01-01T00:00:00Z'/></amp>")
	send(1, "<x xmlns='jabber:x:expire' seconds='86400'/>")
	send(1, "")
	waitCount(`{"value":4}`)
	require.Equal(t, "0", b.ok("POST /api/delete_expired_messages\nAs: acme\n\n{}"))
	require.Equal(t, `{"value":2}`, count())
	require.Equal(t, "0", b.ok("POST /api/delete_old_messages\nAs: acme\n\n"+`{"days":0}`))

	// A slow task: one message a minute, so it is still working after its
	// first batch; then it is aborted.
	send(3, "")
	waitCount(`{"value":3}`)
	statusOf := func(host string) string {
		return b.ok("POST /api/delete_old_messages_status\nAs: acme\n\n" + fmt.Sprintf(`{"host":%q}`, host))
	}
	require.Equal(t, `""`, b.ok("POST /api/delete_old_messages_batch\nAs: acme\n\n"+`{"host":"a.example","days":0,"batch_size":1,"rate":1}`))
	require.Eventually(t, func() bool {
		return statusOf("a.example") == `{"status":"Operation in progress, deleted 1 messages"}`
	}, 5*time.Second, 20*time.Millisecond)
	status, _, body := b.send("POST /api/delete_old_messages_batch\nAs: acme\n\n" + `{"host":"a.example","days":0,"batch_size":1,"rate":1}`)
	require.Equal(t, 400, status)
	require.Equal(t, `"Operation in progress"`, body)
	require.Equal(t, `{"status":"Operation not started"}`, statusOf("a2.example"))
	require.Equal(t, `{"status":"Operation aborted"}`, b.ok("POST /api/abort_delete_old_messages\nAs: acme\n\n"+`{"host":"a.example"}`))
	require.Equal(t, `{"status":"Operation was aborted after deleting 1 messages"}`, statusOf("a.example"))
	require.Equal(t, `{"status":"No task running"}`, b.ok("POST /api/abort_delete_old_messages\nAs: acme\n\n"+`{"host":"a.example"}`))
	require.Equal(t, `{"value":2}`, count())

	// A fast task runs to the end, two batches of one.
	require.Equal(t, `""`, b.ok("POST /api/delete_old_messages_batch/v1\nAs: acme\n\n"+`{"host":"a.example","days":0,"batch_size":1,"rate":100000}`))
	require.Eventually(t, func() bool {
		return statusOf("a.example") == `{"status":"Operation was completed after deleting 2 messages"}`
	}, 5*time.Second, 20*time.Millisecond, statusOf("a.example"))
	require.Equal(t, `{"value":0}`, count())

	// Messages wait for carol and reach her when she logs in: what is
	// left after a purge is delivered normally.
	send(1, "")
	waitCount(`{"value":1}`)
	carol := goxmpptest.Login(t, b.XMPPAddr, "carol@a.example", "carolpw", goxmpptest.Resource("r"))
	_, err := carol.SendPresence(goxmpp.Presence{})
	require.NoError(t, err)
	waitCount(`{"value":0}`)

	// delete_old_users keeps online users (carol, dave) and API admins.
	require.Equal(t, `"Deleted 1 users: [{<<\"noperm\">>,<<\"a.example\">>}]"`,
		b.ok("POST /api/delete_old_users_vhost\nAs: acme\n\n"+`{"host":"a.example","days":0}`))
}

// privacy_set's block list reaches the user's live session: the resource
// that asked for its block list gets the block push, and a new block list
// get returns it.
func TestEjabberdPrivacyLive(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	b.register("carol@a.example", "carolpw")
	c := goxmpptest.Login(t, b.XMPPAddr, "carol@a.example", "carolpw", goxmpptest.Resource("r"))
	require.NotContains(t, string(ownIQ(t, c, "b1", "get", "<blocklist xmlns='urn:xmpp:blocking'/>").Query), "item")
	require.Equal(t, "0", b.ok("POST /api/privacy_set\nAs: acme\n\n"+
		`{"user":"carol","host":"a.example","xmlquery":"<query xmlns='jabber:iq:privacy'><list name='Blocked contacts'>`+
		`<item type='jid' value='dave@a.example' action='deny' order='1'/><item type='jid' value='spam.example' action='deny' order='2'/></list></query>"}`))
	p := c.Expect(t, "the block push", goxmpptest.IQ("", "set", "")).(goxmpp.IQ)
	require.Contains(t, string(p.Query), "block")
	require.Contains(t, string(p.Query), "dave@a.example")
	require.Contains(t, string(p.Query), "spam.example")
	q := string(ownIQ(t, c, "b2", "get", "<blocklist xmlns='urn:xmpp:blocking'/>").Query)
	require.Contains(t, q, "dave@a.example")
	require.Contains(t, q, "spam.example")
	// Emptying is not a privacy list operation ejabberd allows on the
	// default list: 1, nothing changes.
	require.Equal(t, "1", b.ok("POST /api/privacy_set\nAs: acme\n\n"+
		`{"user":"carol","host":"a.example","xmlquery":"<query xmlns='jabber:iq:privacy'><list name='Blocked contacts'/></query>"}`))
	require.Equal(t, "0", b.ok("POST /api/privacy_set\nAs: acme\n\n"+
		`{"user":"carol","host":"a.example","xmlquery":"<query xmlns='jabber:iq:privacy'><list name='Blocked contacts'>`+
		`<item type='jid' value='spam.example' action='deny' order='1'/></list></query>"}`))
	p = c.Expect(t, "the unblock push", goxmpptest.IQ("", "set", "")).(goxmpp.IQ)
	require.Contains(t, string(p.Query), "unblock")
	require.Contains(t, string(p.Query), "dave@a.example")
}
