package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sort"
	"strings"
)

// Shared roster groups (docs/shared-groups.md). One table serves ejabberd's
// mod_shared_roster (srg_* commands: label, description, displayed groups,
// @all@) and Openfire's groups (show_in_roster, group_list). Who sees whom
// is decided here, once, for xmppcore and the commands:
//
// a member of group X sees the members of group Y (same domain) when
//   - Y is in X's displayed list (ejabberd), or
//   - Y shows onlyGroup and X is Y itself or named in Y's group_list (Openfire),
// and every user of Y's domain sees Y's members when Y shows everybody.
// Members are the explicit ones plus, for an all_users group, every user of
// its domain; users being deleted are nobody's members.

// Shared group visibility (Openfire's sharedRoster.showInRoster).
const (
	ShowNobody    = "nobody"
	ShowOnlyGroup = "onlyGroup"
	ShowEverybody = "everybody"
)

// SharedGroup is one shared roster group.
type SharedGroup struct {
	ID          int64
	DomainID    int64
	Name        string
	DisplayName string // ejabberd's label, Openfire's sharedRoster.displayName
	Description string
	// ShowInRoster and GroupList are Openfire's sharedRoster.showInRoster
	// and sharedRoster.groupList (names, parsed from its comma list).
	ShowInRoster string
	GroupList    []string
	// Displayed is ejabberd's displayed_groups; AllUsers its @all@ member.
	Displayed []string
	AllUsers  bool
}

// Label is the roster group name members see: the display name, or the
// group's name when that is empty.
func (g SharedGroup) Label() string {
	if g.DisplayName != "" {
		return g.DisplayName
	}
	return g.Name
}

// SharedContact is one contact a user sees through shared groups.
type SharedContact struct {
	UserID int64
	JID    string // bare JID
	Name   string // the contact's profile name
	Groups []string
}

const (
	sharedGroupCols = `id, domain_id, name, display_name, description, show_in_roster, group_list, displayed, all_users`
	qSharedGroup    = `SELECT ` + sharedGroupCols + ` FROM shared_groups WHERE domain_id = ? AND name = ?`
	qSharedGroupsIn = `SELECT ` + sharedGroupCols + ` FROM shared_groups
		WHERE domain_id IN (SELECT value FROM json_each(?)) ORDER BY domain_id, name`
	// srg_create replaces a group's options (ejabberd's create_group writes
	// the whole option list) and keeps its members.
	qPutSrg = `INSERT INTO shared_groups (domain_id, name, display_name, description, show_in_roster, group_list, displayed, all_users, created)
		VALUES (?, ?, ?, ?, 'nobody', '', ?, 0, ?)
		ON CONFLICT (domain_id, name) DO UPDATE SET display_name = excluded.display_name, description = excluded.description,
		show_in_roster = 'nobody', group_list = '', displayed = excluded.displayed, all_users = 0`
	qUserSharedGroups = `SELECT ` + sharedGroupCols + ` FROM shared_groups
		WHERE id IN (SELECT group_id FROM shared_group_members WHERE user_id = ?) ORDER BY id`
	qDeleteSharedGroup = `DELETE FROM shared_groups WHERE id = ?`
	qSetAllUsers       = `UPDATE shared_groups SET all_users = ? WHERE id = ?`
	qDelMember         = `DELETE FROM shared_group_members WHERE group_id = ? AND user_id = ?`
	qMemberJIDs        = `SELECT u.username || '@' || d.fqdn FROM shared_group_members m
		JOIN users u ON u.id = m.user_id JOIN domains d ON d.id = u.domain_id
		WHERE m.group_id = ? ORDER BY 1`
	qEnsureGroup = `INSERT INTO shared_groups (domain_id, name, display_name, show_in_roster, created) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (domain_id, name) DO NOTHING`
	qGroupID          = `SELECT id FROM shared_groups WHERE domain_id = ? AND name = ?`
	qAddMember        = `INSERT INTO shared_group_members (group_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING`
	qDropOtherMembers = `DELETE FROM shared_group_members WHERE user_id = ? AND group_id NOT IN (SELECT value FROM json_each(?))`
	qGroupNames       = `SELECT name FROM shared_groups WHERE domain_id = ? ORDER BY name`
	qUserGroupNames   = `SELECT g.name FROM shared_group_members m JOIN shared_groups g ON g.id = m.group_id
		WHERE m.user_id = ? ORDER BY g.name`
	qShownGroups = `SELECT name FROM shared_groups WHERE domain_id = ? AND show_in_roster <> 'nobody'
		AND name IN (SELECT value FROM json_each(?)) ORDER BY name`
	// A user's groups: explicit memberships and the all_users groups of
	// its domain.
	qMemberOf = `SELECT g.id, g.domain_id FROM shared_group_members m JOIN shared_groups g ON g.id = m.group_id
		WHERE m.user_id = ?1
		UNION SELECT id, domain_id FROM shared_groups WHERE all_users = 1 AND domain_id = ?2`
	qExplicitMembers = `SELECT m.group_id, u.id, u.username || '@' || d.fqdn, u.name FROM shared_group_members m
		JOIN users u ON u.id = m.user_id JOIN domains d ON d.id = u.domain_id
		WHERE m.group_id IN (SELECT value FROM json_each(?)) AND u.status <> 'pending-delete'`
	qDomainMembers = `SELECT u.id, u.username || '@' || d.fqdn, u.name FROM users u JOIN domains d ON d.id = u.domain_id
		WHERE u.domain_id = ? AND u.status <> 'pending-delete'`
	// Whose view a domain's groups can change: their explicit members and
	// the domain's users.
	qSharedViewers = `SELECT ` + userCols + userFrom + ` WHERE u.status <> 'pending-delete' AND (u.domain_id = ?1
		OR u.id IN (SELECT m.user_id FROM shared_group_members m JOIN shared_groups g ON g.id = m.group_id WHERE g.domain_id = ?1))
		ORDER BY u.id`
)

