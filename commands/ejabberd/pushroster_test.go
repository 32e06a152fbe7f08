package ejabberd_test

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// push_roster through /api reaches the user's live session as roster
// pushes, one per item, with subscription both, the nick and the groups.
func TestEjabberdPushRosterLive(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	b.register("carol@a.example", "carolpw")
	carol := rosterClient(t, b.XMPPAddr, "carol@a.example", "carolpw")

	require.Equal(t, "0", b.ok("POST /api/push_roster\nAs: acme\n\n"+`{"file":"workers.txt","user":"carol","host":"a.example"}`))
	type item struct {
		name, sub string
		groups    []string
	}
	want := map[string]item{
		"admin@a.example":     {"The Admin", "both", []string{"Workers"}},
		"limited@a.example":   {"Limited", "both", []string{"Workers"}},
		"bob@b.example":       {"Bób", "both", []string{"Friends", "Workers"}},
		"dave@remote.example": {"Dave", "both", nil},
	}
	got := map[string]item{}
	for len(got) < len(want) {
		for _, it := range nextPush(t, carol).Query.Items {
			got[it.JID] = item{it.Name, it.Subscription, it.Groups}
		}
	}
	require.Equal(t, want, got)
}
