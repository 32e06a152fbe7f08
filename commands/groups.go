package commands

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// The shared roster groups of every dialect: Openfire's groups (legacy and
// REST) and ejabberd's srg_* commands (mod_admin_extra over
// mod_shared_roster, 23.01 behaviour) are one table, so a group made through
// one dialect is seen by the other. Who sees whom is store.SharedContacts,
// and xmppcore lays the shared contacts over members' rosters
// (docs/shared-groups.md). Every change goes through the queue; its Apply
// pushes the roster items it changed to the online users concerned
// (sharedDiff, membershipDiff).

// Reasons of the group commands. "no_group" is the one reason for any
// missing group, whichever command reports it.
const (
	ReasonNoGroup     Reason = "no_group"     // the group does not exist
	ReasonGroupExists Reason = "group_exists" // a group of that name exists
)

// groupDefs is the shared group family: Openfire's legacy and REST forms,
// then ejabberd's.
var groupDefs = []*Def{
	GroupList, UserGroupList,
	JoinGroups, LeaveGroups,
	OpenfireGroupList, OpenfireGroupGet, OpenfireGroupCreate, OpenfireGroupUpdate, OpenfireGroupDelete,
	SrgCreate, SrgDelete, SrgList, SrgGetInfo, SrgGetMembers, SrgUserAdd, SrgUserDel,
}

// MaxGroupName bounds a group name, in bytes (as xmppcore bounds roster
// group names).
const MaxGroupName = 1024

// groupIn loads a group of d, mapping absence to ReasonNoGroup.
func groupIn(ctx context.Context, r store.Reader, d store.Domain, name, arg string) (store.OpenfireGroup, error) {
	g, err := r.OpenfireGroup(ctx, d.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return g, Errorf(NotFound, ReasonNoGroup, arg, "group %q does not exist in %s", name, d.FQDN)
	}
	return g, err
}

// The Openfire legacy forms (User Service grouplist, usergrouplist).

var groupColumns = []string{"groupname"}

// GroupList lists a domain's shared groups.
var GroupList = &Def{
	Name:   "group_list",
	Doc:    "Lists the names of the shared groups of the domain, sorted.",
	Args:   []Arg{argDomain},
	Result: Result{Kind: ResultTable, Columns: groupColumns},
	Names:  map[Dialect]string{Openfire: "grouplist"},
	Handle: groupList,
}

// UserGroupList lists the shared groups a user belongs to.
var UserGroupList = &Def{
	Name:   "user_group_list",
	Doc:    "Lists the names of the shared groups the user belongs to, sorted.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultTable, Columns: groupColumns},
	Names:  map[Dialect]string{Openfire: "usergrouplist", OpenfireREST: "GET users/{username}/groups"},
	Handle: userGroupList,
}

func groupList(ctx context.Context, c *Call) (any, error) {
	names, err := c.Env.Store.SharedGroupNames(ctx, c.Args.Domain("domain").ID)
	return groupTable(names), err
}

func userGroupList(ctx context.Context, c *Call) (any, error) {
	u, err := userIn(ctx, c.Env.Store.Reader, c.Args.Domain("domain"), c.Args.String("username"), "username")
	if err != nil {
		return nil, err
	}
	names, err := c.Env.Store.UserSharedGroupNames(ctx, u.ID)
	return groupTable(names), err
}

func groupTable(names []string) Table {
	t := Table{Columns: groupColumns, Rows: make([][]any, 0, len(names))}
	for _, n := range names {
		t.Rows = append(t.Rows, []any{n})
	}
	return t
}

// The Openfire REST forms: a user's memberships, then the groups.

// membershipChange is the argument record of join_groups and leave_groups.
type membershipChange struct {
	Username string   `json:"username"`
	Domain   string   `json:"domain"`
	DomainID int64    `json:"domain_id"`
	Groups   []string `json:"groups"`
}

var argGroupNames = Arg{Name: "groups", Type: List, Names: map[Dialect]string{OpenfireREST: "groupname"},
	Doc: "Group names (a list)."}

