package commands

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"sort"
	"strings"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// Reasons of the user commands.
const (
	ReasonScrammed    Reason = "passwords_scrammed"  // no recoverable password copy to hash
	ReasonUnknownHash Reason = "unknown_hash_method" // check_password_hash's hashmethod
)

// PurposePassword seals recoverable password copies.
const PurposePassword = "user-password"

var (
	argUsername = Arg{Name: "username", Type: Localpart, Doc: "The user's name (JID localpart), PRECIS-normalised.", Names: map[Dialect]string{Ejabberd: "user"}}
	argDomain   = Arg{Name: "domain", Type: Domain, Doc: "A domain of the caller's account.", Names: map[Dialect]string{Ejabberd: "host"}}
	argPassword = Arg{Name: "password", Type: Password, Secret: true, Doc: "The new user's password."}
	argName     = Arg{Name: "name", Type: String, Optional: true, Doc: "The user's display name."}
	argEmail    = Arg{Name: "email", Type: String, Optional: true, Doc: "The user's email address (not validated)."}
	argGroups   = Arg{Name: "groups", Type: String, Optional: true,
		Doc: "Comma-separated shared group names; empty names are skipped, so \",\" is the empty list. Missing groups are created (shown to their own members)."}
	ejNewpass = Arg{Name: "password", Type: Password, Secret: true, Doc: "The new password.", Names: map[Dialect]string{Ejabberd: "newpass"}}
	// ejCheckedPassword is any string: a password that could never be set
	// is simply wrong.
	ejCheckedPassword = Arg{Name: "password", Type: String, Secret: true, Doc: "The password to check."}
)

// userDefs are the user account commands: DreamHost's jabber module, the
// Openfire user service, and ejabberd's accounts family (register and
// unregister are AddUser and RemoveUser under their ejabberd names).
var userDefs = []*Def{
	ListUsers, ListUsersNoPw, AddUser, RemoveUser, ReactivateUser, DeactivateUser,
	CreateUser, UpdateUser, OpenfireUserList, OpenfireUserGet,
	ChangePassword, CheckAccount, CheckPassword, CheckPasswordHash, BanAccount, RegisteredUsers,
	RESTUserList, RESTUserGet, RESTUserUpdate, RESTUserACLGet, RESTUserACLSet,
	SearchUsers,
}

var userColumns = []string{"username", "domain", "password", "status"}

// ListUsers lists every user of the caller's accounts with passwords.
var ListUsers = &Def{
	Name:   "list_users",
	Doc:    "Lists all Jabber users of the account with their passwords and status (active, inactive, pending-active, pending-inactive, pending-delete).",
	Result: Result{Kind: ResultTable, Columns: userColumns},
	Names:  map[Dialect]string{DreamHost: "jabber-list_users"},
	Handle: listUsers,
}

// ListUsersNoPw is ListUsers with passwords masked.
var ListUsersNoPw = &Def{
	Name:   "list_users_no_pw",
	Doc:    "Same as list_users, with every password shown as ********.",
	Result: Result{Kind: ResultTable, Columns: userColumns},
	Names:  map[Dialect]string{DreamHost: "jabber-list_users_no_pw"},
	Handle: listUsersNoPw,
}

func listUsers(ctx context.Context, c *Call) (any, error) { return userTable(ctx, c, true) }

func listUsersNoPw(ctx context.Context, c *Call) (any, error) { return userTable(ctx, c, false) }

func userTable(ctx context.Context, c *Call, withPw bool) (any, error) {
	users, err := c.Env.Store.Users(ctx, c.Caller.Accounts)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: userColumns, Rows: make([][]any, 0, len(users))}
	for _, u := range users {
		pw := "********"
		if withPw {
			if pw, err = recoverPassword(c.Env, u); err != nil {
				return nil, err
			}
		}
		t.Rows = append(t.Rows, []any{u.Username, u.Domain, pw, string(u.Status)})
	}
	return t, nil
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
	return changeOf(u.ID, userChange{Username: u.Username, Domain: u.Domain, Sealed: sealed})
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
	Name:        "add_user",
	Doc:         "Creates a user. The user is pending-active until the worker applies the change (deriving its SCRAM keys), then active. Returns the batch token, shared by all pending changes of the account.",
	Args:        []Arg{argUsername, argDomain, argPassword},
	Result:      Result{Kind: ResultToken},
	Mutates:     true,
	Names:       map[Dialect]string{DreamHost: "jabber-add_user", Ejabberd: "register", REST: "POST xmppdomains/<fqdn>/users[/<username>]"},
	Handle:      addUser,
	Prepare:     prepareCredential,
	Derive:      keysAhead(userChangeSealed),
	ApplyAtomic: true,
	Apply:       applyAddUser,
	ApplyRun:    applyAddUsers,
}

