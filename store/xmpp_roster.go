package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
)

// Subscription states of RFC 6121 section 3.
const (
	SubNone = "none"
	SubTo   = "to"
	SubFrom = "from"
	SubBoth = "both"
)

// RosterItem is one contact in a user's roster (RFC 6121 section 2).
type RosterItem struct {
	// Contact is the contact's bare JID, normalised.
	Contact string
	Name    string
	// Subscription is one of SubNone, SubTo, SubFrom, SubBoth.
	Subscription string
	// Ask is true while an outbound subscription request is pending.
	Ask bool
	// PendingIn is true while an inbound subscription request awaits an answer.
	PendingIn bool
	// Visible is false for a row that only records an inbound request of a
	// contact that is not in the roster; such rows are not shown to clients.
	Visible bool
	Groups  []string
	// Ver is the roster version at this item's last change.
	Ver int64
}

const rosterCols = `contact, name, subscription, ask, pending_in, visible, groups, ver`

func scanRosterItem(row interface{ Scan(...any) error }) (RosterItem, error) {
	var it RosterItem
	var groups string
	err := row.Scan(&it.Contact, &it.Name, &it.Subscription, &it.Ask, &it.PendingIn, &it.Visible, &groups, &it.Ver)
	if errors.Is(err, sql.ErrNoRows) {
		return it, ErrNotFound
	}
	if err != nil {
		return it, err
	}
	if err := json.Unmarshal([]byte(groups), &it.Groups); err != nil {
		return it, err
	}
	return it, nil
}

// RosterItems returns every roster row of a user (visible or not) by contact,
// and the current roster version.
func (r Reader) RosterItems(ctx context.Context, userID int64) ([]RosterItem, int64, error) {
	ver, err := r.RosterVersion(ctx, userID)
	if err != nil {
		return nil, 0, err
	}
	rows, err := r.q.QueryContext(ctx, `SELECT `+rosterCols+` FROM roster_items WHERE user_id = ? ORDER BY contact`, userID)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []RosterItem
	for rows.Next() {
		it, err := scanRosterItem(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, it)
	}
	return out, ver, rows.Err()
}

// RosterItem returns one roster row; ErrNotFound if there is none.
func (r Reader) RosterItem(ctx context.Context, userID int64, contact string) (RosterItem, error) {
	return scanRosterItem(r.q.QueryRowContext(ctx, `SELECT `+rosterCols+` FROM roster_items WHERE user_id = ? AND contact = ?`,
		userID, contact))
}

// RosterVersion returns the user's roster version (0 if never changed).
func (r Reader) RosterVersion(ctx context.Context, userID int64) (int64, error) {
	var ver int64
	err := r.q.QueryRowContext(ctx, `SELECT ver FROM roster_versions WHERE user_id = ?`, userID).Scan(&ver)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return ver, err
}

func (t *Tx) bumpRosterVersion(ctx context.Context, userID int64) (int64, error) {
	var ver int64
	err := t.q.QueryRowContext(ctx, `INSERT INTO roster_versions (user_id, ver) VALUES (?, 1)
		ON CONFLICT (user_id) DO UPDATE SET ver = ver + 1 RETURNING ver`, userID).Scan(&ver)
	return ver, err
}

// PutRosterItem inserts or replaces a roster row and bumps the roster
// version, which it returns (and stores in the row).
func (t *Tx) PutRosterItem(ctx context.Context, userID int64, it RosterItem) (int64, error) {
	ver, err := t.bumpRosterVersion(ctx, userID)
	if err != nil {
		return 0, err
	}
	if it.Subscription == "" {
		it.Subscription = SubNone
	}
	if it.Groups == nil {
		it.Groups = []string{}
	}
	groups, err := json.Marshal(it.Groups)
	if err != nil {
		return 0, err
	}
	_, err = t.q.ExecContext(ctx, `INSERT INTO roster_items (user_id, `+rosterCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, contact) DO UPDATE SET name = excluded.name, subscription = excluded.subscription,
		ask = excluded.ask, pending_in = excluded.pending_in, visible = excluded.visible, groups = excluded.groups,
		ver = excluded.ver`,
		userID, it.Contact, it.Name, it.Subscription, it.Ask, it.PendingIn, it.Visible, string(groups), ver)
	if err != nil {
		return 0, err
	}
	return ver, nil
}

// DeleteRosterItem removes a roster row and bumps the roster version, which
// it returns; ErrNotFound if there was no such row.
func (t *Tx) DeleteRosterItem(ctx context.Context, userID int64, contact string) (int64, error) {
	if err := mustAffect(t.q.ExecContext(ctx, `DELETE FROM roster_items WHERE user_id = ? AND contact = ?`, userID, contact)); err != nil {
		return 0, err
	}
	return t.bumpRosterVersion(ctx, userID)
}
