package ejabberd_test

import (
	"fmt"

	"github.com/stretchr/testify/require"
)

// srgState lists every shared roster group for the golden state, one line
// each (none when there are no groups, so other goldens are unaffected).
func srgState(b *testBundle) []string {
	b.T.Helper()
	st := b.Store
	ds, err := st.Domains(b.Ctx, nil)
	require.NoError(b.T, err)
	var out []string
	for _, d := range ds {
		names, err := st.SharedGroupNames(b.Ctx, d.ID)
		require.NoError(b.T, err)
		for _, n := range names {
			g, err := st.SharedGroup(b.Ctx, d.ID, n)
			require.NoError(b.T, err)
			members, err := st.SharedGroupMemberJIDs(b.Ctx, g.ID)
			require.NoError(b.T, err)
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
