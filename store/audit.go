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
	AccountID int64 // 0: no account (a failed login of an unknown name, say)
	Actor     string
	Command   string
	Detail    string
}

// AuditFilter selects audit lines; zero fields select everything.
type AuditFilter struct {
	// Accounts limits the lines to these accounts' (nil: every account's
	// and those of no account, the operator's view).
	Accounts []int64
	Account  int64     // only this account's lines
	Actor    string    // actors containing this text
	Command  string    // exactly this command
	Since    time.Time // lines at or after this time
	Before   int64     // lines with an id below this (paging back)
	Limit    int       // at most this many, newest first (default 100)
}

const qAuditLog = `SELECT id, time, COALESCE(account_id, 0), actor, command, detail FROM audit_log
	WHERE (?1 IS NULL OR account_id IN (SELECT value FROM json_each(?1)))
	AND (?2 = 0 OR account_id = ?2)
	AND (?3 = '' OR instr(actor, ?3) > 0)
	AND (?4 = '' OR command = ?4)
	AND (?5 = '' OR time >= ?5)
	AND (?6 = 0 OR id < ?6)
	ORDER BY id DESC LIMIT ?7`

// AuditLog lists the audit lines f selects, newest first.
func (r Reader) AuditLog(ctx context.Context, f AuditFilter) ([]AuditEntry, error) {
	since := ""
	if !f.Since.IsZero() {
		since = f.Since.UTC().Format(TimeLayout)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	return queryAll(ctx, r.q, scanAudit, qAuditLog, accountsArg(f.Accounts), f.Account, f.Actor, f.Command, since, f.Before, f.Limit)
}

func scanAudit(row rowScanner) (AuditEntry, error) {
	var e AuditEntry
	var t sql.NullString
	err := row.Scan(&e.ID, &t, &e.AccountID, &e.Actor, &e.Command, &e.Detail)
	e.Time = parseTime(t)
	return e, err
}
