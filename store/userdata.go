package store

import (
	"context"
	"database/sql"
	"time"
)

// Queries of the admin commands over users' XMPP data (the ejabberd
// vcard, last, private, offline and purge families): per-domain purges of
// offline messages and the facts delete_old_users decides on. The per-user
// reads and writes (VCard, PrivateXML, LastActivity, OfflineCount) are in
// xmpp_data.go, shared with the XMPP server.

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
	qDomainLastSeen = `SELECT l.user_id, l.seen FROM last_activity l JOIN users u ON u.id = l.user_id WHERE u.domain_id = ?`
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
	return queryAll(ctx, r.q, scanOffline, qExpiryCandidates, idList(domainIDs))
}

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

// PrivateNamespaces lists the namespaces of a user's private XML storage, sorted.
func (r Reader) PrivateNamespaces(ctx context.Context, userID int64) ([]string, error) {
	return queryAll(ctx, r.q, scanColumn[string], `SELECT ns FROM private_storage WHERE user_id = ? ORDER BY ns`, userID)
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
