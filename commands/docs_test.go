package commands

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// dataDirOnly is a Control of which writeDataFile uses DataDir only.
type dataDirOnly struct {
	Control
	dir string
}

func (d dataDirOnly) DataDir() string { return d.dir }

// writeDataFile writes inside the data directory and the operator's
// transfer_dirs only: no path, link or reserved file of the server leads it
// elsewhere.
func TestWriteDataFile(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	data, outside, extra := filepath.Join(root, "data"), filepath.Join(root, "outside"), filepath.Join(root, "backups")
	for _, d := range []string{data, outside, extra, filepath.Join(data, "sub"), filepath.Join(data, "tls"), filepath.Join(data, "adir")} {
		require.NoError(t, os.MkdirAll(d, 0o700))
	}
	require.NoError(t, os.Symlink(outside, filepath.Join(data, "escape")))
	require.NoError(t, os.WriteFile(filepath.Join(data, "old.md"), []byte("old"), 0o644))
	ctl := dataDirOnly{dir: data}
	for i, tc := range []struct {
		name string
		ok   bool
	}{
		0:  {"api.md", true},
		1:  {"sub/api.md", true},
		2:  {filepath.Join(data, "sub", "abs.md"), true},
		3:  {"old.md", true}, // a file written before is replaced
		4:  {"escape/api.md", false},
		5:  {"../outside/api.md", false},
		6:  {filepath.Join(outside, "api.md"), false},
		7:  {"tls/cert.pem", false},
		8:  {"secret.key", false},
		9:  {"xmppgate.db", false},
		10: {"adir", false},
		11: {".", false},
		12: {"", false},
		13: {"nodir/api.md", false},
		14: {filepath.Join(extra, "api.md"), true}, // a transfer_dirs entry
		15: {filepath.Join(extra, "tls"), true},    // reserved names are the data directory's only
		16: {extra, false},
		17: {filepath.Join(extra, "..", "outside", "api.md"), false},
	} {
		p, err := writeDataFile(ctl, []string{extra}, "file", tc.name, []byte("doc"))
		if !tc.ok {
			require.Error(t, err, "row %d: %s", i, tc.name)
			require.Equal(t, ReasonBadValue, AsError(err).Reason, "row %d", i)
			continue
		}
		require.NoError(t, err, "row %d: %s", i, tc.name)
		raw, err := os.ReadFile(p)
		require.NoError(t, err)
		require.Equal(t, "doc", string(raw))
		fi, err := os.Stat(p)
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "row %d", i)
	}
	entries, err := os.ReadDir(outside)
	require.NoError(t, err)
	require.Empty(t, entries, "nothing written outside")
}
