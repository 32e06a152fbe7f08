package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
)

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
	qOFDeleteGroup    = `DELETE FROM shared_groups WHERE id = ?`
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
	rows, err := r.q.QueryContext(ctx, qOFGroups, domainID)
	if err != nil {
		return nil, err
	}
	out := []OpenfireGroup{}
	for rows.Next() {
		g, err := scanOpenfireGroup(rows)
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
	res, err := t.q.ExecContext(ctx, qOFCreateGroup, g.DomainID, g.Name, g.Name, g.Description, g.Show, t.stamp())
	if isUnique(err) {
		return 0, ErrDuplicate
	}
	if err != nil {
		return 0, err
	}
	return res.LastInsertId()
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
// is gone.
func (t *Tx) DeleteOpenfireGroup(ctx context.Context, id int64) error {
	return mustAffect(t.q.ExecContext(ctx, qOFDeleteGroup, id))
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
