package main

import (
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
		status, body := s.do(http.MethodPut, "/api/1.0/xmppdomains/"+s.boot.Domain, `{"moduleConfig": {"enableAnonymousLogin": `+on+`}}`,
			func(r *http.Request) {
				r.SetBasicAuth(s.boot.RESTUser, s.boot.RESTPassword)
				r.Header.Set("Content-Type", "application/json")
			})
		require.Equal(t, 200, status, body)
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
