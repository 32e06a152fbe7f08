package commands

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash"
	"strings"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// The ejabberd accounts family (ejabberd_admin, mod_admin_extra). register
// and unregister are AddUser and RemoveUser under their ejabberd names.

var (
	ejNewpass = Arg{Name: "password", Type: Password, Secret: true, Doc: "The new password.", Names: map[Dialect]string{Ejabberd: "newpass"}}
	// ejCheckedPassword is any string: a password that could never be set
	// is simply wrong.
	ejCheckedPassword = Arg{Name: "password", Type: String, Secret: true, Doc: "The password to check."}
)

// ChangePassword is ejabberd's change_password: a new password, applied
// before the answer; the user's sessions are closed.
var ChangePassword = &Def{
	Name:    "change_password",
	Doc:     "Sets a user's password: the worker derives the SCRAM keys and closes the user's sessions.",
	Args:    []Arg{argUsername, argDomain, ejNewpass},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "change_password"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		return queuePassword(ctx, c, c.Args.String("password"))
	},
	Prepare: func(ctx context.Context, env *Env, w *queue.Work) error { return UpdateUser.Prepare(ctx, env, w) },
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
		return UpdateUser.Apply(ctx, env, tx, w)
	},
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
		args, err := json.Marshal(profileChange{Username: name, Domain: d.FQDN, DomainID: d.ID, Sealed: sealed})
		return store.Change{UserID: u.ID, Args: args}, err
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
	Handle: func(ctx context.Context, c *Call) (any, error) {
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
	},
	Prepare: func(ctx context.Context, env *Env, w *queue.Work) error { return UpdateUser.Prepare(ctx, env, w) },
	Apply: func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
		return UpdateUser.Apply(ctx, env, tx, w)
	},
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

// CheckAccount is ejabberd's check_account.
var CheckAccount = &Def{
	Name:   "check_account",
	Doc:    "Answers 0 if the user exists (in any state but pending-delete), 1 if not.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultStatus},
	Names:  map[Dialect]string{Ejabberd: "check_account"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		_, ok, err := existing(ctx, c)
		return Status(ok), err
	},
}

// CheckPassword is ejabberd's check_password.
var CheckPassword = &Def{
	Name:   "check_password",
	Doc:    "Answers 0 if the user is active and the password is right, 1 otherwise (also for a missing user).",
	Args:   []Arg{argUsername, argDomain, ejCheckedPassword},
	Result: Result{Kind: ResultStatus},
	Names:  map[Dialect]string{Ejabberd: "check_password"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		u, ok, err := existing(ctx, c)
		if err != nil || !ok {
			return Status(false), err
		}
		return Status(u.Status == store.StatusActive && u.Cred.Verify(c.Args.String("password"))), nil
	},
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
	Handle: func(ctx context.Context, c *Call) (any, error) {
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
	},
}

// RegisteredUsers is ejabberd's registered_users.
var RegisteredUsers = &Def{
	Name:   "registered_users",
	Doc:    "Lists the usernames of a domain, sorted (users being deleted excluded).",
	Args:   []Arg{argDomain},
	Result: Result{Kind: ResultList, Name: "users"},
	Names:  map[Dialect]string{Ejabberd: "registered_users"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		users, err := c.Env.Store.DomainUsers(ctx, c.Args.Domain("domain").ID)
		out := []string{}
		for _, u := range users {
			if u.Status != store.StatusPendingDelete {
				out = append(out, u.Username)
			}
		}
		return out, err
	},
}

// RegisteredVhosts is ejabberd's registered_vhosts: the caller's domains.
var RegisteredVhosts = &Def{
	Name:   "registered_vhosts",
	Doc:    "Lists the enabled domains of the caller's account, sorted.",
	Result: Result{Kind: ResultList, Name: "vhosts"},
	Names:  map[Dialect]string{Ejabberd: "registered_vhosts"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		ds, err := c.Env.Store.Domains(ctx, c.Caller.Accounts)
		out := []string{}
		for _, d := range ds {
			if d.Enabled {
				out = append(out, d.FQDN)
			}
		}
		return out, err
	},
}
