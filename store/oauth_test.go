package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOAuthTokens(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acc, _, user := b.alice(t)
	write := func(f func(tx *Tx) error) error { return b.st.Write(b.ctx, f) }
	live := OAuthToken{Hash: OAuthTokenHash("live"), UserID: user, AccountID: acc, JID: "alice@a.example", Scopes: []string{"ejabberd:admin"}, Expires: 2000}
	old := OAuthToken{Hash: OAuthTokenHash("old"), UserID: user, AccountID: acc, JID: "alice@a.example", Expires: 1000}
	require.NoError(t, write(func(tx *Tx) error { return tx.InsertOAuthToken(b.ctx, live) }))
	require.NoError(t, write(func(tx *Tx) error { return tx.InsertOAuthToken(b.ctx, old) }))
	old.Scopes = []string{}

	got, err := b.st.OAuthToken(b.ctx, OAuthTokenHash("live"))
	require.NoError(t, err)
	require.Equal(t, live, got)
	_, err = b.st.OAuthToken(b.ctx, OAuthTokenHash("nope"))
	require.ErrorIs(t, err, ErrNotFound)

	for _, c := range []struct {
		now      int64
		accounts []int64
		want     []OAuthToken
	}{
		{999, []int64{acc}, []OAuthToken{old, live}},
		{1000, []int64{acc}, []OAuthToken{live}}, // expired at its instant
		{1500, []int64{acc + 1}, nil},
	} {
		got, err := b.st.OAuthTokens(b.ctx, c.accounts, c.now)
		require.NoError(t, err)
		require.Equal(t, c.want, got, "now %d", c.now)
	}

	// Another account cannot delete it; its own can, once.
	require.ErrorIs(t, write(func(tx *Tx) error { return tx.DeleteOAuthToken(b.ctx, live.Hash, []int64{acc + 1}) }), ErrNotFound)
	require.NoError(t, write(func(tx *Tx) error { return tx.DeleteOAuthToken(b.ctx, live.Hash, []int64{acc}) }))
	require.ErrorIs(t, write(func(tx *Tx) error { return tx.DeleteOAuthToken(b.ctx, live.Hash, []int64{acc}) }), ErrNotFound)
	require.NoError(t, write(func(tx *Tx) error { return tx.DeleteExpiredOAuthTokens(b.ctx, 1000) }))
	_, err = b.st.OAuthToken(b.ctx, old.Hash)
	require.ErrorIs(t, err, ErrNotFound)

	// A token goes with its user.
	require.NoError(t, write(func(tx *Tx) error { return tx.InsertOAuthToken(b.ctx, live) }))
	require.NoError(t, write(func(tx *Tx) error { return tx.DeleteUser(b.ctx, user) }))
	_, err = b.st.OAuthToken(b.ctx, live.Hash)
	require.ErrorIs(t, err, ErrNotFound)
	require.ErrorIs(t, write(func(tx *Tx) error { return tx.InsertOAuthToken(b.ctx, live) }), ErrNotFound)
}

func TestOAuthClients(t *testing.T) {
	t.Parallel()
	b := setup(t)
	parent, _, _ := b.alice(t)
	var child int64
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		a, err := tx.InsertAccount(b.ctx, "acme-sub", parent)
		child = a.ID
		return err
	}))
	put := func(c OAuthClient) {
		t.Helper()
		require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.PutOAuthClient(b.ctx, c) }))
	}
	has := func(acc int64) bool {
		t.Helper()
		ok, err := b.st.HasOAuthPasswordClients(b.ctx, acc)
		require.NoError(t, err)
		return ok
	}
	put(OAuthClient{AccountID: parent, ClientID: "web", Name: "Web", GrantType: "implicit", RedirectURI: "https://x/cb"})
	require.False(t, has(child), "an implicit client asks for no client credentials")
	put(OAuthClient{AccountID: parent, ClientID: "panel", Name: "Panel", GrantType: "password", SecretSealed: []byte("s1")})
	require.True(t, has(child), "a parent's client serves its sub-accounts")

	c, err := b.st.OAuthClientFor(b.ctx, child, "panel")
	require.NoError(t, err)
	require.Equal(t, OAuthClient{AccountID: parent, ClientID: "panel", Name: "Panel", GrantType: "password", SecretSealed: []byte("s1")}, c)
	// The nearest account's client wins; re-adding replaces.
	put(OAuthClient{AccountID: child, ClientID: "panel", Name: "Own", GrantType: "password", SecretSealed: []byte("s2")})
	put(OAuthClient{AccountID: child, ClientID: "panel", Name: "Own2", GrantType: "password", SecretSealed: []byte("s3")})
	c, err = b.st.OAuthClientFor(b.ctx, child, "panel")
	require.NoError(t, err)
	require.Equal(t, "Own2", c.Name)
	require.Equal(t, []byte("s3"), c.SecretSealed)
	c, err = b.st.OAuthClientFor(b.ctx, parent, "web")
	require.NoError(t, err)
	require.Equal(t, "https://x/cb", c.RedirectURI)
	_, err = b.st.OAuthClientFor(b.ctx, parent, "nope")
	require.ErrorIs(t, err, ErrNotFound)

	all, err := b.st.OAuthClients(b.ctx, []int64{parent, child})
	require.NoError(t, err)
	require.Len(t, all, 3)
	require.Equal(t, []string{"panel", "web", "panel"}, []string{all[0].ClientID, all[1].ClientID, all[2].ClientID})
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.DeleteOAuthClient(b.ctx, parent, "panel") }))
	require.ErrorIs(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.DeleteOAuthClient(b.ctx, parent, "panel") }), ErrNotFound)
	require.True(t, has(child))
	require.False(t, has(parent))
}
