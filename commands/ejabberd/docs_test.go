package ejabberd_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/ejabberd"
	"github.com/xmppgate/xmppgate/commands/goldentest"
)

// TestEjabberdDocsUpToDate keeps docs/ejabberd-commands.md equal to what
// the registry says; -update rewrites it.
func TestEjabberdDocsUpToDate(t *testing.T) {
	t.Parallel()
	reg := commands.MustNew(commands.All()...)
	want := ejabberd.CommandsMarkdown(reg)
	path := filepath.Join("..", "..", "docs", "ejabberd-commands.md")
	if *goldentest.Update {
		require.NoError(t, os.WriteFile(path, want, 0o644))
	}
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "docs/ejabberd-commands.md is stale: go test ./commands/ejabberd -run TestEjabberdDocsUpToDate -update")
}
