package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// OfflineMessage is a message stored for a user without an available resource.
type OfflineMessage struct {
	ID      int64
	Sender  string
	Created time.Time
	// Stanza is the serialised <message/> element.
	Stanza []byte
}

// PushOffline stores a message for userID unless the user already holds limit
// messages (limit <= 0: no limit); it reports whether the message was stored.
func (t *Tx) PushOffline(ctx context.Context, userID int64, sender string, stanza []byte, limit int) (bool, error) {
	if limit > 0 {
		n, err := t.OfflineCount(ctx, userID)
		if err != nil {
			return false, err
		}
		if n >= limit {
			return false, nil
		}
	}
	_, err := t.q.ExecContext(ctx, `INSERT INTO offline_messages (user_id, sender, created, stanza) VALUES (?, ?, ?, ?)`,
		userID, sender, t.stamp(), stanza)
	return err == nil, err
}

// OfflineCount returns how many offline messages wait for userID.
func (r Reader) OfflineCount(ctx context.Context, userID int64) (int, error) {
	var n int
	err := r.q.QueryRowContext(ctx, `SELECT count(*) FROM offline_messages WHERE user_id = ?`, userID).Scan(&n)
	return n, err
}

// PopOffline returns and deletes every offline message of userID, oldest first.
func (t *Tx) PopOffline(ctx context.Context, userID int64) ([]OfflineMessage, error) {
	out, err := queryAll(ctx, t.q, scanOffline, `DELETE FROM offline_messages WHERE user_id = ? RETURNING id, sender, created, stanza`, userID)
	if err != nil {
		return nil, err
	}
	// RETURNING does not promise an order.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].ID < out[j-1].ID; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out, nil
}

// PurgeOffline deletes offline messages created before t; it returns how many.
func (t *Tx) PurgeOffline(ctx context.Context, before time.Time) (int64, error) {
	res, err := t.q.ExecContext(ctx, `DELETE FROM offline_messages WHERE created < ?`, before.UTC().Format(TimeLayout))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// VCard returns the user's stored <vCard/> element; ErrNotFound if none.
func (r Reader) VCard(ctx context.Context, userID int64) ([]byte, error) {
	var v []byte
	err := r.q.QueryRowContext(ctx, `SELECT vcard FROM vcards WHERE user_id = ?`, userID).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return v, err
}

// SetVCard stores the user's <vCard/> element; an empty vcard deletes it.
func (t *Tx) SetVCard(ctx context.Context, userID int64, vcard []byte) error {
	if len(vcard) == 0 {
		_, err := t.q.ExecContext(ctx, `DELETE FROM vcards WHERE user_id = ?`, userID)
		return err
	}
	_, err := t.q.ExecContext(ctx, `INSERT INTO vcards (user_id, vcard, updated) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET vcard = excluded.vcard, updated = excluded.updated`, userID, vcard, t.stamp())
	return err
}

// PrivateXML returns the element stored under namespace ns; ErrNotFound if none.
func (r Reader) PrivateXML(ctx context.Context, userID int64, ns string) ([]byte, error) {
	var v []byte
	err := r.q.QueryRowContext(ctx, `SELECT data FROM private_storage WHERE user_id = ? AND ns = ?`, userID, ns).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	return v, err
}

// SetPrivateXML stores an element under namespace ns.
func (t *Tx) SetPrivateXML(ctx context.Context, userID int64, ns string, data []byte) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO private_storage (user_id, ns, data) VALUES (?, ?, ?)
		ON CONFLICT (user_id, ns) DO UPDATE SET data = excluded.data`, userID, ns, data)
	return err
}

// LastActivity returns when the user's last session ended and its status
// text; ErrNotFound if never recorded.
func (r Reader) LastActivity(ctx context.Context, userID int64) (time.Time, string, error) {
	var seen sql.NullString
	var status string
	err := r.q.QueryRowContext(ctx, `SELECT seen, status FROM last_activity WHERE user_id = ?`, userID).Scan(&seen, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, "", ErrNotFound
	}
	return parseTime(seen), status, err
}

// SetLastActivity records the end of the user's last session.
func (t *Tx) SetLastActivity(ctx context.Context, userID int64, seen time.Time, status string) error {
	_, err := t.q.ExecContext(ctx, `INSERT INTO last_activity (user_id, seen, status) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET seen = excluded.seen, status = excluded.status`,
		userID, seen.UTC().Format(TimeLayout), status)
	return err
}

// BlockList returns the JIDs the user blocks, sorted.
func (r Reader) BlockList(ctx context.Context, userID int64) ([]string, error) {
	return queryAll(ctx, r.q, scanColumn[string], `SELECT jid FROM blocklist WHERE user_id = ? ORDER BY jid`, userID)
}

// Block adds JIDs to the user's block list (already blocked ones are kept).
func (t *Tx) Block(ctx context.Context, userID int64, jids []string) error {
	for _, j := range jids {
		if _, err := t.q.ExecContext(ctx, `INSERT INTO blocklist (user_id, jid) VALUES (?, ?) ON CONFLICT DO NOTHING`, userID, j); err != nil {
			return err
		}
	}
	return nil
}

// Unblock removes JIDs from the user's block list; nil jids empties it.
func (t *Tx) Unblock(ctx context.Context, userID int64, jids []string) error {
	if jids == nil {
		_, err := t.q.ExecContext(ctx, `DELETE FROM blocklist WHERE user_id = ?`, userID)
		return err
	}
	for _, j := range jids {
		if _, err := t.q.ExecContext(ctx, `DELETE FROM blocklist WHERE user_id = ? AND jid = ?`, userID, j); err != nil {
			return err
		}
	}
	return nil
}