// JoinGroups adds a user to groups, creating missing ones.
var JoinGroups = &Def{
	Name:    "join_groups",
	Doc:     "Adds a user to groups of its domain; missing groups are created, not shared (shown in nobody's roster).",
	Args:    []Arg{argUsername, argDomain, argGroupNames},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{OpenfireREST: "POST users/{username}/groups[/{groupname}]"},
	Handle:  joinGroups,
	Apply:   applyJoinGroups,
}

// LeaveGroups removes a user from groups.
var LeaveGroups = &Def{
	Name:    "leave_groups",
	Doc:     "Removes a user from groups of its domain; every group must exist (a group the user is not in is no error).",
	Args:    []Arg{argUsername, argDomain, argGroupNames},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{OpenfireREST: "DELETE users/{username}/groups[/{groupname}]"},
	Handle:  leaveGroups,
	Apply:   applyLeaveGroups,
}

func joinGroups(ctx context.Context, c *Call) (any, error) {
	return queueMembership(ctx, c, nil)
}

func applyJoinGroups(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	return applyMembership(ctx, tx, w, func(c membershipChange) error {
		return tx.JoinSharedGroups(ctx, c.DomainID, w.UserID, c.Groups, store.ShowNobody, false)
	})
}

func leaveGroups(ctx context.Context, c *Call) (any, error) {
	return queueMembership(ctx, c, groupsExist)
}

func applyLeaveGroups(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	return applyMembership(ctx, tx, w, func(c membershipChange) error {
		return tx.LeaveOpenfireGroups(ctx, c.DomainID, w.UserID, c.Groups)
	})
}

// groupsExist is leave_groups' check: every named group exists.
func groupsExist(ctx context.Context, tx *store.Tx, d store.Domain, names []string) error {
	for _, n := range names {
		if _, err := groupIn(ctx, tx.Reader, d, n, "groups"); err != nil {
			return err
		}
	}
	return nil
}

// groupNames checks a list of group names: at least one, none longer than
// MaxGroupName; empty names are dropped, duplicates kept once.
func groupNames(list []string) ([]string, error) {
	out := []string{}
	seen := map[string]bool{}
	for _, n := range list {
		if len(n) > MaxGroupName {
			return nil, Errorf(Invalid, ReasonMalformed, "groups", "a group name is longer than %d bytes", MaxGroupName)
		}
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, Errorf(Invalid, ReasonMissing, "groups", "no group named")
	}
	return out, nil
}

// queueMembership queues a change of a user's memberships; check (if not
// nil) validates the named groups in the queuing transaction.
func queueMembership(ctx context.Context, c *Call, check func(ctx context.Context, tx *store.Tx, d store.Domain, names []string) error) (any, error) {
	d, username := c.Args.Domain("domain"), c.Args.String("username")
	names, err := groupNames(c.Args.List("groups"))
	if err != nil {
		return nil, err
	}
	return c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
		u, err := usableUser(ctx, tx, d, username)
		if err != nil {
			return store.Change{}, err
		}
		if check != nil {
			if err := check(ctx, tx, d, names); err != nil {
				return store.Change{}, err
			}
		}
		return changeOf(u.ID, membershipChange{Username: username, Domain: d.FQDN, DomainID: d.ID, Groups: names})
	})
}

// applyMembership applies a membership change made by change, pushing what
// it changed: members see each other.
func applyMembership(ctx context.Context, tx *store.Tx, w *queue.Work, change func(c membershipChange) error) error {
	var c membershipChange
	if err := json.Unmarshal(w.Args, &c); err != nil {
		return err
	}
	if err := requireUser(ctx, tx, w.UserID, c.Username, c.Domain); err != nil {
		return err
	}
	return membershipDiff(ctx, tx, w, w.UserID, func() error { return change(c) })
}

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

