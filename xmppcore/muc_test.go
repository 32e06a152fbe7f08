package xmppcore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
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
	if strings.Contains(out, `code="201"`) || strings.Contains(r.buf, `code="201"`) {
		return out + r.expect("</presence>")
	}
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
	_ = time.Second
}
