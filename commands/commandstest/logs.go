package commandstest

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zaptest/observer"
)

// OneLogLine calls do, which sends one request, and fails t unless the
// request logged exactly one line; it returns that line. what names the
// request in a failure.
func OneLogLine(t testing.TB, logs *observer.ObservedLogs, what string, do func()) observer.LoggedEntry {
	t.Helper()
	before := logs.Len()
	do()
	require.Equal(t, before+1, logs.Len(), "%s: one line per request", what)
	return logs.All()[before]
}

// RequireNoSecret fails t if any line logged so far holds one of secrets
// in its message or in any field, whatever the field's type.
func RequireNoSecret(t testing.TB, logs *observer.ObservedLogs, secrets ...string) {
	t.Helper()
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + fmt.Sprint(v)
		}
		for _, secret := range secrets {
			require.NotContains(t, line, secret)
		}
	}
}