func addUser(ctx context.Context, c *Call) (any, error) {
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
}

// prepareCredential derives the SCRAM keys of the change's sealed password
// outside the write transaction: the derivation is slow on purpose.
func prepareCredential(ctx context.Context, env *Env, w *queue.Work) error {
	if keysStored(env, w) {
		return nil
	}
	sealed, err := userChangeSealed(w)
	if err != nil {
		return err
	}
	return deriveSealed(env, w, sealed)
}

func userChangeSealed(w *queue.Work) ([]byte, error) {
	c, err := changeArgs(w)
	return c.Sealed, err
}

// keysStored takes into w.Prepared the keys the deriver stored for this
// very change, if it did: without decoding the change's arguments, which
// for a batch of 100,000 cost most of the apply's preparation (bench/batch).
func keysStored(env *Env, w *queue.Work) bool {
	cred, ok := openKeys(env, w.Derived, w.Args)
	if ok {
		w.Prepared = cred
	}
	return ok
}

// deriveSealed derives the SCRAM keys of a sealed password copy into
// w.Prepared, or takes them from w.Derived when the deriver stored them
// for this very change; a change without one (nil) derives nothing.
func deriveSealed(env *Env, w *queue.Work, sealed []byte) error {
	if sealed == nil {
		return nil
	}
	if keysStored(env, w) {
		return nil
	}
	pw, err := env.Box.Open(sealed, PurposePassword)
	if err != nil {
		return err
	}
	cred, err := credential.NewFor(string(pw), env.SCRAM)
	w.Prepared = cred
	return err
}

// keysAhead is a Def's Derive for changes whose sealed password sealedOf
// reads: the keys deriveSealed would derive at apply, derived when the
// change is queued and sealed for the store.
func keysAhead(sealedOf func(w *queue.Work) ([]byte, error)) func(context.Context, *Env, *queue.Work) ([]byte, error) {
	return func(ctx context.Context, env *Env, w *queue.Work) ([]byte, error) {
		sealed, err := sealedOf(w)
		if err != nil || sealed == nil {
			return nil, err
		}
		pw, err := env.Box.Open(sealed, PurposePassword)
		if err != nil {
			return nil, err
		}
		cred, err := credential.NewFor(string(pw), env.SCRAM)
		if err != nil {
			return nil, err
		}
		plain, err := cred.MarshalBinary()
		if err != nil {
			return nil, err
		}
		return env.Box.Seal(plain, keysPurpose(w.Args)), nil
	}
}

// keysPurpose binds keys derived ahead to the change they were derived
// for, by its argument record, which holds its sealed password (sealed
// afresh for every change): keys stored for another change (another
// password, a later change_password of the same user) do not open. Keys
// an older version bound to the sealed password alone do not open
// either, and are derived again at apply.
func keysPurpose(args []byte) string {
	sum := sha256.Sum256(args)
	return "scram-keys:" + base64.RawStdEncoding.EncodeToString(sum[:])
}

// openKeys opens keys derived ahead for the change of argument record
// args; false when there are none or they do not open or decode whole
// (the caller derives them then).
func openKeys(env *Env, derived, args []byte) (credential.SCRAM, bool) {
	var cred credential.SCRAM
	if derived == nil {
		return cred, false
	}
	plain, err := env.Box.Open(derived, keysPurpose(args))
	if err != nil || cred.UnmarshalBinary(plain) != nil {
		return cred, false
	}
	whole := len(cred.Salt) > 0 && cred.Iterations > 0 && len(cred.SHA1Stored) > 0 && len(cred.SHA1Server) > 0 &&
		len(cred.SHA256Stored) > 0 && len(cred.SHA256Server) > 0
	return cred, whole
}

