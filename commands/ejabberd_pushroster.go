package commands

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// push_roster and push_roster_all (mod_admin_extra): a roster template
// file (see ejabberd_rosterfile.go) is pushed into rosters with
// subscription both, one-sided like add_rosteritem. ejabberd reads any
// path of its host; xmppgate reads only DATA/rosters/ (the operator) or
// DATA/rosters/<account id>/ (an account), so one account cannot push
// another's template into its own users and read it back. Every change is
// one queued change per target user, applied before the reply.

// RostersDir is where roster templates live, relative to the data dir.
const RostersDir = "rosters"

// ReasonRosterTooLarge: push_roster_all's template has more users than it
// takes (it writes their number squared items).
const ReasonRosterTooLarge Reason = "roster_too_large"

const (
	maxRosterFile    = 4 << 20 // bytes of a template
	maxPushRosterAll = 1000    // tuples of push_roster_all's template
)

var argRosterFile = Arg{Name: "file", Type: String,
	Doc: "A file name relative to DATA/rosters/ (an account's: DATA/rosters/<account id>/); absolute paths, '..' and " +
		"symbolic links leading out are refused."}

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
	name := c.Args.String("file")
	path, err := underRoot(root, rootShown, "file", name)
	if err != nil {
		return nil, err
	}
	shown := rootShown + filepath.ToSlash(filepath.Clean(name))
	if path == root {
		return nil, Errorf(Invalid, ReasonBadPath, "file", "file must name a file inside %s", rootShown)
	}
	// A symbolic link may point anywhere: resolve the whole path and check
	// it is still under the (resolved) root.
	real, err := filepath.EvalSymlinks(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, Errorf(Invalid, ReasonNoFile, "file", "%s does not exist", shown)
	} else if err != nil {
		return nil, Errorf(Invalid, ReasonBadFile, "file", "%s cannot be read", shown)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return nil, err
	}
	if rel, err := filepath.Rel(realRoot, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return nil, Errorf(Invalid, ReasonBadPath, "file", "file must stay inside %s (a symbolic link leads out)", rootShown)
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

// pushRoster is the change record of both commands: the items of one
// user's roster.
type pushRoster struct {
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

// applyPush writes a pushRoster change's items over the user's roster.
func applyPush(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var p pushRoster
	if err := json.Unmarshal(w.Args, &p); err != nil {
		return err
	}
	if _, err := tx.UserByID(ctx, w.UserID); errors.Is(err, store.ErrNotFound) {
		return Errorf(NotFound, ReasonNoUser, "username", "user %s@%s does not exist", p.Username, p.Domain)
	} else if err != nil {
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

// PushRoster is ejabberd's push_roster.
var PushRoster = &Def{
	Name: "push_roster",
	Doc: "Reads the roster template DATA/rosters/<file> (an account's: DATA/rosters/<account id>/<file>), an Erlang " +
		"term [{User, Server, Group, Nick}, ...]. with binaries (<<\"u\">>, <<\"u\"/utf8>>) or strings (\"u\"), and " +
		"writes every tuple but user@host itself into user's roster as User@Server with nick Nick, groups Group " +
		"(';'-separated) and subscription both, replacing items that are there, and pushes them to user's resources. " +
		"One-sided like add_rosteritem. Answers 1 if user does not exist (nothing is stored). A missing or malformed " +
		"file, an absolute path, '..' or a link leading out: 400 with the reason (ejabberd crashes: 500); an invalid " +
		"tuple: 400 \"Invalid 'user'/'server'\". On any error nothing is stored.",
	Args:    []Arg{argRosterFile, ejRosterUser, argDomain},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "push_roster"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
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
		p := pushRoster{Username: name, Domain: d.FQDN, Items: pushItems(entries, jids, name+"@"+d.FQDN)}
		q, err := c.Mutate(ctx, func(tx *store.Tx) (store.Change, error) {
			u, err := usableUser(ctx, tx, d, name)
			if err != nil {
				return store.Change{}, err
			}
			args, err := json.Marshal(p)
			return store.Change{UserID: u.ID, Args: args}, err
		})
		if AsError(err).Reason == ReasonNoUser {
			return StatusFailed, nil
		}
		if err != nil {
			return nil, err
		}
		return q, nil
	},
	Apply: applyPush,
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
	Handle: func(ctx context.Context, c *Call) (any, error) {
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
				args, err := json.Marshal(pushRoster{Username: user, Domain: host, Items: pushItems(entries, jids, owner)})
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
	},
	Apply: applyPush,
}
