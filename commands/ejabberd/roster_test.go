package ejabberd_test

import (
	"encoding/xml"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
)

// rosterState lists a user's roster rows for the golden state, one line
// each (none for an empty roster, so other goldens are unaffected).
func rosterState(b *testBundle, userID int64) []string {
	b.T.Helper()
	items, _, err := b.Store.RosterItems(b.Ctx, userID)
	require.NoError(b.T, err)
	var out []string
	for _, it := range items {
		line := fmt.Sprintf("  roster %s name=%q subscription=%s groups=%q", it.Contact, it.Name, it.Subscription, it.Groups)
		if it.Ask {
			line += " ask"
		}
		if it.PendingIn {
			line += " pending_in"
		}
		if !it.Visible {
			line += " invisible"
		}
		out = append(out, line)
	}
	return out
}

// rosterPush is the part of a roster query (a push or a result) the
// tests read.
type rosterPush struct {
	Query struct {
		Items []struct {
			JID          string   `xml:"jid,attr"`
			Name         string   `xml:"name,attr"`
			Subscription string   `xml:"subscription,attr"`
			Groups       []string `xml:"group"`
		} `xml:"item"`
	} `xml:"jabber:iq:roster query"`
}

// parseRoster reads the roster query of an IQ.
func parseRoster(iq goxmpp.IQ) (rosterPush, error) {
	var p rosterPush
	err := xml.Unmarshal([]byte(`<iq>`+string(iq.Query)+`</iq>`), &p)
	return p, err
}

// isPush says whether st is a roster push with items.
func isPush(st any) bool {
	iq, ok := st.(goxmpp.IQ)
	if !ok || iq.Type != "set" {
		return false
	}
	p, err := parseRoster(iq)
	return err == nil && len(p.Query.Items) > 0
}

// nextPush waits for c's next roster push.
func nextPush(t *testing.T, c *goxmpptest.Client) rosterPush {
	t.Helper()
	p, err := parseRoster(c.Expect(t, "a roster push", isPush).(goxmpp.IQ))
	require.NoError(t, err)
	return p
}

// rosterClient logs in and asks for its roster, so it gets pushes.
func rosterClient(t *testing.T, addr, jid, password string) *goxmpptest.Client {
	t.Helper()
	c := goxmpptest.Login(t, addr, jid, password, goxmpptest.Resource("r"))
	c.FetchRoster(t)
	return c
}

// add_rosteritem through /api reaches the user's live session as a roster
// push, and delete_rosteritem as a removal; another account's call changes
// nothing and pushes nothing.
func TestEjabberdRosterPush(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	b.register("carol@a.example", "carolpw")
	carol := rosterClient(t, b.XMPPAddr, "carol@a.example", "carolpw")

	status, _, body := b.send("POST /api/add_rosteritem\nAs: other\n\n" +
		`{"localuser":"carol","localhost":"a.example","user":"bob","host":"b.example","nick":"Bob","group":"Friends","subs":"both"}`)
	require.Equal(t, 400, status)
	require.Equal(t, `"Unknown virtual host"`, body)

	require.Equal(t, "0", b.ok("POST /api/add_rosteritem\nAs: acme\n\n"+
		`{"localuser":"carol","localhost":"a.example","user":"Bob","host":"B.example","nick":"Bob","group":"Friends;Work","subs":"both"}`))
	p := nextPush(t, carol)
	require.Len(t, p.Query.Items, 1)
	it := p.Query.Items[0]
	require.Equal(t, "bob@b.example", it.JID)
	require.Equal(t, "Bob", it.Name)
	require.Equal(t, "both", it.Subscription)
	require.Equal(t, []string{"Friends", "Work"}, it.Groups)
	require.Equal(t, "0", b.ok("POST /api/delete_rosteritem\nAs: acme\n\n"+
		`{"localuser":"carol","localserver":"a.example","user":"bob","server":"b.example"}`))
	p = nextPush(t, carol)
	require.Equal(t, "bob@b.example", p.Query.Items[0].JID)
	require.Equal(t, "remove", p.Query.Items[0].Subscription)
	carol.ExpectNone(t, "roster push", 100*time.Millisecond, isPush)
	u, err := b.Store.UserByJID(b.Ctx, "a.example", "carol")
	require.NoError(t, err)
	items, _, err := b.Store.RosterItems(b.Ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, []store.RosterItem(nil), items)
}
