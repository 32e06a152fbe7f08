package xmppcore_test

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
)

var updateGolden = flag.Bool("update-mam", false, "rewrite testdata/mam goldens")

// archiveIDs and stamps vary from run to run: the goldens number them in
// order of appearance.
var (
	reArchiveID = regexp.MustCompile(`\b1[0-9]{15}\b`)
	reStamp     = regexp.MustCompile(`stamp="[^"]*"|stamp='[^']*'`)
)

func normaliseArchive(s string) string {
	seen := map[string]string{}
	s = reArchiveID.ReplaceAllStringFunc(s, func(id string) string {
		if n, ok := seen[id]; ok {
			return n
		}
		seen[id] = "ID" + string(rune('A'+len(seen)))
		return seen[id]
	})
	return reStamp.ReplaceAllString(s, "stamp='STAMP'")
}

// transcriptFrom returns what the server sent after the last occurrence
// of marker in the client's transcript.
func received(c *goxmpptest.Client, marker string) string {
	tr := c.Transcript()
	i := strings.LastIndex(tr, marker)
	if i < 0 {
		return ""
	}
	return tr[i:]
}

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "mam", name)
	if *updateGolden {
		require.NoError(t, os.MkdirAll(filepath.Dir(path), 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(want), got)
}

func TestArchiveSmoke(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	alice := goxmpptest.Login(t, b.c2s, "alice@"+domain, "pw-a", goxmpptest.Resource("phone"), goxmpptest.Transcript())
	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r"})
	for _, text := range []string{"one", "two", "three"} {
		_, err := bob.SendOrg("<message to='alice@" + domain + "' type='chat' id='" + text + "'><body>" + text + "</body></message>")
		require.NoError(t, err)
		alice.Expect(t, text, goxmpptest.Chat("bob@"+domain+"/r", text))
	}
	q := alice.Ask(t, "q1", "set", "", "<query xmlns='urn:xmpp:mam:2' queryid='f1'><set xmlns='http://jabber.org/protocol/rsm'><max>2</max><before/></set></query>")
	require.Equal(t, "result", q.Type)
	_ = goxmpp.IQ{}
	t.Log(normaliseArchive(alice.Transcript()))
}