func scanSharedGroup(row interface{ Scan(...any) error }) (SharedGroup, error) {
	var g SharedGroup
	var groupList, displayed string
	err := row.Scan(&g.ID, &g.DomainID, &g.Name, &g.DisplayName, &g.Description, &g.ShowInRoster, &groupList, &displayed, &g.AllUsers)
	if errors.Is(err, sql.ErrNoRows) {
		return g, ErrNotFound
	}
	if err != nil {
		return g, err
	}
	for _, n := range strings.Split(groupList, ",") {
		if n = strings.TrimSpace(n); n != "" {
			g.GroupList = append(g.GroupList, n)
		}
	}
	if err := json.Unmarshal([]byte(displayed), &g.Displayed); err != nil {
		return g, err
	}
	return g, nil
}

// SharedGroup returns a domain's group by name; ErrNotFound if none.
func (r Reader) SharedGroup(ctx context.Context, domainID int64, name string) (SharedGroup, error) {
	return scanSharedGroup(r.q.QueryRowContext(ctx, qSharedGroup, domainID, name))
}

func (r Reader) sharedGroupsIn(ctx context.Context, domainIDs []int64) ([]SharedGroup, error) {
	return queryAll(ctx, r.q, scanSharedGroup, qSharedGroupsIn, idList(domainIDs))
}

// PutSrg creates a group as ejabberd's srg_create does, or replaces an
// existing one's options (label, description, displayed groups; Openfire's
// visibility and the @all@ flag are reset). Members are kept.
func (t *Tx) PutSrg(ctx context.Context, domainID int64, name, label, description string, displayed []string) error {
	list, err := jsonList(displayed)
	if err != nil {
		return err
	}
	_, err = t.q.ExecContext(ctx, qPutSrg, domainID, name, label, description, list, t.stamp())
	return err
}

// DeleteSharedGroup removes a group and its memberships; ErrNotFound if it
// is gone.
func (t *Tx) DeleteSharedGroup(ctx context.Context, id int64) error {
	return mustAffect(t.q.ExecContext(ctx, qDeleteSharedGroup, id))
}

// SetSharedGroupAllUsers sets or clears a group's @all@ membership.
func (t *Tx) SetSharedGroupAllUsers(ctx context.Context, id int64, all bool) error {
	return mustAffect(t.q.ExecContext(ctx, qSetAllUsers, all, id))
}

// AddSharedGroupMember makes a user an explicit member (no-op if already).
func (t *Tx) AddSharedGroupMember(ctx context.Context, groupID, userID int64) error {
	_, err := t.q.ExecContext(ctx, qAddMember, groupID, userID)
	return err
}

// RemoveSharedGroupMember drops an explicit membership; ErrNotFound if the
// user was not a member.
func (t *Tx) RemoveSharedGroupMember(ctx context.Context, groupID, userID int64) error {
	return mustAffect(t.q.ExecContext(ctx, qDelMember, groupID, userID))
}

// UserSharedGroups lists the groups a user is an explicit member of.
func (r Reader) UserSharedGroups(ctx context.Context, userID int64) ([]SharedGroup, error) {
	return queryAll(ctx, r.q, scanSharedGroup, qUserSharedGroups, userID)
}

