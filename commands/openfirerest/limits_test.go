package openfirerest_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands/openfirerest"
)

// TestOversizedBody: a body over MaxBody is refused with 413 and changes
// nothing.
func TestOversizedBody(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	pad := strings.Repeat(" ", openfirerest.MaxBody)
	status, _, body := b.Send("POST /plugins/restapi/v1/users\nAuthorization: acmesecret\nContent-Type: application/json\n\n" +
		`{"username":"dave","password":"pw"}` + pad)
	require.Equal(t, 413, status)
	require.Empty(t, body)
	_, err := b.Store.UserByJID(b.Ctx, "a.example", "dave")
	require.Error(t, err, "nothing created")
}
