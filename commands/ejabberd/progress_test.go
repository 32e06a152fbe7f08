package ejabberd

import (
	"bytes"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCtlProgress: what ctl prints on stderr for the progress values the
// server sends, when stderr is not a terminal (one plain line each, for
// logs and pipes) and when it is (one bar redrawn in place with \r, its
// line ended when done or when the answer comes).
func TestCtlProgress(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		terminal bool
		values   []string
		want     string
	}{
		0: {false, []string{"0/4 users", "2/4 users", "4/4 users"},
			"import_piefxis: 0/4 users\nimport_piefxis: 2/4 users\nimport_piefxis: 4/4 users\n"},
		// A server before units counted users only.
		1: {false, []string{"1/3"}, "import_piefxis: 1/3 users\n"},
		// What cannot be read is left out.
		2: {false, []string{"", "x/3 users", "4/3 users", "1/0 KiB", "-1/3 rows", "1/3/4 rows"}, ""},
		3: {true, []string{"0/2048 KiB", "1024/2048 KiB", "2048/2048 KiB"},
			"\rimport_piefxis [..............................]   0% 0/2048 KiB" +
				"\rimport_piefxis [###############...............]  50% 1024/2048 KiB" +
				"\rimport_piefxis [##############################] 100% 2048/2048 KiB\n"},
		// The answer ends an unfinished bar's line (endBar, as Run does).
		4: {true, []string{"1/3 rows"}, "\rimport_piefxis [##########....................]  33% 1/3 rows\n"},
	} {
		var errb bytes.Buffer
		c := &Ctl{Stderr: &errb, Terminal: tc.terminal}
		for _, v := range tc.values {
			c.Progress("import_piefxis", v)
		}
		c.endBar()
		require.Equal(t, tc.want, errb.String(), "row %d", i)
		if !tc.terminal {
			require.NotContains(t, errb.String(), "\r", "row %d: no control characters in plain output", i)
		}
		require.False(t, strings.Contains(errb.String(), "\n\n"), "row %d", i)
	}
}