// SharedGroupMemberJIDs lists a group's explicit members as bare JIDs,
// sorted (an @all@ group's implicit members are not listed, as in ejabberd).
func (r Reader) SharedGroupMemberJIDs(ctx context.Context, groupID int64) ([]string, error) {
	return r.stringColumn(ctx, qMemberJIDs, groupID)
}

// EnsureSharedGroup returns the id of group name in a domain, creating it
// with display name = name and the given visibility if it does not exist.
// An existing group keeps its properties.
func (t *Tx) EnsureSharedGroup(ctx context.Context, domainID int64, name, show string) (int64, error) {
	if _, err := t.q.ExecContext(ctx, qEnsureGroup, domainID, name, name, show, t.stamp()); err != nil {
		return 0, err
	}
	var id int64
	err := t.q.QueryRowContext(ctx, qGroupID, domainID, name).Scan(&id)
	return id, err
}

// JoinSharedGroups makes a user a member of the named groups of its domain,
// creating missing ones with visibility show. If exclusive, the user also
// leaves every group not named.
func (t *Tx) JoinSharedGroups(ctx context.Context, domainID, userID int64, names []string, show string, exclusive bool) error {
	ids := make([]int64, 0, len(names))
	for _, n := range names {
		id, err := t.EnsureSharedGroup(ctx, domainID, n, show)
		if err != nil {
			return err
		}
		if _, err := t.q.ExecContext(ctx, qAddMember, id, userID); err != nil {
			return err
		}
		ids = append(ids, id)
	}
	if !exclusive {
		return nil
	}
	_, err := t.q.ExecContext(ctx, qDropOtherMembers, userID, idList(ids))
	return err
}

// SharedGroupNames lists the names of a domain's groups.
func (r Reader) SharedGroupNames(ctx context.Context, domainID int64) ([]string, error) {
	return r.stringColumn(ctx, qGroupNames, domainID)
}

// UserSharedGroupNames lists the names of the groups a user belongs to.
func (r Reader) UserSharedGroupNames(ctx context.Context, userID int64) ([]string, error) {
	return r.stringColumn(ctx, qUserGroupNames, userID)
}

// ShownSharedGroups returns those of names that are groups of the domain
// shown in rosters (show_in_roster other than nobody).
func (r Reader) ShownSharedGroups(ctx context.Context, domainID int64, names []string) ([]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	list, err := json.Marshal(names)
	if err != nil {
		return nil, err
	}
	return r.stringColumn(ctx, qShownGroups, domainID, string(list))
}

// OpenfireGroup is a group of a domain as the Openfire REST API shows it:
// Show is its sharedRoster.showInRoster (ShowNobody = not shared); Admins
// and Members are usernames of the domain, sorted.
type OpenfireGroup struct {
	ID          int64
	DomainID    int64
	Name        string
	Description string
	Show        string
	Admins      []string
	Members     []string
}

// Shared reports whether the group is shown in its members' rosters.
func (g OpenfireGroup) Shared() bool { return g.Show != ShowNobody }

const (
	qOFGroupsOf     = `SELECT id, domain_id, name, description, show_in_roster FROM shared_groups WHERE domain_id = ?`
	qOFGroups       = qOFGroupsOf + ` ORDER BY name`
	qOFGroup        = qOFGroupsOf + ` AND name = ?`
	qOFGroupMembers = `SELECT u.username, m.admin FROM shared_group_members m JOIN users u ON u.id = m.user_id
		WHERE m.group_id = ? ORDER BY u.username`
	qOFCreateGroup = `INSERT INTO shared_groups (domain_id, name, display_name, description, show_in_roster, created)
		VALUES (?, ?, ?, ?, ?, ?)`
	qOFUpdateGroup = `UPDATE shared_groups SET description = COALESCE(?, description), show_in_roster = COALESCE(?, show_in_roster)
		WHERE id = ?`
	qOFClearGroupRole = `DELETE FROM shared_group_members WHERE group_id = ? AND admin = ?`
	qOFPutGroupMember = `INSERT INTO shared_group_members (group_id, user_id, admin) VALUES (?, ?, ?)
		ON CONFLICT (group_id, user_id) DO UPDATE SET admin = excluded.admin`
	qOFLeaveGroups = `DELETE FROM shared_group_members WHERE user_id = ? AND group_id IN
		(SELECT id FROM shared_groups WHERE domain_id = ? AND name IN (SELECT value FROM json_each(?)))`
)

func scanOpenfireGroup(row interface{ Scan(...any) error }) (OpenfireGroup, error) {
	var g OpenfireGroup
	err := row.Scan(&g.ID, &g.DomainID, &g.Name, &g.Description, &g.Show)
	if errors.Is(err, sql.ErrNoRows) {
		return g, ErrNotFound
	}
	return g, err
}

