package xmppcore_test

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore"
	"github.com/xmppgate/xmppgate/xmppcore/extdisco"
)

// answer is the raw answer to the IQ id in c's transcript.
func answer(t *testing.T, c *goxmpptest.Client, id string) string {
	t.Helper()
	tr := c.Transcript()
	i := strings.LastIndex(tr, `<iq type="`)
	for i >= 0 && !strings.Contains(tr[i:min(len(tr), i+40)], `id="`+id+`"`) {
		i = strings.LastIndex(tr[:i], `<iq type="`)
	}
	require.GreaterOrEqual(t, i, 0, "no answer to %s in %s", id, tr)
	end := strings.Index(tr[i:], "</iq>")
	require.GreaterOrEqual(t, end, 0)
	return tr[i : i+end+5]
}

// TestExternalServices asks for XEP-0215 services with go-xmpp: the
// configured STUN and TURN servers, TURN with time-limited credentials.
func TestExternalServices(t *testing.T) {
	t.Parallel()
	turn := extdisco.Service{Type: "turn", Host: "turn.example.test", Port: 3478, Transport: "udp", Secret: "s3cret", TTL: time.Hour}
	b := setup(t, func(c *xmppcore.Config) {
		c.ExternalServices = []extdisco.Service{{Type: "stun", Host: "stun.example.test", Port: 3478, Transport: "udp"}, turn}
	})
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	alice := goxmpptest.Login(t, b.c2s, "alice@"+domain, "pw-a", goxmpptest.Resource("r"), goxmpptest.Transcript())

	q := alice.Ask(t, "all", "get", domain, "<services xmlns='urn:xmpp:extdisco:2'/>")
	require.Equal(t, "result", q.Type)
	got := answer(t, alice, "all")
	require.Contains(t, got, `<services xmlns="urn:xmpp:extdisco:2"><service type="stun" host="stun.example.test" port="3478" transport="udp"/><service type="turn" host="turn.example.test" port="3478" transport="udp" restricted="1" username="`)
	user := got[strings.Index(got, `username="`)+10:]
	user = user[:strings.IndexByte(user, '"')]
	require.Regexp(t, `^\d+:alice@example\.test$`, user)
	mac := hmac.New(sha1.New, []byte("s3cret"))
	mac.Write([]byte(user))
	require.Contains(t, got, `password="`+base64.StdEncoding.EncodeToString(mac.Sum(nil))+`"`, "the password is the HMAC of the username")

	alice.Ask(t, "stun", "get", domain, "<services xmlns='urn:xmpp:extdisco:2' type='stun'/>")
	require.Contains(t, answer(t, alice, "stun"), `<services xmlns="urn:xmpp:extdisco:2" type="stun"><service type="stun" host="stun.example.test" port="3478" transport="udp"/></services>`)

	q = alice.Ask(t, "cred", "get", domain, "<credentials xmlns='urn:xmpp:extdisco:2'><service type='turn' host='turn.example.test'/></credentials>")
	require.Equal(t, "result", q.Type)
	require.Contains(t, answer(t, alice, "cred"), `<credentials xmlns="urn:xmpp:extdisco:2"><service type="turn" host="turn.example.test" port="3478" transport="udp" restricted="1" username="`)
	for id, body := range map[string]string{
		"c404": "<credentials xmlns='urn:xmpp:extdisco:2'><service type='turn' host='other.example'/></credentials>",
		"c406": "<credentials xmlns='urn:xmpp:extdisco:2'><service type='stun' host='stun.example.test'/></credentials>",
		"c400": "<credentials xmlns='urn:xmpp:extdisco:2'/>",
	} {
		want := map[string]string{"c404": "item-not-found", "c406": "not-acceptable", "c400": "bad-request"}[id]
		require.Equal(t, "error", alice.Ask(t, id, "get", domain, body).Type, id)
		require.Contains(t, answer(t, alice, id), "<"+want+" ", id)
	}
	alice.Ask(t, "set", "set", domain, "<services xmlns='urn:xmpp:extdisco:2'/>")
	require.Contains(t, answer(t, alice, "set"), "bad-request")

	b.setModules(t, map[string]bool{"modExtDisco": false})
	alice.Ask(t, "off", "get", domain, "<services xmlns='urn:xmpp:extdisco:2'/>")
	require.Contains(t, answer(t, alice, "off"), "service-unavailable")
}

// TestExternalServicesNone: without configured services the list is
// empty, not an error.
func TestExternalServicesNone(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	alice := goxmpptest.Login(t, b.c2s, "alice@"+domain, "pw-a", goxmpptest.Resource("r"), goxmpptest.Transcript())
	require.Equal(t, "result", alice.Ask(t, "none", "get", domain, "<services xmlns='urn:xmpp:extdisco:2'/>").Type)
	require.Contains(t, answer(t, alice, "none"), `<services xmlns="urn:xmpp:extdisco:2"/></iq>`)
}