// OpenfireGroupList lists the domain's groups.
var OpenfireGroupList = &Def{
	Name:   "openfire_group_list",
	Doc:    "Lists the groups of the domain by name, with description, admins, members and whether they are shared.",
	Args:   []Arg{argDomain},
	Result: Result{Kind: ResultTable, Columns: openfireGroupColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET groups"},
	Handle: openfireGroupList,
}

// OpenfireGroupGet shows one group.
var OpenfireGroupGet = &Def{
	Name:   "openfire_group_get",
	Doc:    "Shows a group: name, description, admins, members, shared.",
	Args:   []Arg{argDomain, argGroup},
	Result: Result{Kind: ResultTable, Columns: openfireGroupColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET groups/{name}"},
	Handle: openfireGroupGet,
}

// OpenfireGroupCreate creates a group.
var OpenfireGroupCreate = &Def{
	Name:    "openfire_group_create",
	Doc:     "Creates a group with a description, admins and members; not shared unless shared is true.",
	Args:    []Arg{argDomain, argGroup, argDescription, argShared, argAdmins, argMembers},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{OpenfireREST: "POST groups"},
	Handle:  openfireGroupCreate,
	Apply:   applyOpenfireGroupCreate,
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
	Handle:  openfireGroupUpdate,
	Apply:   applyOpenfireGroupUpdate,
}

// OpenfireGroupDelete removes a group.
var OpenfireGroupDelete = &Def{
	Name:    "openfire_group_delete",
	Doc:     "Removes a group and its memberships (the users stay).",
	Args:    []Arg{argDomain, argGroup},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{OpenfireREST: "DELETE groups/{name}"},
	Handle:  openfireGroupDelete,
	Apply:   applyOpenfireGroupDelete,
}

func groupRow(g store.OpenfireGroup) []any {
	return []any{g.Name, g.Description, g.Admins, g.Members, g.Shared()}
}

func openfireGroupList(ctx context.Context, c *Call) (any, error) {
	gs, err := c.Env.Store.OpenfireGroups(ctx, c.Args.Domain("domain").ID)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: openfireGroupColumns, Rows: [][]any{}}
	for _, g := range gs {
		t.Rows = append(t.Rows, groupRow(g))
	}
	return t, nil
}

func openfireGroupGet(ctx context.Context, c *Call) (any, error) {
	g, err := groupIn(ctx, c.Env.Store.Reader, c.Args.Domain("domain"), c.Args.String("group"), "group")
	if err != nil {
		return nil, err
	}
	return Table{Columns: openfireGroupColumns, Rows: [][]any{groupRow(g)}}, nil
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
	// Show, if set, is the sharedRoster.showInRoster a create gives the
	// group (import_openfire); Shared says it otherwise.
	Show string `json:"show,omitempty"`
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
				return noUser("members", n, gc.Domain)
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

func openfireGroupCreate(ctx context.Context, c *Call) (any, error) {
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
		return changeOf(0, gc)
	})
}

func applyOpenfireGroupCreate(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
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
	if gc.Show != "" {
		g.Show = gc.Show
	}
	// A shared group changes members' rosters: push what changed.
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
}

func openfireGroupUpdate(ctx context.Context, c *Call) (any, error) {
	return c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
		gc, err := groupCall(ctx, c, tx.Reader)
		if err != nil {
			return store.Change{}, err
		}
		if _, err := groupIn(ctx, tx.Reader, c.Args.Domain("domain"), gc.Name, "group"); err != nil {
			return store.Change{}, err
		}
		return changeOf(0, gc)
	})
}

func applyOpenfireGroupUpdate(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
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
}

func openfireGroupDelete(ctx context.Context, c *Call) (any, error) {
	d := c.Args.Domain("domain")
	return c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
		if _, err := groupIn(ctx, tx.Reader, d, c.Args.String("group"), "group"); err != nil {
			return store.Change{}, err
		}
		return changeOf(0, groupChange{Domain: d.FQDN, DomainID: d.ID, Name: c.Args.String("group")})
	})
}

func applyOpenfireGroupDelete(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	gc, g, err := changedGroup(ctx, tx, w)
	if err != nil {
		return err
	}
	return sharedDiff(ctx, tx, w, gc.DomainID, func() error { return tx.DeleteOpenfireGroup(ctx, g.ID) })
}

