package store

import (
	"context"
	"database/sql"
	"time"
)

// XEP-0357 push registrations (the xmppcore push module and ejabberd's
// delete_old_push_sessions).

// PushSession is one app server a user's client enabled push for.
type PushSession struct {
	JID, Node string
	// Options is the serialised publish-options form, or empty.
	Options []byte
	Created time.Time
}

const (
	qPushCount  = `SELECT count(*) FROM push_sessions WHERE user_id = ?`
	qPushExists = `SELECT count(*) FROM push_sessions WHERE user_id = ? AND jid = ? AND node = ?`
	qPutPush    = `INSERT INTO push_sessions (user_id, jid, node, options, created) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (user_id, jid, node) DO UPDATE SET options = excluded.options, created = excluded.created`
	qPushSessions   = `SELECT jid, node, options, created FROM push_sessions WHERE user_id = ? ORDER BY jid, node`
	qDeletePushNode = `DELETE FROM push_sessions WHERE user_id = ? AND jid = ? AND node = ?`
	qDeletePushJID  = `DELETE FROM push_sessions WHERE user_id = ? AND jid = ?`
	qDeleteOldPush  = `DELETE FROM push_sessions WHERE created < ?` + qOfflineOfDomains
)

// PutPush stores a registration, or renews the one for the same jid and
// node (new options, created now). A new one beyond limit registrations
// of the user (limit > 0) is not stored: ok is false. A zero p.Created
// means now.
func (t *Tx) PutPush(ctx context.Context, userID int64, p PushSession, limit int) (ok bool, err error) {
	if limit > 0 {
		var n, exists int
		if err := t.q.QueryRowContext(ctx, qPushCount, userID).Scan(&n); err != nil {
			return false, err
		}
		if err := t.q.QueryRowContext(ctx, qPushExists, userID, p.JID, p.Node).Scan(&exists); err != nil {
			return false, err
		}
		if exists == 0 && n >= limit {
			return false, nil
		}
	}
	created := t.stamp()
	if !p.Created.IsZero() {
		created = p.Created.UTC().Format(TimeLayout)
	}
	if p.Options == nil {
		p.Options = []byte{}
	}
	_, err = t.q.ExecContext(ctx, qPutPush, userID, p.JID, p.Node, p.Options, created)
	return err == nil, err
}

// DeletePush removes the registration for jid and node, or every one for
// jid when node is ""; it returns how many.
func (t *Tx) DeletePush(ctx context.Context, userID int64, jid, node string) (int64, error) {
	var res sql.Result
	var err error
	if node == "" {
		res, err = t.q.ExecContext(ctx, qDeletePushJID, userID, jid)
	} else {
		res, err = t.q.ExecContext(ctx, qDeletePushNode, userID, jid, node)
	}
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// PushSessions returns a user's registrations, by jid and node.
func (r Reader) PushSessions(ctx context.Context, userID int64) ([]PushSession, error) {
	return queryAll(ctx, r.q, func(row rowScanner) (PushSession, error) {
		var p PushSession
		var created sql.NullString
		err := row.Scan(&p.JID, &p.Node, &p.Options, &created)
		p.Created = parseTime(created)
		return p, err
	}, qPushSessions, userID)
}

// DeleteOldPush deletes the registrations of the users of domains made
// before t; it returns how many.
func (t *Tx) DeleteOldPush(ctx context.Context, domainIDs []int64, before time.Time) (int64, error) {
	res, err := t.q.ExecContext(ctx, qDeleteOldPush, before.UTC().Format(TimeLayout), idList(domainIDs))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}
