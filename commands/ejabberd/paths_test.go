package ejabberd_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
)

// onePathUser is an XEP-0227 host file with one new user of a.example.
const onePathUser = `<?xml version='1.0' encoding='UTF-8'?>
<server-data xmlns='urn:xmpp:pie:0'><host jid='a.example'><user name='pathuser' password='pathpw'/></host></server-data>
`

// TestFilePaths is the access table of the file commands' paths (see
// commands/paths.go): the operator's absolute paths inside transfer_dirs
// (or its own folders) work, anything else, an account's absolute paths,
// '..' and symbolic links leading out are refused with the rule named.
// Each row runs on a fresh server whose transfer_dirs is one directory,
// allowed/, beside which outside/ holds the same files.
func TestFilePaths(t *testing.T) {
	t.Parallel()
	type row struct {
		name, as, cmd string
		// arg is the argument; ALLOWED, OUTSIDE and DATA stand for the
		// directories.
		arg, value string
		// want is "0"/"" (success) or a part of the refusal.
		want string
		// made is a file that must exist afterwards (same placeholders).
		made string
	}
	rows := []row{
		{name: "operator imports an absolute file in transfer_dirs", as: "acme", cmd: "import_piefxis", arg: "file", value: "ALLOWED/one.xml", want: "0"},
		{name: "operator imports through a link inside an allowed dir that stays inside", as: "acme", cmd: "import_piefxis", arg: "file", value: "ALLOWED/inner/one.xml", want: "0"},
		{name: "operator imports an absolute file in its own folder", as: "acme", cmd: "import_piefxis", arg: "file", value: "DATA/transfer/mine/one.xml", want: "0"},
		{name: "operator imports relative to its folder", as: "acme", cmd: "import_piefxis", arg: "file", value: "mine/one.xml", want: "0"},
		{name: "a link in the operator's folder may lead into transfer_dirs", as: "acme", cmd: "import_piefxis", arg: "file", value: "to-allowed/one.xml", want: "0"},
		{name: "operator refused outside transfer_dirs", as: "acme", cmd: "import_piefxis", arg: "file", value: "OUTSIDE/one.xml",
			want: "OUTSIDE/one.xml is outside the directories this server may use for files (transfer_dirs: ALLOWED); add OUTSIDE (or a parent) to transfer_dirs"},
		{name: "operator refused: .. leads out of an allowed dir", as: "acme", cmd: "import_piefxis", arg: "file", value: "ALLOWED/../outside/one.xml", want: "OUTSIDE/one.xml is outside"},
		{name: "operator refused: a link in an allowed dir leads out", as: "acme", cmd: "import_piefxis", arg: "file", value: "ALLOWED/out/one.xml", want: "ALLOWED/out/one.xml is outside"},
		{name: "operator refused: a link in its folder leads out", as: "acme", cmd: "import_piefxis", arg: "file", value: "to-outside/one.xml", want: "file must stay inside transfer/ (a symbolic link leads out)"},
		{name: "operator refused: relative .. leaves its folder", as: "acme", cmd: "import_piefxis", arg: "file", value: "../secret.key", want: "file must stay inside transfer/ (no '..')"},
		{name: "operator reads a Prosody dir by absolute path", as: "acme", cmd: "import_prosody", arg: "dir", value: "ALLOWED/prosody", want: "0"},
		{name: "operator refused a Prosody dir outside", as: "acme", cmd: "import_prosody", arg: "dir", value: "OUTSIDE/prosody", want: "is outside"},
		{name: "operator exports to an absolute dir in transfer_dirs", as: "acme", cmd: "export_piefxis", arg: "dir", value: "ALLOWED/export", want: "0", made: "ALLOWED/export"},
		{name: "operator refused to export outside", as: "acme", cmd: "export_piefxis", arg: "dir", value: "OUTSIDE/export", want: "is outside"},
		{name: "operator backs up to an absolute file in transfer_dirs", as: "acme", cmd: "backup", arg: "file", value: "ALLOWED/x.db", want: "", made: "ALLOWED/x.db"},
		{name: "operator dumps to an absolute file in its backups folder", as: "acme", cmd: "dump", arg: "file", value: "DATA/backups/x.jsonl", want: "", made: "DATA/backups/x.jsonl"},
		{name: "operator refused to dump outside", as: "acme", cmd: "dump", arg: "file", value: "OUTSIDE/x.jsonl", want: "OUTSIDE/x.jsonl is outside"},
		{name: "operator refused to load through a link leading out", as: "acme", cmd: "load", arg: "file", value: "ALLOWED/out/x.jsonl", want: "is outside"},
		{name: "operator refused: backup names an allowed dir itself", as: "acme", cmd: "backup", arg: "file", value: "ALLOWED", want: "file must name a file, not the folder ALLOWED"},
		{name: "account refused an absolute path in transfer_dirs", as: "other", cmd: "import_piefxis", arg: "file", value: "ALLOWED/one.xml",
			want: "file must be a path relative to transfer/2/, or inside it (an account's files stay in its own folder)"},
		{name: "account refused an absolute path elsewhere in DATA", as: "other", cmd: "import_piefxis", arg: "file", value: "DATA/transfer/mine/one.xml", want: "an account's files stay in its own folder"},
		{name: "account imports by an absolute path into its own folder", as: "other", cmd: "import_piefxis", arg: "file", value: "DATA/transfer/2/own/one-b.xml", want: "0"},
		{name: "account refused: a link in its folder leads to transfer_dirs", as: "other", cmd: "import_piefxis", arg: "file", value: "to-allowed/one.xml", want: "file must stay inside transfer/2/ (a symbolic link leads out)"},
		{name: "account refused: export to a link leading out", as: "other", cmd: "export_piefxis", arg: "dir", value: "to-allowed/x", want: "dir must stay inside transfer/2/ (a symbolic link leads out)"},
		{name: "account imports relative to its folder", as: "other", cmd: "import_piefxis", arg: "file", value: "own/one-b.xml", want: "0"},
		{name: "operator pushes a roster template by absolute path in transfer_dirs", as: "acme", cmd: "push_roster_all", arg: "file", value: "ALLOWED/roster.txt", want: "0"},
		{name: "operator refused a roster template outside", as: "acme", cmd: "push_roster_all", arg: "file", value: "OUTSIDE/roster.txt", want: "OUTSIDE/roster.txt is outside"},
		{name: "account refused a roster template in transfer_dirs", as: "other", cmd: "push_roster_all", arg: "file", value: "ALLOWED/roster.txt",
			want: "file must be a path relative to rosters/2/, or inside it"},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, false)
			top := t.TempDir()
			allowed, outside := filepath.Join(top, "allowed"), filepath.Join(top, "outside")
			data := b.Env.DataDir
			b.Env.TransferDirs = []string{allowed}
			mine := filepath.Join(data, commands.TransferDir)
			own := filepath.Join(mine, "2") // other's folder (account 2)
			for _, d := range []string{allowed, outside, filepath.Join(mine, "mine"), filepath.Join(own, "own")} {
				require.NoError(t, os.MkdirAll(d, 0o700))
			}
			for _, d := range []string{allowed, outside, filepath.Join(mine, "mine")} {
				require.NoError(t, os.WriteFile(filepath.Join(d, "one.xml"), []byte(onePathUser), 0o600))
				require.NoError(t, os.WriteFile(filepath.Join(d, "roster.txt"), []byte(`[{<<"p1">>, <<"a.example">>, <<"G">>, <<"P1">>}, {<<"p2">>, <<"a.example">>, <<"G">>, <<"P2">>}].`), 0o600))
				copyTree(t, filepath.Join("..", "..", "testdata", "import", "prosody"), filepath.Join(d, "prosody"))
			}
			require.NoError(t, os.WriteFile(filepath.Join(own, "own", "one-b.xml"), []byte(strings.ReplaceAll(onePathUser, "a.example", "b.example")), 0o600))
			require.NoError(t, os.WriteFile(filepath.Join(own, "one.xml"), []byte(onePathUser), 0o600))
			require.NoError(t, os.WriteFile(filepath.Join(outside, "x.jsonl"), nil, 0o600))
			for link, to := range map[string]string{
				filepath.Join(allowed, "inner"):   allowed,
				filepath.Join(allowed, "out"):     outside,
				filepath.Join(mine, "to-allowed"): allowed,
				filepath.Join(mine, "to-outside"): outside,
				filepath.Join(own, "to-allowed"):  allowed,
			} {
				require.NoError(t, os.Symlink(to, link))
			}
			place := strings.NewReplacer("ALLOWED", allowed, "OUTSIDE", outside, "DATA", data)
			body, err := json.Marshal(map[string]string{r.arg: place.Replace(r.value)})
			require.NoError(t, err)
			status, _, got := b.send("POST /api/" + r.cmd + "\nAs: " + r.as + "\n\n" + string(body))
			want := place.Replace(r.want)
			switch want {
			case "0":
				require.Equal(t, 200, status, got)
				require.Equal(t, "0", got)
			case "":
				require.Equal(t, 200, status, got)
				require.Equal(t, `""`, got)
			default:
				require.Equal(t, 400, status, got)
				require.Contains(t, got, want)
			}
			if r.made != "" {
				_, err := os.Stat(place.Replace(r.made))
				require.NoError(t, err)
			}
		})
	}
}
