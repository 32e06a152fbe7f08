package ejabberd_test

import (
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
)

// The files the file commands read, as the golden cases find them.
const (
	importFixtures = "../../testdata/import"
	rosterFixtures = "../../testdata/rosters"
)

// copyFixtures puts testdata/import/ and testdata/rosters/ where the
// commands look, for the operator and for each account: import files in
// DATA/transfer/import/ and DATA/transfer/<id>/import/ (import_piefxis),
// roster files in DATA/rosters/ and DATA/rosters/<id>/ (push_roster). Each
// roster folder also gets two symbolic links: link_in.txt to workers.txt
// (allowed) and link_out.txt to DATA/outside.txt (refused).
func copyFixtures(t *testing.T, data string, accs map[string]int64) {
	t.Helper()
	for _, dst := range accountDirs(data, commands.TransferDir, "import", accs) {
		copyFixture(t, importFixtures, dst)
	}
	outside := filepath.Join(data, "outside.txt")
	require.NoError(t, os.WriteFile(outside, []byte(`[{"admin","a.example","Out","Out"}].`), 0o600))
	for _, dst := range accountDirs(data, commands.RostersDir, "", accs) {
		copyFixture(t, rosterFixtures, dst)
		require.NoError(t, os.Symlink("workers.txt", filepath.Join(dst, "link_in.txt")))
		require.NoError(t, os.Symlink(outside, filepath.Join(dst, "link_out.txt")))
	}
}

// accountDirs are where a file command looks for its files:
// DATA/top/leaf for the operator and DATA/top/<id>/leaf for each account.
func accountDirs(data, top, leaf string, accs map[string]int64) []string {
	dsts := []string{filepath.Join(data, top, leaf)}
	for _, id := range accs {
		dsts = append(dsts, filepath.Join(data, top, strconv.FormatInt(id, 10), leaf))
	}
	return dsts
}

// fixtureEntry is a directory or file of a fixture tree, by its path
// relative to the tree.
type fixtureEntry struct {
	rel  string
	dir  bool
	data []byte
}

var fixtureTrees sync.Map // source folder → func() ([]fixtureEntry, error)

// copyFixture copies a folder of testdata/ that no test changes: read once
// per test binary, its files are only written for each case.
func copyFixture(t *testing.T, src, dst string) {
	t.Helper()
	read, _ := fixtureTrees.LoadOrStore(src, sync.OnceValues(func() ([]fixtureEntry, error) {
		var out []fixtureEntry
		err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, err := filepath.Rel(src, path)
			if err != nil || d.IsDir() {
				out = append(out, fixtureEntry{rel: rel, dir: true})
				return err
			}
			b, err := os.ReadFile(path)
			out = append(out, fixtureEntry{rel: rel, data: b})
			return err
		})
		return out, err
	}))
	entries, err := read.(func() ([]fixtureEntry, error))()
	require.NoError(t, err)
	for _, e := range entries {
		if e.dir {
			require.NoError(t, os.MkdirAll(filepath.Join(dst, e.rel), 0o700))
			continue
		}
		require.NoError(t, os.WriteFile(filepath.Join(dst, e.rel), e.data, 0o600))
	}
}

// copyTree copies a folder as it is now.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	require.NoError(t, filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o600)
	}))
}
