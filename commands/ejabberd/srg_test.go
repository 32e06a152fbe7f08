package ejabberd_test

import (
	"fmt"

	"github.com/stretchr/testify/require"
)

// srgState lists every shared roster group for the golden state, one line
// each (none when there are no groups, so other goldens are unaffected).
func srgState(b *testBundle) []string {
	b.t.Helper()
	st := b.env.Store
	ds, err := st.Domains(b.ctx, nil)
	require.NoError(b.t, err)
	var out []string
	for _, d := range ds {
		names, err := st.SharedGroupNames(b.ctx, d.ID)
		require.NoError(b.t, err)
		for _, n := range names {
			g, err := st.SharedGroup(b.ctx, d.ID, n)
			require.NoError(b.t, err)
			members, err := st.SharedGroupMemberJIDs(b.ctx, g.ID)
			require.NoError(b.t, err)
			line := fmt.Sprintf("srg %s@%s label=%q description=%q displayed=%q show=%s members=%q", g.Name, d.FQDN,
				g.DisplayName, g.Description, g.Displayed, g.ShowInRoster, members)
			if g.AllUsers {
				line += " all_users"
			}
			out = append(out, line)
		}
	}
	return out
}
