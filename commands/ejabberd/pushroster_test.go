package ejabberd_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
)

const rosterFixtures = "../../testdata/rosters"

// copyRosterFixtures puts testdata/rosters/ where push_roster finds it:
// DATA/rosters/ (the operator's folder) and each account's
// DATA/rosters/<id>/, with two symbolic links in each: link_in.txt to
// workers.txt (allowed) and link_out.txt to DATA/outside.txt (refused).
func copyRosterFixtures(t *testing.T, data string, accs map[string]int64) {
	t.Helper()
	outside := filepath.Join(data, "outside.txt")
	require.NoError(t, os.WriteFile(outside, []byte(`[{"admin","a.example","Out","Out"}].`), 0o600))
	for _, dst := range accountDirs(data, commands.RostersDir, "", accs) {
		copyTree(t, rosterFixtures, dst)
		require.NoError(t, os.Symlink("workers.txt", filepath.Join(dst, "link_in.txt")))
		require.NoError(t, os.Symlink(outside, filepath.Join(dst, "link_out.txt")))
	}
}

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
