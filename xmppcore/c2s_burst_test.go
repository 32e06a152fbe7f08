package xmppcore_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
)

// TestMessageBurst: stanzas a client sends in one write arrive complete
// and in order at an independent client (go-xmpp), whether the server
// reads them on its fast path (the plain subset, all in the read buffer),
// completes them from the TLS record, or leaves them to encoding/xml
// (references, long bodies), and whether their deliveries wait to be
// written together (c2s_write.go) or go out around an iq that flushes
// them.
func TestMessageBurst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	alice := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "home"})
	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "work"})
	aj, bj := "alice@"+domain, "bob@"+domain
	// go-xmpp sends its initial presence at login; an answered iq after it
	// means bob is available, so messages to his bare JID reach him.
	require.Equal(t, "result", bob.Ask(t, "ready", "get", domain, "<ping xmlns='urn:xmpp:ping'/>").Type)

	long := strings.Repeat("0123456789", 70) // more than the 512-byte read buffer
	rows := []struct {
		name, stanza, want string
	}{
		{"plain, to the bare JID", "<message to='" + bj + "' type='chat'><body>plain %d</body></message>", "plain %d"},
		{"to the full JID", "<message to='" + bj + "/work' type='chat' id='f%d'><body>full %d</body></message>", "full %d"},
		{"references", "<message to='" + bj + "' type='chat'><body>a &amp; b &lt;%d&gt;</body></message>", "a & b <%d>"},
		{"not ASCII, xml:lang", "<message to='" + bj + "' type='chat' xml:lang='fr'><body>été 😀 %d</body></message>", "été 😀 %d"},
		{"long body", "<message to='" + bj + "' type='chat'><body>%d " + long + "</body></message>", "%d " + long},
		{"namespaced child", "<message to='" + bj + "' type='chat'><body>child %d</body><active xmlns='http://jabber.org/protocol/chatstates'/></message>", "child %d"},
	}
	var burst strings.Builder
	var want []string
	n := 0
	for round := range 4 {
		for _, r := range rows {
			fmt.Fprintf(&burst, strings.ReplaceAll(r.stanza, "%d", "%[1]d"), n)
			want = append(want, fmt.Sprintf(strings.ReplaceAll(r.want, "%d", "%[1]d"), n))
			n++
		}
		if round == 1 {
			// An iq in the middle: what was routed before it goes out first.
			burst.WriteString("<iq type='get' id='mid'><query xmlns='jabber:iq:roster'/></iq>")
		}
	}
	_, err := alice.SendOrg(burst.String())
	require.NoError(t, err)
	alice.Expect(t, "the roster asked mid-burst", goxmpptest.IQ("mid", "result", ""))
	for i, text := range want {
		m := bob.Expect(t, fmt.Sprintf("message %d (%s)", i, rows[i%len(rows)].name), func(st any) bool {
			_, ok := st.(goxmpp.Chat)
			return ok
		}).(goxmpp.Chat)
		require.Equal(t, aj+"/home", m.Remote, "message %d", i)
		require.Equal(t, text, m.Text, "message %d (%s): in order and intact", i, rows[i%len(rows)].name)
	}
}
