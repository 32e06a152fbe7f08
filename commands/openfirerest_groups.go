package commands

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// Reasons of the group commands. "no_group" is the one reason for any
// missing group, whichever command reports it.
const (
	ReasonGroupExists Reason = "group_exists" // a group of that name exists
)

var openfireGroupColumns = []string{"name", "description", "admins", "members", "shared"}

var (
	argGroup       = Arg{Name: "group", Type: String, Names: map[Dialect]string{OpenfireREST: "name"}, Doc: "The group's name."}
	argDescription = Arg{Name: "description", Type: String, Optional: true, Doc: "The group's description."}
	argShared      = Arg{Name: "shared", Type: String, Optional: true,
		Doc: "true: shown in its members' rosters (created so: onlyGroup); false: shown in nobody's. Default false on create."}
	argAdmins = Arg{Name: "admins", Type: List, Optional: true,
		Doc: "Usernames (or JIDs of the domain) of the group's admins; given, it replaces them."}
	argMembers = Arg{Name: "members", Type: List, Optional: true,
		Doc: "Usernames (or JIDs of the domain) of the group's members; given, it replaces them."}
)

func groupRow(g store.OpenfireGroup) []any {
	return []any{g.Name, g.Description, g.Admins, g.Members, g.Shared()}
}

// OpenfireGroupList lists the domain's groups.
var OpenfireGroupList = &Def{
	Name:   "openfire_group_list",
	Doc:    "Lists the groups of the domain by name, with description, admins, members and whether they are shared.",
	Args:   []Arg{argDomain},
	Result: Result{Kind: ResultTable, Columns: openfireGroupColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET groups"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		gs, err := c.Env.Store.OpenfireGroups(ctx, c.Args.Domain("domain").ID)
		if err != nil {
			return nil, err
		}
		t := Table{Columns: openfireGroupColumns, Rows: [][]any{}}
		for _, g := range gs {
			t.Rows = append(t.Rows, groupRow(g))
		}
		return t, nil
	},
}

// OpenfireGroupGet shows one group.
var OpenfireGroupGet = &Def{
	Name:   "openfire_group_get",
	Doc:    "Shows a group: name, description, admins, members, shared.",
	Args:   []Arg{argDomain, argGroup},
	Result: Result{Kind: ResultTable, Columns: openfireGroupColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET groups/{name}"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		g, err := groupIn(ctx, c.Env.Store.Reader, c.Args.Domain("domain"), c.Args.String("group"), "group")
		if err != nil {
			return nil, err
		}
		return Table{Columns: openfireGroupColumns, Rows: [][]any{groupRow(g)}}, nil
	},
}

// groupChange is the argument record of the group changes; nil fields are
// left unchanged.
type groupChange struct {
	Domain      string    `json:"domain"`
	DomainID    int64     `json:"domain_id"`
	Name        string    `json:"name"`
	Description *string   `json:"description,omitempty"`
	Shared      *bool     `json:"shared,omitempty"`
	Admins      *[]string `json:"admins,omitempty"`
	Members     *[]string `json:"members,omitempty"`
}

// groupCall reads a create or update call into its change record, checking
// the flag and that every admin and member is a user of the domain.
func groupCall(ctx context.Context, c *Call, r store.Reader) (groupChange, error) {
	d := c.Args.Domain("domain")
	gc := groupChange{Domain: d.FQDN, DomainID: d.ID, Name: c.Args.String("group"), Description: optString(c.Args, "description")}
	if strings.TrimSpace(gc.Name) == "" {
		return gc, Errorf(Invalid, ReasonMissing, "group", "empty group name")
	}
	if len(gc.Name) > MaxGroupName {
		return gc, Errorf(Invalid, ReasonMalformed, "group", "a group name is longer than %d bytes", MaxGroupName)
	}
	if c.Args.Has("shared") {
		var v bool
		switch strings.ToLower(strings.TrimSpace(c.Args.String("shared"))) {
		case "true":
			v = true
		case "false":
		default:
			return gc, Errorf(Invalid, ReasonMalformed, "shared", "not true or false")
		}
		gc.Shared = &v
	}
	for _, role := range []struct {
		arg string
		out **[]string
	}{{"admins", &gc.Admins}, {"members", &gc.Members}} {
		if !c.Args.Has(role.arg) {
			continue
		}
		names := []string{}
		for _, m := range c.Args.List(role.arg) {
			name, err := memberName(m, d)
			if err != nil {
				return gc, err
			}
			if _, err := liveUser(ctx, r, d, name); err != nil {
				e := AsError(err)
				e.Arg = role.arg
				return gc, e
			}
			names = append(names, name)
		}
		*role.out = &names
	}
	return gc, nil
}

// memberName reads a member as Openfire does: a username, or a JID whose
// domain must be the group's (only local users can be members here).
func memberName(s string, d store.Domain) (string, error) {
	local := s
	if strings.Contains(s, "@") {
		bare, err := ParseBareJID(s)
		l, dom, _ := strings.Cut(bare, "@")
		if err != nil || dom != d.FQDN {
			return "", Errorf(NotFound, ReasonNoUser, "members", "%q is not a user of %s", s, d.FQDN)
		}
		local = l
	}
	name, err := NormalizeLocalpart(local)
	if err != nil {
		return "", Errorf(Invalid, ReasonMalformed, "members", "%q: %v", s, err)
	}
	return name, nil
}

func groupArgs(w *queue.Work) (groupChange, error) {
	var c groupChange
	err := json.Unmarshal(w.Args, &c)
	return c, err
}