func applyAddUser(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	return stateError(tx.ActivateUser(ctx, w.UserID, w.Prepared.(credential.SCRAM)), w, store.StatusPendingActive)
}

// applyAddUsers is applyAddUser for a run of add_user changes, in one
// statement on PostgreSQL (store.Tx.ActivateUsers).
func applyAddUsers(ctx context.Context, env *Env, tx *store.Tx, run []*queue.Work) ([]error, error) {
	users := make([]store.Activation, len(run))
	for i, w := range run {
		users[i] = store.Activation{ID: w.UserID, Cred: w.Prepared.(credential.SCRAM)}
	}
	done, err := tx.ActivateUsers(ctx, users)
	return runStateErrors(run, done, err, store.StatusPendingActive, nil)
}

// RemoveUser queues the removal of a user and all its data.
var RemoveUser = &Def{
	Name:        "remove_user",
	Doc:         "Removes a user: pending-delete until the worker applies it, then gone with its roster, offline messages and vCard; open sessions are closed.",
	Args:        []Arg{argUsername, argDomain},
	Result:      Result{Kind: ResultToken},
	Mutates:     true,
	Names:       map[Dialect]string{DreamHost: "jabber-remove_user", Openfire: "delete", OpenfireREST: "DELETE users/{username}", Ejabberd: "unregister", REST: "DELETE xmppdomains/<fqdn>/users/<username>"},
	Handle:      removeUser,
	ApplyAtomic: true,
	Apply:       applyRemoveUser,
	ApplyRun:    applyRemoveUsers,
}

// DeactivateUser queues the deactivation of a user.
var DeactivateUser = &Def{
	Name:        "deactivate_user",
	Doc:         "Deactivates a user: pending-inactive, then inactive; the user can no longer log in and open sessions are closed.",
	Args:        []Arg{argUsername, argDomain},
	Result:      Result{Kind: ResultToken},
	Mutates:     true,
	Names:       map[Dialect]string{DreamHost: "jabber-deactivate_user", Openfire: "disable", OpenfireREST: "POST lockouts/{username}", Console: "deactivate_user"},
	Handle:      deactivateUser,
	ApplyAtomic: true,
	Apply:       applyDeactivateUser,
	ApplyRun:    applyDeactivateUsers,
}

// ReactivateUser queues the reactivation of a user.
var ReactivateUser = &Def{
	Name:        "reactivate_user",
	Doc:         "Reactivates a user that had been deactivated: pending-active, then active.",
	Args:        []Arg{argUsername, argDomain},
	Result:      Result{Kind: ResultToken},
	Mutates:     true,
	Names:       map[Dialect]string{DreamHost: "jabber-reactivate_user", Openfire: "enable", OpenfireREST: "DELETE lockouts/{username}", Console: "reactivate_user"},
	Handle:      reactivateUser,
	ApplyAtomic: true,
	Apply:       applyReactivateUser,
	ApplyRun:    applyReactivateUsers,
}

func removeUser(ctx context.Context, c *Call) (any, error) {
	return queueStatusChange(ctx, c, store.StatusPendingDelete)
}

func deactivateUser(ctx context.Context, c *Call) (any, error) {
	return queueStatusChange(ctx, c, store.StatusPendingInactive)
}

func reactivateUser(ctx context.Context, c *Call) (any, error) {
	return queueStatusChange(ctx, c, store.StatusPendingActive)
}

// queueStatusChange moves an existing user with no change pending into
// the pending state whose applier ends it.
func queueStatusChange(ctx context.Context, c *Call, pending store.Status) (Receipt, error) {
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
}

func applyRemoveUser(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	userGone(w)
	return stateError(tx.DeleteUserIn(ctx, w.UserID, store.StatusPendingDelete), w, store.StatusPendingDelete)
}

