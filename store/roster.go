package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sort"
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
	// Approved is true while the user pre-approved the contact's
	// subscription request (RFC 6121 3.4), which is then answered at once.
	Approved bool
	// Visible is false for a row that only records an inbound request of a
	// contact that is not in the roster; such rows are not shown to clients.
	Visible bool
	Groups  []string
	// Ver is the roster version at this item's last change.
	Ver int64
}

const rosterCols = `contact, name, subscription, ask, pending_in, visible, groups, ver, approved`

func scanRosterItem(row interface{ Scan(...any) error }) (RosterItem, error) {
	var it RosterItem
	var groups string
	err := row.Scan(&it.Contact, &it.Name, &it.Subscription, &it.Ask, &it.PendingIn, &it.Visible, &groups, &it.Ver, &it.Approved)
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
	out, err := queryAll(ctx, r.q, scanRosterItem, `SELECT `+rosterCols+` FROM roster_items WHERE user_id = ? ORDER BY contact`, userID)
	if err != nil {
		return nil, 0, err
	}
	return out, ver, nil
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
		ON CONFLICT (user_id) DO UPDATE SET ver = roster_versions.ver + 1 RETURNING ver`, userID).Scan(&ver)
	return ver, err
}

// The upsert's SET names the table: PostgreSQL finds a bare ver ambiguous.
const (
	qBumpRosterVersions = `INSERT INTO roster_versions (user_id, ver) SELECT value, 1 FROM json_each(?) WHERE true
		ON CONFLICT (user_id) DO UPDATE SET ver = roster_versions.ver + 1`
	qBumpRosterVersionsPG = `INSERT INTO roster_versions (user_id, ver) SELECT value::bigint, 1 FROM json_array_elements_text(?::json)
		ON CONFLICT (user_id) DO UPDATE SET ver = roster_versions.ver + 1`
)

// BumpRosterVersions advances the roster version of each user, in one
// statement: a shared contact appeared, changed or went, so a client's
// cached roster is stale.
func (t *Tx) BumpRosterVersions(ctx context.Context, userIDs []int64) error {
	if len(userIDs) == 0 {
		return nil
	}
	_, err := t.q.ExecContext(ctx, t.pick(qBumpRosterVersions, qBumpRosterVersionsPG), idList(userIDs))
	return err
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
	groups, err := jsonList(it.Groups)
	if err != nil {
		return 0, err
	}
	_, err = t.q.ExecContext(ctx, `INSERT INTO roster_items (user_id, `+rosterCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, contact) DO UPDATE SET name = excluded.name, subscription = excluded.subscription,
		ask = excluded.ask, pending_in = excluded.pending_in, visible = excluded.visible, groups = excluded.groups,
		ver = excluded.ver, approved = excluded.approved`,
		userID, it.Contact, it.Name, it.Subscription, it.Ask, it.PendingIn, it.Visible, groups, ver, it.Approved)
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

// mergeShared lays shared contacts over stored roster rows: a shared
// contact is an item with subscription both (no pending request) in the
// shared groups' labels as well as its own groups; a stored name wins.
func mergeShared(items []RosterItem, shared []SharedContact) []RosterItem {
	if len(shared) == 0 {
		return items
	}
	at := map[string]int{}
	for i, it := range items {
		at[it.Contact] = i
	}
	for _, sc := range shared {
		i, ok := at[sc.JID]
		if !ok {
			items = append(items, RosterItem{Contact: sc.JID, Name: sc.Name})
			i = len(items) - 1
		}
		it := &items[i]
		if !it.Visible {
			it.Groups = nil
		}
		it.Subscription, it.Ask, it.PendingIn, it.Visible = SubBoth, false, false, true
		if it.Name == "" {
			it.Name = sc.Name
		}
		groups := append([]string{}, it.Groups...)
		for _, g := range sc.Groups {
			dup := false
			for _, have := range groups {
				dup = dup || have == g
			}
			if !dup {
				groups = append(groups, g)
			}
		}
		it.Groups = groups
	}
	sort.Slice(items, func(i, j int) bool { return items[i].Contact < items[j].Contact })
	return items
}

// RosterWithShared is RosterItems with the user's shared contacts laid
// over the stored rows (see mergeShared): the roster clients see.
func (r Reader) RosterWithShared(ctx context.Context, u User) ([]RosterItem, int64, error) {
	items, ver, err := r.RosterItems(ctx, u.ID)
	if err != nil {
		return nil, 0, err
	}
	shared, err := r.SharedContacts(ctx, u)
	if err != nil {
		return nil, 0, err
	}
	return mergeShared(items, shared), ver, nil
}

// RosterItemWithShared is RosterItem with shared contacts laid over it;
// ErrNotFound if the contact is neither stored nor shared.
func (r Reader) RosterItemWithShared(ctx context.Context, u User, contact string) (RosterItem, error) {
	items, _, err := r.RosterWithShared(ctx, u)
	if err != nil {
		return RosterItem{}, err
	}
	for _, it := range items {
		if it.Contact == contact {
			return it, nil
		}
	}
	return RosterItem{}, ErrNotFound
}
