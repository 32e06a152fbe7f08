package xmppcore_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/slixmpptest"
	"github.com/xmppgate/xmppgate/store"
)

// TestIntegrationPrivacySlixmpp: alice manages her lists with slixmpp's
// xep_0016 stanzas; bob and carol are slixmpp contacts. The active list
// bounces bob's messages; declined, the default list (deny presence-out
// to the roster group Work, carol's) applies instead and hides alice's
// presence from carol alone; switched off live, nothing is enforced.
func TestIntegrationPrivacySlixmpp(t *testing.T) {
	t.Parallel()
	slixmpptest.Require(t)
	b := setup(t)
	au := b.user(t, domain, "alice", "pw-a", store.StatusActive)
	bu := b.user(t, domain, "bob", "pw-b", store.StatusActive)
	cu := b.user(t, domain, "carol", "pw-c", store.StatusActive)
	b.befriend(t, au, bu)
	b.befriend(t, au, cu)
	aj, bj, cj := "alice@"+domain, "bob@"+domain, "carol@"+domain
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		_, err := tx.PutRosterItem(b.ctx, au.ID, store.RosterItem{Contact: cj, Subscription: store.SubBoth, Visible: true, Groups: []string{"Work"}})
		return err
	}))
	alice := slixmpptest.Drive(t, aj+"/phone", "pw-a")
	bob := slixmpptest.Drive(t, bj+"/pc", "pw-b")
	carol := slixmpptest.Drive(t, cj+"/pc", "pw-c")
	for _, d := range []*slixmpptest.Driver{alice, bob, carol} {
		require.Equal(t, "session_start", d.Connect(b.c2s, false))
		d.Do("presence")
	}
	ask := func(what string, args ...any) slixmpptest.Event {
		t.Helper()
		alice.Do("privacy", args...)
		return alice.Wait(what, 10*time.Second, slixmpptest.Is("iq"))
	}
	fromAlice := func(e slixmpptest.Event) bool {
		return e.S("event") == "presence" && e.S("from") == aj+"/phone" && e.S("type") != "unavailable"
	}
	// sawAlice says whether d saw alice's presence before a marker
	// message alice sends after it (delivery to one session is in order).
	sawAlice := func(d *slixmpptest.Driver, jid, marker string) bool {
		t.Helper()
		alice.Do("send", "to", jid, "body", marker, "type", "chat")
		d.Wait(marker, 10*time.Second, slixmpptest.Message(marker))
		seen := false
		for _, e := range d.Events() {
			seen = seen || fromAlice(e)
		}
		return seen
	}
	alice.Do("presence")
	carol.Wait("alice's presence before any list", 10*time.Second, fromAlice)
	bob.Wait("alice's presence before any list", 10*time.Second, fromAlice)
	bob.Events()

	e := ask("the list set", "op", "edit", "name", "hide-work", "rules", []map[string]any{
		{"type": "group", "value": "Work", "action": "deny", "order": 1, "presence_out": true}})
	require.Equal(t, "result", e.S("type"), e.S("xml"))
	require.Equal(t, "hide-work", alice.Wait("the list push", 10*time.Second, slixmpptest.Is("privacy_push")).S("name"))
	require.Equal(t, "result", ask("the second list", "op", "edit", "name", "nobob", "rules", []map[string]any{
		{"type": "jid", "value": bj, "action": "deny", "order": 5, "message": true}}).S("type"))
	require.Equal(t, "result", ask("the default", "op", "default", "name", "hide-work").S("type"))
	require.Equal(t, "result", ask("the active list", "op", "activate", "name", "nobob").S("type"))
	e = ask("the lists", "op", "lists")
	require.Contains(t, e.S("xml"), `<active name="nobob" />`)
	require.Contains(t, e.S("xml"), `<default name="hide-work" />`)
	e = ask("one list", "op", "get", "name", "hide-work")
	require.Contains(t, e.S("xml"), `<item type="group" value="Work" action="deny" order="1"><presence-out /></item>`)

	// The active list is in force: bob's message bounces; the default
	// list is not, so carol still sees alice.
	bob.Do("send", "to", aj, "body", "denied", "type", "chat")
	e = bob.Wait("the bounce", 10*time.Second, slixmpptest.Is("message_error"))
	require.Equal(t, "service-unavailable", e.S("condition"))
	alice.Do("presence")
	require.True(t, sawAlice(carol, cj, "m1"), "the default list is not in force while a list is active")

	// Declined: the default list applies.
	require.Equal(t, "result", ask("the decline", "op", "deactivate").S("type"))
	bob.Do("send", "to", aj, "body", "allowed", "type", "chat")
	alice.Wait("bob's message", 10*time.Second, slixmpptest.Message("allowed"))
	bob.Events()
	alice.Do("presence")
	require.True(t, sawAlice(bob, bj, "m2"), "bob is not in the group")
	require.False(t, sawAlice(carol, cj, "m3"), "carol is in Work: presence-out denied")
	for _, e := range alice.Events() {
		require.NotEqual(t, "denied", e.S("body"), "a denied message is not delivered")
	}

	// Switched off live: the IQ is unknown and the lists are not enforced.
	b.setModules(t, map[string]bool{"modPrivacy": false})
	e = ask("the lists, module off", "op", "lists")
	require.Equal(t, "error", e.S("type"))
	require.True(t, strings.Contains(e.S("xml"), "service-unavailable"), e.S("xml"))
	alice.Do("presence")
	require.True(t, sawAlice(carol, cj, "m4"), "no enforcement with the module off")
}
