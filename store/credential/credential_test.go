package credential

import (
	"crypto/sha1"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"
)

// The RFC 5802 section 5 example: user "user", password "pencil",
// salt QSXCR+Q6sek8bf92, 4096 iterations.
func TestRFC5802Vector(t *testing.T) {
	t.Parallel()
	salt, err := base64.StdEncoding.DecodeString("QSXCR+Q6sek8bf92")
	require.NoError(t, err)
	stored, server, err := Keys(sha1.New, "pencil", salt, 4096)
	require.NoError(t, err)
	// ServerSignature in the RFC is HMAC(ServerKey, AuthMessage).
	auth := "n=user,r=fyko+d2lbbFgONRv9qkxdawL,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096,c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j"
	sig := HMAC(sha1.New, server, []byte(auth))
	require.Equal(t, "rmF9pqV8S7suAoZWja4dJRkFsKQ=", base64.StdEncoding.EncodeToString(sig))
	require.Len(t, stored, sha1.Size)
}

func TestVerify(t *testing.T) {
	t.Parallel()
	c, err := New("s3cret Pässword")
	require.NoError(t, err)
	for i, tc := range []struct {
		pw   string
		want bool
	}{
		0: {"s3cret Pässword", true},
		1: {"s3cret Password", false},
		2: {"", false},
		3: {"S3cret Pässword", false},
	} {
		require.Equal(t, tc.want, c.Verify(tc.pw), "row %d", i)
	}
}

func TestPrepareRejects(t *testing.T) {
	t.Parallel()
	for i, pw := range []string{"", "\u0007bell"} {
		_, err := Prepare(pw)
		require.ErrorIs(t, err, ErrInvalidPassword, "row %d", i)
	}
}