func applyDeactivateUser(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	userGone(w)
	return stateError(tx.TransitionUser(ctx, w.UserID, store.StatusPendingInactive, store.StatusInactive), w, store.StatusPendingInactive)
}

func applyReactivateUser(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	return stateError(tx.TransitionUser(ctx, w.UserID, store.StatusPendingActive, store.StatusActive), w, store.StatusPendingActive)
}

// The runs of the status changes (a panel's bulk deactivation, say) in one
// statement each on PostgreSQL (store.Tx.TransitionUsers). The sessions of
// the run's users are closed as one by one; the effects are queued only
// once the run succeeded, since a failed run is applied again one by one.
func applyRemoveUsers(ctx context.Context, env *Env, tx *store.Tx, run []*queue.Work) ([]error, error) {
	done, err := tx.DeleteUsersIn(ctx, runUserIDs(run), store.StatusPendingDelete)
	return runStateErrors(run, done, err, store.StatusPendingDelete, userGone)
}

func applyDeactivateUsers(ctx context.Context, env *Env, tx *store.Tx, run []*queue.Work) ([]error, error) {
	done, err := tx.TransitionUsers(ctx, runUserIDs(run), store.StatusPendingInactive, store.StatusInactive)
	return runStateErrors(run, done, err, store.StatusPendingInactive, userGone)
}

func applyReactivateUsers(ctx context.Context, env *Env, tx *store.Tx, run []*queue.Work) ([]error, error) {
	done, err := tx.TransitionUsers(ctx, runUserIDs(run), store.StatusPendingActive, store.StatusActive)
	return runStateErrors(run, done, err, store.StatusPendingActive, nil)
}

func runUserIDs(run []*queue.Work) []int64 {
	ids := make([]int64, len(run))
	for i, w := range run {
		ids[i] = w.UserID
	}
	return ids
}

// runStateErrors are a run's errors from what the store did: a change
// whose user was not in want fails as it would alone (stateError). effect,
// if not nil, is queued for every change of the run, as the one-by-one
// apply queues it whatever the outcome.
func runStateErrors(run []*queue.Work, done []bool, err error, want store.Status, effect func(*queue.Work)) ([]error, error) {
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(run))
	for i, w := range run {
		if effect != nil {
			effect(w)
		}
		if !done[i] {
			errs[i] = stateError(store.ErrNotFound, w, want)
		}
	}
	return errs, nil
}

// userGone queues the effect that closes the user's sessions.
func userGone(w *queue.Work) {
	c, err := changeArgs(w)
	if err != nil {
		return
	}
	w.After(func(e queue.Effects) { e.UserGone(c.Domain, c.Username) })
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

func optGroups(v Values) *[]string {
	if !v.Has("groups") {
		return nil
	}
	g := SplitGroups(v.String("groups"))
	return &g
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
	Handle:  createUser,
	Prepare: prepareCredential,
	Derive:  keysAhead(userChangeSealed),
	Apply:   applyCreateUser,
}

func createUser(ctx context.Context, c *Call) (any, error) {
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
		return changeOf(u.ID, profileChange{Username: name, Domain: d.FQDN, DomainID: d.ID, Sealed: sealed, Groups: optGroups(c.Args)})
	})
}

func applyCreateUser(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	c, err := profileArgs(w)
	if err != nil {
		return err
	}
	if err := applyAddUser(ctx, env, tx, w); err != nil {
		return err
	}
	if c.Groups == nil {
		return nil
	}
	return membershipDiff(ctx, tx, w, w.UserID, func() error { // shared roster pushes (groups.go)
		return tx.JoinSharedGroups(ctx, c.DomainID, w.UserID, *c.Groups, store.ShowOnlyGroup, false)
	})
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
	Handle:  updateUser,
	Prepare: prepareProfileChange,
	Derive:  keysAhead(profileChangeSealed),
	Apply:   applyProfileChange,
}

func updateUser(ctx context.Context, c *Call) (any, error) {
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
}

// prepareProfileChange derives the SCRAM keys of a profile change that
// sets a password (update_user, change_password, ban_account).
func prepareProfileChange(ctx context.Context, env *Env, w *queue.Work) error {
	if keysStored(env, w) {
		return nil
	}
	sealed, err := profileChangeSealed(w)
	if err != nil {
		return err
	}
	return deriveSealed(env, w, sealed)
}

