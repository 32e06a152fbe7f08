package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// UserInfo is one user as the REST API's user object shows it.
type UserInfo struct {
	Username, Domain string
	Password         string // the recoverable copy; "" if there is none
	// Enabled: the user may log in, or will once its pending change is
	// applied (active or pending-active).
	Enabled bool
}

// UserPage is one page of a domain's users, by name.
type UserPage struct {
	Users []UserInfo
	Limit int  // the page size used
	Total int  // every user of the domain
	More  bool // a page follows
}

// Enabled reports whether a user is (or is about to be) allowed to log in.
func Enabled(s store.Status) bool { return s == store.StatusActive || s == store.StatusPendingActive }

func (c *Call) userInfo(u store.User) (UserInfo, error) {
	pw := ""
	if u.PasswordSealed != nil {
		plain, err := c.Env.Box.Open(u.PasswordSealed, PurposePassword)
		if err != nil {
			return UserInfo{}, fmt.Errorf("open password of user %d: %w", u.ID, err)
		}
		pw = string(plain)
	}
	return UserInfo{Username: u.Username, Domain: u.Domain, Password: pw, Enabled: Enabled(u.Status)}, nil
}

// Paging of the user list.
const (
	DefaultUserPage = 20
	MaxUserPage     = 50
)

var argRESTUsername = Arg{Name: "username", Type: Localpart, Doc: "The user's name (JID localpart), PRECIS-normalised."}

// RESTUserList lists a domain's users, a page at a time.
var RESTUserList = &Def{
	Name: "rest_user_list",
	Doc: "Lists the users of a domain by name, limit at a time (default 20, at most 50), starting after the username offset. " +
		"meta.next is the next page's URI (null on the last page), meta.totalCount counts every user of the domain.",
	Args: []Arg{argRESTDomain,
		{Name: "limit", Type: Int, Optional: true, Doc: "Page size, 1 to 50 (larger is cut to 50); default 20."},
		{Name: "offset", Type: String, Optional: true, Doc: "The username to start after."}},
	Result: Result{Kind: ResultRecord, Name: "UserPage"},
	Names:  map[Dialect]string{REST: "GET xmppdomains/<fqdn>/users"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		d := c.Args.Domain("domain")
		limit := DefaultUserPage
		if c.Args.Has("limit") {
			n := c.Args.Int("limit")
			if n < 1 {
				return nil, Errorf(Invalid, ReasonMalformed, "limit", "limit must be a positive integer")
			}
			limit = int(min(n, MaxUserPage))
		}
		total, err := c.Env.Store.CountDomainUsers(ctx, d.ID)
		if err != nil {
			return nil, err
		}
		users, err := c.Env.Store.DomainUsersAfter(ctx, d.ID, c.Args.String("offset"), limit+1)
		if err != nil {
			return nil, err
		}
		page := UserPage{Limit: limit, Total: total, More: len(users) > limit, Users: []UserInfo{}}
		if page.More {
			users = users[:limit]
		}
		for _, u := range users {
			info, err := c.userInfo(u)
			if err != nil {
				return nil, err
			}
			page.Users = append(page.Users, info)
		}
		return page, nil
	},
}

// RESTUserGet returns one user object.
var RESTUserGet = &Def{
	Name:   "rest_user_get",
	Doc:    "Returns a user object: name, JID, password, enabled (active or pending-active) and URIs.",
	Args:   []Arg{argRESTDomain, argRESTUsername},
	Result: Result{Kind: ResultRecord, Name: "UserInfo"},
	Names:  map[Dialect]string{REST: "GET xmppdomains/<fqdn>/users/<username>"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		u, err := userIn(ctx, c.Env.Store.Reader, c.Args.Domain("domain"), c.Args.String("username"), "username")
		if err != nil {
			return nil, err
		}
		return c.userInfo(u)
	},
}

