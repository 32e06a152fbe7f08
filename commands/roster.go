package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// The roster commands of every dialect. They share one change record
// (rosterChange) and the store's roster calls, but not their checks: the
// Openfire forms refuse an existing (or missing) item and take numbered
// subscriptions, the ejabberd forms overwrite and take names. Shared roster
// groups, which lay contacts over rosters, are in groups.go.

// Reasons of the roster commands.
const (
	ReasonNoRosterItem     Reason = "no_roster_item"     // the roster item does not exist
	ReasonRosterItemExists Reason = "roster_item_exists" // the roster item exists already
	ReasonSharedGroup      Reason = "shared_group"       // a roster group name is a shared group's
	// ReasonRosterTooLarge: push_roster_all's template has more users than
	// it takes (it writes their number squared items).
	ReasonRosterTooLarge Reason = "roster_too_large"
)

// rosterDefs is the roster family: Openfire's legacy and REST forms, then
// ejabberd's (mod_admin_extra).
var rosterDefs = []*Def{
	AddRosterItem, UpdateRosterItem, DeleteRosterItem,
	OpenfireRoster, UpdateRosterItemPartial, DeleteRosterItemStrict,
	AddRosteritem, DeleteRosteritem, GetRoster, PushAlltoall, ProcessRosteritems, PushRoster, PushRosterAll,
}

// rosterChange is the argument record of the roster item changes.
type rosterChange struct {
	Username     string   `json:"username"`
	Domain       string   `json:"domain"`
	DomainID     int64    `json:"domain_id"`
	Contact      string   `json:"contact"`
	Name         string   `json:"name,omitempty"`
	Subscription string   `json:"subscription,omitempty"`
	Groups       []string `json:"groups,omitempty"`
}

func rosterArgs(w *queue.Work) (rosterChange, error) {
	var c rosterChange
	err := json.Unmarshal(w.Args, &c)
	return c, err
}

// visibleItem returns the user's roster item for contact, ErrNotFound if
// there is none or only an invisible one (a pending inbound request).
func visibleItem(ctx context.Context, r store.Reader, userID int64, contact string) (store.RosterItem, error) {
	it, err := r.RosterItem(ctx, userID, contact)
	if err == nil && !it.Visible {
		return it, store.ErrNotFound
	}
	return it, err
}

// The Openfire forms (User Service add_roster, update_roster,
// delete_roster, and the REST routes).

// subRemove is the subscription code -1: the item is removed.
const subRemove = "remove"

// subscriptionCodes maps Openfire's RosterItem.SubType numbers to RFC 6121
// subscription states. The codes are compared as strings, as Openfire does.
var subscriptionCodes = map[string]string{
	"-1": subRemove, "0": store.SubNone, "1": store.SubTo, "2": store.SubFrom, "3": store.SubBoth,
}

// subscriptionNumbers is subscriptionCodes backwards.
var subscriptionNumbers = map[string]int{store.SubNone: 0, store.SubTo: 1, store.SubFrom: 2, store.SubBoth: 3}

var (
	argContact = Arg{Name: "contact", Type: String, Names: map[Dialect]string{Openfire: "item_jid", OpenfireREST: "jid"},
		Doc: "The contact's JID; a resource is dropped, the rest normalised."}
	argNick         = Arg{Name: "name", Type: String, Optional: true, Names: map[Dialect]string{OpenfireREST: "nickname"}, Doc: "The item's nickname; absent clears it on update."}
	argSubscription = Arg{Name: "subscription", Type: String, Optional: true, Names: map[Dialect]string{OpenfireREST: "subscriptionType"},
		Doc: "-1 (remove), 0 (none, the default), 1 (to), 2 (from) or 3 (both)."}
	argRosterGroups = Arg{Name: "groups", Type: String, Optional: true,
		Doc: "Comma-separated roster groups; none may be the name of a shared group shown in rosters. Absent clears them on update."}
)

// rosterItemCheck is what an Openfire roster item command checks against
// the store, when the call is queued and again when it is applied.
type rosterItemCheck int

const (
	// checkNothing: delete_roster, for which a missing item is no error.
	checkNothing rosterItemCheck = iota
	// checkItemAbsent: the item must not be in the roster, and no group
	// may be a shared group shown in rosters.
	checkItemAbsent
	// checkItemPresent: the item must be in the roster; groups as above.
	checkItemPresent
)

// rosterItemWrite makes an Openfire roster change; old is the item the
// check found (zero for checkNothing). It reports whether the roster
// changed, which is when the user's resources get a push.
type rosterItemWrite func(ctx context.Context, tx *store.Tx, w *queue.Work, rc rosterChange, old store.RosterItem) (bool, error)

// AddRosterItem is Openfire's add_roster.
var AddRosterItem = &Def{
	Name: "add_roster_item",
	Doc: "Adds a contact to a user's roster with a nickname, groups and subscription state, without a roster push to the contact. " +
		"Fails if the contact is already in the roster.",
	Args:    []Arg{argUsername, argDomain, argContact, argNick, argSubscription, argRosterGroups},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Openfire: "add_roster", OpenfireREST: "POST users/{username}/roster"},
	Handle:  addRosterItem,
	Apply:   applyAddRosterItem,
}

// UpdateRosterItem is Openfire's update_roster.
var UpdateRosterItem = &Def{
	Name:    "update_roster_item",
	Doc:     "Replaces the nickname, groups and subscription state of a roster item; absent arguments clear them (subscription: none).",
	Args:    []Arg{argUsername, argDomain, argContact, argNick, argSubscription, argRosterGroups},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Openfire: "update_roster"},
	Handle:  updateRosterItem,
	Apply:   applyUpdateRosterItem,
}

