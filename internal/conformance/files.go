package conformance

import (
	"os"
	"path/filepath"
)

// FilesDir is the directory the file commands' cases name (absolute paths
// inside it). Each server has a directory of its own that FilesDir stands
// for (Target.Files): the two would otherwise share their files, and a
// backup that must not exist, or a restore of what the other server wrote
// last, would compare the order the cases run in rather than the servers.
// xmppgate's transfer_dirs is its directory, so the paths are taken as
// ejabberd takes them.
const FilesDir = "/tmp/xmppgate-conformance/files"

// OutsideDir is a directory outside transfer_dirs, which ejabberd writes to
// and xmppgate refuses.
const OutsideDir = "/tmp/xmppgate-conformance/outside"

// Files the import cases read, written into each server's directory by
// PrepareFiles. The PIEFXIS file is ejabberd's host file layout (XEP-0227
// with a plain password); the Prosody directory is Prosody 0.12's internal
// storage (host names %-encoded, Lua tables).
var inputFiles = map[string]string{
	// create_rooms_file and destroy_rooms_file: one room JID a line.
	"rooms.txt":     "rf1@conference." + h1 + "\nrf2@conference." + h2 + "\n",
	"rooms-bad.txt": "rf3@conference." + h1 + "\nnot a room\n",
	"import.xml": "<?xml version='1.0' encoding='UTF-8'?>\n" +
		"<server-data xmlns='urn:xmpp:pie:0'><host jid='" + h1 + "'>" +
		"<user name='pief' password='piefpw'>" +
		"<query xmlns='jabber:iq:roster'><item jid='c1@" + h2 + "' name='Cee' subscription='both'><group>Friends</group></item></query>" +
		"<vCard xmlns='vcard-temp'><FN>Pie Fxis</FN></vCard>" +
		"</user></host></server-data>\n",
	// mod_admin_extra's roster template, an Erlang term file.
	"roster.txt": "[{<<\"pr2\">>, <<\"" + h1 + "\">>, <<\"Team\">>, <<\"Pe Two\">>},\n" +
		" {<<\"pr3\">>, <<\"" + h1 + "\">>, <<\"Team\">>, <<\"Pe Three\">>}].\n",
	"prosody/one%2eexample/accounts/pros.dat": "return {\n\t[\"password\"] = \"prospw\";\n};\n",
	"prosody/one%2eexample/vcard/pros.dat": "return {\n\t[\"name\"] = \"vCard\";\n\t[\"attr\"] = {\n\t\t[\"xmlns\"] = \"vcard-temp\";\n\t};\n" +
		"\t{\n\t\t[\"name\"] = \"FN\";\n\t\t[\"attr\"] = {\n\t\t\t[\"xmlns\"] = \"vcard-temp\";\n\t\t};\n\t\t\"Pro Sody\";\n\t};\n};\n",
}

// inputDirs are the directories the export cases write into, made first:
// ejabberd 23.01 writes only into an existing directory (enoent), xmppgate
// makes it.
var inputDirs = []string{"piefxis", "piefxis1", "empty"}

// PrepareFiles fills dir, a server's directory for FilesDir, with what the
// cases read.
func PrepareFiles(dir string) error {
	for name, text := range inputFiles {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			return err
		}
	}
	for _, d := range inputDirs {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			return err
		}
	}
	return nil
}