// RESTUserUpdate changes a user's password and whether it may log in, as
// one change: applied together or not at all.
var RESTUserUpdate = &Def{
	Name: "rest_user_update",
	Doc: "Changes a user's password (the worker derives its SCRAM keys and closes the user's sessions) and whether it may " +
		"log in (enabled false: pending-inactive, then inactive, sessions closed; true: pending-active, then active), " +
		"in one change applied as a whole. An enabled equal to the current state changes nothing; with nothing to change, " +
		"nothing is queued.",
	Args: []Arg{argUsername, argRESTDomain,
		{Name: "password", Type: Password, Secret: true, Optional: true, Doc: "The new password."},
		{Name: "enabled", Type: Bool, Optional: true, Doc: "Whether the user may log in."}},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{REST: "PUT xmppdomains/<fqdn>/users/<username>"},
	Handle:  restUserUpdate,
	Prepare: prepareRESTUserUpdate,
	Apply:   applyRESTUserUpdate,
}

// userUpdate is the argument record of a rest_user_update change: the
// sealed password copy (never the password) if it changes, and the state
// the user moves to if that changes.
type userUpdate struct {
	Username string       `json:"username"`
	Domain   string       `json:"domain"`
	Sealed   []byte       `json:"sealed,omitempty"`
	Status   store.Status `json:"status,omitempty"` // inactive or active
}

func restUserUpdate(ctx context.Context, c *Call) (any, error) {
	d, name := c.Args.Domain("domain"), c.Args.String("username")
	var sealed []byte
	if c.Args.Has("password") {
		sealed = c.Env.Box.Seal([]byte(c.Args.String("password")), PurposePassword)
	}
	queued := false
	rs, err := c.MutateEach(ctx, func(tx *store.Tx, add func(store.Change) error) error {
		u, err := usableUser(ctx, tx, d, name)
		if err != nil {
			return err
		}
		up := userUpdate{Username: u.Username, Domain: u.Domain, Sealed: sealed}
		if c.Args.Has("enabled") && c.Args.Bool("enabled") != Enabled(u.Status) {
			pending := store.StatusPendingInactive
			up.Status = store.StatusInactive
			if c.Args.Bool("enabled") {
				pending, up.Status = store.StatusPendingActive, store.StatusActive
			}
			if err := tx.SetUserStatus(ctx, u.ID, pending); err != nil {
				return err
			}
		}
		if up.Sealed == nil && up.Status == "" {
			return nil
		}
		args, err := json.Marshal(up)
		if err != nil {
			return err
		}
		queued = true
		return add(store.Change{UserID: u.ID, Args: args})
	})
	if err != nil {
		return nil, err
	}
	if !queued {
		return StatusOK, nil
	}
	return rs[0], nil
}

func prepareRESTUserUpdate(ctx context.Context, env *Env, w *queue.Work) error {
	var up userUpdate
	if err := json.Unmarshal(w.Args, &up); err != nil || up.Sealed == nil {
		return err
	}
	return prepareCredential(ctx, env, w)
}

func applyRESTUserUpdate(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var up userUpdate
	if err := json.Unmarshal(w.Args, &up); err != nil {
		return err
	}
	if up.Sealed != nil {
		if err := tx.SetUserCredentials(ctx, w.UserID, w.Prepared.(credential.SCRAM), up.Sealed); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return Errorf(NotFound, ReasonNoUser, "username", "user %s@%s does not exist", up.Username, up.Domain)
			}
			return err
		}
		w.After(func(e queue.Effects) { e.PasswordChanged(up.Domain, up.Username) })
	}
	switch up.Status {
	case store.StatusInactive:
		w.After(func(e queue.Effects) { e.UserGone(up.Domain, up.Username) })
		return stateError(tx.TransitionUser(ctx, w.UserID, store.StatusPendingInactive, store.StatusInactive), w, store.StatusPendingInactive)
	case store.StatusActive:
		return stateError(tx.TransitionUser(ctx, w.UserID, store.StatusPendingActive, store.StatusActive), w, store.StatusPendingActive)
	}
	return nil
}

// The user ACL flags (the spec's §4.5) and their defaults.
var aclDefaults = map[string]bool{"muc": false, "mucAdmin": false, "mucCreate": false, "pubsubCreate": true, "xmppgateway": false}

// ACLInfo is a user's ACL flags (all of them, defaults filled in).
type ACLInfo struct {
	Username, Domain string
	ACL              map[string]bool
}