// DeleteRosterItem is Openfire's delete_roster.
var DeleteRosterItem = &Def{
	Name:    "delete_roster_item",
	Doc:     "Removes a contact from a user's roster; a contact that is not there is no error.",
	Args:    []Arg{argUsername, argDomain, argContact, argNick, argSubscription, argRosterGroups},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Openfire: "delete_roster"},
	Handle:  deleteRosterItem,
	Apply:   applyDeleteRosterItem,
}

// OpenfireRoster lists a user's roster.
var OpenfireRoster = &Def{
	Name: "openfire_roster",
	Doc: "Lists a user's roster items: contact JID, nickname, subscription code (0 none, 1 to, 2 from, 3 both) " +
		"and groups. Pending inbound requests are not items.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultTable, Columns: openfireRosterColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET users/{username}/roster"},
	Handle: openfireRoster,
}

// UpdateRosterItemPartial is the REST form of update_roster: the nickname
// and groups change only when given (the legacy form clears them).
var UpdateRosterItemPartial = &Def{
	Name: "update_roster_item_partial",
	Doc: "Changes a roster item's subscription state (absent: none) and, when given, its nickname and groups. " +
		"Fails if the contact is not in the roster.",
	Args:    []Arg{argUsername, argDomain, argContact, argNick, argSubscription, argRosterGroups},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{OpenfireREST: "PUT users/{username}/roster/{jid}"},
	Handle:  updateRosterItem,
	Apply:   applyUpdateRosterItemPartial,
}

// DeleteRosterItemStrict is the REST form of delete_roster: a contact that
// is not in the roster is an error (the legacy form ignores it).
var DeleteRosterItemStrict = &Def{
	Name:    "delete_roster_item_strict",
	Doc:     "Removes a contact from a user's roster; fails if the contact is not there.",
	Args:    []Arg{argUsername, argDomain, argContact, argNick, argSubscription, argRosterGroups},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{OpenfireREST: "DELETE users/{username}/roster/{jid}"},
	Handle:  updateRosterItem,
	Apply:   applyDeleteRosterItemStrict,
}

func addRosterItem(ctx context.Context, c *Call) (any, error) {
	return queueRosterItem(ctx, c, checkItemAbsent)
}

func applyAddRosterItem(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	return applyRosterItem(ctx, tx, w, checkItemAbsent, putItem)
}

// updateRosterItem queues a change of an item that must be in the roster
// (update_roster, its REST form, and the REST delete).
func updateRosterItem(ctx context.Context, c *Call) (any, error) {
	return queueRosterItem(ctx, c, checkItemPresent)
}

func applyUpdateRosterItem(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	return applyRosterItem(ctx, tx, w, checkItemPresent, putItem)
}

func deleteRosterItem(ctx context.Context, c *Call) (any, error) {
	return queueRosterItem(ctx, c, checkNothing)
}

// applyDeleteRosterItem is also ejabberd's delete_rosteritem's applier:
// both remove a visible item if there is one and push the removal.
func applyDeleteRosterItem(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	return applyRosterItem(ctx, tx, w, checkNothing, deleteVisibleItem)
}

func applyUpdateRosterItemPartial(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	return applyRosterItem(ctx, tx, w, checkItemPresent, putItemPartial)
}

func applyDeleteRosterItemStrict(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	return applyRosterItem(ctx, tx, w, checkItemPresent, deleteCheckedItem)
}

// rosterCall checks a roster call in Openfire's order: subscription code,
// user, contact JID. It returns the change record and the user.
func rosterCall(ctx context.Context, c *Call, tx *store.Tx) (rosterChange, store.User, error) {
	sub := store.SubNone
	if c.Args.Has("subscription") {
		s, ok := subscriptionCodes[c.Args.String("subscription")]
		if !ok {
			return rosterChange{}, store.User{}, Errorf(Invalid, ReasonMalformed, "subscription", "not one of -1, 0, 1, 2, 3")
		}
		sub = s
	}
	d, name := c.Args.Domain("domain"), c.Args.String("username")
	u, err := usableUser(ctx, tx, d, name)
	if err != nil {
		return rosterChange{}, u, err
	}
	contact, err := ParseBareJID(c.Args.String("contact"))
	if err != nil {
		return rosterChange{}, u, Errorf(Invalid, ReasonMalformed, "contact", "%v", err)
	}
	rc := rosterChange{Username: name, Domain: d.FQDN, DomainID: d.ID, Contact: contact, Name: c.Args.String("name"),
		Subscription: sub, Groups: SplitGroups(c.Args.String("groups"))}
	return rc, u, nil
}

// checkRoster validates a roster change against the store: the item must
// exist (or must not), and no group may clash with a shared group.
func checkRoster(ctx context.Context, r store.Reader, userID int64, rc rosterChange, mustExist bool) (store.RosterItem, error) {
	it, err := visibleItem(ctx, r, userID, rc.Contact)
	switch {
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return it, err
	case err == nil && !mustExist:
		return it, Errorf(Conflict, ReasonRosterItemExists, "contact", "%s is in the roster of %s@%s", rc.Contact, rc.Username, rc.Domain)
	case err != nil && mustExist:
		return it, Errorf(NotFound, ReasonNoRosterItem, "contact", "%s is not in the roster of %s@%s", rc.Contact, rc.Username, rc.Domain)
	}
	clash, err := r.ShownSharedGroups(ctx, rc.DomainID, rc.Groups)
	if err != nil {
		return it, err
	}
	if len(clash) > 0 {
		return it, Errorf(Invalid, ReasonSharedGroup, "groups", "%q is a shared group", clash[0])
	}
	return it, nil
}

