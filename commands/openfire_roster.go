package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// subRemove is the subscription code -1: the item is removed.
const subRemove = "remove"

// subscriptionCodes maps Openfire's RosterItem.SubType numbers to RFC 6121
// subscription states. The codes are compared as strings, as Openfire does.
var subscriptionCodes = map[string]string{
	"-1": subRemove, "0": store.SubNone, "1": store.SubTo, "2": store.SubFrom, "3": store.SubBoth,
}

var (
	argContact = Arg{Name: "contact", Type: String, Names: map[Dialect]string{Openfire: "item_jid", OpenfireREST: "jid"},
		Doc: "The contact's JID; a resource is dropped, the rest normalised."}
	argNick         = Arg{Name: "name", Type: String, Optional: true, Names: map[Dialect]string{OpenfireREST: "nickname"}, Doc: "The item's nickname; absent clears it on update."}
	argSubscription = Arg{Name: "subscription", Type: String, Optional: true, Names: map[Dialect]string{OpenfireREST: "subscriptionType"},
		Doc: "-1 (remove), 0 (none, the default), 1 (to), 2 (from) or 3 (both)."}
	argRosterGroups = Arg{Name: "groups", Type: String, Optional: true,
		Doc: "Comma-separated roster groups; none may be the name of a shared group shown in rosters. Absent clears them on update."}
)

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

// rosterDef builds the three roster item commands; check says whether the
// item's existence (mustExist) and groups are checked.
func rosterDef(name, wire, doc string, check, mustExist bool, apply func(ctx context.Context, tx *store.Tx, w *queue.Work, rc rosterChange, old store.RosterItem) (bool, error)) *Def {
	return &Def{
		Name:    name,
		Doc:     doc,
		Args:    []Arg{argUsername, argDomain, argContact, argNick, argSubscription, argRosterGroups},
		Result:  Result{Kind: ResultToken},
		Mutates: true,
		Names:   map[Dialect]string{Openfire: wire},
		Handle: func(ctx context.Context, c *Call) (any, error) {
			return c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
				rc, u, err := rosterCall(ctx, c, tx)
				if err != nil {
					return store.Change{}, err
				}
				if check {
					if _, err := checkRoster(ctx, tx.Reader, u.ID, rc, mustExist); err != nil {
						return store.Change{}, err
					}
				}
				args, err := json.Marshal(rc)
				return store.Change{UserID: u.ID, Args: args}, err
			})
		},
		Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
			rc, err := rosterArgs(w)
			if err != nil {
				return err
			}
			if _, err := tx.UserByID(ctx, w.UserID); errors.Is(err, store.ErrNotFound) {
				return Errorf(NotFound, ReasonNoUser, "username", "user %s@%s does not exist", rc.Username, rc.Domain)
			} else if err != nil {
				return err
			}
			var old store.RosterItem
			if check {
				if old, err = checkRoster(ctx, tx.Reader, w.UserID, rc, mustExist); err != nil {
					return err
				}
			}
			changed, err := apply(ctx, tx, w, rc, old)
			if err != nil {
				return err
			}
			if changed {
				w.After(func(e queue.Effects) { e.RosterChanged(rc.Domain, rc.Username, rc.Contact) })
			}
			return nil
		},
	}
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

// AddRosterItem is Openfire's add_roster.
var AddRosterItem = withNames(map[Dialect]string{OpenfireREST: "POST users/{username}/roster"}, rosterDef("add_roster_item", "add_roster",
	"Adds a contact to a user's roster with a nickname, groups and subscription state, without a roster push to the contact. "+
		"Fails if the contact is already in the roster.",
	true, false, putItem))

// UpdateRosterItem is Openfire's update_roster.
var UpdateRosterItem = rosterDef("update_roster_item", "update_roster",
	"Replaces the nickname, groups and subscription state of a roster item; absent arguments clear them (subscription: none).",
	true, true, putItem)

// DeleteRosterItem is Openfire's delete_roster.
var DeleteRosterItem = rosterDef("delete_roster_item", "delete_roster",
	"Removes a contact from a user's roster; a contact that is not there is no error.",
	false, false, func(ctx context.Context, tx *store.Tx, w *queue.Work, rc rosterChange, _ store.RosterItem) (bool, error) {
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
	})
