package extauth_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore/extauth"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
)

// TestParseSettings checks modcfg's reading of the auth* fields.
func TestParseSettings(t *testing.T) {
	t.Parallel()
	parse := func(s string) extauth.Config {
		return modcfg.Parse(store.Domain{FQDN: "x.test", Settings: json.RawMessage(s)}).Auth
	}
	tests := []struct {
		settings string
		want     extauth.Config
	}{
		0: {`{}`, extauth.Config{Method: "default", RestMethod: "POST", RestCacheTTL: 120 * time.Second, Pop3CacheTTL: 120 * time.Second}},
		1: {`{"authenticationMethod": "restapi", "authRestUrl": "https://a/b", "authRestSecret": "s", "authRestMethod": "get",
			"authRestCacheTtl": 0, "moduleConfig": {"modPing": {"enabled": false}}}`,
			extauth.Config{Method: "restapi", RestURL: "https://a/b", RestSecret: "s", RestMethod: "GET", Pop3CacheTTL: 120 * time.Second}},
		2: {`{"authenticationMethod": "pop3", "authPop3Host": "mail", "authPop3Port": 995, "authPop3UseSsl": true,
			"authPop3AppendDomain": "corp.test", "authPop3CacheTtl": 30}`,
			extauth.Config{Method: "pop3", RestMethod: "POST", RestCacheTTL: 120 * time.Second, Pop3Host: "mail", Pop3Port: 995,
				Pop3SSL: true, Pop3AppendDomain: "corp.test", Pop3CacheTTL: 30 * time.Second}},
		3: {`{"authenticationMethod": "pop3", "authPop3Host": "mail", "authPop3AppendDomain": true, "authPop3CacheTtl": "120"}`,
			extauth.Config{Method: "pop3", RestMethod: "POST", RestCacheTTL: 120 * time.Second, Pop3Host: "mail",
				Pop3AppendDomain: "x.test", Pop3CacheTTL: 120 * time.Second}},
		4: {`{"authenticationMethod": "kerberos"}`, extauth.Config{Method: "default", RestMethod: "POST",
			RestCacheTTL: 120 * time.Second, Pop3CacheTTL: 120 * time.Second}},
	}
	for i, tt := range tests {
		require.Equal(t, tt.want, parse(tt.settings), "row %d", i)
	}
	require.False(t, parse(`not json`).External())
	require.True(t, parse(`{"authenticationMethod": "restapi"}`).External())
}
