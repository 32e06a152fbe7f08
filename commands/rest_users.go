package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// UserObject is the REST user object (seed 001), keys in sorted order.
type UserObject struct {
	Enabled        bool   `json:"enabled"`
	JID            string `json:"jid"`
	Password       string `json:"password"`
	ResourceURI    string `json:"resourceUri"`
	Username       string `json:"username"`
	XMPPDomain     string `json:"xmppDomain"`
	XMPPDomainURI  string `json:"xmppDomainUri"`
	XMPPUserACLURI string `json:"xmppUserAclUri"`
}

var userObjectColumns = []string{"enabled", "jid", "password", "resourceUri", "username", "xmppDomain", "xmppDomainUri", "xmppUserAclUri"}

// RESTUserURI is a user's REST path.
func RESTUserURI(fqdn, username string) string {
	return RESTDomainURI(fqdn) + "/users/" + url.PathEscape(username)
}

// Enabled reports whether a user is (or is about to be) allowed to log in.
func Enabled(s store.Status) bool { return s == store.StatusActive || s == store.StatusPendingActive }

func (c *Call) userObject(u store.User) (UserObject, error) {
	pw := ""
	if u.PasswordSealed != nil {
		plain, err := c.Env.Box.Open(u.PasswordSealed, PurposePassword)
		if err != nil {
			return UserObject{}, fmt.Errorf("open password of user %d: %w", u.ID, err)
		}
		pw = string(plain)
	}
	base := RESTUserURI(u.Domain, u.Username)
	return UserObject{Enabled: Enabled(u.Status), JID: u.Username + "@" + u.Domain, Password: pw,
		ResourceURI: base + "?format=json", Username: u.Username, XMPPDomain: u.Domain,
		XMPPDomainURI: RESTDomainURI(u.Domain) + "?format=json", XMPPUserACLURI: base + "/acl?format=json"}, nil
}

// ListMeta is the meta object of a REST list.
type ListMeta struct {
	Limit      int     `json:"limit"`
	Next       *string `json:"next"`
	Offset     *string `json:"offset"`
	Previous   *string `json:"previous"`
	TotalCount int     `json:"totalCount"`
}

// UserList is a page of users.
type UserList struct {
	Meta    ListMeta     `json:"meta"`
	Objects []UserObject `json:"objects"`
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
	Result: Result{Kind: ResultTable, Columns: []string{"meta", "objects"}},
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
		more := len(users) > limit
		if more {
			users = users[:limit]
		}
		out := UserList{Meta: ListMeta{Limit: limit, TotalCount: total}, Objects: make([]UserObject, 0, len(users))}
		for _, u := range users {
			o, err := c.userObject(u)
			if err != nil {
				return nil, err
			}
			out.Objects = append(out.Objects, o)
		}
		if len(users) > 0 {
			last := users[len(users)-1].Username
			out.Meta.Offset = &last
			if more {
				next := fmt.Sprintf("%s/users?limit=%d&offset=%s", RESTDomainURI(d.FQDN), limit, url.QueryEscape(last))
				out.Meta.Next = &next
			}
		}
		return out, nil
	},
}

// RESTUserGet returns one user object.
var RESTUserGet = &Def{
	Name:   "rest_user_get",
	Doc:    "Returns a user object: name, JID, password, enabled (active or pending-active) and URIs.",
	Args:   []Arg{argRESTDomain, argRESTUsername},
	Result: Result{Kind: ResultTable, Columns: userObjectColumns},
	Names:  map[Dialect]string{REST: "GET xmppdomains/<fqdn>/users/<username>"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		u, err := userIn(ctx, c.Env.Store.Reader, c.Args.Domain("domain"), c.Args.String("username"), "username")
		if err != nil {
			return nil, err
		}
		return c.userObject(u)
	},
}