func profileChangeSealed(w *queue.Work) ([]byte, error) {
	c, err := profileArgs(w)
	return c.Sealed, err
}

// applyProfileChange sets the fields a profile change carries
// (update_user, change_password, ban_account).
func applyProfileChange(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	c, err := profileArgs(w)
	if err != nil {
		return err
	}
	if err := requireUser(ctx, tx, w.UserID, c.Username, c.Domain); err != nil {
		return err
	}
	if c.Sealed != nil {
		if err := tx.SetUserCredentials(ctx, w.UserID, w.Prepared.(credential.SCRAM), c.Sealed); err != nil {
			return orNoUser(err, c.Username, c.Domain)
		}
		w.After(func(e queue.Effects) { e.PasswordChanged(c.Domain, c.Username) })
	}
	if c.Name != nil || c.Email != nil {
		if err := tx.SetUserProfile(ctx, w.UserID, c.Name, c.Email); err != nil {
			return orNoUser(err, c.Username, c.Domain)
		}
	}
	if c.Groups != nil {
		return membershipDiff(ctx, tx, w, w.UserID, func() error { // shared roster pushes (groups.go)
			return tx.JoinSharedGroups(ctx, c.DomainID, w.UserID, *c.Groups, store.ShowOnlyGroup, true)
		})
	}
	return nil
}

// queueForUser queues rec as a change of user name of the bound domain,
// which must exist with no change pending; found is false, and nothing
// queued, if it does not exist.
func queueForUser(ctx context.Context, c *Call, name string, rec any) (r Receipt, found bool, err error) {
	d := c.Args.Domain("domain")
	r, err = c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
		u, err := usableUser(ctx, tx, d, name)
		if err != nil {
			return store.Change{}, err
		}
		return changeOf(u.ID, rec)
	})
	if AsError(err).Reason == ReasonNoUser {
		return r, false, nil
	}
	return r, err == nil, err
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

// liveUser loads a user that exists and is not being deleted.
func liveUser(ctx context.Context, r store.Reader, d store.Domain, name string) (store.User, error) {
	u, err := userIn(ctx, r, d, name, "username")
	if err == nil && u.Status == store.StatusPendingDelete {
		return u, noUser("username", name, d.FQDN)
	}
	return u, err
}

// existing returns the user unless it does not exist or is being deleted.
func existing(ctx context.Context, c *Call) (store.User, bool, error) {
	u, err := userIn(ctx, c.Env.Store.Reader, c.Args.Domain("domain"), c.Args.String("username"), "username")
	if AsError(err).Reason == ReasonNoUser {
		return u, false, nil
	}
	if err != nil {
		return u, false, err
	}
	return u, u.Status != store.StatusPendingDelete, nil
}

// openfireUserColumns is the Openfire REST user entity; the dialect
// renders a table by its columns.
var openfireUserColumns = []string{"username", "name", "email"}

// OpenfireUserList lists the users of the caller's domain.
var OpenfireUserList = &Def{
	Name: "openfire_user_list",
	Doc: "Lists the users of the domain with display name and email, by username; users being deleted are left out. " +
		"search keeps the usernames containing it (case-sensitive). User properties are not kept, so a propertyKey " +
		"filter matches nobody.",
	Args: []Arg{argDomain,
		{Name: "search", Type: String, Optional: true, Doc: "A substring of the usernames to list."},
		{Name: "propertyKey", Type: String, Optional: true, Doc: "A user property name; no user has properties."},
		{Name: "propertyValue", Type: String, Optional: true, Doc: "A user property value (with propertyKey)."}},
	Result: Result{Kind: ResultTable, Columns: openfireUserColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET users"},
	Handle: openfireUserList,
}

func openfireUserList(ctx context.Context, c *Call) (any, error) {
	t := Table{Columns: openfireUserColumns, Rows: [][]any{}}
	if c.Args.Has("propertyKey") {
		return t, nil
	}
	users, err := c.Env.Store.DomainUsers(ctx, c.Args.Domain("domain").ID)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		if u.Status != store.StatusPendingDelete && strings.Contains(u.Username, c.Args.String("search")) {
			t.Rows = append(t.Rows, []any{u.Username, u.Name, u.Email})
		}
	}
	return t, nil
}