func userACL(ctx context.Context, r store.Reader, u store.User) (map[string]bool, error) {
	acl := map[string]bool{}
	for k, v := range aclDefaults {
		acl[k] = v
	}
	raw, err := r.UserACL(ctx, u.ID)
	if err != nil || raw == nil {
		return acl, err
	}
	var stored map[string]bool
	if err := json.Unmarshal(raw, &stored); err != nil {
		return nil, fmt.Errorf("ACL of user %d: %w", u.ID, err)
	}
	for k, v := range stored {
		if _, ok := acl[k]; ok {
			acl[k] = v
		}
	}
	return acl, nil
}

// RESTUserACLGet returns a user's ACL object.
var RESTUserACLGet = &Def{
	Name:   "rest_user_acl_get",
	Doc:    "Returns a user's ACL flags (muc, mucAdmin, mucCreate, pubsubCreate, xmppgateway) with their labels.",
	Args:   []Arg{argRESTDomain, argRESTUsername},
	Result: Result{Kind: ResultRecord, Name: "ACLInfo"},
	Names:  map[Dialect]string{REST: "GET xmppdomains/<fqdn>/users/<username>/acl"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		u, err := userIn(ctx, c.Env.Store.Reader, c.Args.Domain("domain"), c.Args.String("username"), "username")
		if err != nil {
			return nil, err
		}
		acl, err := userACL(ctx, c.Env.Store.Reader, u)
		if err != nil {
			return nil, err
		}
		return ACLInfo{Username: u.Username, Domain: u.Domain, ACL: acl}, nil
	},
}

// RESTUserACLSet changes some of a user's ACL flags.
var RESTUserACLSet = &Def{
	Name: "rest_user_acl_set",
	Doc: "Changes the ACL flags present in {\"acl\": {name: boolean}}; absent flags are kept, unknown ones refused. " +
		"Not queued: written at once (the flags are stored and reported; nothing enforces them yet).",
	Args: []Arg{argRESTDomain, argRESTUsername,
		{Name: "acl", Type: String, Doc: "The JSON body {\"acl\": {...}}."}},
	Result: Result{Kind: ResultRecord, Name: "ACLInfo"},
	Names:  map[Dialect]string{REST: "POST xmppdomains/<fqdn>/users/<username>/acl"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		var body struct {
			ACL map[string]json.RawMessage `json:"acl"`
		}
		if err := json.Unmarshal([]byte(c.Args.String("acl")), &body); err != nil || body.ACL == nil {
			return nil, Errorf(Invalid, ReasonMalformed, "acl", "the body must be {\"acl\": {name: boolean, ...}}")
		}
		names := make([]string, 0, len(body.ACL))
		for k := range body.ACL {
			names = append(names, k)
		}
		sort.Strings(names)
		patch := map[string]bool{}
		for _, k := range names {
			if _, ok := aclDefaults[k]; !ok {
				return nil, Errorf(Invalid, ReasonMalformed, "acl", "unknown ACL %s", k)
			}
			var v bool
			if err := json.Unmarshal(body.ACL[k], &v); err != nil {
				return nil, Errorf(Invalid, ReasonMalformed, "acl", "acl.%s must be a boolean", k)
			}
			patch[k] = v
		}
		d, name := c.Args.Domain("domain"), c.Args.String("username")
		var obj ACLInfo
		err := c.Env.Store.Write(ctx, func(tx *store.Tx) error {
			u, err := userIn(ctx, tx.Reader, d, name, "username")
			if err != nil {
				return err
			}
			acl, err := userACL(ctx, tx.Reader, u)
			if err != nil {
				return err
			}
			for k, v := range patch {
				acl[k] = v
			}
			raw, err := json.Marshal(acl)
			if err != nil {
				return err
			}
			if err := tx.PutUserACL(ctx, u.ID, raw); err != nil {
				return err
			}
			obj = ACLInfo{Username: u.Username, Domain: u.Domain, ACL: acl}
			return tx.Audit(ctx, d.AccountID, c.Caller.Actor, "rest user acl", u.Username+"@"+d.FQDN)
		})
		if err != nil {
			return nil, err
		}
		return obj, nil
	},
}
