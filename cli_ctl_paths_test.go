package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestCtlImportFromWorkingDir runs `xmppgate ctl import_piefxis FILE` as an
// ejabberdctl user would: FILE relative to the shell's working directory,
// which lies in transfer_dirs (set from the environment). The import
// reports its progress on stderr (users done / total) and its users
// exist afterwards. From a directory outside the list the same command is
// refused with what to add to the config.
func TestCtlImportFromWorkingDir(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	top := t.TempDir()
	allowed, outside := filepath.Join(top, "exports"), filepath.Join(top, "elsewhere")
	p := startBinary(t, "XMPPGATE_TRANSFER_DIRS="+allowed)
	const users = 30
	var xml strings.Builder
	xml.WriteString(`<?xml version='1.0' encoding='UTF-8'?><server-data xmlns='urn:xmpp:pie:0'><host jid='localhost'>`)
	for i := range users {
		fmt.Fprintf(&xml, `<user name='u%02d' password='pw%02d'/>`, i, i)
	}
	xml.WriteString(`</host></server-data>`)
	for _, d := range []string{filepath.Join(allowed, "sub"), outside} {
		require.NoError(t, os.MkdirAll(d, 0o700))
		require.NoError(t, os.WriteFile(filepath.Join(d, "users.xml"), []byte(xml.String()), 0o600))
	}
	ctl := func(dir string, args ...string) (int, string, string) { return p.ctl(t, dir, args...) }

	code, out, errText := ctl(outside, "import_piefxis", "users.xml")
	require.Equal(t, 1, code)
	require.Empty(t, out)
	require.Equal(t, "Error: "+filepath.Join(outside, "users.xml")+" is outside the directories this server may use for files "+
		"(transfer_dirs: "+allowed+"); add "+outside+" (or a parent) to transfer_dirs in the config (or XMPPGATE_TRANSFER_DIRS) "+
		"and restart the server, or give a path relative to transfer/\n", errText)
	code, _, _ = ctl(outside, "check_account", "u00", "localhost")
	require.Equal(t, 1, code, "a refused import made a user")

	code, out, errText = ctl(filepath.Join(allowed, "sub"), "import_piefxis", "users.xml")
	require.Equal(t, 0, code, errText)
	require.Empty(t, out, "ejabberdctl prints nothing for a rescode")
	lines := strings.Split(strings.TrimSuffix(errText, "\n"), "\n")
	require.Equal(t, fmt.Sprintf("import_piefxis: %d/%d users", users, users), lines[len(lines)-1], errText)
	require.Equal(t, fmt.Sprintf("import_piefxis: 0/%d users", users), lines[0], "reported at once")
	last := -1
	for _, l := range lines {
		var done, total int
		_, err := fmt.Sscanf(l, "import_piefxis: %d/%d users", &done, &total)
		require.NoError(t, err, l)
		require.Equal(t, users, total, l)
		require.Greater(t, done, last, "progress only moves forward: %q", lines)
		last = done
	}
	for _, u := range []string{"u00", fmt.Sprintf("u%02d", users-1)} {
		code, _, _ = ctl(outside, "check_password", u, "localhost", "pw"+u[1:])
		require.Equal(t, 0, code, u)
	}

	// import_openfire is in ctl too, with its positional arguments.
	of, err := os.ReadFile(filepath.Join("testdata", "migrate", "openfire", "users.xml"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(allowed, "sub", "openfire.xml"), of, 0o600))
	code, _, errText = ctl(filepath.Join(allowed, "sub"), "import_openfire", "openfire.xml", "localhost", "openfire.old")
	require.Equal(t, 0, code, errText)
	require.True(t, strings.HasSuffix(errText, "import_openfire: 4/4 users\n"), errText)
	code, _, _ = ctl(outside, "check_password", "kim", "localhost", "kim-hashed-pw")
	require.Equal(t, 0, code)
	code, out, _ = ctl(outside, "help", "import_openfire")
	require.Equal(t, 0, code)
	require.Contains(t, out, "file::string (a path; a relative one is taken from the working directory)")

	// An absolute path is sent as given; export_piefxis takes a directory
	// relative to the working directory too.
	code, _, errText = ctl(outside, "export_piefxis", filepath.Join(allowed, "out"))
	require.Equal(t, 0, code, errText)
	code, _, errText = ctl(allowed, "export_piefxis", "out2")
	require.Equal(t, 0, code, errText)
	names, err := filepath.Glob(filepath.Join(allowed, "out2", "*.xml"))
	require.NoError(t, err)
	require.NotEmpty(t, names)
}

// TestTransferDirsConfig: transfer_dirs from the file or the environment
// (one directory without brackets, or a YAML list); relative entries are
// refused at load.
func TestTransferDirsConfig(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "x.yaml")
	require.NoError(t, os.WriteFile(file, []byte("transfer_dirs: [/srv/exports, /var/backups]\n"), 0o600))
	for _, c := range []struct {
		file string
		env  []string
		want []string
		err  string
	}{
		{want: nil},
		{file: file, want: []string{"/srv/exports", "/var/backups"}},
		{env: []string{"XMPPGATE_TRANSFER_DIRS=/var/backups"}, want: []string{"/var/backups"}},
		{env: []string{"XMPPGATE_TRANSFER_DIRS=[/a, /b c]"}, want: []string{"/a", "/b c"}},
		{file: file, env: []string{"XMPPGATE_TRANSFER_DIRS=/only"}, want: []string{"/only"}},
		{file: file, env: []string{"XMPPGATE_TRANSFER_DIRS="}, want: []string{}},
		{env: []string{"XMPPGATE_TRANSFER_DIRS=backups"}, err: `config: transfer_dirs entry "backups" is not an absolute path`},
	} {
		cfg, err := LoadConfig(c.file, c.env)
		if c.err != "" {
			require.EqualError(t, err, c.err)
			continue
		}
		require.NoError(t, err)
		require.Equal(t, c.want, cfg.TransferDirs, c.env)
	}
}
