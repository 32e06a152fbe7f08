package xmppcore

import (
	"crypto/tls"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRotateTicketKeys: a new encrypting key each day, older ones kept for
// decryption until their lifetime ends, a damaged file replaced, and the
// file private to the server.
func TestRotateTicketKeys(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "tls", "ticket-keys.json")
	load := func() []ticketKey {
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		var keys []ticketKey
		require.NoError(t, json.Unmarshal(b, &keys))
		return keys
	}
	t0 := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	steps := []struct {
		at      time.Duration
		n       int
		newest  time.Duration // Created of the first key, from t0
		damaged bool
	}{
		0: {at: 0, n: 1, newest: 0},
		1: {at: time.Hour, n: 1, newest: 0},
		2: {at: 25 * time.Hour, n: 2, newest: 25 * time.Hour},
		3: {at: 50 * time.Hour, n: 3, newest: 50 * time.Hour},
		4: {at: 8*24*time.Hour + time.Hour, n: 3, newest: 8*24*time.Hour + time.Hour}, // the first expired
		5: {at: 8*24*time.Hour + 2*time.Hour, damaged: true, n: 1, newest: 8*24*time.Hour + 2*time.Hour},
	}
	for i, s := range steps {
		if s.damaged {
			require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o600))
		}
		require.NoError(t, rotateTicketKeys(path, &tls.Config{}, t0.Add(s.at)), "step %d", i)
		keys := load()
		require.Len(t, keys, s.n, "step %d", i)
		require.True(t, keys[0].Created.Equal(t0.Add(s.newest)), "step %d: newest key %s", i, keys[0].Created)
		for _, k := range keys {
			require.Len(t, k.Key, 32)
		}
	}
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
}
