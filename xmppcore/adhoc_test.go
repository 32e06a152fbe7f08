package xmppcore_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/internal/slixmpptest"
	"github.com/xmppgate/xmppgate/store"
)

const nsAdmin = "http://jabber.org/protocol/admin"

// TestAdhocCommands runs XEP-0050 commands with slixmpp: an admin (an
// ejabberd API admin of the domain's account) lists and runs them all and
// the announcement reaches an online user (go-xmpp) as a headline; a plain
// user sees and runs only ping.
func TestAdhocCommands(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.user(t, domain, "admin", "pw-admin", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	b.user(t, domain, "carol", "pw-c", store.StatusInactive)
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		return tx.PutEjabberdPermission(b.ctx, store.EjabberdPermission{UserID: admin.ID, AccountID: b.account, What: []string{"*"}})
	}))
	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r"})

	r := slixmpptest.Adhoc(t, b.c2s, "admin@"+domain, "pw-admin")
	require.ElementsMatch(t, []string{"ping", nsAdmin + "#announce", nsAdmin + "#get-online-users-num", nsAdmin + "#get-registered-users-num"}, r.Commands)
	require.Equal(t, "Pong", r.Ping)
	require.Equal(t, 2, r.Online, "bob and the admin")
	require.Equal(t, 3, r.Registered, "users in every state")
	require.Equal(t, []string{"FORM_TYPE", "subject", "announcement"}, r.AnnounceForm)
	require.Equal(t, "The announcement was sent to 2 online resources.", r.Announce)
	require.Empty(t, r.Errors)
	m := bob.Expect(t, "the announcement", func(st any) bool {
		m, ok := st.(goxmpp.Chat)
		return ok && m.Type == "headline" && m.Remote == domain
	}).(goxmpp.Chat)
	require.Equal(t, "Back at 10:00.\nThanks.", m.Text)
	require.Equal(t, "Maintenance", m.Subject)

	r = slixmpptest.Adhoc(t, b.c2s, "bob@"+domain, "pw-b")
	require.Equal(t, []string{"ping"}, r.Commands)
	require.Equal(t, "Pong", r.Ping)
	require.Equal(t, map[string]string{nsAdmin + "#announce": "forbidden", nsAdmin + "#get-online-users-num": "forbidden",
		nsAdmin + "#get-registered-users-num": "forbidden"}, r.Errors)
}

// TestAdhocErrors checks the XEP-0050 error cases on the wire (go-xmpp).
func TestAdhocErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	admin := b.user(t, domain, "admin", "pw-admin", store.StatusActive)
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		return tx.PutEjabberdPermission(b.ctx, store.EjabberdPermission{UserID: admin.ID, AccountID: b.account, What: []string{"*"}})
	}))
	c := goxmpptest.Login(t, b.c2s, "admin@"+domain, "pw-admin", goxmpptest.Resource("r"), goxmpptest.Transcript())
	for id, row := range map[string]struct{ body, want string }{
		"unknown": {"<command xmlns='http://jabber.org/protocol/commands' node='nope' action='execute'/>", "<item-not-found "},
		"badsid": {"<command xmlns='http://jabber.org/protocol/commands' node='" + nsAdmin + "#announce' sessionid='forged' action='complete'/>",
			`<bad-sessionid xmlns="http://jabber.org/protocol/commands"/>`},
		"badact": {"<command xmlns='http://jabber.org/protocol/commands' node='ping' action='next'/>", `<bad-action xmlns="http://jabber.org/protocol/commands"/>`},
	} {
		require.Equal(t, "error", c.Ask(t, id, "set", domain, row.body).Type, id)
		require.Contains(t, answer(t, c, id), row.want, id)
	}
	// Canceled at the second stage, nothing is sent.
	require.Equal(t, "result", c.Ask(t, "s1", "set", domain, "<command xmlns='http://jabber.org/protocol/commands' node='"+nsAdmin+"#announce'/>").Type)
	a := answer(t, c, "s1")
	require.Contains(t, a, `status="executing"`)
	sid := a[len(`sessionid="`)+strings.Index(a, `sessionid="`):]
	sid = sid[:strings.Index(sid, `"`)]
	require.Equal(t, "result", c.Ask(t, "s2", "set", domain, "<command xmlns='http://jabber.org/protocol/commands' node='"+nsAdmin+"#announce' sessionid='"+sid+"' action='cancel'/>").Type)
	require.Contains(t, answer(t, c, "s2"), `status="canceled"`)
	require.Equal(t, "error", c.Ask(t, "s3", "set", domain, "<command xmlns='http://jabber.org/protocol/commands' node='"+nsAdmin+"#announce' sessionid='"+sid+"' action='complete'/>").Type,
		"a session ends once")

	// Completed without the form: bad-request, nothing sent.
	require.Equal(t, "result", c.Ask(t, "f1", "set", domain, "<command xmlns='http://jabber.org/protocol/commands' node='"+nsAdmin+"#announce'/>").Type)
	a = answer(t, c, "f1")
	sid = a[len(`sessionid="`)+strings.Index(a, `sessionid="`):]
	sid = sid[:strings.Index(sid, `"`)]
	require.Equal(t, "error", c.Ask(t, "f2", "set", domain, "<command xmlns='http://jabber.org/protocol/commands' node='"+nsAdmin+"#announce' sessionid='"+sid+"' action='complete'/>").Type)
	require.Contains(t, answer(t, c, "f2"), "<bad-request ")

	b.setModules(t, map[string]bool{"modAdhoc": false})
	require.Equal(t, "error", c.Ask(t, "off", "set", domain, "<command xmlns='http://jabber.org/protocol/commands' node='ping'/>").Type)
	require.Contains(t, answer(t, c, "off"), "service-unavailable")
}
