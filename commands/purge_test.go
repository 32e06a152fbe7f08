package commands

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDeletedUsersText compares delete_old_users' answer with what
// io_lib:format("Deleted ~p users: ~p", ...) printed on Erlang/OTP for the
// same users (run with erl while writing this test).
func TestDeletedUsersText(t *testing.T) {
	t.Parallel()
	a := func(n int) string { return strings.Repeat("a", n) }
	for i, tc := range []struct {
		users [][2]string
		want  string
	}{
		0: {nil, "Deleted 0 users: []"},
		1: {[][2]string{{"oldman", "myserver.com"}}, `Deleted 1 users: [{<<"oldman">>,<<"myserver.com">>}]`},
		2: {[][2]string{{"oldman", "myserver.com"}, {"test", "myserver.com"}, {"third", "myserver.com"}},
			"Deleted 3 users: [{<<\"oldman\">>,<<\"myserver.com\">>},\n" +
				"                  {<<\"test\">>,<<\"myserver.com\">>},\n" +
				"                  {<<\"third\">>,<<\"myserver.com\">>}]"},
		3: {[][2]string{{"caf\u00e9", "h.example"}, {"z\u015b", "h"}, {`a"b\c`, "h"}},
			"Deleted 3 users: [{<<\"caf\u00e9\">>,<<\"h.example\">>},\n" +
				"                  {<<122,197,155>>,<<\"h\">>},\n" +
				"                  {<<\"a\\\"b\\\\c\">>,<<\"h\">>}]"},
		// The flat list fits up to column 78.
		4: {[][2]string{{a(35), "h.example"}}, `Deleted 1 users: [{<<"` + a(35) + `">>,<<"h.example">>}]`},
		5: {[][2]string{{a(36), "h.example"}}, "Deleted 1 users: [{<<\"" + a(36) + "\">>,\n                   <<\"h.example\">>}]"},
		// A tuple that is not the last may end at column 78; the last
		// one counts the closing bracket.
		6: {[][2]string{{a(36), "h.example"}, {"b", "h"}},
			"Deleted 2 users: [{<<\"" + a(36) + "\">>,<<\"h.example\">>},\n                  {<<\"b\">>,<<\"h\">>}]"},
		7: {[][2]string{{a(37), "h.example"}, {"b", "h"}},
			"Deleted 2 users: [{<<\"" + a(37) + "\">>,\n                   <<\"h.example\">>},\n                  {<<\"b\">>,<<\"h\">>}]"},
		8: {[][2]string{{"b", "h"}, {a(35), "h.example"}},
			"Deleted 2 users: [{<<\"b\">>,<<\"h\">>},\n                  {<<\"" + a(35) + "\">>,<<\"h.example\">>}]"},
		9: {[][2]string{{"b", "h"}, {a(36), "h.example"}},
			"Deleted 2 users: [{<<\"b\">>,<<\"h\">>},\n                  {<<\"" + a(36) + "\">>,\n                   <<\"h.example\">>}]"},
	} {
		require.Equal(t, tc.want, deletedUsers(tc.users), "row %d", i)
	}
}