// queueRosterItem queues an Openfire roster change after the call's checks.
func queueRosterItem(ctx context.Context, c *Call, check rosterItemCheck) (any, error) {
	return c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
		rc, u, err := rosterCall(ctx, c, tx)
		if err != nil {
			return store.Change{}, err
		}
		if check != checkNothing {
			if _, err := checkRoster(ctx, tx.Reader, u.ID, rc, check == checkItemPresent); err != nil {
				return store.Change{}, err
			}
		}
		return changeOf(u.ID, rc)
	})
}

// applyRosterItem applies an Openfire roster change: the checks again (the
// roster may have changed since), then write.
func applyRosterItem(ctx context.Context, tx *store.Tx, w *queue.Work, check rosterItemCheck, write rosterItemWrite) error {
	rc, err := rosterArgs(w)
	if err != nil {
		return err
	}
	if err := requireUser(ctx, tx, w.UserID, rc.Username, rc.Domain); err != nil {
		return err
	}
	var old store.RosterItem
	if check != checkNothing {
		if old, err = checkRoster(ctx, tx.Reader, w.UserID, rc, check == checkItemPresent); err != nil {
			return err
		}
	}
	changed, err := write(ctx, tx, w, rc, old)
	if err != nil {
		return err
	}
	if changed {
		w.After(func(e queue.Effects) { e.RosterChanged(rc.Domain, rc.Username, rc.Contact) })
	}
	return nil
}

func putItem(ctx context.Context, tx *store.Tx, w *queue.Work, rc rosterChange, old store.RosterItem) (bool, error) {
	if rc.Subscription == subRemove {
		if _, err := tx.DeleteRosterItem(ctx, w.UserID, rc.Contact); err != nil && !errors.Is(err, store.ErrNotFound) {
			return false, err
		}
		return old.Visible, nil
	}
	_, err := tx.PutRosterItem(ctx, w.UserID, store.RosterItem{Contact: rc.Contact, Name: rc.Name, Subscription: rc.Subscription,
		Ask: old.Ask, PendingIn: old.PendingIn, Visible: true, Groups: rc.Groups})
	return err == nil, err
}

// putItemPartial is putItem keeping the nickname and groups not given.
func putItemPartial(ctx context.Context, tx *store.Tx, w *queue.Work, rc rosterChange, old store.RosterItem) (bool, error) {
	if rc.Name == "" {
		rc.Name = old.Name
	}
	if len(rc.Groups) == 0 {
		rc.Groups = old.Groups
	}
	return putItem(ctx, tx, w, rc, old)
}

// deleteVisibleItem removes the contact's item if it is visible; a missing
// one is no change.
func deleteVisibleItem(ctx context.Context, tx *store.Tx, w *queue.Work, rc rosterChange, _ store.RosterItem) (bool, error) {
	old, err := visibleItem(ctx, tx.Reader, w.UserID, rc.Contact)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if _, err := tx.DeleteRosterItem(ctx, w.UserID, old.Contact); err != nil {
		return false, fmt.Errorf("delete roster item: %w", err)
	}
	return true, nil
}

// deleteCheckedItem removes the item checkRoster found.
func deleteCheckedItem(ctx context.Context, tx *store.Tx, w *queue.Work, _ rosterChange, old store.RosterItem) (bool, error) {
	if _, err := tx.DeleteRosterItem(ctx, w.UserID, old.Contact); err != nil {
		return false, err
	}
	return true, nil
}

// openfireRosterColumns is the REST roster entity's shape; the dialect
// renders a table by its columns.
var openfireRosterColumns = []string{"jid", "nickname", "subscriptionType", "groups"}

func openfireRoster(ctx context.Context, c *Call) (any, error) {
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
}

// The ejabberd roster family (mod_admin_extra), v0 (ejabberd 23.01). The
// Openfire roster Defs do not fit (add_roster refuses an existing item,
// subscriptions are numbers, the contact is one JID), so these are Defs of
// their own over the same store calls and change record. Like ejabberd,
// add_rosteritem is one-sided: the contact's roster is untouched and no
// subscription stanza is sent; the user's interested resources get the
// roster push.

var (
	ejLocalUser = Arg{Name: "username", Type: String, Names: map[Dialect]string{Ejabberd: "localuser"},
		Doc: "The roster's owner (JID localpart), PRECIS-normalised."}
	ejLocalHost = Arg{Name: "domain", Type: Domain, Names: map[Dialect]string{Ejabberd: "localhost"},
		Doc: "The owner's domain, one of the caller's account (alias localserver)."}
	ejContactUser = Arg{Name: "contact_user", Type: String, Names: map[Dialect]string{Ejabberd: "user"},
		Doc: "The contact's localpart."}
	ejContactHost = Arg{Name: "contact_host", Type: String, Names: map[Dialect]string{Ejabberd: "host"},
		Doc: "The contact's domain, any domain (alias server)."}
	ejNick = Arg{Name: "name", Type: String, Optional: true, EjabberdOptional: true, Names: map[Dialect]string{Ejabberd: "nick"},
		Doc: "The item's nickname; absent or empty: none."}
	ejGroup = Arg{Name: "groups", Type: String, Optional: true, EjabberdOptional: true, Names: map[Dialect]string{Ejabberd: "group"}, EjUntil: 1,
		Doc: "API v0: roster groups separated by ';'; absent or empty: none."}
	ejGroupList = Arg{Name: "group_list", Type: List, Optional: true, EjabberdOptional: true, Names: map[Dialect]string{Ejabberd: "groups"}, EjSince: 1,
		Doc: "API v1 and later: the roster groups, a list of strings."}
	ejSubs = Arg{Name: "subscription", Type: String, Names: map[Dialect]string{Ejabberd: "subs"},
		Doc: "none, from, to or both."}
	ejRosterUser = Arg{Name: "username", Type: String, Names: map[Dialect]string{Ejabberd: "user"},
		Doc: "The user (JID localpart), PRECIS-normalised."}
)

