package commands

import (
	"context"
	"errors"
	"os"
	"strings"

	"github.com/xmppgate/xmppgate/commands/piefxis"
	"github.com/xmppgate/xmppgate/store"
)

// import_openfire moves users from Openfire: the file its User
// Import/Export plugin exports (piefxis.ReadOpenfire says what it holds).
// It is import_piefxis for that format: the users are planned and queued
// by planImport and runImport, one change per user, applied before the
// answer, all or nothing. Openfire's groups in the file become shared
// roster groups, queued in the same batch as openfire_group_create
// changes, after the users that are their members. ejabberd has no such
// command; the ejabberd API and `xmppgate ctl` offer it beside
// import_prosody.

// ImportOpenfire imports an Openfire User Import/Export plugin file.
var ImportOpenfire = &Def{
	Name: "import_openfire",
	Doc: "Imports the users of an Openfire server from the XML file Openfire's User Import/Export plugin exports " +
		"(Openfire format): users with their passwords (or, for a server keeping only hashed passwords, the " +
		"SCRAM-SHA-1 keys of its ofUser table), names, emails and rosters with their groups and subscription states, " +
		"into one domain of the caller's accounts; groups listed in the file become shared roster groups. With the " +
		"rules of import_piefxis: nothing is imported unless everything can be.",
	Args: []Arg{
		argTransferFile,
		{Name: "host", Type: String, Doc: "The domain the users go to (Openfire's XMPP domain, or the one replacing it): a domain of the caller's accounts."},
		{Name: "old_domain", Type: String, Optional: true, EjabberdOptional: true,
			Doc: "Openfire's XMPP domain, when it differs from host: roster items of that domain are moved to host (the plugin's \"Optional Existing Domain\")."},
	},
	Result:  Result{Kind: ResultStatus},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "import_openfire"},
	Handle:  importOpenfire,
	Prepare: prepareImport,
	Derive:  keysAhead(importSealed),
	Apply:   applyImport,
}

func importOpenfire(ctx context.Context, c *Call) (any, error) {
	d, err := callerDomain(ctx, c, "host", c.Args.String("host"))
	if err != nil {
		return nil, err
	}
	path, _, shown, err := transferPath(c, "file")
	if err != nil {
		return nil, err
	}
	if err := existingFile(path, shown, "file"); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, Errorf(Invalid, ReasonBadFile, "file", "%s cannot be read", shown)
	}
	file, err := piefxis.ReadOpenfire(f)
	f.Close()
	if err != nil {
		return nil, Errorf(Invalid, ReasonBadFile, "file", "%s: %v; nothing was imported", shown, err)
	}
	refuse := func(format string, a ...any) error {
		return Errorf(Invalid, ReasonImportRefused, "file", format+"; nothing was imported", a...)
	}
	old := ""
	if c.Args.Has("old_domain") && c.Args.String("old_domain") != "" {
		if old, err = NormalizeDomain(c.Args.String("old_domain")); err != nil {
			return nil, Errorf(Invalid, ReasonMalformed, "old_domain", "%q is not a domain", c.Args.String("old_domain"))
		}
	}
	host := piefxis.Host{JID: d.FQDN}
	for _, u := range file.Users {
		if u.PasswordIsUsername {
			if len(u.SCRAM) == 0 {
				return nil, refuse("user %s@%s: the Password is the username, which the User Import/Export plugin writes when "+
					"Openfire keeps only hashed passwords; give the user's StoredKey, ServerKey, Salt and IterationCount from "+
					"Openfire's ofUser table, or the real password", u.Name, d.FQDN)
			}
			u.Password = ""
		}
		if u.Password != "" {
			u.SCRAM = nil // the password gives keys of both families
		}
		for i := range u.Roster {
			u.Roster[i].JID = movedJID(u.Roster[i].JID, old, d.FQDN)
		}
		for i := range u.Pending {
			u.Pending[i] = movedJID(u.Pending[i], old, d.FQDN)
		}
		host.Users = append(host.Users, u.User)
	}
	plans, err := planImport(ctx, c, "file", []piefxis.Host{host})
	if err != nil {
		return nil, err
	}
	for i, u := range file.Users {
		plans[i].ch.FullName, plans[i].ch.Email = u.FullName, u.Email
	}
	groups, err := openfireGroups(d, file.Groups, plans)
	if err != nil {
		return nil, err
	}
	if len(groups) == 0 {
		return runImport(ctx, c, "file", plans)
	}
	return runImport(ctx, c, "file", plans, func(tx *store.Tx, add func(store.Change) error) error {
		for _, gc := range groups {
			_, err := tx.OpenfireGroup(ctx, d.ID, gc.Name)
			switch {
			case err == nil:
				return refuse("group %q exists in %s", gc.Name, d.FQDN)
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
			for _, m := range append(append([]string(nil), *gc.Members...), *gc.Admins...) {
				if _, err := tx.UserByJID(ctx, d.FQDN, m); err != nil {
					return refuse("group %q: member %s@%s is neither in the file nor a user", gc.Name, m, d.FQDN)
				}
			}
			ch, err := changeOf(0, gc)
			if err != nil {
				return err
			}
			ch.Command = OpenfireGroupCreate.Name
			if err := add(ch); err != nil {
				return err
			}
		}
		return nil
	})
}

// movedJID replaces the domain old of a bare JID by host (the plugin
// replaces any occurrence of the text; only the domain is meant).
func movedJID(jid, old, host string) string {
	if old == "" {
		return jid
	}
	local, domain, ok := strings.Cut(jid, "@")
	if !ok {
		local, domain = "", jid
	}
	if !strings.EqualFold(domain, old) {
		return jid
	}
	if local == "" {
		return host
	}
	return local + "@" + host
}

// openfireGroups checks the file's groups and makes their change records.
func openfireGroups(d store.Domain, groups []piefxis.OpenfireGroup, plans []importPlan) ([]groupChange, error) {
	var out []groupChange
	seen := map[string]bool{}
	for _, g := range groups {
		refuse := func(format string, a ...any) error {
			return Errorf(Invalid, ReasonImportRefused, "file", "group %q: "+format+"; nothing was imported", append([]any{g.Name}, a...)...)
		}
		if len(g.Name) > MaxGroupName {
			return nil, refuse("the name is longer than %d bytes", MaxGroupName)
		}
		if seen[g.Name] {
			return nil, refuse("appears twice")
		}
		seen[g.Name] = true
		gc := groupChange{Domain: d.FQDN, DomainID: d.ID, Name: g.Name, Show: g.ShowInRoster}
		if g.Description != "" {
			desc := g.Description
			gc.Description = &desc
		}
		for _, role := range []struct {
			names []string
			out   **[]string
		}{{g.Members, &gc.Members}, {g.Admins, &gc.Admins}} {
			names := []string{}
			for _, m := range role.names {
				name, err := memberName(strings.TrimSpace(m), d)
				if err != nil {
					return nil, refuse("member %q: %v", m, AsError(err).Msg)
				}
				names = append(names, name)
			}
			*role.out = &names
		}
		out = append(out, gc)
	}
	return out, nil
}
