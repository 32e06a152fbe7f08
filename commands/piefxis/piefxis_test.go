package piefxis

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store/credential"
	"github.com/xmppgate/xmppgate/xmlel"
)

const fixtures = "../../testdata/import"

// migrated holds what real servers wrote (and the scripts that make it).
const migrated = "../../testdata/migrate"

func TestParseLua(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		src  string
		want any
		err  string
	}{
		0: {`return {};`, Table{}, ""},
		1: {"return {\n\t[\"a\"] = 1;\n\t[\"b\"] = \"x\\\"y\\n\\195\\164\";\n};\n", Table{"a": int64(1), "b": "x\"y\nä"}, ""},
		2: {`return { [false] = { ["pending"] = { ["x@y"] = true } }, ["v"] = -2.5 }`, Table{false: Table{"pending": Table{"x@y": true}}, "v": -2.5}, ""},
		3: {`return { "a"; { name = "b" }; [3] = "c", ["n"] = nil }`, Table{int64(1): "a", int64(2): Table{"name": "b"}, int64(3): "c"}, ""},
		4: {"-- comment\nreturn 'single \\'q\\'' ;", "single 'q'", ""},
		5: {`return { ["a"] = 1 `, nil, "expected , ; or }"},
		6: {`return os.exit()`, nil, "unexpected character"},
		7: {`return "\x41\u{E9}\z   b"`, "Aéb", ""},
		8: {`return "\256"`, nil, "bad decimal escape"},
		9: {`return {} trailing`, nil, "trailing text"},
	} {
		got, err := ParseReturn(tc.src)
		if tc.err != "" {
			require.ErrorContains(t, err, tc.err, "row %d", i)
			continue
		}
		require.NoError(t, err, "row %d", i)
		require.Equal(t, tc.want, got, "row %d", i)
	}
	items, err := ParseItems("item({ [\"k\"] = 1 });\nitem({});\n")
	require.NoError(t, err)
	require.Equal(t, []any{Table{"k": int64(1)}, Table{}}, items)
	_, err = ParseItems("item({}) x")
	require.Error(t, err)
}

func summary(hs []Host) string {
	var b strings.Builder
	for _, h := range hs {
		b.WriteString("host " + h.JID + "\n")
		for _, u := range h.Users {
			b.WriteString("  user " + u.Name + " password=" + u.Password + "\n")
			for _, s := range u.SCRAM {
				b.WriteString("    scram " + s.Mechanism + " salt=" + base64.StdEncoding.EncodeToString(s.Salt) + " stored=" + base64.StdEncoding.EncodeToString(s.StoredKey) + "\n")
			}
			for _, it := range u.Roster {
				b.WriteString("    roster " + it.JID + " " + it.Name + " " + it.Subscription + " [" + strings.Join(it.Groups, ",") + "]")
				if it.Ask {
					b.WriteString(" ask")
				}
				b.WriteString("\n")
			}
			for _, p := range u.Pending {
				b.WriteString("    pending " + p + "\n")
			}
			if u.VCard != nil {
				b.WriteString("    vcard " + u.VCard.String() + "\n")
			}
			for _, p := range u.Private {
				b.WriteString("    private " + p.String() + "\n")
			}
			for _, o := range u.Offline {
				b.WriteString("    offline " + o.Stamp.Format(time.RFC3339) + " " + o.Message.String() + "\n")
			}
		}
	}
	return b.String()
}

func TestReadEjabberdExport(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(fixtures)
	require.NoError(t, err)
	hs, err := ReadFile(filepath.Join(root, "ejabberd", "20240101-120000.xml"), root)
	require.NoError(t, err)
	require.Equal(t, `host a.example
  user dave password=
    scram SCRAM-SHA-1 salt=c2FsdHNhbHRzYWx0MTIzNA== stored=aD4O9DbniWndYR5tlabUoZ+xw40=
    roster erin@a.example Erin both [Friends]
    roster kim@b.example  none [] ask
    pending frank@b.example
    vcard <vCard xmlns="vcard-temp"><FN>Dave Example</FN><NICKNAME>dave</NICKNAME></vCard>
    private <storage xmlns="storage:bookmarks"><conference name="Team" jid="team@conference.a.example" autojoin="true"/></storage>
  user erin password=erinpw
    roster dave@a.example Dave both [Friends]
    offline 2023-12-24T18:00:00Z <message xmlns="jabber:client" from="dave@a.example/phone" to="erin@a.example" type="chat" id="m1"><body>see you</body></message>
`, summary(hs))

	// A host file alone reads the same.
	alone, err := ReadFile(filepath.Join(root, "ejabberd", "20240101-120000_a_example.xml"), root)
	require.NoError(t, err)
	require.Equal(t, summary(hs), summary(alone))
}