// withOpenfireMembers fills a group's admins and members.
func (r Reader) withOpenfireMembers(ctx context.Context, g *OpenfireGroup) error {
	rows, err := r.q.QueryContext(ctx, qOFGroupMembers, g.ID)
	if err != nil {
		return err
	}
	defer rows.Close()
	g.Admins, g.Members = []string{}, []string{}
	for rows.Next() {
		var name string
		var admin bool
		if err := rows.Scan(&name, &admin); err != nil {
			return err
		}
		if admin {
			g.Admins = append(g.Admins, name)
		} else {
			g.Members = append(g.Members, name)
		}
	}
	return rows.Err()
}

// OpenfireGroups lists a domain's groups by name, with their members.
func (r Reader) OpenfireGroups(ctx context.Context, domainID int64) ([]OpenfireGroup, error) {
	out, err := queryAll(ctx, r.q, scanOpenfireGroup, qOFGroups, domainID)
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []OpenfireGroup{} // callers encode an empty list, not null
	}
	// queryAll has closed the groups' rows: the member queries below do
	// not need a second connection while they are open.
	for i := range out {
		if err := r.withOpenfireMembers(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// OpenfireGroup returns a domain's group by name, with its members;
// ErrNotFound if there is none.
func (r Reader) OpenfireGroup(ctx context.Context, domainID int64, name string) (OpenfireGroup, error) {
	g, err := scanOpenfireGroup(r.q.QueryRowContext(ctx, qOFGroup, domainID, name))
	if err != nil {
		return g, err
	}
	return g, r.withOpenfireMembers(ctx, &g)
}

// CreateOpenfireGroup creates a group (display name = name) and returns its
// id; ErrDuplicate if the domain has a group of that name.
func (t *Tx) CreateOpenfireGroup(ctx context.Context, g OpenfireGroup) (int64, error) {
	id, err := t.insertUnique(ctx, qOFCreateGroup, g.DomainID, g.Name, g.Name, g.Description, g.Show, t.stamp())
	if isUnique(err) {
		return 0, ErrDuplicate
	}
	return id, err
}

// UpdateOpenfireGroup sets a group's description and visibility; nil leaves
// a value unchanged. ErrNotFound if the group is gone.
func (t *Tx) UpdateOpenfireGroup(ctx context.Context, id int64, description, show *string) error {
	return mustAffect(t.q.ExecContext(ctx, qOFUpdateGroup, description, show, id))
}

// SetOpenfireGroupRole replaces the group's admins (admin true) or plain
// members by the given users. A user named in both roles ends in the one
// set last.
func (t *Tx) SetOpenfireGroupRole(ctx context.Context, groupID int64, admin bool, userIDs []int64) error {
	if _, err := t.q.ExecContext(ctx, qOFClearGroupRole, groupID, admin); err != nil {
		return err
	}
	for _, id := range userIDs {
		if _, err := t.q.ExecContext(ctx, qOFPutGroupMember, groupID, id, admin); err != nil {
			return err
		}
	}
	return nil
}

// DeleteOpenfireGroup removes a group and its memberships; ErrNotFound if it
// is gone. It is DeleteSharedGroup: both views are of the same rows.
func (t *Tx) DeleteOpenfireGroup(ctx context.Context, id int64) error {
	return t.DeleteSharedGroup(ctx, id)
}

// LeaveOpenfireGroups removes a user from the named groups of its domain;
// names that are no group, or not the user's, are skipped.
func (t *Tx) LeaveOpenfireGroups(ctx context.Context, domainID, userID int64, names []string) error {
	list, err := json.Marshal(names)
	if err != nil {
		return err
	}
	_, err = t.q.ExecContext(ctx, qOFLeaveGroups, userID, domainID, string(list))
	return err
}

// SharedGroupViewers lists the users who see g's members: the members of
// the groups of its domain that display it (ejabberd) or that its Openfire
// visibility shows it to (itself and its group list for onlyGroup), and
// every user of its domain when it shows everybody.
func (r Reader) SharedGroupViewers(ctx context.Context, g SharedGroup) ([]SharedContact, error) {
	groups, err := r.sharedGroupsIn(ctx, []int64{g.DomainID})
	if err != nil {
		return nil, err
	}
	viewers := map[int64]SharedGroup{}
	for _, x := range groups {
		for _, n := range x.Displayed {
			if n == g.Name {
				viewers[x.ID] = x
			}
		}
		if g.ShowInRoster == ShowOnlyGroup {
			if x.ID == g.ID {
				viewers[x.ID] = x
			}
			for _, n := range g.GroupList {
				if n == x.Name {
					viewers[x.ID] = x
				}
			}
		}
	}
	if g.ShowInRoster == ShowEverybody {
		// Every user of the domain: as the members of an @all@ group.
		viewers[0] = SharedGroup{DomainID: g.DomainID, AllUsers: true}
	}
	return r.membersOf(ctx, 0, viewers)
}

// SharedViewers lists the users whose shared contacts a change to the
// groups of a domain can change: the explicit members of its groups (of
// any domain) and the domain's users.
func (r Reader) SharedViewers(ctx context.Context, domainID int64) ([]User, error) {
	return r.users(ctx, qSharedViewers, domainID)
}

// SharedContacts returns the contacts user u sees through shared groups,
// by JID, each with the labels of the groups it is seen in (sorted).
func (r Reader) SharedContacts(ctx context.Context, u User) ([]SharedContact, error) {
	if u.Status == StatusPendingDelete || u.ID == 0 {
		// ID 0: an anonymous session (SASL ANONYMOUS) is in no group, not
		// even a group of every user of its domain.
		return nil, nil
	}
	rows, err := r.q.QueryContext(ctx, qMemberOf, u.ID, u.DomainID)
	if err != nil {
		return nil, err
	}
	mine := map[int64]bool{}
	domains := []int64{u.DomainID}
	for rows.Next() {
		var id, domainID int64
		if err := rows.Scan(&id, &domainID); err != nil {
			rows.Close()
			return nil, err
		}
		mine[id] = true
		domains = append(domains, domainID)
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	groups, err := r.sharedGroupsIn(ctx, domains)
	if err != nil || len(groups) == 0 {
		return nil, err
	}
	byName := map[int64]map[string]SharedGroup{}
	for _, g := range groups {
		if byName[g.DomainID] == nil {
			byName[g.DomainID] = map[string]SharedGroup{}
		}
		byName[g.DomainID][g.Name] = g
	}
	seen := map[int64]SharedGroup{}
	for _, g := range groups {
		if mine[g.ID] {
			for _, n := range g.Displayed {
				if y, ok := byName[g.DomainID][n]; ok {
					seen[y.ID] = y
				}
			}
		}
		switch g.ShowInRoster {
		case ShowEverybody:
			if g.DomainID == u.DomainID {
				seen[g.ID] = g
			}
		case ShowOnlyGroup:
			if mine[g.ID] {
				seen[g.ID] = g
			}
			for _, n := range g.GroupList {
				if x, ok := byName[g.DomainID][n]; ok && mine[x.ID] {
					seen[g.ID] = g
				}
			}
		}
	}
	return r.membersOf(ctx, u.ID, seen)
}

// membersOf gathers the members of groups as contacts of user self.
func (r Reader) membersOf(ctx context.Context, self int64, groups map[int64]SharedGroup) ([]SharedContact, error) {
	if len(groups) == 0 {
		return nil, nil
	}
	byJID := map[string]*SharedContact{}
	add := func(groupID, userID int64, jid, name string) {
		if userID == self {
			return
		}
		c := byJID[jid]
		if c == nil {
			c = &SharedContact{UserID: userID, JID: jid, Name: name}
			byJID[jid] = c
		}
		label := groups[groupID].Label()
		for _, have := range c.Groups {
			if have == label {
				return
			}
		}
		c.Groups = append(c.Groups, label)
	}
	ids := make([]int64, 0, len(groups))
	for id, g := range groups {
		ids = append(ids, id)
		if !g.AllUsers {
			continue
		}
		if err := r.scanContacts(ctx, qDomainMembers, []any{g.DomainID}, func(userID int64, jid, name string) {
			add(id, userID, jid, name)
		}); err != nil {
			return nil, err
		}
	}
	rows, err := r.q.QueryContext(ctx, qExplicitMembers, idList(ids))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var groupID, userID int64
		var jid, name string
		if err := rows.Scan(&groupID, &userID, &jid, &name); err != nil {
			return nil, err
		}
		add(groupID, userID, jid, name)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	out := make([]SharedContact, 0, len(byJID))
	for _, c := range byJID {
		sort.Strings(c.Groups)
		out = append(out, *c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].JID < out[j].JID })
	return out, nil
}

func (r Reader) scanContacts(ctx context.Context, q string, args []any, f func(userID int64, jid, name string)) error {
	rows, err := r.q.QueryContext(ctx, q, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id int64
		var jid, name string
		if err := rows.Scan(&id, &jid, &name); err != nil {
			return err
		}
		f(id, jid, name)
	}
	return rows.Err()
}