// changedGroup is a queued change's arguments and the group it names,
// looked up again when the change is applied (it may be gone by then).
func changedGroup(ctx context.Context, tx *store.Tx, w *queue.Work) (groupChange, store.OpenfireGroup, error) {
	gc, err := groupArgs(w)
	if err != nil {
		return gc, store.OpenfireGroup{}, err
	}
	g, err := groupIn(ctx, tx.Reader, store.Domain{ID: gc.DomainID, FQDN: gc.Domain}, gc.Name, "group")
	return gc, g, err
}

// setRoles writes a change's admins and members (those given).
func setRoles(ctx context.Context, tx *store.Tx, gc groupChange, groupID int64) error {
	for _, role := range []struct {
		admin bool
		names *[]string
	}{{false, gc.Members}, {true, gc.Admins}} {
		if role.names == nil {
			continue
		}
		ids := make([]int64, 0, len(*role.names))
		for _, n := range *role.names {
			u, err := tx.UserByJID(ctx, gc.Domain, n)
			if errors.Is(err, store.ErrNotFound) {
				return Errorf(NotFound, ReasonNoUser, "members", "user %s@%s does not exist", n, gc.Domain)
			}
			if err != nil {
				return err
			}
			ids = append(ids, u.ID)
		}
		if err := tx.SetOpenfireGroupRole(ctx, groupID, role.admin, ids); err != nil {
			return err
		}
	}
	return nil
}

func groupExists(gc groupChange) error {
	return Errorf(Conflict, ReasonGroupExists, "group", "group %q exists in %s", gc.Name, gc.Domain)
}

// OpenfireGroupCreate creates a group.
var OpenfireGroupCreate = &Def{
	Name:    "openfire_group_create",
	Doc:     "Creates a group with a description, admins and members; not shared unless shared is true.",
	Args:    []Arg{argDomain, argGroup, argDescription, argShared, argAdmins, argMembers},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{OpenfireREST: "POST groups"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		return c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
			gc, err := groupCall(ctx, c, tx.Reader)
			if err != nil {
				return store.Change{}, err
			}
			if _, err := tx.OpenfireGroup(ctx, gc.DomainID, gc.Name); err == nil {
				return store.Change{}, groupExists(gc)
			} else if !errors.Is(err, store.ErrNotFound) {
				return store.Change{}, err
			}
			args, err := json.Marshal(gc)
			return store.Change{Args: args}, err
		})
	},
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
		gc, err := groupArgs(w)
		if err != nil {
			return err
		}
		g := store.OpenfireGroup{DomainID: gc.DomainID, Name: gc.Name, Show: store.ShowNobody}
		if gc.Description != nil {
			g.Description = *gc.Description
		}
		if gc.Shared != nil && *gc.Shared {
			g.Show = store.ShowOnlyGroup
		}
		// A shared group changes members' rosters: push what changed (ejabberd_srg.go).
		return sharedDiff(ctx, tx, w, gc.DomainID, func() error {
			id, err := tx.CreateOpenfireGroup(ctx, g)
			if errors.Is(err, store.ErrDuplicate) {
				return groupExists(gc)
			}
			if err != nil {
				return err
			}
			return setRoles(ctx, tx, gc, id)
		})
	},
}

// OpenfireGroupUpdate changes a group.
var OpenfireGroupUpdate = &Def{
	Name: "openfire_group_update",
	Doc: "Changes a group's description, shared flag, admins and members; only the arguments given change " +
		"(a group shown to everybody stays so when shared is true). The name cannot change.",
	Args:    []Arg{argDomain, argGroup, argDescription, argShared, argAdmins, argMembers},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{OpenfireREST: "PUT groups/{name}"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		return c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
			gc, err := groupCall(ctx, c, tx.Reader)
			if err != nil {
				return store.Change{}, err
			}
			if _, err := groupIn(ctx, tx.Reader, c.Args.Domain("domain"), gc.Name, "group"); err != nil {
				return store.Change{}, err
			}
			args, err := json.Marshal(gc)
			return store.Change{Args: args}, err
		})
	},
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
		gc, g, err := changedGroup(ctx, tx, w)
		if err != nil {
			return err
		}
		var show *string
		if gc.Shared != nil {
			s := g.Show
			switch {
			case !*gc.Shared:
				s = store.ShowNobody
			case g.Show == store.ShowNobody:
				s = store.ShowOnlyGroup
			}
			show = &s
		}
		return sharedDiff(ctx, tx, w, gc.DomainID, func() error {
			if err := tx.UpdateOpenfireGroup(ctx, g.ID, gc.Description, show); err != nil {
				return err
			}
			return setRoles(ctx, tx, gc, g.ID)
		})
	},
}

// OpenfireGroupDelete removes a group.
var OpenfireGroupDelete = &Def{
	Name:    "openfire_group_delete",
	Doc:     "Removes a group and its memberships (the users stay).",
	Args:    []Arg{argDomain, argGroup},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{OpenfireREST: "DELETE groups/{name}"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		d := c.Args.Domain("domain")
		return c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
			if _, err := groupIn(ctx, tx.Reader, d, c.Args.String("group"), "group"); err != nil {
				return store.Change{}, err
			}
			args, err := json.Marshal(groupChange{Domain: d.FQDN, DomainID: d.ID, Name: c.Args.String("group")})
			return store.Change{Args: args}, err
		})
	},
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
		gc, g, err := changedGroup(ctx, tx, w)
		if err != nil {
			return err
		}
		return sharedDiff(ctx, tx, w, gc.DomainID, func() error { return tx.DeleteOpenfireGroup(ctx, g.ID) })
	},
}
