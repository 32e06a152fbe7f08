package ejabberd_test

import (
	"crypto/tls"
	"encoding/xml"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"
)

// srgClient is an independent client (go-xmpp) logged in with its initial
// presence sent (go-xmpp does that at login); it fetched its roster and
// collects roster pushes and presences.
type srgClient struct {
	roster    rosterPush
	pushes    chan rosterPush
	presences chan goxmpp.Presence
	seen      []goxmpp.Presence
}

func srgLogin(t *testing.T, addr, jid, password string) *srgClient {
	t.Helper()
	_, domain, _ := strings.Cut(jid, "@")
	opts := goxmpp.Options{Host: addr, User: jid, Password: password, Resource: "r",
		NoTLS: true, StartTLS: true, TLSConfig: &tls.Config{InsecureSkipVerify: true, ServerName: domain},
		DialTimeout: 5 * time.Second, Session: true}
	c, err := opts.NewClient()
	require.NoError(t, err)
	cl := &srgClient{pushes: make(chan rosterPush, 16), presences: make(chan goxmpp.Presence, 16)}
	end, ready := make(chan struct{}), make(chan rosterPush, 1)
	go func() {
		defer close(end)
		for {
			st, err := c.Recv()
			if err != nil {
				return
			}
			switch v := st.(type) {
			case goxmpp.Presence:
				select {
				case cl.presences <- v:
				default:
				}
			case goxmpp.IQ:
				var p rosterPush
				if xml.Unmarshal([]byte(`<iq>`+string(v.Query)+`</iq>`), &p) != nil {
					continue
				}
				if v.ID == "roster1" && v.Type == "result" {
					ready <- p
				} else if v.Type == "set" && len(p.Query.Items) > 0 {
					select {
					case cl.pushes <- p:
					default:
					}
				}
			}
		}
	}()
	t.Cleanup(func() {
		_, _ = c.SendOrg("</stream:stream>")
		select {
		case <-end:
		case <-time.After(5 * time.Second):
		}
	})
	require.NoError(t, c.Roster())
	select {
	case cl.roster = <-ready:
	case <-time.After(5 * time.Second):
		require.FailNow(t, "no roster result")
	}
	return cl
}

// item finds a contact in a roster query.
func (p rosterPush) item(jid string) (string, string, []string, bool) {
	for _, it := range p.Query.Items {
		if it.JID == jid {
			return it.Name, it.Subscription, it.Groups, true
		}
	}
	return "", "", nil, false
}

// presenceFrom waits for a presence of bare's resources of type typ
// (those read while waiting for others are kept for later calls).
func (c *srgClient) presenceFrom(t *testing.T, bare, typ string) {
	t.Helper()
	match := func(p goxmpp.Presence) bool { return strings.HasPrefix(p.From, bare+"/") && p.Type == typ }
	for i, p := range c.seen {
		if match(p) {
			c.seen = append(c.seen[:i], c.seen[i+1:]...)
			return
		}
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case p := <-c.presences:
			if match(p) {
				return
			}
			c.seen = append(c.seen, p)
		case <-timeout:
			require.FailNow(t, "no presence", "from %s type %q", bare, typ)
		}
	}
}

func (c *srgClient) push(t *testing.T) rosterPush {
	t.Helper()
	select {
	case p := <-c.pushes:
		return p
	case <-time.After(5 * time.Second):
		require.FailNow(t, "no roster push")
	}
	return rosterPush{}
}