// The ejabberd forms (srg_*).

// srgAllUsers is ejabberd's pseudo-member meaning every user of the host;
// srgOnline (every online user) is refused.
const (
	srgAllUsers = "@all@"
	srgOnline   = "@online@"
)

var (
	srgGroup = Arg{Name: "group", Type: String, Doc: "The group's identifier (its name)."}
	srgHost  = Arg{Name: "domain", Type: Domain, Names: map[Dialect]string{Ejabberd: "host"},
		Doc: "The group's domain, one of the caller's account."}
	srgUser = Arg{Name: "username", Type: String, Names: map[Dialect]string{Ejabberd: "user"},
		Doc: "The member's localpart, or @all@ for every user of the group's domain."}
	srgUserHost = Arg{Name: "domain", Type: Domain, Names: map[Dialect]string{Ejabberd: "host"},
		Doc: "The member's domain, one of the caller's account."}
	srgGroupHost = Arg{Name: "group_domain", Type: Domain, Names: map[Dialect]string{Ejabberd: "grouphost"},
		Doc: "The group's domain, one of the caller's account."}
)

// SrgCreate is ejabberd's srg_create.
var SrgCreate = &Def{
	Name: "srg_create",
	Doc: "Creates a shared roster group, or replaces the options of an existing one (its members stay): label is the " +
		"roster group name members see (alias name), display the groups whose members this group's members see (API " +
		"v0: names separated by the two characters \\n; v1 and later: a list). Displayed groups that do not exist yet " +
		"are kept and take effect once created. Replacing a group resets its @all@ member and its Openfire visibility. " +
		"label, description and display may be absent (empty). Online members get roster pushes for the contacts " +
		"that appear or go.",
	Args: []Arg{srgGroup, srgHost,
		{Name: "label", Type: String, Optional: true, Doc: "The roster group name members see (ejabberd alias: name)."},
		{Name: "description", Type: String, Optional: true, Doc: "The group's description."},
		{Name: "display", Type: List, Optional: true, Doc: "The groups whose members this group's members see."}},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "srg_create"},
	Handle:  srgCreate,
	Apply:   applySrgCreate,
}

// SrgDelete is ejabberd's srg_delete.
var SrgDelete = &Def{
	Name: "srg_delete",
	Doc: "Deletes a shared roster group and its memberships; members lose the contacts it gave them (roster pushes " +
		"to those online). Answers 0 also for a group that does not exist (nothing is queued).",
	Args:    []Arg{srgGroup, srgHost},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "srg_delete"},
	Handle:  srgDelete,
	Apply:   applySrgDelete,
}

// SrgList is ejabberd's srg_list.
var SrgList = &Def{
	Name:   "srg_list",
	Doc:    "Lists the names of a domain's shared roster groups (also those made through Openfire), sorted.",
	Args:   []Arg{argDomain},
	Result: Result{Kind: ResultList, Name: "groups"},
	Names:  map[Dialect]string{Ejabberd: "srg_list"},
	Handle: srgList,
}

var srgInfoColumns = []string{"key", "value"}

// SrgGetInfo is ejabberd's srg_get_info.
var SrgGetInfo = &Def{
	Name: "srg_get_info",
	Doc: "Lists a group's options as key/value pairs, in ejabberd's order: label, displayed_groups (names joined by a " +
		"newline), description, and all_users \"true\" when @all@ is a member. displayed_groups also names the groups " +
		"an Openfire visibility shows (onlyGroup: the group itself and its group list's groups see it). A group that " +
		"does not exist has no options (an empty list).",
	Args:   []Arg{srgGroup, srgHost},
	Result: Result{Kind: ResultTable, Name: "informations", Columns: srgInfoColumns},
	Names:  map[Dialect]string{Ejabberd: "srg_get_info"},
	Handle: srgGetInfo,
}

