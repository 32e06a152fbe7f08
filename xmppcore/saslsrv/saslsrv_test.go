package saslsrv

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store/credential"
)

func lookupFor(t *testing.T, user, password, salt string) Lookup {
	s, err := base64.StdEncoding.DecodeString(salt)
	require.NoError(t, err)
	cred, err := credential.Derive(password, s, 4096)
	require.NoError(t, err)
	return func(u string) (credential.SCRAM, bool) {
		return cred, u == user
	}
}

// The exchanges of RFC 5802 section 5 and RFC 7677 section 3. Not parallel:
// it pins the package's nonce source.
func TestSCRAMVectors(t *testing.T) {
	tests := []struct {
		mech, salt, snonce, first, serverFirst, final, serverFinal string
	}{
		0: {
			mech: ScramSHA1, salt: "QSXCR+Q6sek8bf92", snonce: "3rfcNHYJY1ZVvWVs7j",
			first:       "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
			serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
			final:       "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
			serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
		},
		1: {
			mech: ScramSHA256, salt: "W22ZaJ0SNY7soEsUEjb6gQ==", snonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
			first:       "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
			serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
			final:       "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
			serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
		},
	}
	orig := serverNonce
	defer func() { serverNonce = orig }()
	for i, tt := range tests {
		serverNonce = func() string { return tt.snonce }
		c, err := Start(tt.mech, lookupFor(t, "user", "pencil", tt.salt), credential.Both)
		require.NoError(t, err)
		out, done, err := c.Step([]byte(tt.first))
		require.NoError(t, err, "row %d", i)
		require.False(t, done)
		require.Equal(t, tt.serverFirst, string(out), "row %d", i)
		out, done, err = c.Step([]byte(tt.final))
		require.NoError(t, err, "row %d", i)
		require.True(t, done)
		require.Equal(t, tt.serverFinal, string(out), "row %d", i)

		// the same exchange with a wrong proof fails
		c, _ = Start(tt.mech, lookupFor(t, "user", "pencil", tt.salt), credential.Both)
		_, _, err = c.Step([]byte(tt.first))
		require.NoError(t, err)
		bad := tt.final[:len(tt.final)-6] + "AAAAA="
		_, _, err = c.Step([]byte(bad))
		require.ErrorIs(t, err, ErrNotAuthorized, "row %d", i)
	}
}

func TestSCRAMRefusals(t *testing.T) {
	t.Parallel()
	look := lookupFor(t, "user", "pencil", "QSXCR+Q6sek8bf92")
	tests := []struct {
		first string
		want  error
	}{
		0: {"p=tls-unique,,n=user,r=abc", ErrNotAuthorized},
		1: {"x,,n=user,r=abc", ErrMalformed},
		2: {"n,,r=abc", ErrMalformed},
		3: {"n,,n=us=2Xer,r=abc", ErrMalformed},
		4: {"n,,m=ext,n=user,r=abc", ErrMalformed},
	}
	for i, tt := range tests {
		c, err := Start(ScramSHA256, look, credential.Both)
		require.NoError(t, err)
		_, _, err = c.Step([]byte(tt.first))
		require.ErrorIs(t, err, tt.want, "row %d", i)
	}
	_, err := Start("SCRAM-SHA-256-PLUS", look, credential.Both)
	require.ErrorIs(t, err, ErrInvalidMech)
}

func TestUnknownUserLooksLikeWrongPassword(t *testing.T) {
	t.Parallel()
	look := lookupFor(t, "user", "pencil", "QSXCR+Q6sek8bf92")
	c, _ := Start(ScramSHA1, look, credential.Both)
	out, _, err := c.Step([]byte("n,,n=nobody,r=abc"))
	require.NoError(t, err)
	require.Contains(t, string(out), ",i=4096")
	c2, _ := Start(ScramSHA1, look, credential.Both)
	out2, _, _ := c2.Step([]byte("n,,n=nobody,r=abc"))
	require.Equal(t, string(out)[len("r=abc")+24:], string(out2)[len("r=abc")+24:], "stable fake salt")
}

func TestPlain(t *testing.T) {
	t.Parallel()
	look := lookupFor(t, "user", "pencil", "QSXCR+Q6sek8bf92")
	tests := []struct {
		in   string
		want error
	}{
		0: {"\x00user\x00pencil", nil},
		1: {"user@x\x00user\x00pencil", nil},
		2: {"\x00user\x00wrong", ErrNotAuthorized},
		3: {"\x00nobody\x00pencil", ErrNotAuthorized},
		4: {"user\x00pencil", ErrMalformed},
	}
	for i, tt := range tests {
		c, _ := Start(Plain, look, credential.Both)
		_, done, err := c.Step([]byte(tt.in))
		require.True(t, done)
		if tt.want == nil {
			require.NoError(t, err, "row %d", i)
		} else {
			require.ErrorIs(t, err, tt.want, "row %d", i)
		}
	}
}

// FuzzConversation: no client input makes a conversation panic or succeed
// without the password.
func FuzzConversation(f *testing.F) {
	f.Add("n,,n=user,r=abc", "c=biws,r=abc,p=AAAA")
	f.Add("\x00user\x00pencil", "")
	cred, _ := credential.Derive("pencil", []byte("saltsaltsaltsalt"), 4096)
	look := func(u string) (credential.SCRAM, bool) { return cred, u == "user" }
	f.Fuzz(func(t *testing.T, first, final string) {
		for _, mech := range Mechanisms {
			c, _ := Start(mech, look, credential.Both)
			_, done, err := c.Step([]byte(first))
			if done {
				if err == nil && (mech != Plain || !bytes.HasSuffix([]byte(first), []byte("\x00pencil"))) {
					t.Fatalf("%s succeeded on %q", mech, first)
				}
				continue
			}
			if err != nil {
				continue
			}
			if _, _, err := c.Step([]byte(final)); err == nil {
				t.Fatalf("%s succeeded with a guessed proof %q", mech, final)
			}
		}
	})
}

func TestAnonymousTrace(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in string
		ok bool
	}{
		0: {"", true},
		1: {"sirhc@example.org", true},
		2: {strings.Repeat("é", 255), true},
		3: {strings.Repeat("a", 256), false},
		4: {"\xff", false},
		5: {"a\x00b", false},
	}
	for i, tt := range tests {
		err := AnonymousTrace([]byte(tt.in))
		require.Equal(t, tt.ok, err == nil, "row %d", i)
	}
}

// A PLAIN login of a user with SCRAM-SHA-1 keys alone hands back the
// credentials completed with SCRAM-SHA-256 keys; a wrong password or a
// user lacking nothing hands back nothing.
func TestPlainCompletes(t *testing.T) {
	t.Parallel()
	full, err := credential.Derive("pencil", []byte("saltsaltsaltsalt"), 4096)
	require.NoError(t, err)
	sha1Only := full
	sha1Only.SHA256Stored, sha1Only.SHA256Server = nil, nil
	for i, tc := range []struct {
		cred     credential.SCRAM
		password string
		ok, done bool
	}{
		0: {sha1Only, "pencil", true, true},
		1: {sha1Only, "pencil2", false, false},
		2: {full, "pencil", true, false},
	} {
		c, err := Start(Plain, func(string) (credential.SCRAM, bool) { return tc.cred, true }, credential.Both)
		require.NoError(t, err)
		_, _, err = c.Step([]byte("\x00user\x00" + tc.password))
		require.Equal(t, tc.ok, err == nil, "row %d", i)
		got, ok := c.Completed()
		require.Equal(t, tc.done, ok, "row %d", i)
		if ok {
			require.Equal(t, full, got, "row %d", i)
		}
	}
}
