package xmppcore_test

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/internal/slixmpptest"
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
	return reStamp.ReplaceAllString(s, `stamp="STAMP"`)
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

// chatWith sends a chat message with extra elements after the body.
func chatWith(t *testing.T, from *goxmpptest.Client, to, text, extra string) {
	t.Helper()
	_, err := from.SendOrg("<message to='" + to + "' type='chat' id='" + text + "'><body>" + text + "</body>" + extra + "</message>")
	require.NoError(t, err)
}

const (
	nsMAM2 = "urn:xmpp:mam:2"
	rsmMax = "<set xmlns='http://jabber.org/protocol/rsm'><max>%d</max>%s</set>"
)

// mamQuery sends a query and returns the bodies of its results in the
// order they came and the iq answer.
func mamQuery(t *testing.T, c *goxmpptest.Client, id, payload string) ([]string, goxmpp.IQ) {
	t.Helper()
	_, err := c.RawInformation(c.JID(), "", id, "set", payload)
	require.NoError(t, err)
	var bodies []string
	for {
		st := c.Expect(t, "results of "+id, func(st any) bool {
			switch v := st.(type) {
			case goxmpp.IQ:
				return v.ID == id
			case goxmpp.Chat:
				return len(v.OtherElem) == 1 && v.OtherElem[0].XMLName.Local == "result"
			}
			return false
		})
		if iq, ok := st.(goxmpp.IQ); ok {
			return bodies, iq
		}
		inner := st.(goxmpp.Chat).OtherElem[0].InnerXML
		i := strings.Index(inner, "<body>")
		j := strings.Index(inner, "</body>")
		require.True(t, i >= 0 && j > i, inner)
		bodies = append(bodies, inner[i+len("<body>"):j])
	}
}

func form(fields ...string) string {
	s := "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>"
	for i := 0; i+1 < len(fields); i += 2 {
		s += "<field var='" + fields[i] + "'><value>" + fields[i+1] + "</value></field>"
	}
	return s + "</x>"
}

var reFinID = regexp.MustCompile(`<(first|last)>([0-9]+)</`)

// finIDs returns the first and last IDs of a fin.
func finIDs(q goxmpp.IQ) (first, last string) {
	for _, m := range reFinID.FindAllStringSubmatch(string(q.Query), -1) {
		if m[1] == "first" {
			first = m[2]
		} else {
			last = m[2]
		}
	}
	return first, last
}

