package commands

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// The real table loads.
func TestRegistryLoads(t *testing.T) {
	t.Parallel()
	r, err := New(All()...)
	require.NoError(t, err)
	def, ok := r.Lookup(DreamHost, "jabber-add_user")
	require.True(t, ok)
	require.Equal(t, "add_user", def.Name)
	var mutating int
	for _, d := range r.Defs() {
		if d.Mutates {
			mutating++
		}
	}
	require.Len(t, r.Appliers(&Env{}), mutating)
}

func TestRegistryRejects(t *testing.T) {
	t.Parallel()
	h := func(context.Context, *Call) (any, error) { return nil, nil }
	for i, defs := range [][]*Def{
		0: {{Name: "a", Handle: h}, {Name: "a", Handle: h}},
		1: {{Name: "a"}},
		2: {{Name: "a", Handle: h, Mutates: true}},
		3: {{Name: "a", Handle: h, Names: map[Dialect]string{DreamHost: "x-y"}}, {Name: "b", Handle: h, Names: map[Dialect]string{DreamHost: "x-y"}}},
		4: {{Name: "a", Handle: h, Args: []Arg{{Name: "u"}, {Name: "u"}}}},
	} {
		_, err := New(defs...)
		require.Error(t, err, "row %d", i)
	}
}

func TestDocsUpToDate(t *testing.T) {
	t.Parallel()
	want := Markdown(MustNew(All()...))
	got, err := os.ReadFile(filepath.Join("..", "docs", "commands.md"))
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "docs/commands.md is stale: run make docs")
}

func TestNormalizeLocalpart(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		in, want string
		ok       bool
	}{
		0: {"Alice", "alice", true},
		1: {"ÄRGER", "ärger", true},
		2: {"a@b", "", false},
		3: {"two words", "", false},
		4: {"", "", false},
		5: {"a/b", "", false},
		6: {"\u212Bngstrom", "ångstrom", true}, // Kelvin/Angstrom sign NFC-normalised
	} {
		got, err := NormalizeLocalpart(tc.in)
		if !tc.ok {
			require.Error(t, err, "row %d", i)
			continue
		}
		require.NoError(t, err, "row %d", i)
		require.Equal(t, tc.want, got, "row %d", i)
	}
}

func FuzzNormalizeLocalpart(f *testing.F) {
	for _, s := range []string{"alice", "Ärger", "a@b", "\u212B", "x\u0000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := NormalizeLocalpart(s)
		if err != nil {
			return
		}
		// Normalisation is idempotent and the result is a valid localpart.
		again, err := NormalizeLocalpart(u)
		require.NoError(t, err)
		require.Equal(t, u, again)
		require.NotContains(t, u, "@")
	})
}