var (
	errInvalidLocal   = Errorf(Invalid, ReasonInvalidJID, "username", "Invalid 'localuser'/'localserver'")
	errInvalidContact = Errorf(Invalid, ReasonInvalidJID, "contact_user", "Invalid 'user'/'server'")
	errInvalidUser    = Errorf(Invalid, ReasonInvalidJID, "username", "Invalid 'user'/'server'")
)

// AddRosteritem is ejabberd's add_rosteritem (v0).
var AddRosteritem = &Def{
	Name: "add_rosteritem",
	Doc: "Writes user@host into localuser's roster with nick, groups (';'-separated) and subscription subs, replacing " +
		"an item that is there, and pushes it to localuser's resources. One-sided: the contact's roster is untouched and " +
		"no subscription stanza is sent. Answers 1 if localuser does not exist (nothing is stored). subs other than " +
		"none, from, to, both: 400 \"Invalid 'subs'\". nick and group may be absent (empty).",
	Args:    []Arg{ejLocalUser, ejLocalHost, ejContactUser, ejContactHost, ejNick, ejGroup, ejGroupList, ejSubs},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "add_rosteritem"},
	Handle:  addRosteritem,
	Apply:   applyAddRosteritem,
}

// DeleteRosteritem is ejabberd's delete_rosteritem.
var DeleteRosteritem = &Def{
	Name: "delete_rosteritem",
	Doc: "Removes user@host from localuser's roster and pushes the removal to localuser's resources. Answers 0 also " +
		"when the item or localuser does not exist (nothing is queued for a missing localuser).",
	Args:    []Arg{ejLocalUser, ejLocalHost, ejContactUser, ejContactHost},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "delete_rosteritem"},
	Handle:  deleteRosteritem,
	Apply:   applyDeleteRosterItem,
}

var ejRosterColumns = []string{"jid", "nick", "subscription", "ask", "group"}

// GetRoster is ejabberd's get_roster in its 23.01 shape.
var GetRoster = &Def{
	Name: "get_roster",
	Doc: "Lists a user's roster by contact JID, one entry per group of each item (group \"\" for an item without " +
		"groups), ask \"subscribe\" while the user's own subscription request is pending, else \"undefined\" (as 23.01 " +
		"answers). A user that does not exist has an empty roster. This is the 23.01 shape " +
		"(23.10 answers one entry per item with pending and a groups list).",
	Args:   []Arg{ejRosterUser, argDomain},
	Result: Result{Kind: ResultTable, Name: "contacts", Columns: ejRosterColumns},
	Names:  map[Dialect]string{Ejabberd: "get_roster"},
	Handle: getRoster,
}

// PushAlltoall is ejabberd's push_alltoall.
var PushAlltoall = &Def{
	Name: "push_alltoall",
	Doc: "Puts every user of the domain (but those being deleted) into the roster of every other one, with the " +
		"username as nick, subscription both and the group (\"\" or absent: none), replacing items that are there, " +
		"and pushes the items. The users are those of the domain when the change is applied.",
	Args:    []Arg{argDomain, {Name: "group", Type: String, Optional: true, Doc: "The group of the items."}},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "push_alltoall"},
	Handle:  pushAlltoall,
	Apply:   applyPushAlltoall,
}

var ejProcessColumns = []string{"user", "contact"}

// ProcessRosteritems is ejabberd's process_rosteritems (its Mnesia form).
var ProcessRosteritems = &Def{
	Name: "process_rosteritems",
	Doc: "Lists (action list) or deletes (action delete, through the queue, with roster pushes) the roster items of " +
		"the users of the caller's domains that match every filter, and answers them as {user, contact}. subs: " +
		"':'-separated none, from, to, both or any; asks: none, out, in, both or any; users and contacts: ':'-separated " +
		"JID globs (* ? [...], a leading ! negates; a pattern without @ matches only JIDs without a localpart) or any. " +
		"Another action: 400 \"Invalid 'action'\".",
	Args: []Arg{
		{Name: "action", Type: String, Doc: "list or delete."},
		{Name: "subs", Type: String, Doc: "Subscriptions to match."},
		{Name: "asks", Type: String, Doc: "Pending requests to match."},
		{Name: "users", Type: String, Doc: "JID patterns of the roster owners."},
		{Name: "contacts", Type: String, Doc: "JID patterns of the contacts."},
	},
	Result:  Result{Kind: ResultTable, Name: "response", Columns: ejProcessColumns},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "process_rosteritems"},
	Handle:  processRosteritems,
	Apply:   applyProcessRosteritems,
}

// ejJID normalises user@host (a localpart and a domain, neither empty).
func ejJID(user, host string) (string, error) {
	if strings.ContainsAny(host, "@/") {
		return "", errors.New("not a domain")
	}
	l, err := NormalizeLocalpart(user)
	if err != nil {
		return "", err
	}
	return ParseBareJID(l + "@" + host)
}

