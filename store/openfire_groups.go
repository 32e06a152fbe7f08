package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
)

// SharedGroup is a group of a domain as the Openfire REST API shows it:
// Show is its sharedRoster.showInRoster (ShowNobody = not shared); Admins
// and Members are usernames of the domain, sorted.
type SharedGroup struct {
	ID          int64
	DomainID    int64
	Name        string
	Description string
	Show        string
	Admins      []string
	Members     []string
}

// Shared reports whether the group is shown in its members' rosters.
func (g SharedGroup) Shared() bool { return g.Show != ShowNobody }

const (
	qGroupsOf     = `SELECT id, domain_id, name, description, show_in_roster FROM shared_groups WHERE domain_id = ?`
	qGroups       = qGroupsOf + ` ORDER BY name`
	qGroup        = qGroupsOf + ` AND name = ?`
	qGroupMembers = `SELECT u.username, m.admin FROM shared_group_members m JOIN users u ON u.id = m.user_id
		WHERE m.group_id = ? ORDER BY u.username`
	qCreateGroup = `INSERT INTO shared_groups (domain_id, name, display_name, description, show_in_roster, created)
		VALUES (?, ?, ?, ?, ?, ?)`
	qUpdateGroup = `UPDATE shared_groups SET description = COALESCE(?, description), show_in_roster = COALESCE(?, show_in_roster)
		WHERE id = ?`
	qDeleteGroup    = `DELETE FROM shared_groups WHERE id = ?`
	qClearGroupRole = `DELETE FROM shared_group_members WHERE group_id = ? AND admin = ?`
	qPutGroupMember = `INSERT INTO shared_group_members (group_id, user_id, admin) VALUES (?, ?, ?)
		ON CONFLICT (group_id, user_id) DO UPDATE SET admin = excluded.admin`
	qLeaveGroups = `DELETE FROM shared_group_members WHERE user_id = ? AND group_id IN
		(SELECT id FROM shared_groups WHERE domain_id = ? AND name IN (SELECT value FROM json_each(?)))`
)

func scanGroup(row interface{ Scan(...any) error }) (SharedGroup, error) {
	var g SharedGroup
	err := row.Scan(&g.ID, &g.DomainID, &g.Name, &g.Description, &g.Show)
	if errors.Is(err, sql.ErrNoRows) {
		return g, ErrNotFound
	}
	return g, err
}

// withMembers fills a group's admins and members.
func (r Reader) withMembers(ctx context.Context, g *SharedGroup) error {
	rows, err := r.q.QueryContext(ctx, qGroupMembers, g.ID)
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

// SharedGroups lists a domain's groups by name, with their members.
func (r Reader) SharedGroups(ctx context.Context, domainID int64) ([]SharedGroup, error) {
	rows, err := r.q.QueryContext(ctx, qGroups, domainID)
	if err != nil {
		return nil, err
	}
	out := []SharedGroup{}
	for rows.Next() {
		g, err := scanGroup(rows)
		if err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	for i := range out {
		if err := r.withMembers(ctx, &out[i]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// SharedGroup returns a domain's group by name, with its members;
// ErrNotFound if there is none.
func (r Reader) SharedGroup(ctx context.Context, domainID int64, name string) (SharedGroup, error) {
	g, err := scanGroup(r.q.QueryRowContext(ctx, qGroup, domainID, name))
	if err != nil {
		return g, err
	}
	return g, r.withMembers(ctx, &g)
}

// CreateSharedGroup creates a group (display name = name) and returns its
// id; ErrDuplicate if the domain has a group of that name.
func (t *Tx) CreateSharedGroup(ctx context.Context, g SharedGroup) (int64, error) {
	res, err := t.q.ExecContext(ctx, qCreateGroup, g.DomainID, g.Name, g.Name, g.Description, g.Show, t.stamp())
	if isUnique(err) {
		return 0, ErrDuplicate
	}
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
}

// UpdateSharedGroup sets a group's description and visibility; nil leaves
// a value unchanged. ErrNotFound if the group is gone.
func (t *Tx) UpdateSharedGroup(ctx context.Context, id int64, description, show *string) error {
	return mustAffect(t.q.ExecContext(ctx, qUpdateGroup, description, show, id))
}

// SetSharedGroupRole replaces the group's admins (admin true) or plain
// members by the given users. A user named in both roles ends in the one
// set last.
func (t *Tx) SetSharedGroupRole(ctx context.Context, groupID int64, admin bool, userIDs []int64) error {
	if _, err := t.q.ExecContext(ctx, qClearGroupRole, groupID, admin); err != nil {
		return err
	}
	for _, id := range userIDs {
		if _, err := t.q.ExecContext(ctx, qPutGroupMember, groupID, id, admin); err != nil {
			return err
		}
	}
	return nil
}

// DeleteSharedGroup removes a group and its memberships; ErrNotFound if it
// is gone.
func (t *Tx) DeleteSharedGroup(ctx context.Context, id int64) error {
	return mustAffect(t.q.ExecContext(ctx, qDeleteGroup, id))
}

// LeaveSharedGroups removes a user from the named groups of its domain;
// names that are no group, or not the user's, are skipped.
func (t *Tx) LeaveSharedGroups(ctx context.Context, domainID, userID int64, names []string) error {
	list, err := json.Marshal(names)
	if err != nil {
		return err
	}
	_, err = t.q.ExecContext(ctx, qLeaveGroups, userID, domainID, string(list))
	return err
}
