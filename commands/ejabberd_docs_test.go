package commands

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
)

// dataDirOnly is a Control of which writeDataFile uses DataDir only.
type dataDirOnly struct {
	Control
	dir string
}

func (d dataDirOnly) DataDir() string { return d.dir }

// writeDataFile writes inside the data directory only: no path, link or
// reserved file of the server leads it elsewhere.
func TestWriteDataFile(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	data, outside := filepath.Join(root, "data"), filepath.Join(root, "outside")
	for _, d := range []string{data, outside, filepath.Join(data, "sub"), filepath.Join(data, "tls"), filepath.Join(data, "adir")} {
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
	} {
		p, err := writeDataFile(ctl, "file", tc.name, []byte("doc"))
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

// ejabberd's level names and numbers map to zap levels, and read back.
func TestEjabberdLogLevel(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		in, back string
		ok       bool
	}{
		0: {"debug", "debug", true}, 1: {"info", "info", true}, 2: {"notice", "info", true}, 3: {"warning", "warning", true},
		4: {"error", "error", true}, 5: {"critical", "critical", true}, 6: {"alert", "alert", true},
		7: {"emergency", "emergency", true}, 8: {"none", "none", true}, 9: {"0", "none", true}, 10: {"5", "debug", true},
		11: {"3", "warning", true}, 12: {"6", "", false}, 13: {"warn", "", false}, 14: {"", "", false},
	} {
		l, ok := EjabberdLogLevel(tc.in)
		require.Equal(t, tc.ok, ok, "row %d", i)
		if ok {
			require.Equal(t, tc.back, ejabberdLevelName(l), "row %d", i)
		}
	}
	require.Equal(t, "none", ejabberdLevelName(zapcore.InvalidLevel))
}
