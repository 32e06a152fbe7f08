package credential

import (
	"crypto/sha1"
	"crypto/sha256"
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

// Prepare gives what SASLprep gives (the expected forms are slixmpp's
// saslprep output), so keys derived here match a client's proof and keys
// ejabberd or Prosody derived.
func TestPrepareIsSASLprep(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct{ in, want string }{
		0: {"Ame\u0301lie \ufb01x \u2168 \uff50\uff41\uff53\uff53", "Am\u00e9lie fix IX pass"},
		1: {"\uff48\uff49\uff52\uff4f\u3000\uff8a\uff9f\uff7d\uff9c\uff70\uff84\uff9e", "hiro \u30d1\u30b9\u30ef\u30fc\u30c9"},
		2: {"Gr\u00fc\u00dfe aus K\u00f6ln \u00df", "Gr\u00fc\u00dfe aus K\u00f6ln \u00df"},
		3: {"a\u00a0b", "a b"},
		4: {"пароль Бориса 2023", "пароль Бориса 2023"},
	} {
		got, err := Prepare(tc.in)
		require.NoError(t, err, "row %d", i)
		require.Equal(t, tc.want, got, "row %d", i)
	}
}

// Keys derived from the OpaqueString form alone (xmppgate before it
// followed SASLprep) still check the password; Complete derives the
// missing family from the form that matched.
func TestVerifyOpaqueStringKeys(t *testing.T) {
	t.Parallel()
	pw := "\ufb01x \uff50ass"
	o, err := opaque(pw)
	require.NoError(t, err)
	p, err := Prepare(pw)
	require.NoError(t, err)
	require.NotEqual(t, o, p)
	salt := []byte("0123456789abcdef")
	c := SCRAM{Salt: salt, Iterations: 4096}
	c.SHA1Stored, c.SHA1Server, err = Keys(sha1.New, o, salt, 4096)
	require.NoError(t, err)
	require.True(t, c.Verify(pw))
	require.False(t, c.Verify("fix pass"), "the NFKC form is not the password these keys came from")
	full, ok := c.Complete(pw, Both)
	require.True(t, ok)
	st, sv, err := Keys(sha256.New, o, salt, 4096)
	require.NoError(t, err)
	require.Equal(t, st, full.SHA256Stored)
	require.Equal(t, sv, full.SHA256Server)
	require.Equal(t, c.SHA1Stored, full.SHA1Stored)
}

// Complete adds the family an imported user lacks, and only with the
// right password.
func TestComplete(t *testing.T) {
	t.Parallel()
	full, err := Derive("pencil", []byte("saltsaltsaltsalt"), 4096)
	require.NoError(t, err)
	_, ok := full.Complete("pencil", Both)
	require.False(t, ok, "nothing lacks")
	sha1Only := full
	sha1Only.SHA256Stored, sha1Only.SHA256Server = nil, nil
	require.True(t, sha1Only.OnlySHA1())
	_, ok = sha1Only.Complete("pencil2", Both)
	require.False(t, ok)
	got, ok := sha1Only.Complete("pencil", Both)
	require.True(t, ok)
	require.Equal(t, full, got)
	require.False(t, got.OnlySHA1())
	sha256Only := full
	sha256Only.SHA1Stored, sha256Only.SHA1Server = nil, nil
	got, ok = sha256Only.Complete("pencil", Both)
	require.True(t, ok)
	require.Equal(t, full, got)
}

// NewFor derives the families asked for; Complete adds only the families
// wanted that are missing.
func TestFamilies(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		f          Families
		sha1, sha2 bool
		name       string
	}{
		{0, true, true, "sha1,sha256"},
		{Both, true, true, "sha1,sha256"},
		{SHA1, true, false, "sha1"},
		{SHA256, false, true, "sha256"},
	} {
		c, err := NewFor("pencil", tc.f)
		require.NoError(t, err)
		require.Equal(t, tc.sha1, len(c.SHA1Stored) > 0 && len(c.SHA1Server) > 0, tc.name)
		require.Equal(t, tc.sha2, len(c.SHA256Stored) > 0 && len(c.SHA256Server) > 0, tc.name)
		require.True(t, c.Verify("pencil"), tc.name)
		require.False(t, c.Verify("pencil2"), tc.name)
		require.Equal(t, tc.name, tc.f.String())
		require.Equal(t, tc.f.orBoth(), c.Families(), tc.name)

		_, ok := c.Complete("pencil", tc.f)
		require.False(t, ok, "%s: nothing of %s lacks", tc.name, tc.f)
		full, ok := c.Complete("pencil", Both)
		require.Equal(t, tc.f.orBoth() != Both, ok, tc.name)
		if ok {
			want, err := Derive("pencil", c.Salt, c.Iterations)
			require.NoError(t, err)
			require.Equal(t, want, full, tc.name)
		}
	}
}
