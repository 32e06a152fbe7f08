package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestOpenfireSecondListener starts the real server with
// openfire_http_addr set and proves that the second listener serves the
// Openfire paths, legacy and REST, and nothing else; and that a REST
// lockout through it closes the user's live session, seen by an
// independent XMPP client.
func TestOpenfireSecondListener(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(c *Config) { c.OpenfireHTTPAddr = "127.0.0.1:0" })
	require.NotEmpty(t, s.ofURL, "the second listener is up")
	require.NotEqual(t, strings.TrimSuffix(s.url, "/"), s.ofURL)
	secret := s.boot.OpenfireSecret
	do := func(base, method, path string, header ...string) (int, string) {
		t.Helper()
		return request(t, method, base+path, "", func(r *http.Request) {
			for i := 0; i+1 < len(header); i += 2 {
				r.Header.Set(header[i], header[i+1])
			}
		})
	}
	main := strings.TrimSuffix(s.url, "/")
	tests := []struct {
		base, method, path string
		header             []string
		status             int
		body               string
	}{
		0: {s.ofURL, "GET", "/plugins/userService/userservice?type=add&username=alice&password=pw&secret=" + secret, nil, 200, "<result>ok</result>\n"},
		1: {s.ofURL, "GET", "/plugins/restapi/v1/userservice?type=add&username=bob&password=pw&secret=" + secret, nil, 200, "<result>ok</result>\n"},
		2: {s.ofURL, "GET", "/plugins/restapi/v1/users/alice", []string{"Authorization", secret, "Accept", "application/json"}, 200, `{"username":"alice"}`},
		3: {s.ofURL, "GET", "/plugins/userService/users/bob", []string{"Authorization", secret}, 200,
			`<?xml version="1.0" encoding="UTF-8" standalone="yes"?><user><username>bob</username></user>`},
		4: {s.ofURL, "GET", "/plugins/restapi/v1/users", nil, 401, ""},
		// The other dialects are not on the Openfire listener.
		5: {s.ofURL, "GET", "/?key=" + s.boot.Key + "&cmd=jabber-list_users", nil, 404, "404 page not found\n"},
		6: {s.ofURL, "POST", "/api/status", nil, 404, "404 page not found\n"},
		7: {s.ofURL, "GET", "/api/1.0/xmppdomains", nil, 404, "404 page not found\n"},
		// The main listener serves the REST API too.
		8: {main, "GET", "/plugins/restapi/v1/users/alice", []string{"Authorization", secret, "Accept", "application/json"}, 200, `{"username":"alice"}`},
	}
	for i, tt := range tests {
		status, body := do(tt.base, tt.method, tt.path, tt.header...)
		require.Equal(t, tt.status, status, "row %d: %s", i, body)
		require.Equal(t, tt.body, body, "row %d", i)
	}

	c, err := s.xmppLogin("alice@"+s.boot.Domain, "pw", "SCRAM-SHA-256")
	require.NoError(t, err)
	status, body := do(s.ofURL, "POST", "/plugins/restapi/v1/lockouts/alice", "Authorization", secret)
	require.Equal(t, 201, status, body)
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the lockout did not close the session")
	}
	_, err = s.xmppLogin("alice@"+s.boot.Domain, "pw", "SCRAM-SHA-256")
	require.Error(t, err, "a locked-out user cannot log in")
	status, body = do(s.ofURL, "DELETE", "/plugins/restapi/v1/lockouts/alice", "Authorization", secret)
	require.Equal(t, 200, status, body)
	c, err = s.xmppLogin("alice@"+s.boot.Domain, "pw", "SCRAM-SHA-256")
	require.NoError(t, err, "unlocked")
	c.Close()
}

// TestOpenfireHTTPAddrConfig: the key is off by default and set from the
// environment as XMPPGATE_OPENFIRE_HTTP_ADDR.
func TestOpenfireHTTPAddrConfig(t *testing.T) {
	t.Parallel()
	cfg, err := LoadConfig("", nil)
	require.NoError(t, err)
	require.Empty(t, cfg.OpenfireHTTPAddr)
	cfg, err = LoadConfig("", []string{"XMPPGATE_OPENFIRE_HTTP_ADDR=127.0.0.1:9090"})
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9090", cfg.OpenfireHTTPAddr)
}
