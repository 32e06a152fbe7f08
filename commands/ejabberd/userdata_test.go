package ejabberd_test

import (
	"errors"
	"fmt"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
)

// userdataState lists a user's vCard, private storage, last activity,
// PEP nodes and offline message count, for the golden cases' state section.
func userdataState(b *testBundle, userID int64) []string {
	b.T.Helper()
	st := b.Store
	var out []string
	if v, err := st.VCard(b.Ctx, userID); err == nil {
		out = append(out, "  vcard "+string(v))
	} else {
		require.True(b.T, errors.Is(err, store.ErrNotFound), "%v", err)
	}
	nss, err := st.PrivateNamespaces(b.Ctx, userID)
	require.NoError(b.T, err)
	for _, ns := range nss {
		v, err := st.PrivateXML(b.Ctx, userID, ns)
		require.NoError(b.T, err)
		out = append(out, fmt.Sprintf("  private %s %s", ns, v))
	}
	if seen, status, err := st.LastActivity(b.Ctx, userID); err == nil {
		out = append(out, fmt.Sprintf("  last %s %q", seen.UTC().Format("2006-01-02T15:04:05Z"), status))
	} else {
		require.True(b.T, errors.Is(err, store.ErrNotFound), "%v", err)
	}
	blocked, err := st.BlockList(b.Ctx, userID)
	require.NoError(b.T, err)
	if len(blocked) > 0 {
		out = append(out, fmt.Sprintf("  blocked %q", blocked))
	}
	nodes, err := st.PubsubNodes(b.Ctx, userID)
	require.NoError(b.T, err)
	for _, n := range nodes {
		out = append(out, fmt.Sprintf("  pep %s max_items=%d %s", n.Name, n.MaxItems, n.Config))
		items, err := st.PubsubItems(b.Ctx, n.ID, 0, nil)
		require.NoError(b.T, err)
		for _, it := range items {
			out = append(out, fmt.Sprintf("    item %s %s", it.ID, it.Payload))
		}
	}
	n, err := st.OfflineCount(b.Ctx, userID)
	require.NoError(b.T, err)
	if n > 0 {
		out = append(out, fmt.Sprintf("  offline %d", n))
	}
	return out
}
