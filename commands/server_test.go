package commands

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
)

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
