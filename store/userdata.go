package store

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// A user's XMPP data besides the roster: offline messages, vCard, private
// XML storage, last activity and the block list. The per-user reads and
// writes serve the XMPP server; the per-domain ones (purges of old offline
// messages, last activity of a whole domain for delete_old_users) serve the
// admin commands. All of it goes with its user by ON DELETE CASCADE.

// OfflineMessage is a message stored for a user without an available resource.
type OfflineMessage struct {
	ID      int64
	Sender  string
	Created time.Time
	// Stanza is the serialised <message/> element.
	Stanza []byte
}

// scanOffline reads an offline message selected as id, sender,
// created, stanza.
func scanOffline(row rowScanner) (OfflineMessage, error) {
	var m OfflineMessage
	var created sql.NullString
	if err := row.Scan(&m.ID, &m.Sender, &created, &m.Stanza); err != nil {
		return m, err
	}
	m.Created = parseTime(created)
	return m, nil
}

// qInsertOffline stores a message as PushOffline delivers it and
// ImportOffline copies it in; only the created time differs.
const qInsertOffline = `INSERT INTO offline_messages (user_id, sender, created, stanza) VALUES (?, ?, ?, ?)`

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
	_, err := t.q.ExecContext(ctx, qInsertOffline, userID, sender, t.stamp(), stanza)
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

// OfflineMessages returns the user's offline messages, oldest first,
// leaving them stored (PopOffline delivers them).
func (r Reader) OfflineMessages(ctx context.Context, userID int64) ([]OfflineMessage, error) {
	return queryAll(ctx, r.q, scanOffline, `SELECT id, sender, created, stanza FROM offline_messages WHERE user_id = ? ORDER BY id`, userID)
}

// ImportOffline stores an offline message with the time it was first
// stored elsewhere (an import keeps the original delay stamp).
func (t *Tx) ImportOffline(ctx context.Context, userID int64, sender string, stanza []byte, created time.Time) error {
	_, err := t.q.ExecContext(ctx, qInsertOffline, userID, sender, created.UTC().Format(TimeLayout), stanza)
	return err
}

// PurgeOffline deletes offline messages created before t; it returns how many.
func (t *Tx) PurgeOffline(ctx context.Context, before time.Time) (int64, error) {
	res, err := t.q.ExecContext(ctx, `DELETE FROM offline_messages WHERE created < ?`, before.UTC().Format(TimeLayout))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

const (
	qOfflineOfDomains = ` AND user_id IN (SELECT id FROM users WHERE domain_id IN (SELECT value FROM json_each(?)))`
	qDeleteOldOffline = `DELETE FROM offline_messages WHERE created < ?` + qOfflineOfDomains
	qOldOfflineIDs    = `SELECT o.id FROM offline_messages o JOIN users u ON u.id = o.user_id
		WHERE u.domain_id = ? AND o.created < ? ORDER BY o.id LIMIT ?`
	qDeleteOfflineIDs = `DELETE FROM offline_messages WHERE id IN (SELECT value FROM json_each(?))`
	// The stanzas that may carry an expiry: a cheap byte filter, the caller
	// parses what it returns.
	qExpiryCandidates = `SELECT id, sender, created, stanza FROM offline_messages
		WHERE instr(stanza, CAST('expire' AS BLOB)) > 0` + qOfflineOfDomains + ` ORDER BY id`
	qExpiryCandidatesPG = `SELECT id, sender, created, stanza FROM offline_messages
		WHERE position('expire'::bytea in stanza) > 0` + qOfflineOfDomains + ` ORDER BY id`
)

// DeleteOldOffline deletes the offline messages of the users of domains
// that were stored before t; it returns how many.
func (t *Tx) DeleteOldOffline(ctx context.Context, domainIDs []int64, before time.Time) (int64, error) {
	res, err := t.q.ExecContext(ctx, qDeleteOldOffline, before.UTC().Format(TimeLayout), idList(domainIDs))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// OldOfflineIDs returns the ids of at most limit offline messages of a
// domain's users stored before t, oldest first.
func (r Reader) OldOfflineIDs(ctx context.Context, domainID int64, before time.Time, limit int) ([]int64, error) {
	return queryAll(ctx, r.q, scanColumn[int64], qOldOfflineIDs, domainID, before.UTC().Format(TimeLayout), limit)
}

// DeleteOfflineIDs deletes the offline messages with these ids (those
// already gone, delivered say, are skipped); it returns how many.
func (t *Tx) DeleteOfflineIDs(ctx context.Context, ids []int64) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	res, err := t.q.ExecContext(ctx, qDeleteOfflineIDs, idList(ids))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// OfflineExpiryCandidates lists the offline messages of the users of
// domains whose stanza mentions "expire" (jabber:x:expire, XEP-0079
// expire-at), oldest first; the caller decides which have expired.
func (r Reader) OfflineExpiryCandidates(ctx context.Context, domainIDs []int64) ([]OfflineMessage, error) {
	return queryAll(ctx, r.q, scanOffline, r.pick(qExpiryCandidates, qExpiryCandidatesPG), idList(domainIDs))
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

// PrivateItem is one element of a user's private XML storage.
type PrivateItem struct {
	NS   string
	Data []byte
}

// PrivateItems returns every element of the user's private storage, by namespace.
func (r Reader) PrivateItems(ctx context.Context, userID int64) ([]PrivateItem, error) {
	return queryAll(ctx, r.q, func(row rowScanner) (PrivateItem, error) {
		var p PrivateItem
		err := row.Scan(&p.NS, &p.Data)
		return p, err
	}, `SELECT ns, data FROM private_storage WHERE user_id = ? ORDER BY ns`, userID)
}

// PrivateNamespaces lists the namespaces of a user's private XML storage, sorted.
func (r Reader) PrivateNamespaces(ctx context.Context, userID int64) ([]string, error) {
	return queryAll(ctx, r.q, scanColumn[string], `SELECT ns FROM private_storage WHERE user_id = ? ORDER BY ns`, userID)
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

const qDomainLastSeen = `SELECT l.user_id, l.seen FROM last_activity l JOIN users u ON u.id = l.user_id WHERE u.domain_id = ?`

// DomainLastSeen returns when each user of a domain that ever had a
// session last ended one, by user id.
func (r Reader) DomainLastSeen(ctx context.Context, domainID int64) (map[int64]time.Time, error) {
	rows, err := r.q.QueryContext(ctx, qDomainLastSeen, domainID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[int64]time.Time{}
	for rows.Next() {
		var id int64
		var seen sql.NullString
		if err := rows.Scan(&id, &seen); err != nil {
			return nil, err
		}
		out[id] = parseTime(seen)
	}
	return out, rows.Err()
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
