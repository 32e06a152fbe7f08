package commandstest

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
)

// OpenfireUsers is the user part of the Openfire dialects' "state"
// section: each user with status, name, email and shared groups (and for
// an active user whether a SCRAM credential is stored), then its roster.
func OpenfireUsers(t testing.TB, st *store.Store) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	users, err := st.Users(ctx, nil)
	require.NoError(t, err)
	for _, u := range users {
		groups, err := st.UserSharedGroupNames(ctx, u.ID)
		require.NoError(t, err)
		line := fmt.Sprintf("user %s@%s %s name=%q email=%q groups=%q", u.Username, u.Domain, u.Status, u.Name, u.Email, groups)
		if u.Status == store.StatusActive {
			line += fmt.Sprintf(" scram=%t", u.Cred.Iterations > 0)
		}
		out = append(out, line)
		items, _, err := st.RosterItems(ctx, u.ID)
		require.NoError(t, err)
		for _, it := range items {
			out = append(out, fmt.Sprintf("  roster %s name=%q sub=%s groups=%q visible=%t", it.Contact, it.Name, it.Subscription, it.Groups, it.Visible))
		}
	}
	return out
}
