package commands

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGrants(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		grants Grants
		cmd    string
		want   bool
	}{
		0: {Grants{"*"}, "jabber-add_user", true},
		1: {Grants{"jabber-*"}, "jabber-add_user", true},
		2: {Grants{"jabber-*"}, "jabberx-add_user", false},
		3: {Grants{"dns-*"}, "jabber-add_user", false},
		4: {Grants{"jabber-list_users"}, "JABBER-LIST_USERS", true},
		5: {Grants{"jabber-list_users"}, "jabber-list_users_no_pw", false},
		6: {nil, "jabber-list_users", false},
	} {
		require.Equal(t, tc.want, tc.grants.Allows(tc.cmd), "row %d", i)
	}
	for i, tc := range []struct {
		p    string
		want bool
	}{{"*", true}, {"jabber-*", true}, {"jabber-add_user", true}, {"jabber", false}, {"-*", false}, {"ja*-x", false}, {"jabber-a*b", false}} {
		require.Equal(t, tc.want, ValidGrant(tc.p), "row %d", i)
	}
}
