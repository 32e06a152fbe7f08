package piefxis

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSymlinksStayInside: a symbolic link inside a Prosody directory or an
// xi:include that leads out of the folder being imported is refused; one
// that stays inside is followed.
func TestSymlinksStayInside(t *testing.T) {
	t.Parallel()
	top := t.TempDir()
	secret := filepath.Join(top, "secret.dat")
	require.NoError(t, os.WriteFile(secret, []byte(`return { ["password"] = "stolen" };`), 0o600))

	dir := filepath.Join(top, "prosody")
	accounts := filepath.Join(dir, "a%2eexample", "accounts")
	require.NoError(t, os.MkdirAll(accounts, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(accounts, "ann.dat"), []byte(`return { ["password"] = "annpw" };`), 0o600))
	require.NoError(t, os.Symlink("ann.dat", filepath.Join(accounts, "bea.dat")))
	hosts, err := ReadProsodyDir(dir)
	require.NoError(t, err)
	require.Len(t, hosts[0].Users, 2)
	require.Equal(t, "annpw", hosts[0].Users[1].Password)

	require.NoError(t, os.Symlink(secret, filepath.Join(accounts, "eve.dat")))
	_, err = ReadProsodyDir(dir)
	require.ErrorContains(t, err, "a symbolic link leads out of the directory")

	in := filepath.Join(top, "in")
	require.NoError(t, os.MkdirAll(in, 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(top, "host.xml"), []byte(`<host xmlns='urn:xmpp:pie:0' jid='a.example'><user name='x' password='y'/></host>`), 0o600))
	require.NoError(t, os.Symlink(filepath.Join(top, "host.xml"), filepath.Join(in, "host.xml")))
	require.NoError(t, os.WriteFile(filepath.Join(in, "main.xml"), []byte(`<server-data xmlns='urn:xmpp:pie:0' xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='host.xml'/></server-data>`), 0o600))
	_, err = ReadFile(filepath.Join(in, "main.xml"), in)
	require.ErrorContains(t, err, `xi:include href "host.xml" is a symbolic link leading outside the folder being imported`)
	_, err = ReadFile(filepath.Join(in, "main.xml"), top)
	require.NoError(t, err, "inside a wider root the same link is fine")
}
