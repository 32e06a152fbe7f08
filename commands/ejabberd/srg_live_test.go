package ejabberd_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// srgClient is an independent client (go-xmpp) logged in with its initial
// presence sent (go-xmpp does that at login) and its roster fetched.
type srgClient struct {
	*goxmpptest.Client
	roster rosterPush
	kept   []any // stanzas read while waiting for others
}

func srgLogin(t *testing.T, addr, jid, password string) *srgClient {
	t.Helper()
	c := &srgClient{Client: goxmpptest.Login(t, addr, jid, password, goxmpptest.Resource("r"))}
	// Not FetchRoster: a presence may come before the roster, and is kept.
	require.NoError(t, c.Roster())
	var err error
	c.roster, err = parseRoster(c.next(t, "the roster", goxmpptest.IQ("roster1", "result", "")).(goxmpp.IQ))
	require.NoError(t, err)
	return c
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

// next returns the first stanza match accepts, of those kept and then of
// the stream. The others are kept for later calls: pushes and presences
// arrive in no fixed order, and waiting for one must not lose the other.
func (c *srgClient) next(t *testing.T, what string, match func(any) bool) any {
	t.Helper()
	for i, st := range c.kept {
		if match(st) {
			c.kept = slices.Delete(c.kept, i, i+1)
			return st
		}
	}
	return c.Expect(t, what, func(st any) bool {
		if match(st) {
			return true
		}
		c.kept = append(c.kept, st)
		return false
	})
}

// presenceFrom waits for a presence of bare's resources of type typ.
func (c *srgClient) presenceFrom(t *testing.T, bare, typ string) {
	t.Helper()
	c.next(t, fmt.Sprintf("a presence from %s of type %q", bare, typ), goxmpptest.Presence(bare+"/", typ))
}

func (c *srgClient) push(t *testing.T) rosterPush {
	t.Helper()
	p, err := parseRoster(c.next(t, "a roster push", isPush).(goxmpp.IQ))
	require.NoError(t, err)
	return p
}

// noPush fails if a roster push came or comes within 100 ms.
func (c *srgClient) noPush(t *testing.T) {
	t.Helper()
	for _, st := range c.kept {
		require.False(t, isPush(st), "unexpected push %+v", st)
	}
	c.ExpectNone(t, "roster push", 100*time.Millisecond, isPush)
}

// TestEjabberdSharedGroupLive: two users put into one shared group through
// /api see each other in their rosters (subscription both, the group's
// label as roster group) and exchange presence without any subscription;
// a third added while they are online arrives as a roster push, and
// srg_user_del and srg_delete push the removals.
func TestEjabberdSharedGroupLive(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	for _, u := range []string{"carol", "dave", "erin"} {
		b.register(u+"@a.example", u+"pw")
	}
	require.Equal(t, "0", b.ok("POST /api/srg_create\nAs: acme\n\n"+
		`{"group":"team","host":"a.example","label":"The Team","description":"","display":"team"}`))
	for _, u := range []string{"carol", "dave"} {
		require.Equal(t, "0", b.ok("POST /api/srg_user_add\nAs: acme\n\n"+
			`{"user":"`+u+`","host":"a.example","group":"team","grouphost":"a.example"}`))
	}

	carol := srgLogin(t, b.XMPPAddr, "carol@a.example", "carolpw")
	_, sub, groups, ok := carol.roster.item("dave@a.example")
	require.True(t, ok, "carol's roster lacks dave: %+v", carol.roster)
	require.Equal(t, "both", sub)
	require.Equal(t, []string{"The Team"}, groups)
	_, _, _, ok = carol.roster.item("erin@a.example")
	require.False(t, ok, "erin is no member")

	// dave's initial presence reaches carol, and dave's probe brings him
	// carol's presence.
	dave := srgLogin(t, b.XMPPAddr, "dave@a.example", "davepw")
	carol.presenceFrom(t, "dave@a.example", "")
	dave.presenceFrom(t, "carol@a.example", "")
	_, sub, _, ok = dave.roster.item("carol@a.example")
	require.True(t, ok)
	require.Equal(t, "both", sub)

	// A third member, online before she joins, arrives as a push to both
	// (and gets theirs), presence flowing at once; she leaves as a removal
	// with her unavailable presence.
	erin := srgLogin(t, b.XMPPAddr, "erin@a.example", "erinpw")
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
	carol.noPush(t)
}
