package commands

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// PurposePassword seals recoverable password copies.
const PurposePassword = "user-password"

var (
	argUsername = Arg{Name: "username", Type: Localpart, Doc: "The user's name (JID localpart), PRECIS-normalised.", Names: map[Dialect]string{Ejabberd: "user"}}
	argDomain   = Arg{Name: "domain", Type: Domain, Doc: "A domain of the caller's account.", Names: map[Dialect]string{Ejabberd: "host"}}
	argPassword = Arg{Name: "password", Type: Password, Secret: true, Doc: "The new user's password."}
)

var userColumns = []string{"username", "domain", "password", "status"}

// ListUsers lists every user of the caller's accounts with passwords.
var ListUsers = &Def{
	Name:   "list_users",
	Doc:    "Lists all Jabber users of the account with their passwords and status (active, inactive, pending-active, pending-inactive, pending-delete).",
	Result: Result{Kind: ResultTable, Columns: userColumns},
	Names:  map[Dialect]string{DreamHost: "jabber-list_users"},
	Handle: func(ctx context.Context, c *Call) (any, error) { return listUsers(ctx, c, true) },
}

// ListUsersNoPw is ListUsers with passwords masked.
var ListUsersNoPw = &Def{
	Name:   "list_users_no_pw",
	Doc:    "Same as list_users, with every password shown as ********.",
	Result: Result{Kind: ResultTable, Columns: userColumns},
	Names:  map[Dialect]string{DreamHost: "jabber-list_users_no_pw"},
	Handle: func(ctx context.Context, c *Call) (any, error) { return listUsers(ctx, c, false) },
}

func listUsers(ctx context.Context, c *Call, withPw bool) (any, error) {
	users, err := c.Env.Store.Users(ctx, c.Caller.Accounts)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: userColumns, Rows: make([][]any, 0, len(users))}
	for _, u := range users {
		pw := "********"
		if withPw {
			pw = ""
			if u.PasswordSealed != nil {
				plain, err := c.Env.Box.Open(u.PasswordSealed, PurposePassword)
				if err != nil {
					return nil, fmt.Errorf("open password of user %d: %w", u.ID, err)
				}
				pw = string(plain)
			}
		}
		t.Rows = append(t.Rows, []any{u.Username, u.Domain, pw, string(u.Status)})
	}
	return t, nil
}

// ListValidDomains lists the domains that can have users.
var ListValidDomains = &Def{
	Name:   "list_valid_domains",
	Doc:    "Lists the domains of the account that can have Jabber users.",
	Result: Result{Kind: ResultTable, Columns: []string{"domain"}},
	Names:  map[Dialect]string{DreamHost: "jabber-list_valid_domains"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		ds, err := c.Env.Store.Domains(ctx, c.Caller.Accounts)
		if err != nil {
			return nil, err
		}
		t := Table{Columns: []string{"domain"}, Rows: make([][]any, 0, len(ds))}
		for _, d := range ds {
			if d.Enabled {
				t.Rows = append(t.Rows, []any{d.FQDN})
			}
		}
		return t, nil
	},
}

// userChange is the argument record of a queued user change: enough for the
// worker to act without reading the user first. Sealed is the AES-GCM
// password copy, never the password.
type userChange struct {
	Username string `json:"username"`
	Domain   string `json:"domain"`
	Sealed   []byte `json:"sealed,omitempty"`
}

func changeFor(u store.User, sealed []byte) (store.Change, error) {
	args, err := json.Marshal(userChange{Username: u.Username, Domain: u.Domain, Sealed: sealed})
	return store.Change{UserID: u.ID, Args: args}, err
}

func changeArgs(w *queue.Work) (userChange, error) {
	var c userChange
	err := json.Unmarshal(w.Args, &c)
	return c, err
}

// stateError explains an apply that found the user gone or in another state.
func stateError(err error, w *queue.Work, want store.Status) error {
	if errors.Is(err, store.ErrNotFound) {
		c, _ := changeArgs(w)
		return fmt.Errorf("user %s@%s is gone or no longer %s", c.Username, c.Domain, want)
	}
	return err
}