// TestArchive drives XEP-0313 with go-xmpp: bob and carol write to alice
// (online, then offline), she answers; a new device of hers pages through
// the archive with RSM and filters it.
func TestArchive(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	b.user(t, domain, "carol", "pw-c", store.StatusActive)
	aj, bj, cj := "alice@"+domain, "bob@"+domain, "carol@"+domain
	alice := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "phone"})
	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r"})
	carol := b.mustLogin(t, "carol", "pw-c", loginOpts{resource: "r"})

	// disco on the account lists the archive and stanza IDs.
	q := alice.Ask(t, "d1", "get", aj, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	for _, f := range []string{"urn:xmpp:mam:1", nsMAM2, "urn:xmpp:mam:2#extended", "urn:xmpp:sid:0"} {
		require.Contains(t, features(q), f)
	}

	chatWith(t, bob, aj, "b1", "")
	m := alice.Expect(t, "b1", goxmpptest.Chat(bj+"/r", "b1")).(goxmpp.Chat)
	require.Len(t, m.OtherElem, 1)
	require.Equal(t, "stanza-id", m.OtherElem[0].XMLName.Local)
	chatWith(t, carol, aj, "c1", "")
	alice.Expect(t, "c1", goxmpptest.Chat(cj+"/r", "c1"))
	chatWith(t, bob, aj, "b2", "<no-store xmlns='urn:xmpp:hints'/>")                                     // not archived
	chatWith(t, bob, aj, "b3", "<stanza-id xmlns='urn:xmpp:sid:0' by='"+aj+"' id='forged'/>")            // forged ID dropped
	chatWith(t, bob, aj, "b4", "<stanza-id xmlns='urn:xmpp:sid:0' by='elsewhere.example' id='theirs'/>") // kept
	m = alice.Expect(t, "b2", goxmpptest.Chat(bj+"/r", "b2")).(goxmpp.Chat)
	for _, e := range m.OtherElem {
		require.NotEqual(t, "stanza-id", e.XMLName.Local, "a no-store message gets no archive ID")
	}
	m = alice.Expect(t, "b3", goxmpptest.Chat(bj+"/r", "b3")).(goxmpp.Chat)
	require.Len(t, m.OtherElem, 1)
	require.NotContains(t, fmtAttrs(m.OtherElem[0]), "forged")
	require.Contains(t, fmtAttrs(m.OtherElem[0]), "by="+aj)
	m = alice.Expect(t, "b4", goxmpptest.Chat(bj+"/r", "b4")).(goxmpp.Chat)
	require.Len(t, m.OtherElem, 2, "the other server's stanza-id and ours")
	require.Contains(t, fmtAttrs(m.OtherElem...), "id=theirs")
	chatWith(t, alice, bj, "a1", "")
	bob.Expect(t, "a1", goxmpptest.Chat(aj+"/phone", "a1"))
	chatWith(t, bob, aj, "headline", "") // type chat; a headline and an error are not archived:
	_, err := bob.SendOrg("<message to='" + aj + "' type='headline'><body>h</body></message>")
	require.NoError(t, err)
	alice.Expect(t, "headline", goxmpptest.Chat(bj+"/r", "headline"))

	// offline: archived, and the stored copy carries the stanza-id.
	alice.Close()
	// Only once the server saw her go does the message go offline; before,
	// it would reach the closing stream (no stream management here).
	require.Eventually(t, func() bool { return len(b.srv.Sessions(domain, "alice")) == 0 }, 5*time.Second, 10*time.Millisecond)
	chatWith(t, bob, aj, "offline", "")
	tablet := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "tablet"})
	m = tablet.Expect(t, "offline", goxmpptest.Chat(bj+"/r", "offline")).(goxmpp.Chat)
	require.Contains(t, fmtAttrs(m.OtherElem...), "stanza-id")

	all := []string{"b1", "c1", "b3", "b4", "a1", "headline", "offline"}
	got, fin := mamQuery(t, tablet, "all", "<query xmlns='urn:xmpp:mam:2' queryid='all'/>")
	require.Equal(t, all, got)
	require.Contains(t, string(fin.Query), `complete="true"`)

	// pages of 3 forward, then the last page and backwards.
	var paged []string
	after := ""
	for i := 0; ; i++ {
		set := fmt.Sprintf(rsmMax, 3, "")
		if after != "" {
			set = fmt.Sprintf(rsmMax, 3, "<after>"+after+"</after>")
		}
		page, fin := mamQuery(t, tablet, fmt.Sprint("p", i), "<query xmlns='urn:xmpp:mam:2'>"+set+"</query>")
		paged = append(paged, page...)
		_, after = finIDs(fin)
		if strings.Contains(string(fin.Query), `complete="true"`) {
			break
		}
		require.Len(t, page, 3)
	}
	require.Equal(t, all, paged)
	last, fin := mamQuery(t, tablet, "last", "<query xmlns='urn:xmpp:mam:2'>"+fmt.Sprintf(rsmMax, 2, "<before/>")+"</query>")
	require.Equal(t, all[5:], last)
	require.NotContains(t, string(fin.Query), `complete="true"`)
	first, _ := finIDs(fin)
	prev, _ := mamQuery(t, tablet, "prev", "<query xmlns='urn:xmpp:mam:2'>"+fmt.Sprintf(rsmMax, 2, "<before>"+first+"</before>")+"</query>")
	require.Equal(t, all[3:5], prev)

	// with: one correspondent, both directions.
	got, _ = mamQuery(t, tablet, "with", "<query xmlns='urn:xmpp:mam:2'>"+form("with", bj)+"</query>")
	require.Equal(t, []string{"b1", "b3", "b4", "a1", "headline", "offline"}, got)
	got, _ = mamQuery(t, tablet, "withfull", "<query xmlns='urn:xmpp:mam:2'>"+form("with", cj+"/r")+"</query>")
	require.Equal(t, []string{"c1"}, got)
	got, _ = mamQuery(t, tablet, "withnone", "<query xmlns='urn:xmpp:mam:2'>"+form("with", cj+"/other")+"</query>")
	require.Empty(t, got)
	// start/end by time, after-id/before-id (extended), flip-page.
	got, _ = mamQuery(t, tablet, "future", "<query xmlns='urn:xmpp:mam:2'>"+form("start", "2999-01-01T00:00:00Z")+"</query>")
	require.Empty(t, got)
	got, _ = mamQuery(t, tablet, "past", "<query xmlns='urn:xmpp:mam:2'>"+form("end", "2000-01-01T00:00:00Z")+"</query>")
	require.Empty(t, got)
	_, f2 := mamQuery(t, tablet, "two", "<query xmlns='urn:xmpp:mam:2'>"+fmt.Sprintf(rsmMax, 2, "")+"</query>")
	id1, id2 := finIDs(f2)
	got, _ = mamQuery(t, tablet, "afterid", "<query xmlns='urn:xmpp:mam:2'>"+form("after-id", id1, "before-id", all4(t, tablet))+"</query>")
	require.Equal(t, []string{"c1", "b3"}, got)
	got, _ = mamQuery(t, tablet, "ids", "<query xmlns='urn:xmpp:mam:2'>"+form("ids", id2)+"</query>")
	require.Equal(t, []string{"c1"}, got)
	got, _ = mamQuery(t, tablet, "flip", "<query xmlns='urn:xmpp:mam:2'>"+fmt.Sprintf(rsmMax, 2, "<before/>")+"<flip-page/></query>")
	require.Equal(t, []string{"offline", "headline"}, got)

	// bob's own archive holds what he sent and received.
	got, _ = mamQuery(t, bob, "bob", "<query xmlns='urn:xmpp:mam:2'>"+form("with", aj)+"</query>")
	require.Equal(t, []string{"b1", "b3", "b4", "a1", "headline", "offline"}, got)
}

