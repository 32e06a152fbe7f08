package commands_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/commandstest"
	"github.com/xmppgate/xmppgate/store"
)

// BootstrapAdmin works before main has a worker, is idempotent, and its
// credentials call the API.
func TestBootstrapAdmin(t *testing.T) {
	t.Parallel()
	f := commandstest.New(t, commandstest.Options{NoWorker: true}) // no Worker yet
	ctx, st, env := f.Ctx, f.Store, f.Env
	acc := f.Account("acme", "", false, "a.example")
	other := f.Account("other", "", false)

	jid, pw, err := commands.BootstrapAdmin(ctx, env, f.Reg, acc, "A.example")
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

	jid2, pw2, err := commands.BootstrapAdmin(ctx, env, f.Reg, acc, "a.example")
	require.NoError(t, err)
	require.Equal(t, jid, jid2)
	require.Equal(t, pw, pw2)
	users, err := st.Users(ctx, nil)
	require.NoError(t, err)
	require.Len(t, users, 1)

	_, _, err = commands.BootstrapAdmin(ctx, env, f.Reg, other, "a.example")
	require.Error(t, err, "a domain of another account")
	_, _, err = commands.BootstrapAdmin(ctx, env, f.Reg, acc, "nowhere.example")
	require.Error(t, err)
}
