package openfirerest_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestOneLogLinePerRequestWithoutSecrets: every request writes exactly one
// line with dialect, command (the route), account, result and status, and
// neither the secret nor the password appears anywhere in the log.
func TestOneLogLinePerRequestWithoutSecrets(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zap.DebugLevel)
	b := setupLog(t, zap.New(core))
	const password = "Tr0ub4dor&3-secret"
	body := `{"username":"alice","password":"` + password + `"}`
	tests := []struct {
		req             string
		command, result string
		status          int
		account         bool
	}{
		0: {"POST /plugins/restapi/v1/users\nAuthorization: acmesecret\nContent-Type: application/json\n\n" + body, "POST users", "ok", 201, true},
		1: {"POST /plugins/restapi/v1/users\nAuthorization: acmesecret\nContent-Type: application/json\n\n" + body, "POST users", "UserAlreadyExistsException", 409, true},
		2: {"GET /plugins/restapi/v1/users/alice\nAuthorization: acmesecret", "GET users/{username}", "ok", 200, true},
		3: {"POST /plugins/restapi/v1/users\nAuthorization: " + password + "\nContent-Type: application/json\n\n" + body, "", "unauthorized", 401, false},
		4: {"GET /plugins/restapi/v1/users\nAuthorization: offsecret", "", "disabled", 403, true},
	}
	for i, tt := range tests {
		before := logs.Len()
		status, _, _ := b.Send(tt.req)
		require.Equal(t, tt.status, status, "row %d", i)
		require.Equal(t, before+1, logs.Len(), "row %d: one line per request", i)
		fields := logs.All()[before].ContextMap()
		require.Equal(t, "openfirerest", fields["dialect"], "row %d", i)
		require.Equal(t, tt.command, fields["command"], "row %d", i)
		require.Equal(t, tt.result, fields["result"], "row %d", i)
		require.Equal(t, int64(tt.status), fields["status"], "row %d", i)
		require.Equal(t, tt.account, fields["account"].(int64) != 0, "row %d", i)
	}
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += " " + k + "=" + fmt.Sprint(v)
		}
		for _, secret := range []string{password, "acmesecret", "offsecret"} {
			require.NotContains(t, line, secret)
		}
	}
}