func TestReadProsodyFiles(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(fixtures)
	require.NoError(t, err)
	hs, err := ReadFile(filepath.Join(root, "prosody-user", "gina@a.example.xml"), root)
	require.NoError(t, err)
	require.Equal(t, `host a.example
  user gina password=
    scram SCRAM-SHA-1 salt=OGExYzJiM2QtNGU1Zi00YTZiLTljN2QtMGUxZjJhM2I0YzVk stored=X0O/hknrdvShh1GwluATwObWBBo=
    roster dave@a.example Dave to [Work]
    pending frank@b.example
    vcard <vCard xmlns="vcard-temp"><FN>Gina</FN></vCard>
    private <storage xmlns="storage:rosternotes"><note jid="dave@a.example">met at work</note></storage>
`, summary(hs))

	dir, err := ReadProsodyDir(filepath.Join(root, "prosody"))
	require.NoError(t, err)
	require.Equal(t, `host a.example
  user hank password=
    scram SCRAM-SHA-1 salt=MGY2YThiMmMtMWQzZS00ZjUwLThhNmItN2M4ZDllMGYxYTJi stored=NigOwWP2KZJHOww0YtZcI9phqw0=
    roster ivy@a.example Ivy both [Friends]
    roster kim@b.example  none [] ask
    pending frank@b.example
    vcard <vCard xmlns="vcard-temp"><FN>Hank Jürgens</FN><NICKNAME>hank</NICKNAME></vCard>
    private <storage xmlns="storage:bookmarks"><conference autojoin="true" jid="team@conference.a.example" name="Team"/></storage>
  user ivy password=ivypw
    offline 2023-11-05T09:30:00Z <message xmlns="jabber:client" from="hank@a.example/laptop" to="ivy@a.example" type="chat"><body>are you there?</body></message>
  user judy password=
    scram SCRAM-SHA-256 salt=ZDRlNWY2YTctYjhjOS00ZDBlLTlmMWEtMmIzYzRkNWU2Zjcw stored=HVcGaMWFpv68rAMkEoCNUMOvqhfcl9EKbrikP43tnx8=
`, summary(dir))
}

func TestReadRefusals(t *testing.T) {
	t.Parallel()
	root, err := filepath.Abs(fixtures)
	require.NoError(t, err)
	for i, tc := range []struct{ file, err string }{
		0: {"bad/escape.xml", "bad/escape.xml: xi:include href \"../../../secret.key\" leads outside the folder being imported"},
		1: {"bad/not227.xml", "not an XEP-0227 file (root element rows)"},
		2: {"missing.xml", "missing.xml: file does not exist"},
		3: {"bad/missing_include.xml", "bad/20240101-120000_b_example.xml: file does not exist"},
	} {
		_, err := ReadFile(filepath.Join(root, tc.file), root)
		require.ErrorContains(t, err, tc.err, "row %d", i)
	}
	_, err = ReadProsodyDir(filepath.Join(root, "ejabberd"))
	require.ErrorContains(t, err, "no host directory with an accounts store")
}