// SrgGetMembers is ejabberd's srg_get_members.
var SrgGetMembers = &Def{
	Name: "srg_get_members",
	Doc: "Lists a group's explicit members as bare JIDs, sorted (@all@ is not listed: srg_get_info shows it). A group " +
		"that does not exist has none.",
	Args:   []Arg{srgGroup, srgHost},
	Result: Result{Kind: ResultList, Name: "members"},
	Names:  map[Dialect]string{Ejabberd: "srg_get_members"},
	Handle: srgGetMembers,
}

// SrgUserAdd is ejabberd's srg_user_add.
var SrgUserAdd = &Def{
	Name: "srg_user_add",
	Doc: "Makes user@host a member of group on grouphost (both domains of the caller's account); @all@ as user makes " +
		"every user of grouphost a member. The members concerned who are online get roster pushes. Answers 1, " +
		"storing nothing, if the group or the user does not exist (ejabberd would store a membership of a group or " +
		"user that does not exist). @online@ is refused.",
	Args:    []Arg{srgUser, srgUserHost, srgGroup, srgGroupHost},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "srg_user_add"},
	Handle:  srgUserAdd,
	Apply:   applySrgUserAdd,
}

// SrgUserDel is ejabberd's srg_user_del.
var SrgUserDel = &Def{
	Name: "srg_user_del",
	Doc: "Removes user@host (or @all@) from group on grouphost; the members concerned who are online get roster " +
		"pushes. Answers 0 also when the group or the user does not exist or the user is not a member (nothing is " +
		"queued then).",
	Args:    []Arg{srgUser, srgUserHost, srgGroup, srgGroupHost},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "srg_user_del"},
	Handle:  srgUserDel,
	Apply:   applySrgUserDel,
}

// srgChange is the change record of the srg_* commands.
type srgChange struct {
	Group       string   `json:"group"`
	DomainID    int64    `json:"domain_id"`
	Label       string   `json:"label,omitempty"`
	Description string   `json:"description,omitempty"`
	Displayed   []string `json:"displayed,omitempty"`
	AllUsers    bool     `json:"all_users,omitempty"`
}

func srgArgs(w *queue.Work) (srgChange, error) {
	var c srgChange
	err := json.Unmarshal(w.Args, &c)
	return c, err
}

func queueSrg(ctx context.Context, c *Call, userID int64, sc srgChange) (Receipt, error) {
	return c.Mutate(ctx, func(*store.Tx) (store.Change, error) {
		return changeOf(userID, sc)
	})
}

// splitDisplay reads srg_create's display: in API v0 one string with the
// group names separated by the two characters \n (a real newline is taken
// as a separator too), in v1 a list of names. Empty names and repeats go.
func splitDisplay(items []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, it := range items {
		for _, part := range strings.Split(it, `\n`) {
			for _, name := range strings.Split(part, "\n") {
				if name != "" && !seen[name] {
					seen[name] = true
					out = append(out, name)
				}
			}
		}
	}
	return out
}

// srgGroupOf loads the named group of the call's domain argument arg;
// found is false if there is none.
func srgGroupOf(ctx context.Context, c *Call, arg string) (store.SharedGroup, bool, error) {
	g, err := c.Env.Store.SharedGroup(ctx, c.Args.Domain(arg).ID, c.Args.String("group"))
	if errors.Is(err, store.ErrNotFound) {
		return g, false, nil
	}
	return g, err == nil, err
}

func srgCreate(ctx context.Context, c *Call) (any, error) {
	return queueSrg(ctx, c, 0, srgChange{Group: c.Args.String("group"), DomainID: c.Args.Domain("domain").ID,
		Label: c.Args.String("label"), Description: c.Args.String("description"), Displayed: splitDisplay(c.Args.List("display"))})
}

func applySrgCreate(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	sc, err := srgArgs(w)
	if err != nil {
		return err
	}
	return sharedDiff(ctx, tx, w, sc.DomainID, func() error {
		return tx.PutSrg(ctx, sc.DomainID, sc.Group, sc.Label, sc.Description, sc.Displayed)
	})
}

