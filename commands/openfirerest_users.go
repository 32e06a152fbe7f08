package commands

import (
	"context"
	"strings"

	"github.com/xmppgate/xmppgate/store"
)

// openfireRESTDefs are the commands the Openfire REST API (User Service 2.x,
// restAPI plugin) added to those it shares with the legacy query API.
var openfireRESTDefs = []*Def{OpenfireUserList, OpenfireUserGet}

// openfireUserColumns is the REST user entity's shape; the dialect renders
// a table by its columns.
var openfireUserColumns = []string{"username", "name", "email"}

// OpenfireUserList lists the users of the caller's domain.
var OpenfireUserList = &Def{
	Name: "openfire_user_list",
	Doc: "Lists the users of the domain with display name and email, by username; users being deleted are left out. " +
		"search keeps the usernames containing it (case-sensitive). User properties are not kept, so a propertyKey " +
		"filter matches nobody.",
	Args: []Arg{argDomain,
		{Name: "search", Type: String, Optional: true, Doc: "A substring of the usernames to list."},
		{Name: "propertyKey", Type: String, Optional: true, Doc: "A user property name; no user has properties."},
		{Name: "propertyValue", Type: String, Optional: true, Doc: "A user property value (with propertyKey)."}},
	Result: Result{Kind: ResultTable, Columns: openfireUserColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET users"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		t := Table{Columns: openfireUserColumns, Rows: [][]any{}}
		if c.Args.Has("propertyKey") {
			return t, nil
		}
		users, err := c.Env.Store.DomainUsers(ctx, c.Args.Domain("domain").ID)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			if u.Status != store.StatusPendingDelete && strings.Contains(u.Username, c.Args.String("search")) {
				t.Rows = append(t.Rows, []any{u.Username, u.Name, u.Email})
			}
		}
		return t, nil
	},
}

// liveUser loads a user that exists and is not being deleted.
func liveUser(ctx context.Context, r store.Reader, d store.Domain, name string) (store.User, error) {
	u, err := userIn(ctx, r, d, name, "username")
	if err == nil && u.Status == store.StatusPendingDelete {
		return u, Errorf(NotFound, ReasonNoUser, "username", "user %s@%s does not exist", name, d.FQDN)
	}
	return u, err
}

// OpenfireUserGet shows one user.
var OpenfireUserGet = &Def{
	Name:   "openfire_user_get",
	Doc:    "Shows a user's name, display name and email (never the password).",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultTable, Columns: openfireUserColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET users/{username}"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		u, err := liveUser(ctx, c.Env.Store.Reader, c.Args.Domain("domain"), c.Args.String("username"))
		if err != nil {
			return nil, err
		}
		return Table{Columns: openfireUserColumns, Rows: [][]any{{u.Username, u.Name, u.Email}}}, nil
	},
}
