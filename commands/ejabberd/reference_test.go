package ejabberd

import (
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
)

// TestReferenceComplete: every command of the reference is either
// implemented by the registry or refused with its reason, nothing else
// (no stale reason for an implemented command, no command without either),
// the refusal answers 501 with that reason, and the registry offers no
// ejabberd command outside the reference.
func TestReferenceComplete(t *testing.T) {
	t.Parallel()
	reg := commands.MustNew(commands.All()...)
	h := &Handler{reg: reg}
	seen := map[string]bool{}
	for _, c := range reference {
		require.False(t, seen[c.Name], "%s twice in the reference", c.Name)
		seen[c.Name] = true
		def, implemented := reg.Lookup(commands.Ejabberd, c.Name)
		require.NotEqual(t, implemented, c.Refused != "", "%s: implemented %t, refused %q: exactly one of them", c.Name, implemented, c.Refused)
		if implemented {
			_, ok := ShapeOf(def, 0)
			require.True(t, ok, "%s: the %s result kind has no ejabberd encoding", c.Name, def.Result.Kind)
			continue
		}
		rep := h.failure(refusal(c), &request{cmd: c.Name})
		require.Equal(t, http.StatusNotImplemented, rep.status, c.Name)
		require.True(t, strings.Contains(string(rep.body), c.Refused), "%s: %s", c.Name, rep.body)
	}
	// ejabberd 23.01's 167 and import_openfire, xmppgate's own.
	require.Len(t, seen, 168)
	for _, d := range reg.Dialect(commands.Ejabberd) {
		require.True(t, seen[d.Names[commands.Ejabberd]], "%s: %s is not in the ejabberd reference", d.Name, d.Names[commands.Ejabberd])
	}
}

func TestAllowed(t *testing.T) {
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
		require.Equal(t, tc.want, allowed(tc.what, tc.cmd, tc.tags), "row %d", i)
	}
}
