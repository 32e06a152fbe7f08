package ejabberd_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// TestEjabberdPrivacyListsLive: privacy_set stores an XEP-0016 list and
// makes it the default while the user is online (an independent client);
// the session gets the list push and the list is enforced at once: the
// denied contact's message bounces. Removing the default list answers 1;
// declined, the contact's messages arrive again.
func TestEjabberdPrivacyListsLive(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	b.register("carol@a.example", "carolpw")
	b.register("dan@a.example", "danpw")
	carol := goxmpptest.Login(t, b.XMPPAddr, "carol@a.example", "carolpw", goxmpptest.Resource("r"))
	dan := goxmpptest.Login(t, b.XMPPAddr, "dan@a.example", "danpw", goxmpptest.Resource("r"))
	set := func(query string) string {
		t.Helper()
		body, _ := json.Marshal(map[string]string{"user": "carol", "host": "a.example", "xmlquery": query})
		return b.ok("POST /api/privacy_set\nAs: acme\n\n" + string(body))
	}
	list := "<query xmlns='jabber:iq:privacy'><list name='quiet'>" +
		"<item type='jid' value='dan@a.example' action='deny' order='1'><message/></item>" +
		"<item action='allow' order='2'/></list></query>"
	require.Equal(t, "0", set(list))
	carol.Expect(t, "the list push", goxmpptest.IQ("", "set", `name="quiet"`))
	q := ownIQ(t, carol, "get", "get", "<query xmlns='jabber:iq:privacy'><list name='quiet'/></query>")
	require.Contains(t, string(q.Query), `value="dan@a.example"`)

	require.Equal(t, "0", set("<query xmlns='jabber:iq:privacy'><default name='quiet'/></query>"))
	_, err := dan.Send(goxmpp.Chat{Remote: "carol@a.example", Type: "chat", Text: "denied?"})
	require.NoError(t, err)
	dan.Expect(t, "the bounce", func(st any) bool { m, ok := st.(goxmpp.Chat); return ok && m.Type == "error" })
	carol.ExpectNone(t, "a denied message", 200*time.Millisecond, goxmpptest.Chat("dan@a.example", "denied?"))

	require.Equal(t, "1", set("<query xmlns='jabber:iq:privacy'><list name='quiet'/></query>"), "the default list cannot go")
	require.Equal(t, "1", set("<query xmlns='jabber:iq:privacy'><default name='nope'/></query>"))
	require.Equal(t, "0", set("<query xmlns='jabber:iq:privacy'><default/></query>"))
	_, err = dan.Send(goxmpp.Chat{Remote: "carol@a.example", Type: "chat", Text: "allowed"})
	require.NoError(t, err)
	carol.Expect(t, "the message once declined", goxmpptest.Chat("dan@a.example", "allowed"))
	require.Equal(t, "0", set("<query xmlns='jabber:iq:privacy'><list name='quiet'/></query>"))
	q = carol.Ask(t, "gone", "get", "carol@a.example", "<query xmlns='jabber:iq:privacy'><list name='quiet'/></query>")
	require.Equal(t, "error", q.Type, "removed")
	require.False(t, strings.Contains(string(q.Query), "dan@"), "removed")
}
