package commands

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// openfireRESTDefs are the commands the Openfire REST API (User Service 2.x,
// restAPI plugin) added to those it shares with the legacy query API.
var openfireRESTDefs = []*Def{
	OpenfireRoster, UpdateRosterItemPartial, DeleteRosterItemStrict,
	JoinGroups, LeaveGroups,
	OpenfireGroupList, OpenfireGroupGet, OpenfireGroupCreate, OpenfireGroupUpdate, OpenfireGroupDelete,
}

// withNames adds dialect names to a constructed Def.
func withNames(names map[Dialect]string, d *Def) *Def {
	for k, v := range names {
		d.Names[k] = v
	}
	return d
}

// onlyIn replaces a constructed Def's dialect names (rosterDef names its
// commands in the legacy dialect; the REST variants exist only in REST).
func onlyIn(names map[Dialect]string, d *Def) *Def {
	d.Names = names
	return d
}

// Table shapes of the Openfire REST entities; the dialect renders a table
// by its columns.
var (
	openfireRosterColumns = []string{"jid", "nickname", "subscriptionType", "groups"}
)

// subscriptionNumbers is subscriptionCodes backwards.
var subscriptionNumbers = map[string]int{store.SubNone: 0, store.SubTo: 1, store.SubFrom: 2, store.SubBoth: 3}

// OpenfireRoster lists a user's roster.
var OpenfireRoster = &Def{
	Name: "openfire_roster",
	Doc: "Lists a user's roster items: contact JID, nickname, subscription code (0 none, 1 to, 2 from, 3 both) " +
		"and groups. Pending inbound requests are not items.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultTable, Columns: openfireRosterColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET users/{username}/roster"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		u, err := liveUser(ctx, c.Env.Store.Reader, c.Args.Domain("domain"), c.Args.String("username"))
		if err != nil {
			return nil, err
		}
		items, _, err := c.Env.Store.RosterItems(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		t := Table{Columns: openfireRosterColumns, Rows: [][]any{}}
		for _, it := range items {
			if it.Visible {
				groups := append([]string{}, it.Groups...)
				t.Rows = append(t.Rows, []any{it.Contact, it.Name, subscriptionNumbers[it.Subscription], groups})
			}
		}
		return t, nil
	},
}

// UpdateRosterItemPartial is the REST form of update_roster: the nickname
// and groups change only when given (the legacy form clears them).
var UpdateRosterItemPartial = onlyIn(map[Dialect]string{OpenfireREST: "PUT users/{username}/roster/{jid}"}, rosterDef(
	"update_roster_item_partial", "",
	"Changes a roster item's subscription state (absent: none) and, when given, its nickname and groups. "+
		"Fails if the contact is not in the roster.",
	true, true, func(ctx context.Context, tx *store.Tx, w *queue.Work, rc rosterChange, old store.RosterItem) (bool, error) {
		if rc.Name == "" {
			rc.Name = old.Name
		}
		if len(rc.Groups) == 0 {
			rc.Groups = old.Groups
		}
		return putItem(ctx, tx, w, rc, old)
	}))

// DeleteRosterItemStrict is the REST form of delete_roster: a contact that
// is not in the roster is an error (the legacy form ignores it).
var DeleteRosterItemStrict = onlyIn(map[Dialect]string{OpenfireREST: "DELETE users/{username}/roster/{jid}"}, rosterDef(
	"delete_roster_item_strict", "",
	"Removes a contact from a user's roster; fails if the contact is not there.",
	true, true, func(ctx context.Context, tx *store.Tx, w *queue.Work, rc rosterChange, old store.RosterItem) (bool, error) {
		if _, err := tx.DeleteRosterItem(ctx, w.UserID, old.Contact); err != nil {
			return false, err
		}
		return true, nil
	}))

// membershipChange is the argument record of join_groups and leave_groups.
type membershipChange struct {
	Username string   `json:"username"`
	Domain   string   `json:"domain"`
	DomainID int64    `json:"domain_id"`
	Groups   []string `json:"groups"`
}

var argGroupNames = Arg{Name: "groups", Type: List, Names: map[Dialect]string{OpenfireREST: "groupname"},
	Doc: "Group names (a list)."}

// membershipDef builds join_groups and leave_groups; check validates the
// names in the handler, apply makes the change.
func membershipDef(name, wire, doc string, check func(ctx context.Context, tx *store.Tx, d store.Domain, names []string) error,
	apply func(ctx context.Context, tx *store.Tx, c membershipChange, userID int64) error) *Def {
	return &Def{
		Name:    name,
		Doc:     doc,
		Args:    []Arg{argUsername, argDomain, argGroupNames},
		Result:  Result{Kind: ResultToken},
		Mutates: true,
		Names:   map[Dialect]string{OpenfireREST: wire},
		Handle: func(ctx context.Context, c *Call) (any, error) {
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
				if err := check(ctx, tx, d, names); err != nil {
					return store.Change{}, err
				}
				args, err := json.Marshal(membershipChange{Username: username, Domain: d.FQDN, DomainID: d.ID, Groups: names})
				return store.Change{UserID: u.ID, Args: args}, err
			})
		},
		Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
			var c membershipChange
			if err := json.Unmarshal(w.Args, &c); err != nil {
				return err
			}
			if _, err := tx.UserByID(ctx, w.UserID); err != nil {
				return noUserNow(err, profileChange{Username: c.Username, Domain: c.Domain})
			}
			// Members see each other: push what changed (ejabberd_srg.go).
			return membershipDiff(ctx, tx, w, w.UserID, func() error { return apply(ctx, tx, c, w.UserID) })
		},
	}
}

// JoinGroups adds a user to groups, creating missing ones.
var JoinGroups = membershipDef("join_groups", "POST users/{username}/groups[/{groupname}]",
	"Adds a user to groups of its domain; missing groups are created, not shared (shown in nobody's roster).",
	func(context.Context, *store.Tx, store.Domain, []string) error { return nil },
	func(ctx context.Context, tx *store.Tx, c membershipChange, userID int64) error {
		return tx.JoinSharedGroups(ctx, c.DomainID, userID, c.Groups, store.ShowNobody, false)
	})

// LeaveGroups removes a user from groups.
var LeaveGroups = membershipDef("leave_groups", "DELETE users/{username}/groups[/{groupname}]",
	"Removes a user from groups of its domain; every group must exist (a group the user is not in is no error).",
	func(ctx context.Context, tx *store.Tx, d store.Domain, names []string) error {
		for _, n := range names {
			if _, err := groupIn(ctx, tx.Reader, d, n, "groups"); err != nil {
				return err
			}
		}
		return nil
	},
	func(ctx context.Context, tx *store.Tx, c membershipChange, userID int64) error {
		return tx.LeaveOpenfireGroups(ctx, c.DomainID, userID, c.Groups)
	})

// MaxGroupName bounds a group name, in bytes (as xmppcore bounds roster
// group names).
const MaxGroupName = 1024

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

// groupIn loads a group of d, mapping absence to ReasonNoGroup.
func groupIn(ctx context.Context, r store.Reader, d store.Domain, name, arg string) (store.OpenfireGroup, error) {
	g, err := r.OpenfireGroup(ctx, d.ID, name)
	if errors.Is(err, store.ErrNotFound) {
		return g, Errorf(NotFound, ReasonNoGroup, arg, "group %q does not exist in %s", name, d.FQDN)
	}
	return g, err
}
