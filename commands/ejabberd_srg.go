package commands

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// The ejabberd shared roster group family (mod_admin_extra over
// mod_shared_roster), 23.01 behaviour. Groups live in the table Openfire's
// groups use; who sees whom is store.SharedContacts, and xmppcore lays the
// shared contacts over members' rosters (docs/shared-groups.md). Every
// change goes through the queue; its Apply pushes the roster items it
// changed to the online users concerned.

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
		args, err := json.Marshal(sc)
		return store.Change{UserID: userID, Args: args}, err
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
	Handle: func(ctx context.Context, c *Call) (any, error) {
		return queueSrg(ctx, c, 0, srgChange{Group: c.Args.String("group"), DomainID: c.Args.Domain("domain").ID,
			Label: c.Args.String("label"), Description: c.Args.String("description"), Displayed: splitDisplay(c.Args.List("display"))})
	},
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
		sc, err := srgArgs(w)
		if err != nil {
			return err
		}
		return sharedDiff(ctx, tx, w, sc.DomainID, func() error {
			return tx.PutSrg(ctx, sc.DomainID, sc.Group, sc.Label, sc.Description, sc.Displayed)
		})
	},
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
	Handle: func(ctx context.Context, c *Call) (any, error) {
		_, found, err := srgGroupOf(ctx, c, "domain")
		if err != nil || !found {
			return StatusOK, err
		}
		return queueSrg(ctx, c, 0, srgChange{Group: c.Args.String("group"), DomainID: c.Args.Domain("domain").ID})
	},
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
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
	},
}

// SrgList is ejabberd's srg_list.
var SrgList = &Def{
	Name:   "srg_list",
	Doc:    "Lists the names of a domain's shared roster groups (also those made through Openfire), sorted.",
	Args:   []Arg{argDomain},
	Result: Result{Kind: ResultList, Name: "groups"},
	Names:  map[Dialect]string{Ejabberd: "srg_list"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		return c.Env.Store.SharedGroupNames(ctx, c.Args.Domain("domain").ID)
	},
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
	Handle: func(ctx context.Context, c *Call) (any, error) {
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
	},
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

// SrgGetMembers is ejabberd's srg_get_members.
var SrgGetMembers = &Def{
	Name: "srg_get_members",
	Doc: "Lists a group's explicit members as bare JIDs, sorted (@all@ is not listed: srg_get_info shows it). A group " +
		"that does not exist has none.",
	Args:   []Arg{srgGroup, srgHost},
	Result: Result{Kind: ResultList, Name: "members"},
	Names:  map[Dialect]string{Ejabberd: "srg_get_members"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		g, found, err := srgGroupOf(ctx, c, "domain")
		if err != nil || !found {
			return []string{}, err
		}
		return c.Env.Store.SharedGroupMemberJIDs(ctx, g.ID)
	},
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

// srgMembership is the Apply of srg_user_add (join) and srg_user_del.
func srgMembership(join bool) func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	return func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
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
}

// ReasonNoGroup: the shared roster group does not exist.
const ReasonNoGroup Reason = "no_group"

// srgMemberDef is srg_user_add (add) or srg_user_del: the same lookup,
// then a change queued only if the membership is not already as asked.
// Where the group or the user does not exist, add answers 1 and del 0.
func srgMemberDef(name, doc string, add bool) *Def {
	missing := StatusOK
	if add {
		missing = StatusFailed
	}
	return &Def{
		Name:    name,
		Doc:     doc,
		Args:    []Arg{srgUser, srgUserHost, srgGroup, srgGroupHost},
		Result:  Result{Kind: ResultToken},
		Mutates: true,
		Names:   map[Dialect]string{Ejabberd: name},
		Handle: func(ctx context.Context, c *Call) (any, error) {
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
		},
		Apply: srgMembership(add),
	}
}

// SrgUserAdd is ejabberd's srg_user_add.
var SrgUserAdd = srgMemberDef("srg_user_add",
	"Makes user@host a member of group on grouphost (both domains of the caller's account); @all@ as user makes "+
		"every user of grouphost a member. The members concerned who are online get roster pushes. Answers 1, "+
		"storing nothing, if the group or the user does not exist (ejabberd would store a membership of a group or "+
		"user that does not exist). @online@ is refused.",
	true)

// SrgUserDel is ejabberd's srg_user_del.
var SrgUserDel = srgMemberDef("srg_user_del",
	"Removes user@host (or @all@) from group on grouphost; the members concerned who are online get roster "+
		"pushes. Answers 0 also when the group or the user does not exist or the user is not a member (nothing is "+
		"queued then).",
	false)

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

// ejabberdSrgDefs is the shared roster group family.
var ejabberdSrgDefs = []*Def{SrgCreate, SrgDelete, SrgList, SrgGetInfo, SrgGetMembers, SrgUserAdd, SrgUserDel}