// TestWriteThenRead: what the writer produces, the reader reads back, and
// the host file looks as ejabberd's does.
func TestWriteThenRead(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	vcard, err := xmlel.Parse([]byte(`<vCard xmlns="vcard-temp"><FN>A &amp; B</FN></vCard>`))
	require.NoError(t, err)
	msg, err := xmlel.Parse([]byte(`<message xmlns="jabber:client" from="b@x.example/r" to="a@x.example"><body>hi</body></message>`))
	require.NoError(t, err)
	h := Host{JID: "x.example", Users: []User{{
		Name:    "a",
		SCRAM:   []SCRAM{{Mechanism: ScramSHA1, Salt: []byte("salt"), Iterations: 4096, StoredKey: []byte("st1"), ServerKey: []byte("sv1")}},
		Roster:  []Item{{JID: "b@x.example", Name: "B", Subscription: "both", Groups: []string{"G"}}},
		Pending: []string{"c@y.example"},
		VCard:   vcard,
		Offline: []Offline{{Stamp: time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), Message: msg}},
	}}}
	main, files := FileNames(time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), []string{"x.example"})
	require.Equal(t, "20240102-030405.xml", main)
	require.Equal(t, []string{"20240102-030405_x_example.xml"}, files)
	var hb, mb bytes.Buffer
	require.NoError(t, WriteHost(&hb, h))
	require.NoError(t, WriteServer(&mb, files))
	require.Equal(t, `<?xml version='1.0' encoding='UTF-8'?><server-data xmlns='urn:xmpp:pie:0' xmlns:xi='http://www.w3.org/2001/XInclude'><xi:include href='20240102-030405_x_example.xml'/></server-data>`, mb.String())
	require.Equal(t, `<?xml version='1.0' encoding='UTF-8'?><host xmlns="urn:xmpp:pie:0" jid="x.example"><user name="a">`+
		`<scram-credentials xmlns="urn:xmpp:pie:0#scram" mechanism="SCRAM-SHA-1"><iter-count>4096</iter-count><salt>c2FsdA==</salt><server-key>c3Yx</server-key><stored-key>c3Qx</stored-key></scram-credentials>`+
		`<offline-messages><message xmlns="jabber:client" from="b@x.example/r" to="a@x.example"><body>hi</body><delay xmlns="urn:xmpp:delay" from="x.example" stamp="2024-01-02T03:04:05Z">Offline Storage</delay></message></offline-messages>`+
		`<vCard xmlns="vcard-temp"><FN>A &amp; B</FN></vCard>`+
		`<query xmlns="jabber:iq:roster"><item jid="b@x.example" name="B" subscription="both"><group>G</group></item></query>`+
		`<presence xmlns="jabber:client" from="c@y.example" to="a@x.example" type="subscribe"/></user></host>`, hb.String())
	require.NoError(t, os.WriteFile(filepath.Join(dir, main), mb.Bytes(), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, files[0]), hb.Bytes(), 0o600))
	got, err := ReadFile(filepath.Join(dir, main), dir)
	require.NoError(t, err)
	require.Equal(t, summary([]Host{h}), summary(got))
}

// TestReadEjabberd2301Scram: ejabberd 23.01 writes scram-credentials as
// base64 of the base64 text; read, they are the 16-byte salt and the keys
// derived from the SASLprep form of each user's password.
func TestReadEjabberd2301Scram(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(migrated, "ejabberd-23.01")
	var users map[string]map[string]string
	b, err := os.ReadFile(filepath.Join(dir, "users.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &users))
	root, err := filepath.Abs(filepath.Join(dir, "scram", "all"))
	require.NoError(t, err)
	mains, err := filepath.Glob(filepath.Join(root, "*[0-9].xml"))
	require.NoError(t, err)
	require.Len(t, mains, 1)
	hs, err := ReadFile(mains[0], root)
	require.NoError(t, err)
	n := 0
	for _, h := range hs {
		for _, u := range h.Users {
			require.Empty(t, u.Password)
			require.Len(t, u.SCRAM, 1, u.Name)
			s := u.SCRAM[0]
			require.Equal(t, ScramSHA1, s.Mechanism)
			require.Len(t, s.Salt, 16, u.Name)
			p, err := credential.Prepare(users[h.JID][u.Name])
			require.NoError(t, err)
			stored, server, err := credential.Keys(sha1.New, p, s.Salt, s.Iterations)
			require.NoError(t, err)
			require.Equal(t, stored, s.StoredKey, u.Name)
			require.Equal(t, server, s.ServerKey, u.Name)
			n++
		}
	}
	require.Equal(t, 8, n)
}