// TestEjabberdSharedGroupLive: two users put into one shared group through
// /api see each other in their rosters (subscription both, the group's
// label as roster group) and exchange presence without any subscription;
// a third added while they are online arrives as a roster push, and
// srg_user_del and srg_delete push the removals.
func TestEjabberdSharedGroupLive(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	addr := b.addr
	for _, u := range []string{"carol", "dave", "erin"} {
		b.ok("POST /api/register\nAs: acme\n\n" + `{"user":"` + u + `","host":"a.example","password":"` + u + `pw"}`)
	}
	require.Equal(t, "0", b.ok("POST /api/srg_create\nAs: acme\n\n"+
		`{"group":"team","host":"a.example","label":"The Team","description":"","display":"team"}`))
	for _, u := range []string{"carol", "dave"} {
		require.Equal(t, "0", b.ok("POST /api/srg_user_add\nAs: acme\n\n"+
			`{"user":"`+u+`","host":"a.example","group":"team","grouphost":"a.example"}`))
	}

	carol := srgLogin(t, addr, "carol@a.example", "carolpw")
	_, sub, groups, ok := carol.roster.item("dave@a.example")
	require.True(t, ok, "carol's roster lacks dave: %+v", carol.roster)
	require.Equal(t, "both", sub)
	require.Equal(t, []string{"The Team"}, groups)
	_, _, _, ok = carol.roster.item("erin@a.example")
	require.False(t, ok, "erin is no member")

	// dave's initial presence reaches carol, and dave's probe brings him
	// carol's presence.
	dave := srgLogin(t, addr, "dave@a.example", "davepw")
	carol.presenceFrom(t, "dave@a.example", "")
	dave.presenceFrom(t, "carol@a.example", "")
	_, sub, _, ok = dave.roster.item("carol@a.example")
	require.True(t, ok)
	require.Equal(t, "both", sub)

	// A third member, online before she joins, arrives as a push to both
	// (and gets theirs), presence flowing at once; she leaves as a removal
	// with her unavailable presence.
	erin := srgLogin(t, addr, "erin@a.example", "erinpw")
	require.Empty(t, erin.roster.Query.Items)
	require.Equal(t, "0", b.ok("POST /api/srg_user_add\nAs: acme\n\n"+
		`{"user":"erin","host":"a.example","group":"team","grouphost":"a.example"}`))
	for _, c := range []*srgClient{carol, dave} {
		_, sub, groups, ok := c.push(t).item("erin@a.example")
		require.True(t, ok)
		require.Equal(t, "both", sub)
		require.Equal(t, []string{"The Team"}, groups)
		c.presenceFrom(t, "erin@a.example", "")
	}
	got := map[string]string{}
	for range 2 {
		for _, it := range erin.push(t).Query.Items {
			got[it.JID] = it.Subscription
		}
	}
	require.Equal(t, map[string]string{"carol@a.example": "both", "dave@a.example": "both"}, got)
	erin.presenceFrom(t, "carol@a.example", "")
	erin.presenceFrom(t, "dave@a.example", "")
	require.Equal(t, "0", b.ok("POST /api/srg_user_del\nAs: acme\n\n"+
		`{"user":"erin","host":"a.example","group":"team","grouphost":"a.example"}`))
	_, sub, _, ok = carol.push(t).item("erin@a.example")
	require.True(t, ok)
	require.Equal(t, "remove", sub)
	carol.presenceFrom(t, "erin@a.example", "unavailable")

	// Another account's call changes nothing and pushes nothing.
	status, _, body := b.send("POST /api/srg_user_del\nAs: other\n\n" +
		`{"user":"dave","host":"a.example","group":"team","grouphost":"a.example"}`)
	require.Equal(t, 400, status)
	require.Equal(t, `"Unknown virtual host"`, body)

	// Deleting the group takes dave out of carol's roster.
	_ = dave.push(t) // erin's removal
	require.Equal(t, "0", b.ok("POST /api/srg_delete\nAs: acme\n\n"+`{"group":"team","host":"a.example"}`))
	_, sub, _, ok = carol.push(t).item("dave@a.example")
	require.True(t, ok)
	require.Equal(t, "remove", sub)
	select {
	case p := <-carol.pushes:
		require.FailNow(t, "unexpected push", "%+v", p)
	case <-time.After(100 * time.Millisecond):
	}
}