// OpenfireUserGet shows one user.
var OpenfireUserGet = &Def{
	Name:   "openfire_user_get",
	Doc:    "Shows a user's name, display name and email (never the password).",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultTable, Columns: openfireUserColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET users/{username}"},
	Handle: openfireUserGet,
}

func openfireUserGet(ctx context.Context, c *Call) (any, error) {
	u, err := liveUser(ctx, c.Env.Store.Reader, c.Args.Domain("domain"), c.Args.String("username"))
	if err != nil {
		return nil, err
	}
	return Table{Columns: openfireUserColumns, Rows: [][]any{{u.Username, u.Name, u.Email}}}, nil
}

// ChangePassword is ejabberd's change_password: a new password, applied
// before the answer; the user's sessions are closed.
var ChangePassword = &Def{
	Name:    "change_password",
	Doc:     "Sets a user's password: the worker derives the SCRAM keys and closes the user's sessions.",
	Args:    []Arg{argUsername, argDomain, ejNewpass},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "change_password", Console: "change_password"},
	Handle:  changePassword,
	Prepare: prepareProfileChange,
	Derive:  keysAhead(profileChangeSealed),
	Apply:   applyProfileChange,
}

func changePassword(ctx context.Context, c *Call) (any, error) {
	return queuePassword(ctx, c, c.Args.String("password"))
}

// queuePassword queues a password change of an existing user, as
// update_user does with only a password.
func queuePassword(ctx context.Context, c *Call, password string) (Receipt, error) {
	d, name := c.Args.Domain("domain"), c.Args.String("username")
	sealed := c.Env.Box.Seal([]byte(password), PurposePassword)
	return c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
		u, err := usableUser(ctx, tx, d, name)
		if err != nil {
			return store.Change{}, err
		}
		return changeOf(u.ID, profileChange{Username: name, Domain: d.FQDN, DomainID: d.ID, Sealed: sealed})
	})
}

// BanAccount is ejabberd's v0 ban_account: the password becomes a random
// one carrying the reason, which closes the sessions. A missing user is
// left alone (ejabberd may create a passwd entry; xmppgate creates nothing).
var BanAccount = &Def{
	Name: "ban_account",
	Doc: "Bans a user: sets a random password BANNED_ACCOUNT--<time>--<random>--<reason> and closes the sessions. " +
		"Answers 0 also for a user that does not exist, which is left alone.",
	Args:    []Arg{argUsername, argDomain, {Name: "reason", Type: String, Doc: "Why; kept in the password."}},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "ban_account"},
	Handle:  banAccount,
	Prepare: prepareProfileChange,
	Derive:  keysAhead(profileChangeSealed),
	Apply:   applyProfileChange,
}

func banAccount(ctx context.Context, c *Call) (any, error) {
	d, name := c.Args.Domain("domain"), c.Args.String("username")
	if _, err := userIn(ctx, c.Env.Store.Reader, d, name, "username"); err != nil {
		if AsError(err).Reason == ReasonNoUser {
			return StatusOK, nil
		}
		return nil, err
	}
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	pw := fmt.Sprintf("BANNED_ACCOUNT--%s--%s--%s", c.Env.Store.Now().UTC().Format("20060102T150405"), hex.EncodeToString(b), c.Args.String("reason"))
	if _, err := credential.Prepare(pw); err != nil || len(pw) > MaxPasswordBytes {
		pw = pw[:strings.LastIndex(pw, "--")]
	}
	return queuePassword(ctx, c, pw)
}

// CheckAccount is ejabberd's check_account.
var CheckAccount = &Def{
	Name:   "check_account",
	Doc:    "Answers 0 if the user exists (in any state but pending-delete), 1 if not.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultStatus},
	Names:  map[Dialect]string{Ejabberd: "check_account"},
	Handle: checkAccount,
}

