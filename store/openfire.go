package store

import (
	"context"
	"encoding/json"
)

// Shared group visibility (Openfire's sharedRoster.showInRoster).
const (
	ShowNobody    = "nobody"
	ShowOnlyGroup = "onlyGroup"
	ShowEverybody = "everybody"
)

const (
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
)

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
