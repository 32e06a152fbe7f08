package credential

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestBinaryRoundTrip(t *testing.T) {
	t.Parallel()
	full, err := New("pencil")
	require.NoError(t, err)
	sha1Only := full
	sha1Only.SHA256Stored, sha1Only.SHA256Server = nil, nil
	for name, c := range map[string]SCRAM{"both": full, "sha1 only": sha1Only} {
		b, err := c.MarshalBinary()
		require.NoError(t, err)
		var got SCRAM
		require.NoError(t, got.UnmarshalBinary(b), name)
		require.Equal(t, c.Salt, got.Salt, name)
		require.Equal(t, c.Iterations, got.Iterations, name)
		require.Equal(t, c.SHA1Stored, got.SHA1Stored, name)
		require.Equal(t, c.SHA256Server, []byte(got.SHA256Server), name)
		require.True(t, got.Verify("pencil"), name)
		for cut := 0; cut < len(b); cut++ {
			require.Error(t, new(SCRAM).UnmarshalBinary(b[:cut]), "%s cut at %d", name, cut)
		}
		require.Error(t, new(SCRAM).UnmarshalBinary(append(b, 0)), name)
	}
}

// FuzzUnmarshalBinary: any input decodes whole or fails, and what decodes
// encodes back to itself.
func FuzzUnmarshalBinary(f *testing.F) {
	c, err := New("pencil")
	if err != nil {
		f.Fatal(err)
	}
	b, _ := c.MarshalBinary()
	f.Add(b)
	f.Add([]byte{1, 0x80, 0x20, 0})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		var c SCRAM
		if c.UnmarshalBinary(in) != nil {
			return
		}
		out, err := c.MarshalBinary()
		require.NoError(t, err)
		var again SCRAM
		require.NoError(t, again.UnmarshalBinary(out))
		require.Equal(t, c, again)
	})
}
