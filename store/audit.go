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
	AccountID int64 // 0: no account (a server-wide line, a failed login of an unknown name)
	Actor     string
	Command   string
	Detail    string
}

// AuditFilter selects audit lines; zero fields select everything. The
// operator's console and Openfire's security log read through it.
type AuditFilter struct {
	// Accounts limits the lines to these accounts' (nil: every account's
	// and those of no account, the operator's view; empty: none).
	Accounts  []int64
	Account   int64     // only this account's lines
	Actor     string    // exactly this actor
	ActorPart string    // actors containing this text
	Command   string    // exactly this command
	From, To  time.Time // lines at or after From and at or before To
	Before    int64     // lines with an id below this (paging back)
	Offset    int       // skip this many
	Limit     int       // at most this many (0: no limit)
}

// Newest first: ids grow with time and break ties within a second.
const qAuditLog = `SELECT id, time, COALESCE(account_id, 0), actor, command, detail FROM audit_log
	WHERE (?1 IS NULL OR account_id IN (SELECT value FROM json_each(?1)))
	AND (?2 = 0 OR account_id = ?2)
	AND (?3 = '' OR actor = ?3)
	AND (?4 = '' OR instr(actor, ?4) > 0)
	AND (?5 = '' OR command = ?5)
	AND (?6 = '' OR time >= ?6)
	AND (?7 = '' OR time <= ?7)
	AND (?8 = 0 OR id < ?8)
	ORDER BY id DESC LIMIT ?9 OFFSET ?10`

// AuditLog lists the audit lines f selects, newest first.
func (r Reader) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	bound := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(TimeLayout)
	}
	var limit any = int64(f.Limit)
	if f.Limit <= 0 {
		limit = r.noLimit()
	}
	return queryAll(ctx, r.q, scanAudit, qAuditLog, accountsArg(f.Accounts), f.Account, f.Actor, f.ActorPart, f.Command,
		bound(f.From), bound(f.To), f.Before, limit, max(f.Offset, 0))
}

func scanAudit(row rowScanner) (AuditEntry, error) {
	var e AuditEntry
	var t sql.NullString
	err := row.Scan(&e.ID, &t, &e.AccountID, &e.Actor, &e.Command, &e.Detail)
	e.Time = parseTime(t)
	return e, err
}
