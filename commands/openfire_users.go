package commands

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// The Openfire names of the shared user commands defined in users.go.
// TODO(lead): move these three entries into the Names literals of
// RemoveUser, ReactivateUser and DeactivateUser, then delete this init.
// openfireDefs are the commands the Openfire User Service introduced.
var openfireDefs = []*Def{CreateUser, UpdateUser}

var (
	argName   = Arg{Name: "name", Type: String, Optional: true, Doc: "The user's display name."}
	argEmail  = Arg{Name: "email", Type: String, Optional: true, Doc: "The user's email address (not validated)."}
	argGroups = Arg{Name: "groups", Type: String, Optional: true,
		Doc: "Comma-separated shared group names; empty names are skipped, so \",\" is the empty list. Missing groups are created (shown to their own members)."}
)

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

// profileChange is the argument record of create_user and update_user
// changes. Nil pointers are "leave unchanged"; Sealed is the AES-GCM
// password copy, never the password.
type profileChange struct {
	Username string    `json:"username"`
	Domain   string    `json:"domain"`
	DomainID int64     `json:"domain_id"`
	Sealed   []byte    `json:"sealed,omitempty"`
	Name     *string   `json:"name,omitempty"`
	Email    *string   `json:"email,omitempty"`
	Groups   *[]string `json:"groups,omitempty"`
}

func profileArgs(w *queue.Work) (profileChange, error) {
	var c profileChange
	err := json.Unmarshal(w.Args, &c)
	return c, err
}

func optString(v Values, name string) *string {
	if !v.Has(name) {
		return nil
	}
	s := v.String(name)
	return &s
}

func optGroups(v Values) *[]string {
	if !v.Has("groups") {
		return nil
	}
	g := SplitGroups(v.String("groups"))
	return &g
}

// noUserNow is the apply-time twin of userIn's error.
func noUserNow(err error, c profileChange) error {
	if errors.Is(err, store.ErrNotFound) {
		return Errorf(NotFound, ReasonNoUser, "username", "user %s@%s does not exist", c.Username, c.Domain)
	}
	return err
}

// CreateUser is Openfire's add: add_user with a display name, an email and
// shared group memberships.
var CreateUser = &Def{
	Name: "create_user",
	Doc: "Creates a user with an optional display name, email and shared groups (created on demand). " +
		"The user is pending-active until the worker applies the change, then active.",
	Args:    []Arg{argUsername, argDomain, argPassword, argName, argEmail, argGroups},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Openfire: "add", OpenfireREST: "POST users"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		d, name := c.Args.Domain("domain"), c.Args.String("username")
		sealed := c.Env.Box.Seal([]byte(c.Args.String("password")), PurposePassword)
		return c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
			u, err := tx.InsertUser(ctx, store.User{DomainID: d.ID, Domain: d.FQDN, Username: name, Status: store.StatusPendingActive,
				PasswordSealed: sealed, Name: c.Args.String("name"), Email: c.Args.String("email")})
			if errors.Is(err, store.ErrDuplicate) {
				return store.Change{}, Errorf(Conflict, ReasonUserExists, "username", "user %s@%s exists", name, d.FQDN)
			}
			if err != nil {
				return store.Change{}, err
			}
			args, err := json.Marshal(profileChange{Username: name, Domain: d.FQDN, DomainID: d.ID, Sealed: sealed, Groups: optGroups(c.Args)})
			return store.Change{UserID: u.ID, Args: args}, err
		})
	},
	Prepare: func(ctx context.Context, env *Env, w *queue.Work) error { return AddUser.Prepare(ctx, env, w) },
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
		c, err := profileArgs(w)
		if err != nil {
			return err
		}
		if err := AddUser.Apply(ctx, env, tx, w); err != nil {
			return err
		}
		if c.Groups == nil {
			return nil
		}
		return membershipDiff(ctx, tx, w, w.UserID, func() error { // shared roster pushes (ejabberd_srg.go)
			return tx.JoinSharedGroups(ctx, c.DomainID, w.UserID, *c.Groups, store.ShowOnlyGroup, false)
		})
	},
}

// UpdateUser is Openfire's update: each given field is set, the others kept.
var UpdateUser = &Def{
	Name: "update_user",
	Doc: "Changes a user's password, display name, email and shared groups; only the arguments given change. " +
		"groups replaces the memberships (\",\" leaves every group). A new password closes the user's sessions.",
	Args: []Arg{argUsername, argDomain,
		{Name: "password", Type: Password, Secret: true, Optional: true, Doc: "The new password."},
		argName, argEmail, argGroups},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Openfire: "update", OpenfireREST: "PUT users/{username}"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		d, name := c.Args.Domain("domain"), c.Args.String("username")
		var sealed []byte
		if c.Args.Has("password") {
			sealed = c.Env.Box.Seal([]byte(c.Args.String("password")), PurposePassword)
		}
		return c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
			u, err := usableUser(ctx, tx, d, name)
			if err != nil {
				return store.Change{}, err
			}
			args, err := json.Marshal(profileChange{Username: name, Domain: d.FQDN, DomainID: d.ID, Sealed: sealed,
				Name: optString(c.Args, "name"), Email: optString(c.Args, "email"), Groups: optGroups(c.Args)})
			return store.Change{UserID: u.ID, Args: args}, err
		})
	},
	Prepare: func(ctx context.Context, env *Env, w *queue.Work) error {
		c, err := profileArgs(w)
		if err != nil || c.Sealed == nil {
			return err
		}
		return AddUser.Prepare(ctx, env, w)
	},
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
		c, err := profileArgs(w)
		if err != nil {
			return err
		}
		if _, err := tx.UserByID(ctx, w.UserID); err != nil {
			return noUserNow(err, c)
		}
		if c.Sealed != nil {
			if err := tx.SetUserCredentials(ctx, w.UserID, w.Prepared.(credential.SCRAM), c.Sealed); err != nil {
				return noUserNow(err, c)
			}
			w.After(func(e queue.Effects) { e.PasswordChanged(c.Domain, c.Username) })
		}
		if c.Name != nil || c.Email != nil {
			if err := tx.SetUserProfile(ctx, w.UserID, c.Name, c.Email); err != nil {
				return noUserNow(err, c)
			}
		}
		if c.Groups != nil {
			return membershipDiff(ctx, tx, w, w.UserID, func() error { // shared roster pushes (ejabberd_srg.go)
				return tx.JoinSharedGroups(ctx, c.DomainID, w.UserID, *c.Groups, store.ShowOnlyGroup, true)
			})
		}
		return nil
	},
}

// usableUser loads a user that exists and has no change pending on it.
func usableUser(ctx context.Context, tx *store.Tx, d store.Domain, name string) (store.User, error) {
	u, err := userIn(ctx, tx.Reader, d, name, "username")
	if err != nil {
		return u, err
	}
	if u.Status.Pending() {
		return u, Errorf(Conflict, ReasonPending, "username", "user %s@%s is %s", name, d.FQDN, u.Status)
	}
	return u, nil
}
