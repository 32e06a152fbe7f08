package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// The ejabberd roster family (mod_admin_extra), v0 (ejabberd 23.01). The
// Openfire roster Defs do not fit (add_roster refuses an existing item,
// subscriptions are numbers, the contact is one JID), so these are Defs of
// their own over the same store calls and change record. Like ejabberd,
// add_rosteritem is one-sided: the contact's roster is untouched and no
// subscription stanza is sent; the user's interested resources get the
// roster push.

// ReasonInvalidJID: the user or contact JID of a roster command does not
// parse; Msg is ejabberd's text ("Invalid 'user'/'server'").
const ReasonInvalidJID Reason = "invalid_jid"

var (
	ejLocalUser = Arg{Name: "username", Type: String, Names: map[Dialect]string{Ejabberd: "localuser"},
		Doc: "The roster's owner (JID localpart), PRECIS-normalised."}
	ejLocalHost = Arg{Name: "domain", Type: Domain, Names: map[Dialect]string{Ejabberd: "localhost"},
		Doc: "The owner's domain, one of the caller's account (alias localserver)."}
	ejContactUser = Arg{Name: "contact_user", Type: String, Names: map[Dialect]string{Ejabberd: "user"},
		Doc: "The contact's localpart."}
	ejContactHost = Arg{Name: "contact_host", Type: String, Names: map[Dialect]string{Ejabberd: "host"},
		Doc: "The contact's domain, any domain (alias server)."}
	ejNick = Arg{Name: "name", Type: String, Optional: true, Names: map[Dialect]string{Ejabberd: "nick"},
		Doc: "The item's nickname; absent or empty: none."}
	ejGroup = Arg{Name: "groups", Type: String, Optional: true, Names: map[Dialect]string{Ejabberd: "group"}, EjUntil: 1,
		Doc: "API v0: roster groups separated by ';'; absent or empty: none."}
	ejGroupList = Arg{Name: "group_list", Type: List, Optional: true, Names: map[Dialect]string{Ejabberd: "groups"}, EjSince: 1,
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

// queueRoster queues a roster change of an existing owner; found is false
// (and nothing queued) if the owner does not exist.
func queueRoster(ctx context.Context, c *Call, rc rosterChange) (q Receipt, found bool, err error) {
	d := c.Args.Domain("domain")
	q, err = c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
		u, err := usableUser(ctx, tx, d, rc.Username)
		if err != nil {
			return store.Change{}, err
		}
		args, err := json.Marshal(rc)
		return store.Change{UserID: u.ID, Args: args}, err
	})
	if AsError(err).Reason == ReasonNoUser {
		return q, false, nil
	}
	return q, err == nil, err
}

// rosterOwner loads the change's user inside the apply transaction.
func rosterOwner(ctx context.Context, tx *store.Tx, w *queue.Work, rc rosterChange) error {
	if _, err := tx.UserByID(ctx, w.UserID); errors.Is(err, store.ErrNotFound) {
		return Errorf(NotFound, ReasonNoUser, "username", "user %s@%s does not exist", rc.Username, rc.Domain)
	} else if err != nil {
		return err
	}
	return nil
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
	Handle: func(ctx context.Context, c *Call) (any, error) {
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
	},
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
		rc, err := rosterArgs(w)
		if err != nil {
			return err
		}
		if err := rosterOwner(ctx, tx, w, rc); err != nil {
			return err
		}
		return putEjItem(ctx, tx, w, w.UserID, rc.Domain, rc.Username,
			store.RosterItem{Contact: rc.Contact, Name: rc.Name, Subscription: rc.Subscription, Groups: rc.Groups})
	},
}

// ejGroups are add_rosteritem's groups: the v1 list, or the v0 string.
func ejGroups(v Values) []string {
	if v.Has("group_list") {
		return uniqueGroups(v.List("group_list"))
	}
	return splitEjGroups(v.String("groups"))
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
	Handle: func(ctx context.Context, c *Call) (any, error) {
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
	},
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
		rc, err := rosterArgs(w)
		if err != nil {
			return err
		}
		if err := rosterOwner(ctx, tx, w, rc); err != nil {
			return err
		}
		old, err := visibleItem(ctx, tx.Reader, w.UserID, rc.Contact)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if _, err := tx.DeleteRosterItem(ctx, w.UserID, old.Contact); err != nil {
			return fmt.Errorf("delete roster item: %w", err)
		}
		w.After(func(e queue.Effects) { e.RosterChanged(rc.Domain, rc.Username, rc.Contact) })
		return nil
	},
}

var ejRosterColumns = []string{"jid", "nick", "subscription", "ask", "group"}

// ejAsk is ejabberd's ask of an item: none, out, in or both.
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

// GetRoster is ejabberd's get_roster in its 23.01 shape.
var GetRoster = &Def{
	Name: "get_roster",
	Doc: "Lists a user's roster by contact JID, one entry per group of each item (group \"\" for an item without " +
		"groups), ask none, out, in or both. A user that does not exist has an empty roster. This is the 23.01 shape " +
		"(23.10 answers one entry per item with pending and a groups list).",
	Args:   []Arg{ejRosterUser, argDomain},
	Result: Result{Kind: ResultTable, Name: "contacts", Columns: ejRosterColumns},
	Names:  map[Dialect]string{Ejabberd: "get_roster"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
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
				t.Rows = append(t.Rows, []any{it.Contact, it.Name, it.Subscription, ejAsk(it), g})
			}
		}
		return t, nil
	},
}

// allToAll is the change record of push_alltoall.
type allToAll struct {
	Domain   string   `json:"domain"`
	DomainID int64    `json:"domain_id"`
	Groups   []string `json:"groups,omitempty"`
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
	Handle: func(ctx context.Context, c *Call) (any, error) {
		d := c.Args.Domain("domain")
		return c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
			args, err := json.Marshal(allToAll{Domain: d.FQDN, DomainID: d.ID, Groups: splitEjGroups(c.Args.String("group"))})
			return store.Change{Args: args}, err
		})
	},
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
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
	},
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
	Handle: func(ctx context.Context, c *Call) (any, error) {
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
			args, err := json.Marshal(del)
			return store.Change{Args: args}, err
		})
		if err != nil {
			return nil, err
		}
		if err := c.applyNow(ctx, q); err != nil {
			return nil, err
		}
		return t, nil
	},
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
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
	},
}