// all4 returns the ID of the fourth archived message of c's user.
func all4(t *testing.T, c *goxmpptest.Client) string {
	t.Helper()
	_, fin := mamQuery(t, c, "four", "<query xmlns='urn:xmpp:mam:2'>"+fmt.Sprintf(rsmMax, 4, "")+"</query>")
	_, last := finIDs(fin)
	return last
}

func fmtAttrs(es ...goxmpp.XMLElement) string {
	var b strings.Builder
	for _, e := range es {
		b.WriteString(e.XMLName.Local)
		for _, a := range e.Attr {
			b.WriteString(" " + a.Name.Local + "=" + a.Value)
		}
		b.WriteString(" " + e.InnerXML + ";")
	}
	return b.String()
}

// TestArchiveErrors: what a malformed or foreign query gets, the form, and
// the switch.
func TestArchiveErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	alice := goxmpptest.Login(t, b.c2s, "alice@"+domain, "pw-a", goxmpptest.Resource("r"), goxmpptest.Transcript())
	cond := func(id, cond string) {
		t.Helper()
		for _, l := range strings.Split(alice.Transcript(), "\n") {
			if strings.HasPrefix(l, "RECV: ") && strings.Contains(l, ` id="`+id+`"`) && strings.Contains(l, `type="error"`) {
				require.Contains(t, l, "<"+cond+` xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>`, id)
				return
			}
		}
		t.Fatalf("no error answered %s", id)
	}
	for _, tc := range []struct{ id, to, payload, cond string }{
		{"unknown-after", "", "<query xmlns='urn:xmpp:mam:2'>" + fmt.Sprintf(rsmMax, 5, "<after>123</after>") + "</query>", "item-not-found"},
		{"junk-before", "", "<query xmlns='urn:xmpp:mam:2'>" + fmt.Sprintf(rsmMax, 5, "<before>junk</before>") + "</query>", "item-not-found"},
		{"unknown-field", "", "<query xmlns='urn:xmpp:mam:2'>" + form("colour", "red") + "</query>", "bad-request"},
		{"bad-start", "", "<query xmlns='urn:xmpp:mam:2'>" + form("start", "yesterday") + "</query>", "bad-request"},
		{"bad-with", "", "<query xmlns='urn:xmpp:mam:2'>" + form("with", "@@") + "</query>", "bad-request"},
		{"bad-max", "", "<query xmlns='urn:xmpp:mam:2'>" + fmt.Sprintf(rsmMax, -1, "") + "</query>", "bad-request"},
		{"form-type", "", "<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x></query>", "bad-request"},
		{"other-user", "bob@" + domain, "<query xmlns='urn:xmpp:mam:2'/>", "forbidden"},
		{"other-prefs", "bob@" + domain, "<prefs xmlns='urn:xmpp:mam:2'/>", "forbidden"},
		{"bad-prefs", "", "<prefs xmlns='urn:xmpp:mam:2' default='sometimes'/>", "bad-request"},
	} {
		q := alice.Ask(t, tc.id, "set", tc.to, tc.payload)
		require.Equal(t, "error", q.Type, tc.id)
		cond(tc.id, tc.cond)
	}
	// Form discovery (XEP-0313 6).
	q := alice.Ask(t, "form", "get", "", "<query xmlns='urn:xmpp:mam:2'/>")
	require.Equal(t, "result", q.Type)
	for _, f := range []string{"FORM_TYPE", "with", "start", "end", "before-id", "after-id", "ids"} {
		require.Contains(t, string(q.Query), `var="`+f+`"`)
	}
	// Off: not in disco, and the queries are not served.
	b.setModules(t, map[string]bool{"modMam": false})
	q = alice.Ask(t, "disco", "get", "alice@"+domain, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	require.NotContains(t, features(q), nsMAM2)
	require.NotContains(t, features(q), "urn:xmpp:sid:0")
	require.Equal(t, "error", alice.Ask(t, "off", "set", "", "<query xmlns='urn:xmpp:mam:2'/>").Type)
	cond("off", "service-unavailable")
}

