package openfirerest_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/commands/commandstest"
)

// TestOneLogLinePerRequestWithoutSecrets: every request writes exactly one
// line with dialect, command (the route), account, result and status, and
// neither the secret nor the password appears anywhere in the log.
func TestOneLogLinePerRequestWithoutSecrets(t *testing.T) {
	t.Parallel()
	log, logs := commandstest.Observe(zap.DebugLevel)
	b := setup(t, log)
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
		var status int
		fields := commandstest.OneLogLine(t, logs, fmt.Sprintf("row %d", i), func() { status, _, _ = b.Send(tt.req) }).ContextMap()
		require.Equal(t, tt.status, status, "row %d", i)
		require.Equal(t, "openfirerest", fields["dialect"], "row %d", i)
		require.Equal(t, tt.command, fields["command"], "row %d", i)
		require.Equal(t, tt.result, fields["result"], "row %d", i)
		require.Equal(t, int64(tt.status), fields["status"], "row %d", i)
		require.Equal(t, tt.account, fields["account"].(int64) != 0, "row %d", i)
	}
	commandstest.RequireNoSecret(t, logs, password, "acmesecret", "offsecret")
}