func srgDelete(ctx context.Context, c *Call) (any, error) {
	_, found, err := srgGroupOf(ctx, c, "domain")
	if err != nil || !found {
		return StatusOK, err
	}
	return queueSrg(ctx, c, 0, srgChange{Group: c.Args.String("group"), DomainID: c.Args.Domain("domain").ID})
}

func applySrgDelete(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	sc, err := srgArgs(w)
	if err != nil {
		return err
	}
	g, err := tx.SharedGroup(ctx, sc.DomainID, sc.Group)
	if errors.Is(err, store.ErrNotFound) {
		return nil // deleted meanwhile: the wanted state
	}
	if err != nil {
		return err
	}
	return sharedDiff(ctx, tx, w, sc.DomainID, func() error { return tx.DeleteSharedGroup(ctx, g.ID) })
}

func srgList(ctx context.Context, c *Call) (any, error) {
	return c.Env.Store.SharedGroupNames(ctx, c.Args.Domain("domain").ID)
}

func srgGetInfo(ctx context.Context, c *Call) (any, error) {
	t := Table{Columns: srgInfoColumns, Rows: [][]any{}}
	g, found, err := srgGroupOf(ctx, c, "domain")
	if err != nil || !found {
		return t, err
	}
	displayed, err := effectiveDisplayed(ctx, c, g)
	if err != nil {
		return nil, err
	}
	t.Rows = append(t.Rows, []any{"label", g.DisplayName}, []any{"displayed_groups", strings.Join(displayed, "\n")},
		[]any{"description", g.Description})
	if g.AllUsers {
		t.Rows = append(t.Rows, []any{"all_users", "true"})
	}
	return t, nil
}

// effectiveDisplayed is g's displayed groups in ejabberd's sense: its own
// list, then the groups whose Openfire visibility shows them to g's
// members (in name order).
func effectiveDisplayed(ctx context.Context, c *Call, g store.SharedGroup) ([]string, error) {
	out := append([]string{}, g.Displayed...)
	has := map[string]bool{}
	for _, n := range out {
		has[n] = true
	}
	names, err := c.Env.Store.SharedGroupNames(ctx, g.DomainID)
	if err != nil {
		return nil, err
	}
	for _, n := range names {
		if has[n] {
			continue
		}
		y := g
		if n != g.Name {
			if y, err = c.Env.Store.SharedGroup(ctx, g.DomainID, n); err != nil {
				return nil, err
			}
		}
		if y.ShowInRoster != store.ShowOnlyGroup {
			continue
		}
		shows := n == g.Name
		for _, x := range y.GroupList {
			shows = shows || x == g.Name
		}
		if shows {
			out = append(out, n)
		}
	}
	return out, nil
}

func srgGetMembers(ctx context.Context, c *Call) (any, error) {
	g, found, err := srgGroupOf(ctx, c, "domain")
	if err != nil || !found {
		return []string{}, err
	}
	return c.Env.Store.SharedGroupMemberJIDs(ctx, g.ID)
}

func srgUserAdd(ctx context.Context, c *Call) (any, error) {
	return queueSrgMember(ctx, c, true)
}

func applySrgUserAdd(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	return applySrgMembership(ctx, tx, w, true)
}

func srgUserDel(ctx context.Context, c *Call) (any, error) {
	return queueSrgMember(ctx, c, false)
}

func applySrgUserDel(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	return applySrgMembership(ctx, tx, w, false)
}

// srgMember resolves srg_user_add/del's group and member: the group (found
// false if none), whether the member is @all@, and the user (found false
// if none).
func srgMember(ctx context.Context, c *Call) (g store.SharedGroup, all bool, u store.User, found bool, err error) {
	name := c.Args.String("username")
	if name == srgOnline {
		return g, false, u, false, Errorf(NotImplemented, ReasonRefused, "username",
			"%s: %s members (every online user) are not supported; use @all@", c.Def.Names[Ejabberd], srgOnline)
	}
	all = name == srgAllUsers
	if !all {
		if name, err = NormalizeLocalpart(name); err != nil {
			return g, false, u, false, Errorf(Invalid, ReasonMalformed, "username", "%v", err)
		}
	}
	g, found, err = srgGroupOf(ctx, c, "group_domain")
	if err != nil || !found || all {
		return g, all, u, found, err
	}
	u, err = userIn(ctx, c.Env.Store.Reader, c.Args.Domain("domain"), name, "username")
	if AsError(err).Reason == ReasonNoUser || err == nil && u.Status == store.StatusPendingDelete {
		return g, false, u, false, nil
	}
	return g, false, u, err == nil, err
}

