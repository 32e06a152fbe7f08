package xmppcore_test

import (
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
)

// TestUploadService drives XEP-0363's XMPP side with go-xmpp: the service
// is found at upload.<domain> through the domain's disco#items, announces
// its limit, hands out slots whose PUT and GET work over HTTP, and answers
// a slot it cannot give with the XEP's errors.
func TestUploadService(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	alice := goxmpptest.Login(t, b.c2s, "alice@"+domain, "pw-a", goxmpptest.Resource("r"), goxmpptest.Transcript())
	svc := "upload." + domain

	q := alice.Ask(t, "items", "get", domain, "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	require.Contains(t, string(q.Query), `<item jid="`+svc+`" name="HTTP File Upload"`)
	q = alice.Ask(t, "info", "get", svc, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	require.Equal(t, "result", q.Type)
	require.Contains(t, string(q.Query), `<identity category="store" type="file" name="HTTP File Upload"/>`)
	require.Contains(t, features(q), "urn:xmpp:http:upload:0")
	require.Contains(t, string(q.Query), `<field var="max-file-size"><value>104857600</value></field>`)

	q = alice.Ask(t, "slot", "get", svc, "<request xmlns='urn:xmpp:http:upload:0' filename='a b.txt' size='5' content-type='text/plain'/>")
	require.Equal(t, "result", q.Type, string(q.Query))
	m := regexp.MustCompile(`^<slot xmlns="urn:xmpp:http:upload:0"(?: xmlns="urn:xmpp:http:upload:0")?><put url="([^"]+)"><header name="Authorization">(Bearer [^<]+)</header></put><get url="([^"]+)"/></slot>$`).
		FindStringSubmatch(string(q.Query))
	require.NotNil(t, m, string(q.Query))
	require.True(t, strings.HasSuffix(m[1], "/a%20b.txt"), m[1])
	req, _ := http.NewRequest(http.MethodPut, m[1], strings.NewReader("hello"))
	req.Header.Set("Authorization", m[2])
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	resp, err = http.Get(m[3])
	require.NoError(t, err)
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "hello", string(got))

	for i, c := range []struct{ request, want string }{
		0: {"<request xmlns='urn:xmpp:http:upload:0' filename='big.bin' size='104857601'/>",
			`<error type="modify"><not-acceptable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">File too large. The maximum file size is 104857600 bytes</text><file-too-large xmlns="urn:xmpp:http:upload:0"><max-file-size>104857600</max-file-size></file-too-large></error>`},
		1: {"<request xmlns='urn:xmpp:http:upload:0' filename='x' size='many'/>", `<bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>`},
		2: {"<request xmlns='urn:xmpp:http:upload:0' filename='a/b' size='1'/>", `<bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>`},
		3: {"<request xmlns='urn:xmpp:http:upload:0' filename='quota.bin' size='1048575000'/>", `<error type="modify"><not-acceptable`},
		4: {"<request xmlns='urn:xmpp:http:upload:0' size='1'/>", `<bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>`},
	} {
		q := alice.Ask(t, "e", "get", svc, c.request)
		require.Equal(t, "error", q.Type, "row %d", i)
		tr := alice.Transcript()
		require.Contains(t, tr[strings.LastIndex(tr, `id="e"`):], c.want, "row %d", i)
	}
	q = alice.Ask(t, "set", "set", svc, "<request xmlns='urn:xmpp:http:upload:0' filename='x' size='1'/>")
	require.Contains(t, alice.Transcript()[strings.LastIndex(alice.Transcript(), `id="set"`):], "bad-request", "slots are requested with get")

	// A smaller quota: what is stored counts against it.
	b.setSettings(t, domain, map[string]any{"moduleConfig": map[string]any{"modHttpUpload": map[string]int{"quota": 10, "maxFileSize": 100}}})
	q = alice.Ask(t, "info2", "get", svc, "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	require.Contains(t, string(q.Query), `<value>100</value>`)
	q = alice.Ask(t, "q1", "get", svc, "<request xmlns='urn:xmpp:http:upload:0' filename='x' size='6'/>")
	require.Equal(t, "error", q.Type)
	require.Contains(t, alice.Transcript(), `<error type="wait"><resource-constraint xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/>`)
	require.Equal(t, "result", alice.Ask(t, "q2", "get", svc, "<request xmlns='urn:xmpp:http:upload:0' filename='x' size='5'/>").Type)

	// Switched off, the service's JID is gone.
	b.setModules(t, map[string]bool{"modHttpUpload": false})
	q = alice.Ask(t, "items2", "get", domain, "<query xmlns='http://jabber.org/protocol/disco#items'/>")
	require.Equal(t, "result", q.Type)
	require.NotContains(t, string(q.Query), svc)
	q = alice.Ask(t, "off", "get", svc, "<request xmlns='urn:xmpp:http:upload:0' filename='x' size='1'/>")
	require.Equal(t, "error", q.Type)
	require.Contains(t, alice.Transcript()[strings.LastIndex(alice.Transcript(), `id="off"`):], "remote-server-not-found")
}