// TestArchivePrefs: never and always lists and the default decide what is
// archived (XEP-0313 7); the preferences survive a new session.
func TestArchivePrefs(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	b.user(t, domain, "carol", "pw-c", store.StatusActive)
	aj, bj, cj := "alice@"+domain, "bob@"+domain, "carol@"+domain
	alice := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "r"})
	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r"})
	carol := b.mustLogin(t, "carol", "pw-c", loginOpts{resource: "r"})

	q := alice.Ask(t, "get", "get", "", "<prefs xmlns='urn:xmpp:mam:2'/>")
	require.Contains(t, string(q.Query), `default="always"`)
	q = alice.Ask(t, "set", "set", "", "<prefs xmlns='urn:xmpp:mam:2' default='always'><always/><never><jid>"+bj+"</jid></never></prefs>")
	require.Equal(t, "result", q.Type)
	require.Contains(t, string(q.Query), "<never><jid>"+bj+"</jid></never>")

	chatWith(t, bob, aj, "from-bob", "")
	alice.Expect(t, "from-bob", goxmpptest.Chat(bj+"/r", "from-bob"))
	chatWith(t, carol, aj, "from-carol", "")
	alice.Expect(t, "from-carol", goxmpptest.Chat(cj+"/r", "from-carol"))
	got, _ := mamQuery(t, alice, "q1", "<query xmlns='urn:xmpp:mam:2'/>")
	require.Equal(t, []string{"from-carol"}, got, "bob is in never")
	got, _ = mamQuery(t, bob, "q2", "<query xmlns='urn:xmpp:mam:2'/>")
	require.Equal(t, []string{"from-bob"}, got, "bob's own archive follows his preferences")

	// default never with carol in always, set through mam:1.
	q = alice.Ask(t, "set1", "set", "", "<prefs xmlns='urn:xmpp:mam:1' default='never'><always><jid>"+cj+"</jid></always><never/></prefs>")
	require.Equal(t, "result", q.Type)
	alice.Close()
	tablet := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "tablet"})
	q = tablet.Ask(t, "get2", "get", "", "<prefs xmlns='urn:xmpp:mam:2'/>")
	require.Contains(t, string(q.Query), `default="never"`)
	chatWith(t, bob, aj, "from-bob-2", "")
	tablet.Expect(t, "from-bob-2", goxmpptest.Chat(bj+"/r", "from-bob-2"))
	chatWith(t, carol, aj, "from-carol-2", "")
	tablet.Expect(t, "from-carol-2", goxmpptest.Chat(cj+"/r", "from-carol-2"))
	got, _ = mamQuery(t, tablet, "q3", "<query xmlns='urn:xmpp:mam:2'/>")
	require.Equal(t, []string{"from-carol", "from-carol-2"}, got)
}

