package main

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/internal/conformance"
)

// TestEjabberdConformance replays what `make conformance` recorded from a
// real ejabberd 23.01 (testdata/ejabberd-conformance/, one file per
// command, run in order.txt's order) on an xmppgate serving the same two
// vhosts with the same admin: each answer, normalised as the recording was,
// must be ejabberd's, or for a deliberate divergence the xmppgate answer
// recorded with its reason, so drift either way fails without ejabberd.
func TestEjabberdConformance(t *testing.T) {
	t.Parallel()
	order, err := os.ReadFile(filepath.Join(conformance.GoldenDir, conformance.OrderFile))
	require.NoError(t, err, "run make conformance")
	// The directory the file cases' absolute paths stand for, as on the
	// recorded xmppgate: its transfer_dirs, holding the files the imports read.
	files := t.TempDir()
	require.NoError(t, conformance.PrepareFiles(files))
	s := startServer(t, func(c *Config) {
		c.BootstrapDomain = conformance.Hosts[0]
		c.TransferDirs = []string{files}
		reloadable(t, c) // the recorded xmppgate was started from its environment, which reload_config reads again
	})
	ctx := context.Background()
	for _, h := range conformance.Hosts[1:] {
		_, err := commands.CreateDomain(ctx, s.app.env, h, s.boot.Account)
		require.NoError(t, err)
	}
	target := conformance.Target{Base: strings.TrimSuffix(s.url, "/"), User: s.boot.AdminJID, Password: s.boot.AdminPassword, DataDir: s.data, Files: files}
	cases := 0
	goldens := map[string][]conformance.Recorded{}
	done := map[string]int{} // cases run, by file
	for _, line := range strings.Split(strings.TrimSpace(string(order)), "\n") {
		cmd, nText, _ := strings.Cut(line, " ")
		n, err := strconv.Atoi(nText)
		require.NoError(t, err, "order line %q", line)
		file := filepath.Join(conformance.GoldenDir, cmd+".txtar")
		if _, read := goldens[file]; !read {
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			goldens[file], err = conformance.Decode(raw)
			require.NoError(t, err, file)
		}
		recs := goldens[file]
		require.LessOrEqual(t, done[file]+n, len(recs), "%s: fewer cases than %s says", file, conformance.OrderFile)
		for i := done[file]; i < done[file]+n; i++ {
			r := recs[i]
			got, err := target.Run(ctx, r.Case)
			require.NoError(t, err, "%s case %d %s", file, i+1, r.Name)
			want := r.Want()
			if r.Why != "" {
				require.NotEqual(t, r.Ejabberd, want, "%s case %d %s: a divergence that answers as ejabberd does", file, i+1, r.Name)
			}
			require.Equal(t, want.String(), got.String(), "%s case %d %s: %s %s (divergence: %q)", file, i+1, r.Name, r.Path(), r.Body, r.Why)
			cases++
		}
		done[file] += n
	}
	for file, recs := range goldens {
		require.Equal(t, len(recs), done[file], "%s: cases %s does not run", file, conformance.OrderFile)
	}
	t.Logf("%d cases replayed", cases)
}

// reloadable writes c to a config file and makes it the configuration's
// source, so reload_config can read it again.
func reloadable(t testing.TB, c *Config) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "xmppgate.yml")
	raw, err := yaml.Marshal(c)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(file, raw, 0o600))
	c.source = &configSource{file: file}
	return file
}
