package rest_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

const discoItems = "<query xmlns='http://jabber.org/protocol/disco#items'/>"

// TestRESTLiveMUCSwitch turns modMuc off, moves and turns it on through the
// REST domains API while an independent client (go-xmpp) is in a room:
// off removes the occupant (332), takes the service out of the domain's
// disco#items and refuses joins; a new conferenceSubdomain moves the
// service at once; no restart.
func TestRESTLiveMUCSwitch(t *testing.T) {
	t.Parallel()
	l := &liveServer{}
	b := setup(t, l)
	addr := startXMPP(t, b, l)
	alice := login(t, addr, "alice@a.example", "alicepw")
	require.Contains(t, string(alice.Ask(t, "i0", "get", "a.example", discoItems).Query), `jid="conference.a.example"`)

	room := "team@conference.a.example"
	_, err := alice.JoinMUCNoHistory(room, "Alice")
	require.NoError(t, err)
	alice.Expect(t, "her presence in the room", goxmpptest.Presence(room+"/Alice", ""))

	status, _, body := b.send("PUT /api/1.0/xmppdomains/a.example\n\n{\"moduleConfig\": {\"modMuc\": {\"enabled\": false}}}")
	require.Equal(t, 200, status, body)
	alice.Expect(t, "removed from the room", goxmpptest.Presence(room+"/Alice", "unavailable"))
	require.Contains(t, alice.Transcript(), `code="332"`)
	require.NotContains(t, string(alice.Ask(t, "i1", "get", "a.example", discoItems).Query), "conference.a.example")
	_, err = alice.JoinMUCNoHistory(room, "Alice")
	require.NoError(t, err)
	alice.Expect(t, "the join refused", goxmpptest.Presence(room+"/Alice", "error"))
	require.Contains(t, alice.Transcript()[strings.LastIndex(alice.Transcript(), "<presence"):], "remote-server-not-found")

	status, _, body = b.send("PUT /api/1.0/xmppdomains/a.example\n\n{\"moduleConfig\": {\"modMuc\": {\"enabled\": true, \"conferenceSubdomain\": \"chat\"}}}")
	require.Equal(t, 200, status, body)
	items := string(alice.Ask(t, "i2", "get", "a.example", discoItems).Query)
	require.Contains(t, items, `jid="chat.a.example"`)
	require.NotContains(t, items, "conference.a.example")
	_, err = alice.JoinMUCNoHistory("team@chat.a.example", "Alice")
	require.NoError(t, err)
	alice.Expect(t, "her presence in the moved service", func(st any) bool {
		p, ok := st.(goxmpp.Presence)
		return ok && p.From == "team@chat.a.example/Alice" && p.Type == ""
	})
}
