package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// PurposePassword seals recoverable password copies.
const PurposePassword = "user-password"

var (
	argUsername = Arg{Name: "username", Type: Localpart, Doc: "The user's name (JID localpart), PRECIS-normalised."}
	argDomain   = Arg{Name: "domain", Type: Domain, Doc: "A domain of the caller's account."}
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

// AddUser queues the creation of a user.
var AddUser = &Def{
	Name:    "add_user",
	Doc:     "Creates a user. The user is pending-active until the worker applies the change (deriving its SCRAM keys), then active. Returns the batch token, shared by all pending changes of the account.",
	Args:    []Arg{argUsername, argDomain, argPassword},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{DreamHost: "jabber-add_user"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		d, name := c.Args.Domain("domain"), c.Args.String("username")
		sealed := c.Env.Box.Seal([]byte(c.Args.String("password")), PurposePassword)
		return c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
			u, err := tx.InsertUser(ctx, store.User{DomainID: d.ID, Username: name, Status: store.StatusPendingActive, PasswordSealed: sealed})
			if errors.Is(err, store.ErrDuplicate) {
				return store.Change{}, Errorf(Conflict, ReasonUserExists, "username", "user %s@%s exists", name, d.FQDN)
			}
			return store.Change{UserID: u.ID}, err
		})
	},
	Prepare: func(ctx context.Context, env *Env, w *queue.Work) error {
		u, err := env.Store.UserByID(ctx, w.UserID)
		if err != nil {
			return fmt.Errorf("user %d: %w", w.UserID, err)
		}
		pw, err := env.Box.Open(u.PasswordSealed, PurposePassword)
		if err != nil {
			return err
		}
		cred, err := credential.New(string(pw))
		w.Prepared = cred
		return err
	},
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
		u, err := pendingUser(ctx, tx, w, store.StatusPendingActive)
		if err != nil {
			return err
		}
		if err := tx.SetUserCredentials(ctx, u.ID, w.Prepared.(credential.SCRAM), nil); err != nil {
			return err
		}
		return tx.SetUserStatus(ctx, u.ID, store.StatusActive)
	},
}

// pendingUser loads the user a change is about and checks it is in state want.
func pendingUser(ctx context.Context, tx *store.Tx, w *queue.Work, want store.Status) (store.User, error) {
	u, err := tx.UserByID(ctx, w.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return u, fmt.Errorf("user %d no longer exists", w.UserID)
	}
	if err != nil {
		return u, err
	}
	if u.Status != want {
		return u, fmt.Errorf("user %s@%s is %s, not %s", u.Username, u.Domain, u.Status, want)
	}
	return u, nil
}

// statusChange builds the three mutators that move an existing user through
// a pending state: remove, deactivate and reactivate.
func statusChange(name, wire, doc string, pending store.Status, apply func(ctx context.Context, tx *store.Tx, w *queue.Work, u store.User) error) *Def {
	return &Def{
		Name:    name,
		Doc:     doc,
		Args:    []Arg{argUsername, argDomain},
		Result:  Result{Kind: ResultToken},
		Mutates: true,
		Names:   map[Dialect]string{DreamHost: wire},
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
				return store.Change{UserID: u.ID}, nil
			})
		},
		Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
			u, err := pendingUser(ctx, tx, w, pending)
			if err != nil {
				return err
			}
			return apply(ctx, tx, w, u)
		},
	}
}

func userGone(w *queue.Work, u store.User) {
	w.After(func(e queue.Effects) { e.UserGone(u.Domain, u.Username) })
}

// RemoveUser queues the removal of a user and all its data.
var RemoveUser = statusChange("remove_user", "jabber-remove_user",
	"Removes a user: pending-delete until the worker applies it, then gone with its roster, offline messages and vCard; open sessions are closed.",
	store.StatusPendingDelete,
	func(ctx context.Context, tx *store.Tx, w *queue.Work, u store.User) error {
		userGone(w, u)
		return tx.DeleteUser(ctx, u.ID)
	})

// DeactivateUser queues the deactivation of a user.
var DeactivateUser = statusChange("deactivate_user", "jabber-deactivate_user",
	"Deactivates a user: pending-inactive, then inactive; the user can no longer log in and open sessions are closed.",
	store.StatusPendingInactive,
	func(ctx context.Context, tx *store.Tx, w *queue.Work, u store.User) error {
		userGone(w, u)
		return tx.SetUserStatus(ctx, u.ID, store.StatusInactive)
	})

// ReactivateUser queues the reactivation of a user.
var ReactivateUser = statusChange("reactivate_user", "jabber-reactivate_user",
	"Reactivates a user that had been deactivated: pending-active, then active.",
	store.StatusPendingActive,
	func(ctx context.Context, tx *store.Tx, w *queue.Work, u store.User) error {
		return tx.SetUserStatus(ctx, u.ID, store.StatusActive)
	})
