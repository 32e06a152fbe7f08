package credential

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// Keys imported from a server that kept SCRAM-SHA-1 only still check
// passwords (PLAIN, check_password).
func TestVerifySHA1Only(t *testing.T) {
	t.Parallel()
	c, err := Derive("pencil", []byte("saltsalt"), 4096)
	require.NoError(t, err)
	c.SHA256Stored, c.SHA256Server = nil, nil
	require.True(t, c.Verify("pencil"))
	require.False(t, c.Verify("pencil2"))
	require.False(t, SCRAM{}.Verify("pencil"))
}
