package commands

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/xmppgate/xmppgate"

// notFrontEnds are the packages under commands/ that are no front end:
// test fixtures, a file format, the docs generator.
var notFrontEnds = map[string]bool{"commandstest": true, "goldentest": true, "fuzzseed": true, "internal": true, "piefxis": true}

// moduleImports lists the module's packages that the non-test files of
// dir import.
func moduleImports(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	require.NoError(t, err)
	seen := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		require.NoError(t, err)
		for _, imp := range ast.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == module || strings.HasPrefix(p, module+"/") {
				seen[p] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// TestImportDirection holds the arrows of docs/architecture.md: every front
// end under commands/ (the dialects, and any way in added later) imports
// the registry only, besides its own sub-packages, never store, queue,
// xmppcore or another front end; store imports no package of ours but its
// own; queue imports store only; xmppcore never reaches the registry.
func TestImportDirection(t *testing.T) {
	t.Parallel()
	entries, err := os.ReadDir(".")
	require.NoError(t, err)
	fronts := 0
	for _, e := range entries {
		if !e.IsDir() || notFrontEnds[e.Name()] || e.Name() == "testdata" {
			continue
		}
		self := module + "/commands/" + e.Name()
		for _, p := range moduleImports(t, e.Name()) {
			ok := p == module+"/commands" || strings.HasPrefix(p, self+"/")
			require.True(t, ok, "front end commands/%s imports %s: front ends import the registry (commands) only", e.Name(), p)
		}
		fronts++
	}
	require.GreaterOrEqual(t, fronts, 5, "the five dialects are front ends")

	under := func(dir, prefix string) {
		t.Helper()
		require.NoError(t, filepath.WalkDir(filepath.Join("..", dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || !d.IsDir() || d.Name() == "testdata" {
				return err
			}
			for _, p := range moduleImports(t, path) {
				require.True(t, strings.HasPrefix(p, prefix), "%s imports %s", path, p)
			}
			return nil
		}))
	}
	// The registry may use a protocol sub-package of xmppcore (pure data
	// conversions that run in the same transaction as a command, such as
	// xmppcore/pubsub's bookmarks and avatars), never the server itself.
	for _, p := range moduleImports(t, ".") {
		require.NotEqual(t, module+"/xmppcore", p, "commands imports the XMPP server; reach it through commands.Live")
	}
	under("store", module+"/store")
	for _, p := range moduleImports(t, filepath.Join("..", "queue")) {
		require.Equal(t, module+"/store", p, "queue imports %s", p)
	}
	require.NoError(t, filepath.WalkDir(filepath.Join("..", "xmppcore"), func(path string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		for _, p := range moduleImports(t, path) {
			require.False(t, p == module+"/commands" || strings.HasPrefix(p, module+"/commands/"), "%s imports %s", path, p)
		}
		return nil
	}))
}
