package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCtlBackupProgress runs `xmppgate ctl backup`, `dump` and `load` on a
// real server with stderr not a terminal (a pipe, as in cron or a log):
// each reports its progress as plain lines "name: done/total unit", from 0
// to the total, only forward, and no bar's control characters.
func TestCtlBackupProgress(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	p := startBinary(t, "XMPPGATE_TRANSFER_DIRS="+dir)
	for i := range 20 {
		code, _, errText := p.ctl(t, dir, "register", fmt.Sprintf("u%02d", i), "localhost", "pw")
		require.Equal(t, 0, code, errText)
	}
	for _, c := range []struct {
		args []string
		unit string
	}{
		{[]string{"backup", "copy.db"}, "KiB"},
		{[]string{"dump", "copy.jsonl"}, "rows"},
		{[]string{"load", "copy.jsonl"}, "KiB"},
	} {
		code, out, errText := p.ctl(t, dir, c.args...)
		require.Equal(t, 0, code, errText)
		require.Empty(t, out, "ejabberdctl prints nothing for these")
		require.NotContains(t, errText, "\r")
		lines := strings.Split(strings.TrimSuffix(errText, "\n"), "\n")
		require.GreaterOrEqual(t, len(lines), 2, errText)
		last, total := -1, 0
		for _, l := range lines {
			var done, n int
			var unit string
			_, err := fmt.Sscanf(l, c.args[0]+": %d/%d %s", &done, &n, &unit)
			require.NoError(t, err, "%q", l)
			require.Equal(t, c.unit, unit, l)
			require.Greater(t, done, last, "progress only moves forward: %q", lines)
			require.Positive(t, n, l)
			last, total = done, n
		}
		require.Equal(t, fmt.Sprintf("%s: 0/%d %s", c.args[0], total, c.unit), lines[0], "reported at once")
		require.Equal(t, total, last, "ends at the total: %q", lines)
		_, err := os.Stat(filepath.Join(dir, c.args[1]))
		require.NoError(t, err)
	}
	code, _, errText := p.ctl(t, dir, "check_password", "u19", "localhost", "pw")
	require.Equal(t, 0, code, "the loaded dump has the users: %s", errText)
}
