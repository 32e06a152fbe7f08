package ejabberd_test

import (
	"context"
	"crypto/rand"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/ejabberd"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/sealbox"
)

// BootstrapAdmin works before main has a worker, is idempotent, and its
// credentials call the API.
func TestBootstrapAdmin(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "x.db"), store.Options{Synchronous: "NORMAL"})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	box, err := sealbox.New(key)
	require.NoError(t, err)
	env := &commands.Env{Store: st, Box: box} // no Worker yet
	acc, err := commands.CreateAccount(ctx, env, "acme", 0, false)
	require.NoError(t, err)
	_, err = commands.CreateDomain(ctx, env, "a.example", acc.ID)
	require.NoError(t, err)
	other, err := commands.CreateAccount(ctx, env, "other", 0, false)
	require.NoError(t, err)

	jid, pw, err := ejabberd.BootstrapAdmin(ctx, env, acc.ID, "A.example")
	require.NoError(t, err)
	require.Equal(t, "admin@a.example", jid)
	require.Len(t, pw, 24)
	u, err := st.UserByJID(ctx, "a.example", "admin")
	require.NoError(t, err)
	require.Equal(t, store.StatusActive, u.Status)
	require.True(t, u.Cred.Verify(pw))
	p, err := st.EjabberdPermission(ctx, u.ID)
	require.NoError(t, err)
	require.Equal(t, []string{"*"}, p.What)

	jid2, pw2, err := ejabberd.BootstrapAdmin(ctx, env, acc.ID, "a.example")
	require.NoError(t, err)
	require.Equal(t, jid, jid2)
	require.Equal(t, pw, pw2)
	users, err := st.Users(ctx, nil)
	require.NoError(t, err)
	require.Len(t, users, 1)

	_, _, err = ejabberd.BootstrapAdmin(ctx, env, other.ID, "a.example")
	require.Error(t, err, "a domain of another account")
	_, _, err = ejabberd.BootstrapAdmin(ctx, env, acc.ID, "nowhere.example")
	require.Error(t, err)
}
