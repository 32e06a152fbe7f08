package sealbox

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSealOpen(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "secret.key")
	b, err := LoadOrCreate(path)
	require.NoError(t, err)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())

	sealed := b.Seal([]byte("hunter2"), "password")
	require.NotContains(t, string(sealed), "hunter2")
	got, err := b.Open(sealed, "password")
	require.NoError(t, err)
	require.Equal(t, "hunter2", string(got))

	_, err = b.Open(sealed, "api-key")
	require.ErrorIs(t, err, ErrOpen)

	// A second load reuses the key, so old values still open.
	b2, err := LoadOrCreate(path)
	require.NoError(t, err)
	got, err = b2.Open(sealed, "password")
	require.NoError(t, err)
	require.Equal(t, "hunter2", string(got))
}