// splitEjGroups splits ejabberd's ';'-separated groups, dropping empty
// names and repeats.
func splitEjGroups(s string) []string { return uniqueGroups(strings.Split(s, ";")) }

// uniqueGroups drops empty and repeated group names, keeping the order.
func uniqueGroups(l []string) []string {
	out := []string{}
	seen := map[string]bool{}
	for _, g := range l {
		if g != "" && !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	return out
}

// ejGroups are add_rosteritem's groups: the v1 list, or the v0 string.
func ejGroups(v Values) []string {
	if v.Has("group_list") {
		return uniqueGroups(v.List("group_list"))
	}
	return splitEjGroups(v.String("groups"))
}

// ejRosterCall validates the owner and the contact of add_rosteritem and
// delete_rosteritem, in ejabberd's order.
func ejRosterCall(c *Call) (owner, contact string, err error) {
	if owner, err = NormalizeLocalpart(c.Args.String("username")); err != nil {
		return "", "", errInvalidLocal
	}
	if contact, err = ejJID(c.Args.String("contact_user"), c.Args.String("contact_host")); err != nil {
		return "", "", errInvalidContact
	}
	return owner, contact, nil
}

// queueRoster queues rc for its owner; found is false, and nothing
// queued, if the owner does not exist.
func queueRoster(ctx context.Context, c *Call, rc rosterChange) (Receipt, bool, error) {
	return queueForUser(ctx, c, rc.Username, rc)
}

// putEjItem writes a visible item over whatever row there is (keeping its
// pending request flags) and schedules the push.
func putEjItem(ctx context.Context, tx *store.Tx, w *queue.Work, userID int64, domain, username string, it store.RosterItem) error {
	old, err := tx.Reader.RosterItem(ctx, userID, it.Contact)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	it.Ask, it.PendingIn, it.Visible = old.Ask, old.PendingIn, true
	if _, err := tx.PutRosterItem(ctx, userID, it); err != nil {
		return err
	}
	contact := it.Contact
	w.After(func(e queue.Effects) { e.RosterChanged(domain, username, contact) })
	return nil
}

func addRosteritem(ctx context.Context, c *Call) (any, error) {
	owner, contact, err := ejRosterCall(c)
	if err != nil {
		return nil, err
	}
	sub := c.Args.String("subscription")
	switch sub {
	case store.SubNone, store.SubFrom, store.SubTo, store.SubBoth:
	default:
		return nil, Errorf(Invalid, ReasonMalformed, "subscription", "not one of none, from, to, both")
	}
	d := c.Args.Domain("domain")
	q, found, err := queueRoster(ctx, c, rosterChange{Username: owner, Domain: d.FQDN, DomainID: d.ID, Contact: contact,
		Name: c.Args.String("name"), Subscription: sub, Groups: ejGroups(c.Args)})
	if err != nil || !found {
		return StatusFailed, err
	}
	return q, nil
}

func applyAddRosteritem(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	rc, err := rosterArgs(w)
	if err != nil {
		return err
	}
	if err := requireUser(ctx, tx, w.UserID, rc.Username, rc.Domain); err != nil {
		return err
	}
	return putEjItem(ctx, tx, w, w.UserID, rc.Domain, rc.Username,
		store.RosterItem{Contact: rc.Contact, Name: rc.Name, Subscription: rc.Subscription, Groups: rc.Groups})
}

func deleteRosteritem(ctx context.Context, c *Call) (any, error) {
	owner, contact, err := ejRosterCall(c)
	if err != nil {
		return nil, err
	}
	d := c.Args.Domain("domain")
	q, found, err := queueRoster(ctx, c, rosterChange{Username: owner, Domain: d.FQDN, DomainID: d.ID, Contact: contact})
	if err != nil || !found {
		return StatusOK, err
	}
	return q, nil
}

// rosterAsk is what ejabberd 23.01's get_roster says of an item's outbound
// request: its roster_get hook hands out the client-facing item, whose ask is
// "subscribe" while our request is pending and unset otherwise (Erlang's
// undefined), whatever the item went through (checked on a running 23.01:
// add_rosteritem, import, and XMPP subscriptions in every state).
func rosterAsk(it store.RosterItem) string {
	if it.Ask {
		return "subscribe"
	}
	return "undefined"
}

// ejAsk is ejabberd's stored ask of an item (the roster record's field that
// process_rosteritems filters on): none, out, in or both.
func ejAsk(it store.RosterItem) string {
	switch {
	case it.Ask && it.PendingIn:
		return "both"
	case it.Ask:
		return "out"
	case it.PendingIn:
		return "in"
	}
	return "none"
}

func getRoster(ctx context.Context, c *Call) (any, error) {
	name, err := NormalizeLocalpart(c.Args.String("username"))
	if err != nil {
		return nil, errInvalidUser
	}
	t := Table{Columns: ejRosterColumns, Rows: [][]any{}}
	u, err := c.Env.Store.UserByJID(ctx, c.Args.Domain("domain").FQDN, name)
	if errors.Is(err, store.ErrNotFound) || err == nil && u.Status == store.StatusPendingDelete {
		return t, nil
	}
	if err != nil {
		return nil, err
	}
	items, _, err := c.Env.Store.RosterWithShared(ctx, u) // shared groups' contacts too, as ejabberd's roster_get hook
	if err != nil {
		return nil, err
	}
	for _, it := range items {
		if !it.Visible {
			continue
		}
		groups := it.Groups
		if len(groups) == 0 {
			groups = []string{""}
		}
		for _, g := range groups {
			t.Rows = append(t.Rows, []any{it.Contact, it.Name, it.Subscription, rosterAsk(it), g})
		}
	}
	return t, nil
}

// allToAll is the change record of push_alltoall.
type allToAll struct {
	Domain   string   `json:"domain"`
	DomainID int64    `json:"domain_id"`
	Groups   []string `json:"groups,omitempty"`
}

func pushAlltoall(ctx context.Context, c *Call) (any, error) {
	d := c.Args.Domain("domain")
	return c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
		return changeOf(0, allToAll{Domain: d.FQDN, DomainID: d.ID, Groups: splitEjGroups(c.Args.String("group"))})
	})
}

