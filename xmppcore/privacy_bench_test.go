package xmppcore_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
	"github.com/xmppgate/xmppgate/xmppcore"
)

// BenchmarkMessage is one chat message from alice to bob, both online
// (go-xmpp on both ends, windows of 100 in flight), as XEP-0016 privacy
// lists change it: the module off, on with no list in use anywhere (the
// case that must cost nothing), the receiver's default list of JID items
// that do not match, and one with a group item (a roster read per
// message).
func BenchmarkMessage(b *testing.B) {
	jidList := "<list name='l'><item type='jid' value='x@example.test' action='deny' order='1'/>" +
		"<item type='jid' value='other.test' action='deny' order='2'><message/></item>" +
		"<item type='jid' value='example.test/spam' action='deny' order='3'/></list>"
	groupList := "<list name='l'><item type='group' value='Blocked' action='deny' order='1'><message/></item></list>"
	for _, bc := range []struct{ name, list string }{
		{"privacy-off", "off"}, {"privacy-on-no-list", ""}, {"jid-list", jidList}, {"group-list", groupList},
	} {
		b.Run(bc.name, func(b *testing.B) { benchMessage(b, bc.list) })
	}
}

func benchMessage(b *testing.B, list string) {
	tb := openBundle(b, "NORMAL")
	ctx, st := tb.ctx, tb.st
	cred, err := credential.New("pw")
	require.NoError(b, err)
	require.NoError(b, st.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.InsertAccount(ctx, "acme", 0)
		if err != nil {
			return err
		}
		d, err := tx.InsertDomain(ctx, a.ID, domain)
		if err != nil {
			return err
		}
		tb.domains[domain] = d
		if list == "off" {
			raw, _ := json.Marshal(map[string]any{"moduleConfig": map[string]any{"modPrivacy": map[string]bool{"enabled": false}}})
			if err := tx.SetDomainSettings(ctx, d.ID, raw); err != nil {
				return err
			}
		}
		for _, name := range []string{"alice", "bob"} {
			u, err := tx.InsertUser(ctx, store.User{DomainID: d.ID, Username: name, Status: store.StatusActive})
			if err != nil {
				return err
			}
			if err := tx.SetUserCredentials(ctx, u.ID, cred, nil); err != nil {
				return err
			}
		}
		return nil
	}))
	tb.serve(b, xmppcore.Config{C2SAddr: "127.0.0.1:0", C2STLSAddr: "127.0.0.1:0", DataDir: tb.dataDir})
	alice := goxmpptest.Login(b, tb.c2s, "alice@"+domain, "pw", goxmpptest.Resource("r"))
	bob := goxmpptest.Login(b, tb.c2s, "bob@"+domain, "pw", goxmpptest.Resource("r"))
	if list != "" && list != "off" {
		require.Equal(b, "result", bob.Ask(b, "set", "set", "", "<query xmlns='jabber:iq:privacy'>"+list+"</query>").Type)
		require.Equal(b, "result", bob.Ask(b, "def", "set", "", "<query xmlns='jabber:iq:privacy'><default name='l'/></query>").Type)
	}
	_, err = bob.SendPresence(goxmpp.Presence{})
	require.NoError(b, err)
	bob.Expect(b, "bob's own presence", goxmpptest.Presence("bob@", ""))
	const window = 100
	b.ResetTimer()
	for sent := 0; sent < b.N; {
		n := min(window, b.N-sent)
		for i := 0; i < n; i++ {
			_, err := alice.SendOrg("<message to='bob@" + domain + "' type='chat'><body>m" + strconv.Itoa(sent+i) + "</body></message>")
			require.NoError(b, err)
		}
		for i := 0; i < n; i++ {
			bob.Expect(b, "a message", func(st any) bool { _, ok := st.(goxmpp.Chat); return ok })
		}
		sent += n
	}
}
