package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// TestAnonymousLoginThroughREST switches enableAnonymousLogin with the
// REST domains API of the running server and proves with go-xmpp that
// SASL ANONYMOUS follows it without a restart.
func TestAnonymousLoginThroughREST(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	put := func(on string) {
		t.Helper()
		req, err := http.NewRequest(http.MethodPut, s.url+"api/1.0/xmppdomains/"+s.boot.Domain,
			strings.NewReader(`{"moduleConfig": {"enableAnonymousLogin": `+on+`}}`))
		require.NoError(t, err)
		req.SetBasicAuth(s.boot.RESTUser, s.boot.RESTPassword)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, 200, resp.StatusCode, string(b))
	}
	anon := func() (*goxmpp.Client, error) {
		return goxmpptest.Dial(s.c2s, s.boot.Domain, "")
	}
	_, err := anon()
	require.Error(t, err, "off by default")

	put("true")
	c, err := anon()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(c.JID(), "anon-") && strings.Contains(c.JID(), "@"+s.boot.Domain+"/"), c.JID())
	c.Close()

	put("false")
	_, err = anon()
	require.Error(t, err, "switched off again")
}