// AddUser queues the creation of a user.
var AddUser = &Def{
	Name:    "add_user",
	Doc:     "Creates a user. The user is pending-active until the worker applies the change (deriving its SCRAM keys), then active. Returns the batch token, shared by all pending changes of the account.",
	Args:    []Arg{argUsername, argDomain, argPassword},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{DreamHost: "jabber-add_user", Ejabberd: "register", REST: "POST xmppdomains/<fqdn>/users[/<username>]"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		d, name := c.Args.Domain("domain"), c.Args.String("username")
		sealed := c.Env.Box.Seal([]byte(c.Args.String("password")), PurposePassword)
		return c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
			u, err := tx.InsertUser(ctx, store.User{DomainID: d.ID, Domain: d.FQDN, Username: name, Status: store.StatusPendingActive, PasswordSealed: sealed})
			if errors.Is(err, store.ErrDuplicate) {
				return store.Change{}, Errorf(Conflict, ReasonUserExists, "username", "user %s@%s exists", name, d.FQDN)
			}
			if err != nil {
				return store.Change{}, err
			}
			return changeFor(u, sealed)
		})
	},
	Prepare: func(ctx context.Context, env *Env, w *queue.Work) error {
		c, err := changeArgs(w)
		if err != nil {
			return err
		}
		pw, err := env.Box.Open(c.Sealed, PurposePassword)
		if err != nil {
			return err
		}
		cred, err := credential.New(string(pw))
		w.Prepared = cred
		return err
	},
	ApplyAtomic: true,
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
		return stateError(tx.ActivateUser(ctx, w.UserID, w.Prepared.(credential.SCRAM)), w, store.StatusPendingActive)
	},
}

// statusChange builds the three mutators that move an existing user through
// a pending state: remove, deactivate and reactivate. apply makes the one
// write that ends the pending state.
func statusChange(name string, names map[Dialect]string, doc string, pending store.Status, apply func(ctx context.Context, tx *store.Tx, w *queue.Work) error) *Def {
	return &Def{
		Name:    name,
		Doc:     doc,
		Args:    []Arg{argUsername, argDomain},
		Result:  Result{Kind: ResultToken},
		Mutates: true,
		Names:   names,
		Handle: func(ctx context.Context, c *Call) (any, error) {
			d, username := c.Args.Domain("domain"), c.Args.String("username")
			return c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
				u, err := userIn(ctx, tx.Reader, d, username, "username")
				if err != nil {
					return store.Change{}, err
				}
				if u.Status.Pending() {
					return store.Change{}, Errorf(Conflict, ReasonPending, "username", "user %s@%s is %s", username, d.FQDN, u.Status)
				}
				if err := tx.SetUserStatus(ctx, u.ID, pending); err != nil {
					return store.Change{}, err
				}
				return changeFor(u, nil)
			})
		},
		ApplyAtomic: true,
		Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
			return stateError(apply(ctx, tx, w), w, pending)
		},
	}
}

// userGone queues the effect that closes the user's sessions.
func userGone(w *queue.Work) {
	c, err := changeArgs(w)
	if err != nil {
		return
	}
	w.After(func(e queue.Effects) { e.UserGone(c.Domain, c.Username) })
}

// RemoveUser queues the removal of a user and all its data.
var RemoveUser = statusChange("remove_user", map[Dialect]string{DreamHost: "jabber-remove_user", Openfire: "delete", OpenfireREST: "DELETE users/{username}", Ejabberd: "unregister", REST: "DELETE xmppdomains/<fqdn>/users/<username>"},
	"Removes a user: pending-delete until the worker applies it, then gone with its roster, offline messages and vCard; open sessions are closed.",
	store.StatusPendingDelete,
	func(ctx context.Context, tx *store.Tx, w *queue.Work) error {
		userGone(w)
		return tx.DeleteUserIn(ctx, w.UserID, store.StatusPendingDelete)
	})

// DeactivateUser queues the deactivation of a user.
var DeactivateUser = statusChange("deactivate_user", map[Dialect]string{DreamHost: "jabber-deactivate_user", Openfire: "disable", OpenfireREST: "POST lockouts/{username}"},
	"Deactivates a user: pending-inactive, then inactive; the user can no longer log in and open sessions are closed.",
	store.StatusPendingInactive,
	func(ctx context.Context, tx *store.Tx, w *queue.Work) error {
		userGone(w)
		return tx.TransitionUser(ctx, w.UserID, store.StatusPendingInactive, store.StatusInactive)
	})

// ReactivateUser queues the reactivation of a user.
var ReactivateUser = statusChange("reactivate_user", map[Dialect]string{DreamHost: "jabber-reactivate_user", Openfire: "enable", OpenfireREST: "DELETE lockouts/{username}"},
	"Reactivates a user that had been deactivated: pending-active, then active.",
	store.StatusPendingActive,
	func(ctx context.Context, tx *store.Tx, w *queue.Work) error {
		return tx.TransitionUser(ctx, w.UserID, store.StatusPendingActive, store.StatusActive)
	})
