package ejabberd_test

import (
	"crypto/tls"
	"encoding/xml"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/store"
)

// rosterState lists a user's roster rows for the golden state, one line
// each (none for an empty roster, so other goldens are unaffected).
func rosterState(b *testBundle, userID int64) []string {
	b.t.Helper()
	items, _, err := b.env.Store.RosterItems(b.ctx, userID)
	require.NoError(b.t, err)
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

// rosterPush is the part of an iq roster push the test reads.
type rosterPush struct {
	Type  string `xml:"type,attr"`
	Query struct {
		Items []struct {
			JID          string   `xml:"jid,attr"`
			Name         string   `xml:"name,attr"`
			Subscription string   `xml:"subscription,attr"`
			Groups       []string `xml:"group"`
		} `xml:"item"`
	} `xml:"jabber:iq:roster query"`
}

// rosterClient logs in, asks for its roster (so it gets pushes), waits for
// the answer and returns the roster pushes it receives.
func rosterClient(t *testing.T, addr, jid, password string) chan rosterPush {
	t.Helper()
	_, domain, _ := strings.Cut(jid, "@")
	opts := goxmpp.Options{Host: addr, User: jid, Password: password, Resource: "r",
		NoTLS: true, StartTLS: true, TLSConfig: &tls.Config{InsecureSkipVerify: true, ServerName: domain},
		DialTimeout: 5 * time.Second, Session: true}
	c, err := opts.NewClient()
	require.NoError(t, err)
	pushes := make(chan rosterPush, 16)
	end, ready := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(end)
		for {
			st, err := c.Recv()
			if err != nil {
				return
			}
			iq, ok := st.(goxmpp.IQ)
			if ok && iq.ID == "roster1" && iq.Type == "result" {
				close(ready)
			}
			if !ok || iq.Type != "set" {
				continue
			}
			var p rosterPush
			if xml.Unmarshal([]byte(`<iq type="set">`+string(iq.Query)+`</iq>`), &p) == nil && len(p.Query.Items) > 0 {
				select {
				case pushes <- p:
				default: // a test that stopped reading must not block the stream's end
				}
			}
		}
	}()
	// Never Close while Recv runs (it races): end the stream instead.
	t.Cleanup(func() {
		_, _ = c.SendOrg("</stream:stream>")
		select {
		case <-end:
		case <-time.After(5 * time.Second):
		}
	})
	require.NoError(t, c.Roster())
	select {
	case <-ready:
	case <-time.After(5 * time.Second):
		require.FailNow(t, "no roster result")
	}
	return pushes
}

// add_rosteritem through /api reaches the user's live session as a roster
// push, and delete_rosteritem as a removal; another account's call changes
// nothing and pushes nothing.
func TestEjabberdRosterPush(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	addr := b.addr
	b.ok("POST /api/register\nAs: acme\n\n" + `{"user":"carol","host":"a.example","password":"carolpw"}`)
	pushes := rosterClient(t, addr, "carol@a.example", "carolpw")

	status, _, body := b.send("POST /api/add_rosteritem\nAs: other\n\n" +
		`{"localuser":"carol","localhost":"a.example","user":"bob","host":"b.example","nick":"Bob","group":"Friends","subs":"both"}`)
	require.Equal(t, 400, status)
	require.Equal(t, `"Unknown virtual host"`, body)

	require.Equal(t, "0", b.ok("POST /api/add_rosteritem\nAs: acme\n\n"+
		`{"localuser":"carol","localhost":"a.example","user":"Bob","host":"B.example","nick":"Bob","group":"Friends;Work","subs":"both"}`))
	select {
	case p := <-pushes:
		require.Len(t, p.Query.Items, 1)
		it := p.Query.Items[0]
		require.Equal(t, "bob@b.example", it.JID)
		require.Equal(t, "Bob", it.Name)
		require.Equal(t, "both", it.Subscription)
		require.Equal(t, []string{"Friends", "Work"}, it.Groups)
	case <-time.After(5 * time.Second):
		require.FailNow(t, "no roster push after add_rosteritem")
	}
	require.Equal(t, "0", b.ok("POST /api/delete_rosteritem\nAs: acme\n\n"+
		`{"localuser":"carol","localserver":"a.example","user":"bob","server":"b.example"}`))
	select {
	case p := <-pushes:
		require.Equal(t, "bob@b.example", p.Query.Items[0].JID)
		require.Equal(t, "remove", p.Query.Items[0].Subscription)
	case <-time.After(5 * time.Second):
		require.FailNow(t, "no roster push after delete_rosteritem")
	}
	select {
	case p := <-pushes:
		require.FailNow(t, "unexpected push", "%+v", p)
	case <-time.After(100 * time.Millisecond):
	}
	u, err := b.env.Store.UserByJID(b.ctx, "a.example", "carol")
	require.NoError(t, err)
	items, _, err := b.env.Store.RosterItems(b.ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, []store.RosterItem(nil), items)
}
