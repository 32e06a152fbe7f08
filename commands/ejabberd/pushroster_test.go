package ejabberd_test

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

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
	dsts := []string{filepath.Join(data, commands.RostersDir)}
	for _, id := range accs {
		dsts = append(dsts, filepath.Join(data, commands.RostersDir, strconv.FormatInt(id, 10)))
	}
	for _, dst := range dsts {
		copyFixture(t, rosterFixtures, dst)
		require.NoError(t, os.Symlink("workers.txt", filepath.Join(dst, "link_in.txt")))
		require.NoError(t, os.Symlink(outside, filepath.Join(dst, "link_out.txt")))
	}
}

// push_roster through /api reaches the user's live session as roster
// pushes, one per item, with subscription both, the nick and the groups.
func TestEjabberdPushRosterLive(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	addr := b.addr
	b.ok("POST /api/register\nAs: acme\n\n" + `{"user":"carol","host":"a.example","password":"carolpw"}`)
	pushes := rosterClient(t, addr, "carol@a.example", "carolpw")

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
	deadline := time.After(5 * time.Second)
	for len(got) < len(want) {
		select {
		case p := <-pushes:
			for _, it := range p.Query.Items {
				got[it.JID] = item{it.Name, it.Subscription, it.Groups}
			}
		case <-deadline:
			require.FailNow(t, "missing roster pushes", "got %v", got)
		}
	}
	require.Equal(t, want, got)
}