// RESTSetPassword queues a new password for a user.
var RESTSetPassword = &Def{
	Name: "set_password",
	Doc: "Changes a user's password: the worker derives its SCRAM keys and closes the user's sessions. " +
		"The user's state does not change.",
	Args:    []Arg{argUsername, argRESTDomain, {Name: "password", Type: Password, Secret: true, Doc: "The new password."}},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{REST: "PUT xmppdomains/<fqdn>/users/<username> password"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		d, name := c.Args.Domain("domain"), c.Args.String("username")
		sealed := c.Env.Box.Seal([]byte(c.Args.String("password")), PurposePassword)
		return c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
			u, err := usableUser(ctx, tx, d, name)
			if err != nil {
				return store.Change{}, err
			}
			return changeFor(u, sealed)
		})
	},
	Prepare:     func(ctx context.Context, env *Env, w *queue.Work) error { return AddUser.Prepare(ctx, env, w) },
	ApplyAtomic: true,
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
		c, err := changeArgs(w)
		if err != nil {
			return err
		}
		if err := tx.SetUserCredentials(ctx, w.UserID, w.Prepared.(credential.SCRAM), c.Sealed); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return Errorf(NotFound, ReasonNoUser, "username", "user %s@%s does not exist", c.Username, c.Domain)
			}
			return err
		}
		w.After(func(e queue.Effects) { e.PasswordChanged(c.Domain, c.Username) })
		return nil
	},
}

// The user ACL flags and their labels (the spec's §4.5).
var (
	aclLabels = map[string]string{
		"muc":          "Access Multi User Chats (muc)",
		"mucAdmin":     "Administer Multi User Chats (muc_admin)",
		"mucCreate":    "Create Multi User Chats (muc_create)",
		"pubsubCreate": "Create PubSub Nodes (pubsub_create)",
		"xmppgateway":  "Send messages using the HTTP API (xmppgateway)",
	}
	aclDefaults = map[string]bool{"muc": false, "mucAdmin": false, "mucCreate": false, "pubsubCreate": true, "xmppgateway": false}
)

// ACLObject is the REST user ACL object.
type ACLObject struct {
	ACL           map[string]bool   `json:"acl"`
	ACLLabels     map[string]string `json:"aclLabels"`
	JID           string            `json:"jid"`
	ResourceURI   string            `json:"resourceUri"`
	Username      string            `json:"username"`
	XMPPDomain    string            `json:"xmppDomain"`
	XMPPDomainURI string            `json:"xmppDomainUri"`
	XMPPUserURI   string            `json:"xmppUserUri"`
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

func aclObject(u store.User, acl map[string]bool) ACLObject {
	base := RESTUserURI(u.Domain, u.Username)
	return ACLObject{ACL: acl, ACLLabels: aclLabels, JID: u.Username + "@" + u.Domain, ResourceURI: base + "/acl?format=json",
		Username: u.Username, XMPPDomain: u.Domain, XMPPDomainURI: RESTDomainURI(u.Domain) + "?format=json",
		XMPPUserURI: base + "?format=json"}
}

var aclColumns = []string{"acl", "aclLabels", "jid", "resourceUri", "username", "xmppDomain", "xmppDomainUri", "xmppUserUri"}

// RESTUserACLGet returns a user's ACL object.
var RESTUserACLGet = &Def{
	Name:   "rest_user_acl_get",
	Doc:    "Returns a user's ACL flags (muc, mucAdmin, mucCreate, pubsubCreate, xmppgateway) with their labels.",
	Args:   []Arg{argRESTDomain, argRESTUsername},
	Result: Result{Kind: ResultTable, Columns: aclColumns},
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
		return aclObject(u, acl), nil
	},
}

// RESTUserACLSet changes some of a user's ACL flags.
var RESTUserACLSet = &Def{
	Name: "rest_user_acl_set",
	Doc: "Changes the ACL flags present in {\"acl\": {name: boolean}}; absent flags are kept, unknown ones refused. " +
		"Not queued: written at once (the flags are stored and reported; nothing enforces them yet).",
	Args: []Arg{argRESTDomain, argRESTUsername,
		{Name: "acl", Type: String, Doc: "The JSON body {\"acl\": {...}}."}},
	Result: Result{Kind: ResultTable, Columns: aclColumns},
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
		var obj ACLObject
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
			obj = aclObject(u, acl)
			return tx.Audit(ctx, d.AccountID, c.Caller.Actor, "rest user acl", u.Username+"@"+d.FQDN)
		})
		if err != nil {
			return nil, err
		}
		return obj, nil
	},
}