func applyPushAlltoall(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var a allToAll
	if err := json.Unmarshal(w.Args, &a); err != nil {
		return err
	}
	all, err := tx.DomainUsers(ctx, a.DomainID)
	if err != nil {
		return err
	}
	var users []store.User
	for _, u := range all {
		if u.Status != store.StatusPendingDelete {
			users = append(users, u)
		}
	}
	for _, u := range users {
		for _, v := range users {
			if u.ID == v.ID {
				continue
			}
			it := store.RosterItem{Contact: v.Username + "@" + a.Domain, Name: v.Username, Subscription: store.SubBoth,
				Groups: append([]string{}, a.Groups...)}
			if err := putEjItem(ctx, tx, w, u.ID, a.Domain, u.Username, it); err != nil {
				return err
			}
		}
	}
	return nil
}

// ejGlob is one JID pattern of process_rosteritems: globs (* ? [...], a
// leading ! negates) for the localpart and the domain.
type ejGlob struct {
	user, host string
}

// globMatch matches s against a shell glob as ejabberd's is_glob_match
// does (sh_to_awk): * any run, ? one character, [...] a class ([!...]
// negated), the whole string; a leading ! negates the result.
func globMatch(s, glob string) bool {
	neg := false
	if g, ok := strings.CutPrefix(glob, "!"); ok {
		neg, glob = true, g
	}
	var re strings.Builder
	re.WriteString("^(?s:")
	rs := []rune(glob)
	for i := 0; i < len(rs); i++ {
		switch r := rs[i]; r {
		case '*':
			re.WriteString(".*")
		case '?':
			re.WriteString(".")
		case '[':
			end := -1
			for j := i + 1; j < len(rs); j++ {
				if rs[j] == ']' && j > i+1 {
					end = j
					break
				}
			}
			if end < 0 {
				re.WriteString(regexp.QuoteMeta(string(r)))
				continue
			}
			class := string(rs[i+1 : end])
			re.WriteString("[")
			if c, ok := strings.CutPrefix(class, "!"); ok {
				re.WriteString("^")
				class = c
			}
			re.WriteString(strings.ReplaceAll(strings.ReplaceAll(class, `\`, `\\`), "[", `\[`))
			re.WriteString("]")
			i = end
		default:
			re.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	re.WriteString(")$")
	x, err := regexp.Compile(re.String())
	return err == nil && x.MatchString(s) != neg
}

// ejGlobs splits a ':'-separated JID pattern list; "any" is every JID with
// or without a localpart.
func ejGlobs(s string) []ejGlob {
	var out []ejGlob
	for _, p := range strings.Split(s, ":") {
		switch {
		case p == "":
		case p == "any":
			out = append(out, ejGlob{"", "*"}, ejGlob{"*", "*"})
		default:
			p = strings.ToLower(p)
			if u, h, ok := strings.Cut(p, "@"); ok {
				out = append(out, ejGlob{u, h})
			} else {
				out = append(out, ejGlob{"", p})
			}
		}
	}
	return out
}

// matchJID is ejabberd's decide_rip_jid: a pattern without a localpart
// matches only JIDs without one.
func matchJID(jid string, globs []ejGlob) bool {
	user, host, ok := strings.Cut(jid, "@")
	if !ok {
		user, host = "", jid
	}
	for _, g := range globs {
		if !globMatch(host, g.host) {
			continue
		}
		if g.user == "" && user == "" || g.user != "" && user != "" && globMatch(user, g.user) {
			return true
		}
	}
	return false
}

// ejTokens splits a ':'-separated list; "any" is all of every.
func ejTokens(s string, every ...string) map[string]bool {
	out := map[string]bool{}
	for _, t := range strings.Split(s, ":") {
		if t == "any" {
			for _, e := range every {
				out[e] = true
			}
		} else if t != "" {
			out[t] = true
		}
	}
	return out
}

// rosterDelete is one item process_rosteritems deletes.
type rosterDelete struct {
	UserID   int64  `json:"user_id"`
	Domain   string `json:"domain"`
	Username string `json:"username"`
	Contact  string `json:"contact"`
}

func processRosteritems(ctx context.Context, c *Call) (any, error) {
	action := c.Args.String("action")
	if action != "list" && action != "delete" {
		return nil, Errorf(Invalid, ReasonMalformed, "action", "not list or delete")
	}
	subs := ejTokens(c.Args.String("subs"), store.SubNone, store.SubFrom, store.SubTo, store.SubBoth)
	asks := ejTokens(c.Args.String("asks"), "none", "out", "in", "both")
	users, contacts := ejGlobs(c.Args.String("users")), ejGlobs(c.Args.String("contacts"))
	ds, err := c.Env.Store.Domains(ctx, c.Caller.Accounts)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: ejProcessColumns, Rows: [][]any{}}
	var del []rosterDelete
	for _, d := range ds {
		us, err := c.Env.Store.DomainUsers(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		for _, u := range us {
			owner := u.Username + "@" + d.FQDN
			if u.Status == store.StatusPendingDelete || !matchJID(owner, users) {
				continue
			}
			items, _, err := c.Env.Store.RosterItems(ctx, u.ID)
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				if it.Visible && subs[it.Subscription] && asks[ejAsk(it)] && matchJID(it.Contact, contacts) {
					t.Rows = append(t.Rows, []any{owner, it.Contact})
					del = append(del, rosterDelete{UserID: u.ID, Domain: d.FQDN, Username: u.Username, Contact: it.Contact})
				}
			}
		}
	}
	if action == "list" || len(del) == 0 {
		return t, nil
	}
	// The answer is the list, not the receipt: apply the change here
	// as RunNow would.
	q, err := c.Mutate(ctx, func(*store.Tx) (store.Change, error) {
		return changeOf(0, del)
	})
	if err != nil {
		return nil, err
	}
	if err := c.applyNow(ctx, q); err != nil {
		return nil, err
	}
	return t, nil
}

func applyProcessRosteritems(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var del []rosterDelete
	if err := json.Unmarshal(w.Args, &del); err != nil {
		return err
	}
	for _, d := range del {
		if _, err := visibleItem(ctx, tx.Reader, d.UserID, d.Contact); errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		if _, err := tx.DeleteRosterItem(ctx, d.UserID, d.Contact); err != nil {
			return fmt.Errorf("delete roster item: %w", err)
		}
		w.After(func(e queue.Effects) { e.RosterChanged(d.Domain, d.Username, d.Contact) })
	}
	return nil
}

// push_roster and push_roster_all (mod_admin_extra): a roster template
// file (see rosterfile.go) is pushed into rosters with subscription both,
// one-sided like add_rosteritem. ejabberd reads any path of its host;
// xmppgate reads a relative name from DATA/rosters/ (the operator) or
// DATA/rosters/<account id>/ (an account), and absolute paths as the other
// file commands do (filePath: the operator's transfer_dirs, an account's
// own folder only), so one account cannot push another's template into its
// own users and read it back. Every change is one queued change per target
// user, applied before the reply.

// RostersDir is where roster templates live, relative to the data dir.
const RostersDir = "rosters"

const (
	maxRosterFile    = 4 << 20 // bytes of a template
	maxPushRosterAll = 1000    // tuples of push_roster_all's template
)

var argRosterFile = Arg{Name: "file", Type: String, Path: true,
	Doc: "A file name relative to DATA/rosters/ (an account's: DATA/rosters/<account id>/), or the operator's absolute " +
		"path inside transfer_dirs; '..' and symbolic links leading out are refused."}

// PushRoster is ejabberd's push_roster.
var PushRoster = &Def{
	Name: "push_roster",
	Doc: "Reads the roster template DATA/rosters/<file> (an account's: DATA/rosters/<account id>/<file>), an Erlang " +
		"term [{User, Server, Group, Nick}, ...]. with binaries (<<\"u\">>, <<\"u\"/utf8>>) or strings (\"u\"), and " +
		"writes every tuple but user@host itself into user's roster as User@Server with nick Nick, groups Group " +
		"(';'-separated) and subscription both, replacing items that are there, and pushes them to user's resources. " +
		"One-sided like add_rosteritem. Answers 1 if user does not exist (nothing is stored). A missing or malformed " +
		"file, an absolute path outside transfer_dirs, '..' or a link leading out: 400 with the reason (ejabberd crashes: 500); an invalid " +
		"tuple: 400 \"Invalid 'user'/'server'\". On any error nothing is stored.",
	Args:    []Arg{argRosterFile, ejRosterUser, argDomain},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "push_roster"},
	Handle:  pushRoster,
	Apply:   applyPushRoster,
}

// PushRosterAll is ejabberd's push_roster_all.
var PushRosterAll = &Def{
	Name: "push_roster_all",
	Doc: "Reads a roster template as push_roster does and writes every listed user into the roster of every other " +
		"listed user (subscription both, nick and groups of the tuple), one queued change per user, and pushes the " +
		"items. Every listed server must be a domain of the caller (else 400 \"Unknown virtual host\", nothing is " +
		"stored); listed users that do not exist get no roster but are still written as contacts. At most 1000 " +
		"tuples. Errors of the file as push_roster.",
	Args:    []Arg{argRosterFile},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "push_roster_all"},
	Handle:  pushRosterAll,
	Apply:   applyPushRoster,
}

// rosterRoot is the caller's template folder.
func rosterRoot(c *Call) (root, shown string, err error) {
	data, err := dataDir(c)
	if err != nil {
		return "", "", err
	}
	if c.Caller.Operator {
		return filepath.Join(data, RostersDir), RostersDir + "/", nil
	}
	id := strconv.FormatInt(c.Caller.Account, 10)
	return filepath.Join(data, RostersDir, id), RostersDir + "/" + id + "/", nil
}

// rosterTemplate reads and parses the file argument.
func rosterTemplate(c *Call) ([]rosterEntry, error) {
	root, rootShown, err := rosterRoot(c)
	if err != nil {
		return nil, err
	}
	real, dir, shown, err := filePath(c, "file", root, rootShown)
	if err != nil {
		return nil, err
	}
	if real == dir {
		return nil, Errorf(Invalid, ReasonBadPath, "file", "file must name a file, not the folder %s", shown)
	}
	if err := existingFile(real, shown, "file"); err != nil {
		return nil, err
	}
	f, err := os.Open(real)
	if err != nil {
		return nil, Errorf(Invalid, ReasonBadFile, "file", "%s cannot be read", shown)
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, maxRosterFile+1))
	if err != nil {
		return nil, Errorf(Invalid, ReasonBadFile, "file", "%s cannot be read", shown)
	}
	if len(src) > maxRosterFile {
		return nil, Errorf(Invalid, ReasonBadFile, "file", "%s is larger than %d bytes", shown, maxRosterFile)
	}
	entries, err := parseRosterFile(src)
	if err != nil {
		return nil, Errorf(Invalid, ReasonBadFile, "file", "%s is not a roster template: %v", shown, err)
	}
	return entries, nil
}

// pushItem is one item a push writes.
type pushItem struct {
	Contact string   `json:"contact"`
	Name    string   `json:"name,omitempty"`
	Groups  []string `json:"groups,omitempty"`
}

// pushRosterChange is the change record of both commands: the items of one
// user's roster.
type pushRosterChange struct {
	Username string     `json:"username"`
	Domain   string     `json:"domain"`
	Items    []pushItem `json:"items"`
}

// templateJIDs normalises every tuple's user@server; bad is the error
// for an invalid tuple at index i.
func templateJIDs(entries []rosterEntry, bad func(i int) error) ([]string, error) {
	jids := make([]string, len(entries))
	for i, e := range entries {
		j, err := ejJID(e.User, e.Server)
		if err != nil {
			return nil, bad(i)
		}
		jids[i] = j
	}
	return jids, nil
}

// pushItems are the template's items for owner (itself left out, as
// ejabberd's subscribe_roster does); groups are ';'-separated.
func pushItems(entries []rosterEntry, jids []string, owner string) []pushItem {
	items := []pushItem{}
	for i, e := range entries {
		if jids[i] != owner {
			items = append(items, pushItem{Contact: jids[i], Name: e.Nick, Groups: splitEjGroups(e.Group)})
		}
	}
	return items
}

func pushRoster(ctx context.Context, c *Call) (any, error) {
	entries, err := rosterTemplate(c)
	if err != nil {
		return nil, err
	}
	name, err := NormalizeLocalpart(c.Args.String("username"))
	if err != nil {
		return nil, errInvalidLocal
	}
	jids, err := templateJIDs(entries, func(int) error { return errInvalidContact })
	if err != nil {
		return nil, err
	}
	d := c.Args.Domain("domain")
	p := pushRosterChange{Username: name, Domain: d.FQDN, Items: pushItems(entries, jids, name+"@"+d.FQDN)}
	q, err := c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
		u, err := usableUser(ctx, tx, d, name)
		if err != nil {
			return store.Change{}, err
		}
		return changeOf(u.ID, p)
	})
	if AsError(err).Reason == ReasonNoUser {
		return StatusFailed, nil
	}
	if err != nil {
		return nil, err
	}
	return q, nil
}

func pushRosterAll(ctx context.Context, c *Call) (any, error) {
	entries, err := rosterTemplate(c)
	if err != nil {
		return nil, err
	}
	if len(entries) > maxPushRosterAll {
		return nil, Errorf(Invalid, ReasonRosterTooLarge, "file", "push_roster_all takes at most %d tuples", maxPushRosterAll)
	}
	// ejabberd fails on the first owner, then on its first bad contact.
	jids, err := templateJIDs(entries, func(i int) error {
		if i == 0 {
			return errInvalidLocal
		}
		return errInvalidContact
	})
	if err != nil {
		return nil, err
	}
	ds, err := c.Env.Store.Domains(ctx, c.Caller.Accounts)
	if err != nil {
		return nil, err
	}
	domains := map[string]store.Domain{}
	for _, d := range ds {
		domains[d.FQDN] = d
	}
	for _, j := range jids {
		host := j[strings.IndexByte(j, '@')+1:]
		if _, ok := domains[host]; !ok {
			// Another account's domain looks like one nobody serves.
			return nil, Errorf(Invalid, ReasonUnknownDomain, "file", "%s is not a domain of this account", host)
		}
	}
	qs, err := c.MutateEach(ctx, func(tx *store.Tx, add func(store.Change) error) error {
		seen := map[string]bool{}
		for _, owner := range jids {
			if seen[owner] {
				continue
			}
			seen[owner] = true
			user, host, _ := strings.Cut(owner, "@")
			u, err := usableUser(ctx, tx, domains[host], user)
			if AsError(err).Reason == ReasonNoUser {
				continue
			}
			if err != nil {
				return err
			}
			args, err := json.Marshal(pushRosterChange{Username: user, Domain: host, Items: pushItems(entries, jids, owner)})
			if err != nil {
				return err
			}
			if err := add(store.Change{UserID: u.ID, Args: args}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := c.applyNow(ctx, qs...); err != nil {
		return nil, err
	}
	return StatusOK, nil
}

// applyPushRoster writes a push change's items over the user's roster
// (push_roster's and push_roster_all's changes alike).
func applyPushRoster(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var p pushRosterChange
	if err := json.Unmarshal(w.Args, &p); err != nil {
		return err
	}
	if err := requireUser(ctx, tx, w.UserID, p.Username, p.Domain); err != nil {
		return err
	}
	for _, it := range p.Items {
		ri := store.RosterItem{Contact: it.Contact, Name: it.Name, Subscription: store.SubBoth, Groups: it.Groups}
		if err := putEjItem(ctx, tx, w, w.UserID, p.Domain, p.Username, ri); err != nil {
			return err
		}
	}
	return nil
}