// TestArchiveWire: the exact shapes of results, fin, form and prefs on the
// wire (IDs and stamps numbered).
func TestArchiveWire(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	alice := goxmpptest.Login(t, b.c2s, "alice@"+domain, "pw-a", goxmpptest.Resource("r"), goxmpptest.Transcript())
	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r"})
	for _, text := range []string{"one", "two", "three"} {
		chatWith(t, bob, "alice@"+domain, text, "")
		alice.Expect(t, text, goxmpptest.Chat("bob@"+domain+"/r", text))
	}
	mamQuery(t, alice, "q1", "<query xmlns='urn:xmpp:mam:2' queryid='f1'>"+fmt.Sprintf(rsmMax, 2, "<before/>")+"</query>")
	mamQuery(t, alice, "q2", "<query xmlns='urn:xmpp:mam:1' queryid='f2'>"+fmt.Sprintf(rsmMax, 2, "")+"</query>")
	mamQuery(t, alice, "q3", "<query xmlns='urn:xmpp:mam:2' queryid='f3'>"+form("start", "2999-01-01T00:00:00Z")+"</query>")
	alice.Ask(t, "form", "get", "", "<query xmlns='urn:xmpp:mam:2'/>")
	alice.Ask(t, "prefs", "set", "", "<prefs xmlns='urn:xmpp:mam:2' default='roster'><always><jid>bob@"+domain+"</jid></always></prefs>")
	tr := alice.Transcript()
	var lines []string
	for _, l := range strings.Split(tr, "\n") {
		if strings.HasPrefix(l, "RECV: ") && (strings.Contains(l, "urn:xmpp:mam") || strings.Contains(l, "urn:xmpp:sid:0")) {
			lines = append(lines, strings.TrimPrefix(l, "RECV: "))
		}
	}
	golden(t, "wire.xml", normaliseArchive(strings.Join(lines, "\n")+"\n"))
}

// TestIntegrationArchiveSlixmpp: slixmpp's xep_0313 pages through an
// archive from a new device, filters it, and sees prefs honoured.
func TestIntegrationArchiveSlixmpp(t *testing.T) {
	t.Parallel()
	slixmpptest.Require(t)
	b := setup(t)
	b.user(t, domain, "alice", "pw", store.StatusActive)
	b.user(t, domain, "bob", "pw", store.StatusActive)
	res := slixmpptest.MAM(t, b.c2s, "alice@"+domain, "bob@"+domain, "pw")
	require.Len(t, res.Sent, 9)
	require.Equal(t, res.Sent, res.Paged, "pages of 3, in order")
	require.Equal(t, res.Sent, res.With, "everything was with bob")
	newest := slices.Clone(res.Sent)
	slices.Reverse(newest)
	require.Equal(t, newest, res.Last, "backwards from the last page")
	require.Empty(t, res.Never, "nothing archived under default never")
	require.Equal(t, 7, res.StanzaIDs, "the 7 archived messages bob sent alice carried her stanza-id, after-never none")
}

// TestArchiveRetention: modMam.retentionDays purges what is older, per
// domain; 0 keeps everything.
func TestArchiveRetention(t *testing.T) {
	t.Parallel()
	b := setup(t)
	alice := b.user(t, domain, "alice", "pw-a", store.StatusActive)
	day := 24 * time.Hour
	now := time.Now()
	rows := []store.ArchiveRow{
		{ID: now.Add(-40 * day).UnixMicro(), UserID: alice.ID, Peer: "bob@" + domain, Stanza: []byte("<message/>")},
		{ID: now.Add(-2 * day).UnixMicro(), UserID: alice.ID, Peer: "bob@" + domain, Stanza: []byte("<message/>")},
	}
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error { return tx.InsertArchive(b.ctx, rows) }))
	n, err := b.srv.PurgeArchive(b.ctx, now)
	require.NoError(t, err)
	require.Zero(t, n, "no retention set: kept forever")
	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		return tx.SetDomainSettings(b.ctx, b.domains[domain].ID, []byte(`{"moduleConfig":{"modMam":{"enabled":true,"retentionDays":30}}}`))
	}))
	n, err = b.srv.PurgeArchive(b.ctx, now)
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	left, err := b.st.Archive(b.ctx, store.ArchiveFilter{UserID: alice.ID, MinID: 1, MaxID: now.UnixMicro(), Limit: 10})
	require.NoError(t, err)
	require.Len(t, left, 1)
	require.Equal(t, rows[1].ID, left[0].ID)
}