func checkAccount(ctx context.Context, c *Call) (any, error) {
	_, ok, err := existing(ctx, c)
	return Status(ok), err
}

// CheckPassword is ejabberd's check_password.
var CheckPassword = &Def{
	Name:   "check_password",
	Doc:    "Answers 0 if the user is active and the password is right, 1 otherwise (also for a missing user).",
	Args:   []Arg{argUsername, argDomain, ejCheckedPassword},
	Result: Result{Kind: ResultStatus},
	Names:  map[Dialect]string{Ejabberd: "check_password"},
	Handle: checkPassword,
}

func checkPassword(ctx context.Context, c *Call) (any, error) {
	u, ok, err := existing(ctx, c)
	if err != nil || !ok {
		return Status(false), err
	}
	return Status(u.Status == store.StatusActive && u.Cred.Verify(c.Args.String("password"))), nil
}

// ejabberdHashes are the hashmethod names check_password_hash accepts
// (Erlang crypto's names).
var ejabberdHashes = map[string]func() hash.Hash{
	"md5": md5.New, "sha": sha1.New, "sha224": sha256.New224, "sha256": sha256.New,
	"sha384": sha512.New384, "sha512": sha512.New,
}

// CheckPasswordHash is ejabberd's check_password_hash, over the sealed
// password copy (ejabberd refuses with SCRAM storage; xmppgate has the copy
// for users created through an API).
var CheckPasswordHash = &Def{
	Name: "check_password_hash",
	Doc: "Answers 0 if passwordhash is the uppercase hex digest (hashmethod md5, sha, sha224, sha256, sha384 or sha512) " +
		"of the user's password, 1 otherwise. A user without a recoverable password copy answers passwords_scrammed_command_cannot_work.",
	Args: []Arg{argUsername, argDomain,
		{Name: "passwordhash", Type: String, Secret: true, Doc: "The digest, uppercase hex."},
		{Name: "hashmethod", Type: String, Doc: "md5, sha, sha224, sha256, sha384 or sha512."}},
	Result: Result{Kind: ResultStatus},
	Names:  map[Dialect]string{Ejabberd: "check_password_hash"},
	Handle: checkPasswordHash,
}

func checkPasswordHash(ctx context.Context, c *Call) (any, error) {
	u, ok, err := existing(ctx, c)
	if err != nil {
		return nil, err
	}
	var pw []byte
	if ok {
		if u.PasswordSealed == nil {
			return nil, Errorf(Invalid, ReasonScrammed, "", "user %s@%s has no recoverable password", u.Username, u.Domain)
		}
		if pw, err = c.Env.Box.Open(u.PasswordSealed, PurposePassword); err != nil {
			return nil, err
		}
	}
	h, known := ejabberdHashes[c.Args.String("hashmethod")]
	if !known {
		return nil, Errorf(Invalid, ReasonUnknownHash, "hashmethod", "unknown hash method")
	}
	sum := h()
	sum.Write(pw)
	return Status(ok && strings.ToUpper(hex.EncodeToString(sum.Sum(nil))) == c.Args.String("passwordhash")), nil
}

// RegisteredUsers is ejabberd's registered_users.
var RegisteredUsers = &Def{
	Name:   "registered_users",
	Doc:    "Lists the usernames of a domain, sorted (users being deleted excluded).",
	Args:   []Arg{argDomain},
	Result: Result{Kind: ResultList, Name: "users"},
	Names:  map[Dialect]string{Ejabberd: "registered_users"},
	Handle: registeredUsers,
}

func registeredUsers(ctx context.Context, c *Call) (any, error) {
	users, err := c.Env.Store.DomainUsers(ctx, c.Args.Domain("domain").ID)
	out := []string{}
	for _, u := range users {
		if u.Status != store.StatusPendingDelete {
			out = append(out, u.Username)
		}
	}
	return out, err
}

// The users of a domain as the REST API sees them.

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