// srgIsMember reports whether u (or @all@) is a member of g.
func srgIsMember(ctx context.Context, c *Call, g store.SharedGroup, all bool, u store.User) (bool, error) {
	if all {
		return g.AllUsers, nil
	}
	members, err := c.Env.Store.SharedGroupMemberJIDs(ctx, g.ID)
	for _, m := range members {
		if m == u.Username+"@"+u.Domain {
			return true, err
		}
	}
	return false, err
}

// queueSrgMember is srg_user_add (add) or srg_user_del: the same lookup,
// then a change queued only if the membership is not already as asked.
// Where the group or the user does not exist, add answers 1 and del 0.
func queueSrgMember(ctx context.Context, c *Call, add bool) (any, error) {
	missing := StatusOK
	if add {
		missing = StatusFailed
	}
	g, all, u, found, err := srgMember(ctx, c)
	if err != nil {
		return nil, err
	}
	if g.ID == 0 || !all && !found {
		return missing, nil
	}
	if member, err := srgIsMember(ctx, c, g, all, u); err != nil || member == add {
		return StatusOK, err // already as asked: nothing to queue
	}
	return queueSrg(ctx, c, u.ID, srgChange{Group: g.Name, DomainID: g.DomainID, AllUsers: all})
}

// applySrgMembership applies srg_user_add (join) or srg_user_del.
func applySrgMembership(ctx context.Context, tx *store.Tx, w *queue.Work, join bool) error {
	sc, err := srgArgs(w)
	if err != nil {
		return err
	}
	g, err := tx.SharedGroup(ctx, sc.DomainID, sc.Group)
	if errors.Is(err, store.ErrNotFound) {
		if !join {
			return nil
		}
		return Errorf(NotFound, ReasonNoGroup, "group", "group %s does not exist", sc.Group)
	}
	if err != nil {
		return err
	}
	if sc.AllUsers {
		return sharedDiff(ctx, tx, w, sc.DomainID, func() error { return tx.SetSharedGroupAllUsers(ctx, g.ID, join) })
	}
	return membershipDiff(ctx, tx, w, w.UserID, func() error {
		if join {
			return tx.AddSharedGroupMember(ctx, g.ID, w.UserID)
		}
		if err := tx.RemoveSharedGroupMember(ctx, g.ID, w.UserID); !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return nil
	})
}

// Pushing what a group change changed.

// sharedView is what one user sees through shared groups: each contact's
// name and groups, as one comparable string.
type sharedView struct {
	user     store.User
	contacts map[string]string
}

