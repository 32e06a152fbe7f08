package commands

import (
	"context"
	"strings"
)

// Reasons of the Openfire-shaped commands.
const (
	ReasonNoRosterItem     Reason = "no_roster_item"     // the roster item does not exist
	ReasonRosterItemExists Reason = "roster_item_exists" // the roster item exists already
	ReasonSharedGroup      Reason = "shared_group"       // a roster group name is a shared group's
)

// openfireDefs are the commands the Openfire User Service introduced.
var openfireDefs = []*Def{AddRosterItem, UpdateRosterItem, DeleteRosterItem, GroupList, UserGroupList}

// SplitGroups splits a comma-separated group list as Openfire's
// StringTokenizer does: empty names vanish, nothing is trimmed. Duplicates
// are dropped.
func SplitGroups(s string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, g := range strings.Split(s, ",") {
		if g != "" && !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	return out
}

func optString(v Values, name string) *string {
	if !v.Has(name) {
		return nil
	}
	s := v.String(name)
	return &s
}

var groupColumns = []string{"groupname"}

// GroupList lists a domain's shared groups.
var GroupList = &Def{
	Name:   "group_list",
	Doc:    "Lists the names of the shared groups of the domain, sorted.",
	Args:   []Arg{argDomain},
	Result: Result{Kind: ResultTable, Columns: groupColumns},
	Names:  map[Dialect]string{Openfire: "grouplist"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		names, err := c.Env.Store.SharedGroupNames(ctx, c.Args.Domain("domain").ID)
		return groupTable(names), err
	},
}

// UserGroupList lists the shared groups a user belongs to.
var UserGroupList = &Def{
	Name:   "user_group_list",
	Doc:    "Lists the names of the shared groups the user belongs to, sorted.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultTable, Columns: groupColumns},
	Names:  map[Dialect]string{Openfire: "usergrouplist", OpenfireREST: "GET users/{username}/groups"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		u, err := userIn(ctx, c.Env.Store.Reader, c.Args.Domain("domain"), c.Args.String("username"), "username")
		if err != nil {
			return nil, err
		}
		names, err := c.Env.Store.UserSharedGroupNames(ctx, u.ID)
		return groupTable(names), err
	},
}

func groupTable(names []string) Table {
	t := Table{Columns: groupColumns, Rows: make([][]any, 0, len(names))}
	for _, n := range names {
		t.Rows = append(t.Rows, []any{n})
	}
	return t
}