// recoverPassword opens a user's recoverable password copy; "" if there is
// none (an imported user with only SCRAM keys).
func recoverPassword(env *Env, u store.User) (string, error) {
	if u.PasswordSealed == nil {
		return "", nil
	}
	plain, err := env.Box.Open(u.PasswordSealed, PurposePassword)
	if err != nil {
		return "", fmt.Errorf("open password of user %d: %w", u.ID, err)
	}
	return string(plain), nil
}

func (c *Call) userInfo(u store.User) (UserInfo, error) {
	pw, err := recoverPassword(c.Env, u)
	if err != nil {
		return UserInfo{}, err
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
	Handle: restUserList,
}

func restUserList(ctx context.Context, c *Call) (any, error) {
	d := c.Args.Domain("domain")
	limit, err := limitArg(c, DefaultUserPage, MaxUserPage)
	if err != nil {
		return nil, err
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
}

// RESTUserGet returns one user object.
var RESTUserGet = &Def{
	Name:   "rest_user_get",
	Doc:    "Returns a user object: name, JID, password, enabled (active or pending-active) and URIs.",
	Args:   []Arg{argRESTDomain, argRESTUsername},
	Result: Result{Kind: ResultRecord, Name: "UserInfo"},
	Names:  map[Dialect]string{REST: "GET xmppdomains/<fqdn>/users/<username>"},
	Handle: restUserGet,
}

func restUserGet(ctx context.Context, c *Call) (any, error) {
	u, err := userIn(ctx, c.Env.Store.Reader, c.Args.Domain("domain"), c.Args.String("username"), "username")
	if err != nil {
		return nil, err
	}
	return c.userInfo(u)
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
	Derive:  keysAhead(restUserUpdateSealed),
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
	sealed, err := restUserUpdateSealed(w)
	if err != nil {
		return err
	}
	return deriveSealed(env, w, sealed)
}

func restUserUpdateSealed(w *queue.Work) ([]byte, error) {
	var up userUpdate
	err := json.Unmarshal(w.Args, &up)
	return up.Sealed, err
}

func applyRESTUserUpdate(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var up userUpdate
	if err := json.Unmarshal(w.Args, &up); err != nil {
		return err
	}
	if up.Sealed != nil {
		if err := tx.SetUserCredentials(ctx, w.UserID, w.Prepared.(credential.SCRAM), up.Sealed); err != nil {
			return orNoUser(err, up.Username, up.Domain)
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
	Handle: restUserACLGet,
}

func restUserACLGet(ctx context.Context, c *Call) (any, error) {
	u, err := userIn(ctx, c.Env.Store.Reader, c.Args.Domain("domain"), c.Args.String("username"), "username")
	if err != nil {
		return nil, err
	}
	acl, err := userACL(ctx, c.Env.Store.Reader, u)
	if err != nil {
		return nil, err
	}
	return ACLInfo{Username: u.Username, Domain: u.Domain, ACL: acl}, nil
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
	Handle: restUserACLSet,
}

func restUserACLSet(ctx context.Context, c *Call) (any, error) {
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
}

var searchUserColumns = []string{"username", "domain", "status", "name", "email"}

// SearchUsers finds a domain's users by part of their name.
var SearchUsers = &Def{
	Name: "search_users",
	Doc: "Lists the users of a domain whose names contain search (all without it), by name, at most limit, " +
		"with their status (active, inactive, pending-...), name and email.",
	Args: []Arg{argDomain,
		{Name: "search", Type: String, Optional: true, Doc: "Part of the user name, compared as given (case-mapped names are lower case)."},
		argLimit},
	Result: Result{Kind: ResultTable, Columns: searchUserColumns},
	Names:  map[Dialect]string{Console: "search_users"},
	Handle: searchUsers,
}

func searchUsers(ctx context.Context, c *Call) (any, error) {
	limit, err := listLimit(c)
	if err != nil {
		return nil, err
	}
	d := c.Args.Domain("domain")
	us, err := c.Env.Store.DomainUsersMatching(ctx, d.ID, c.Args.String("search"), limit)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: searchUserColumns, Rows: make([][]any, 0, len(us))}
	for _, u := range us {
		t.Rows = append(t.Rows, []any{u.Username, u.Domain, string(u.Status), u.Name, u.Email})
	}
	return t, nil
}
