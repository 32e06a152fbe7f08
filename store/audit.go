package store

import (
	"context"
	"database/sql"
	"time"
)

// AuditEntry is one line of the audit log.
type AuditEntry struct {
	ID        int64
	Time      time.Time
	AccountID int64 // 0: a server-wide line (no account)
	Actor     string
	Command   string
	Detail    string
}

// AuditFilter narrows AuditLog: lines of Accounts only (never the
// server-wide lines without an account), of Actor if set, from From and
// until To (zero: no bound, both inclusive), newest first, skipping Offset
// and at most Limit (0: no limit).
type AuditFilter struct {
	Accounts      []int64
	Actor         string
	From, To      time.Time
	Offset, Limit int
}

// The audit log reader: the id breaks ties between lines of one second.
const qAuditLog = `SELECT id, time, COALESCE(account_id, 0), actor, command, detail FROM audit_log
	WHERE account_id IN (SELECT value FROM json_each(?))
	AND (? = '' OR actor = ?) AND (? = '' OR time >= ?) AND (? = '' OR time <= ?)
	ORDER BY time DESC, id DESC LIMIT ? OFFSET ?`

// AuditLog lists audit lines by f.
func (r Reader) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	bound := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(TimeLayout)
	}
	from, to := bound(f.From), bound(f.To)
	limit := int64(f.Limit)
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	return queryAll(ctx, r.q, func(row rowScanner) (AuditEntry, error) {
		var e AuditEntry
		var at sql.NullString
		err := row.Scan(&e.ID, &at, &e.AccountID, &e.Actor, &e.Command, &e.Detail)
		e.Time = parseTime(at)
		return e, err
	}, qAuditLog, idList(f.Accounts), f.Actor, f.Actor, from, from, to, to, limit, max(f.Offset, 0))
}
