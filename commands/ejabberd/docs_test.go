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

// Every command of the reference is in the registry, and the registry
// offers no ejabberd command outside the reference.
func TestEjabberdReferenceCovered(t *testing.T) {
	t.Parallel()
	reg := commands.MustNew(commands.All()...)
	ref := map[string]bool{}
	for _, c := range commands.EjabberdCommands() {
		require.False(t, ref[c.Name], "%s twice in the reference", c.Name)
		ref[c.Name] = true
		def, ok := reg.Lookup(commands.Ejabberd, c.Name)
		require.True(t, ok, c.Name)
		_, implemented := commands.EjabberdResultOf(def)
		require.Equal(t, def.Name != "ejabberd_"+c.Name, implemented, "%s: implemented iff it has a result declaration", c.Name)
		require.True(t, implemented || c.Refused != "", "%s: refused without a reason", c.Name)
		if implemented {
			require.NotEqual(t, "ejabberd_"+c.Name, def.Name)
		}
	}
	require.Len(t, ref, 167)
	for _, d := range reg.Dialect(commands.Ejabberd) {
		require.True(t, ref[d.Names[commands.Ejabberd]], d.Name)
	}
}

func TestEjabberdAllowed(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		what []string
		cmd  string
		tags []string
		want bool
	}{
		0: {[]string{"*"}, "register", []string{"accounts"}, true},
		1: {nil, "register", []string{"accounts"}, false},
		2: {[]string{"*", "!register"}, "register", []string{"accounts"}, false},
		3: {[]string{"!register", "*"}, "register", []string{"accounts"}, false},
		4: {[]string{"[tag:accounts]"}, "register", []string{"accounts"}, true},
		5: {[]string{"[tag:session]"}, "register", []string{"accounts"}, false},
		6: {[]string{"[tag:session]", "!kick_user"}, "kick_user", []string{"session"}, false},
		7: {[]string{"status"}, "status", []string{"server"}, true},
		8: {[]string{"*", "![tag:accounts]"}, "check_account", []string{"accounts"}, false},
	} {
		require.Equal(t, tc.want, commands.EjabberdAllowed(tc.what, tc.cmd, tc.tags), "row %d", i)
	}
}
