package credential

import (
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The RFC 6070 (PBKDF2-HMAC-SHA1) vectors with a 20-byte output (the
// truncated one compares a prefix), and PBKDF2-HMAC-SHA256 with the same
// inputs (the commonly published values); every row is also compared with
// crypto/pbkdf2.
func TestSaltedPasswordVectors(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		h          func() hash.Hash
		pw, salt   string
		iterations int
		want       string
	}{
		0: {sha1.New, "password", "salt", 1, "0c60c80f961f0e71f3a9b524af6012062fe037a6"},
		1: {sha1.New, "password", "salt", 2, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"},
		2: {sha1.New, "password", "salt", 4096, "4b007901b765489abead49d926f721d065a429c1"},
		3: {sha1.New, "pass\x00word", "sa\x00lt", 4096, "56fa6aa75548099dcc37d7f03425e0c3"},
		4: {sha256.New, "password", "salt", 1, "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"},
		5: {sha256.New, "password", "salt", 2, "ae4d0c95af6b46d32d0adff928f06dd02a303f8ef3c251dfd6e2d85a95474c43"},
		6: {sha256.New, "password", "salt", 4096, "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"},
	} {
		got, err := SaltedPassword(tc.h, tc.pw, []byte(tc.salt), tc.iterations)
		require.NoError(t, err, "row %d", i)
		require.Equal(t, tc.want, hex.EncodeToString(got)[:len(tc.want)], "row %d", i)
		std, err := pbkdf2.Key(tc.h, tc.pw, []byte(tc.salt), tc.iterations, tc.h().Size())
		require.NoError(t, err)
		require.Equal(t, std, got, "row %d", i)
	}
}

// The SCRAM-SHA-256 example of RFC 7677 section 3: password "pencil", salt
// W22ZaJ0SNY7soEsUEjb6gQ==, 4096 iterations; its ServerSignature checks
// ServerKey, and its ClientProof checks StoredKey.
func TestRFC7677Vector(t *testing.T) {
	t.Parallel()
	salt := mustB64(t, "W22ZaJ0SNY7soEsUEjb6gQ==")
	stored, server, err := Keys(sha256.New, "pencil", salt, 4096)
	require.NoError(t, err)
	auth := "n=user,r=rOprNGfwEbeRWgbNEkqO,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
	require.Equal(t, "6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", b64(HMAC(sha256.New, server, []byte(auth))))
	proof := mustB64(t, "dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
	clientKey := HMAC(sha256.New, stored, []byte(auth)) // ClientSignature
	for i := range clientKey {
		clientKey[i] ^= proof[i]
	}
	sum := sha256.Sum256(clientKey)
	require.Equal(t, stored, sum[:])
}

// The fast path equals crypto/pbkdf2 for random passwords (empty, short,
// longer than a block), salts and iteration counts.
func TestSaltedPasswordMatchesPBKDF2(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	bytesOf := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	for i := 0; i < 400; i++ {
		h := sha1.New
		if i%2 == 1 {
			h = sha256.New
		}
		pw := string(bytesOf(r.IntN(150)))
		salt := bytesOf(r.IntN(80))
		iterations := 1 + r.IntN(40)
		if i%50 == 0 {
			iterations = 4096
		}
		want, err := pbkdf2.Key(h, pw, salt, iterations, h().Size())
		require.NoError(t, err)
		got, err := SaltedPassword(h, pw, salt, iterations)
		require.NoError(t, err)
		require.Equal(t, want, got, "case %d: %d-byte password, %d-byte salt, %d iterations", i, len(pw), len(salt), iterations)
	}
}

// A hash whose state the fast path cannot use still derives, by crypto/pbkdf2.
func TestSaltedPasswordFallback(t *testing.T) {
	t.Parallel()
	type plain struct{ hash.Hash } // hides MarshalBinary and friends
	h := func() hash.Hash { return plain{sha256.New()} }
	_, ok := newChain(h, "pencil", []byte("salt"), 4096)
	require.False(t, ok)
	got, err := SaltedPassword(h, "pencil", []byte("salt"), 4096)
	require.NoError(t, err)
	want, err := pbkdf2.Key(sha256.New, "pencil", []byte("salt"), 4096, 32)
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func mustB64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return b
}

// Derive gives the keys of RFC 5802 computed with crypto/pbkdf2 for both
// families.
func TestDeriveMatchesKeys(t *testing.T) {
	t.Parallel()
	salt := []byte("0123456789abcdef")
	c, err := Derive("pencil", salt, 4096)
	require.NoError(t, err)
	for i, tc := range []struct {
		h              func() hash.Hash
		stored, server []byte
	}{
		0: {sha1.New, c.SHA1Stored, c.SHA1Server},
		1: {sha256.New, c.SHA256Stored, c.SHA256Server},
	} {
		salted, err := pbkdf2.Key(tc.h, "pencil", salt, 4096, tc.h().Size())
		require.NoError(t, err)
		require.Equal(t, HMAC(tc.h, salted, []byte("Server Key")), tc.server, "row %d", i)
		sum := tc.h()
		sum.Write(HMAC(tc.h, salted, []byte("Client Key")))
		require.Equal(t, sum.Sum(nil), tc.stored, "row %d", i)
	}
}

// crypto/sha1 and crypto/sha256 take the fast path: a Go release that lays
// their digests out otherwise would fall back to crypto/pbkdf2 silently,
// twice as slow, and this says so.
func TestChainRunsStandardHashes(t *testing.T) {
	t.Parallel()
	for _, h := range []func() hash.Hash{sha1.New, sha256.New} {
		c, ok := newChain(h, "pencil", []byte("salt"), 4096)
		require.True(t, ok, "%T", h())
		require.Equal(t, 2, c.n)
	}
}