// sharedViews computes the views of the users a change to a domain's groups
// can concern, plus those already in ids (the users of an earlier call, so
// one who stopped being concerned is still compared); it adds its users to
// ids.
func sharedViews(ctx context.Context, tx *store.Tx, domainID int64, ids map[int64]bool) (map[int64]sharedView, error) {
	users, err := tx.SharedViewers(ctx, domainID)
	if err != nil {
		return nil, err
	}
	have := map[int64]bool{}
	for _, u := range users {
		have[u.ID] = true
	}
	for id := range ids {
		if have[id] || id == 0 {
			continue
		}
		u, err := tx.UserByID(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		users = append(users, u)
	}
	out := map[int64]sharedView{}
	for _, u := range users {
		contacts, err := viewOf(ctx, tx, u)
		if err != nil {
			return nil, err
		}
		out[u.ID] = sharedView{user: u, contacts: contacts}
		ids[u.ID] = true
	}
	return out, nil
}

// sharedDiff runs change, a write to the shared groups of a domain, inside
// the apply transaction. Every user whose shared contacts it changed (the
// domain's users and its groups' members, before or after) gets a new roster
// version, and after the commit a roster push of each contact that
// appeared, changed or went.
func sharedDiff(ctx context.Context, tx *store.Tx, w *queue.Work, domainID int64, change func() error) error {
	ids := map[int64]bool{}
	before, err := sharedViews(ctx, tx, domainID, ids)
	if err != nil {
		return err
	}
	if err := change(); err != nil {
		return err
	}
	after, err := sharedViews(ctx, tx, domainID, ids)
	if err != nil {
		return err
	}
	var bumped []int64
	for id, a := range after {
		changed := viewChanges(before[id].contacts, a.contacts)
		if len(changed) == 0 {
			continue
		}
		bumped = append(bumped, id)
		pushContacts(w, a.user.Domain, a.user.Username, changed)
	}
	return tx.BumpRosterVersions(ctx, bumped)
}

// viewChanges lists the contacts that appeared, changed or went between
// two views of one user.
func viewChanges(before, after map[string]string) []string {
	var changed []string
	for jid, sig := range after {
		if old, ok := before[jid]; !ok || old != sig {
			changed = append(changed, jid)
		}
	}
	for jid := range before {
		if _, ok := after[jid]; !ok {
			changed = append(changed, jid)
		}
	}
	return changed
}

func pushContacts(w *queue.Work, domain, username string, contacts []string) {
	for _, jid := range contacts {
		w.After(func(e queue.Effects) { e.RosterChanged(domain, username, jid) })
	}
}

func viewOf(ctx context.Context, tx *store.Tx, u store.User) (map[string]string, error) {
	cs, err := tx.SharedContacts(ctx, u)
	if err != nil {
		return nil, err
	}
	v := map[string]string{}
	for _, sc := range cs {
		v[sc.JID] = sc.Name + "\x00" + strings.Join(sc.Groups, "\x00")
	}
	return v, nil
}

func sameGroups(a, b []store.SharedGroup) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ID != b[i].ID {
			return false
		}
	}
	return true
}

// membershipDiff runs change, a change of one user's explicit group
// memberships, inside the apply transaction. That changes only what the
// user sees and how others see the user: the user's changed contacts and,
// for every user who sees one of the groups it was or is in, the user's
// own item get a new roster version and a push after the commit. This is
// linear in the groups' viewers, so bulk provisioning stays cheap.
func membershipDiff(ctx context.Context, tx *store.Tx, w *queue.Work, userID int64, change func() error) error {
	u, err := tx.UserByID(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return Errorf(NotFound, ReasonNoUser, "username", "the user is gone")
	}
	if err != nil {
		return err
	}
	before, err := viewOf(ctx, tx, u)
	if err != nil {
		return err
	}
	groupsBefore, err := tx.UserSharedGroups(ctx, userID)
	if err != nil {
		return err
	}
	if err := change(); err != nil {
		return err
	}
	after, err := viewOf(ctx, tx, u)
	if err != nil {
		return err
	}
	groupsAfter, err := tx.UserSharedGroups(ctx, userID)
	if err != nil {
		return err
	}
	var bumped []int64
	if changed := viewChanges(before, after); len(changed) > 0 {
		bumped = append(bumped, userID)
		pushContacts(w, u.Domain, u.Username, changed)
	}
	self := u.Username + "@" + u.Domain
	seen := map[int64]bool{userID: true}
	if sameGroups(groupsBefore, groupsAfter) {
		seen = nil // nobody sees the user differently
	}
	for _, g := range append(groupsBefore, groupsAfter...) {
		if seen == nil {
			break
		}
		viewers, err := tx.SharedGroupViewers(ctx, g)
		if err != nil {
			return err
		}
		for _, v := range viewers {
			if seen[v.UserID] {
				continue
			}
			seen[v.UserID] = true
			bumped = append(bumped, v.UserID)
			name, domain, _ := strings.Cut(v.JID, "@")
			pushContacts(w, domain, name, []string{self})
		}
	}
	return tx.BumpRosterVersions(ctx, bumped)
}

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
