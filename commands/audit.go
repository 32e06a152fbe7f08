package commands

import (
	"context"
	"strings"
	"time"

	"github.com/xmppgate/xmppgate/store"
)

// The audit log's readers, and the record of refused logins kept in it.

// auditDefs are the audit log's read commands.
var auditDefs = []*Def{AuditLog, LoginFailures}

// AuditLoginFailed is the audit log command of a refused login.
const AuditLoginFailed = "login_failed"

// maxAuditName bounds the name a refused login is recorded under: it is
// whatever the client typed.
const maxAuditName = 200

// RecordLoginFailure writes a refused login to the audit log, under no
// account (the name may belong to none): the name tried, never the
// password, and where from. Only the operator reads these (LoginFailures).
func RecordLoginFailure(ctx context.Context, env *Env, dialect Dialect, name, remote string, reason Reason) error {
	if len(name) > maxAuditName {
		name = name[:maxAuditName]
	}
	return env.Store.Write(ctx, func(tx *store.Tx) error {
		return tx.Audit(ctx, 0, name, AuditLoginFailed, string(dialect)+" from "+remote+": "+string(reason))
	})
}

var auditColumns = []string{"time", "account", "actor", "command", "detail"}

// AuditLog reads the audit log.
var AuditLog = &Def{
	Name: "audit_log",
	Doc: "Lists the newest lines of the audit log of the caller's accounts (who did what, when; never a secret), " +
		"filtered by account, actor, command and time.",
	Args: []Arg{
		{Name: "account", Type: Int, Optional: true, Doc: "Only lines of this account (one of the caller's)."},
		{Name: "actor", Type: String, Optional: true, Doc: "Only lines whose actor contains this text (a key \"key:12\", a JID, \"cli\", ...)."},
		{Name: "command", Type: String, Optional: true, Doc: "Only lines of this command, exactly."},
		{Name: "since", Type: String, Optional: true, Doc: "Only lines at or after this UTC time: YYYY-MM-DD or YYYY-MM-DD HH:MM:SS."},
		argLimit,
	},
	Result: Result{Kind: ResultTable, Columns: auditColumns},
	Names:  map[Dialect]string{Console: "audit_log"},
	Handle: auditLog,
}

func auditLog(ctx context.Context, c *Call) (any, error) {
	limit, err := listLimit(c)
	if err != nil {
		return nil, err
	}
	f := store.AuditFilter{Accounts: c.Caller.Accounts, ActorPart: c.Args.String("actor"), Command: c.Args.String("command"), Limit: limit}
	if f.Accounts == nil {
		f.Accounts = []int64{} // a caller without accounts sees none, never all
	}
	if c.Args.Has("account") {
		f.Account = c.Args.Int("account")
		if !c.Caller.Owns(f.Account) {
			return nil, Errorf(Forbidden, ReasonUnknownAccount, "account", "not an account of the caller")
		}
	}
	if s := strings.TrimSpace(c.Args.String("since")); s != "" {
		if f.From, err = parseSince(s); err != nil {
			return nil, err
		}
	}
	es, err := c.Env.Store.AuditLog(ctx, f)
	if err != nil {
		return nil, err
	}
	return auditTable(es), nil
}

func parseSince(s string) (time.Time, error) {
	for _, layout := range []string{store.TimeLayout, time.DateOnly} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, Errorf(Invalid, ReasonMalformed, "since", "since %q is not YYYY-MM-DD or YYYY-MM-DD HH:MM:SS", s)
}

func auditTable(es []store.AuditEntry) Table {
	t := Table{Columns: auditColumns, Rows: make([][]any, 0, len(es))}
	for _, e := range es {
		t.Rows = append(t.Rows, []any{stamp(e.Time), e.AccountID, e.Actor, e.Command, e.Detail})
	}
	return t
}

// LoginFailures lists refused logins.
var LoginFailures = &Def{
	Name: "login_failures",
	Doc: "Operator only. Lists the newest refused logins of the operator's console (the name tried, the front end, " +
		"the address and why), whatever account the name belongs to, if any.",
	Args:     []Arg{argLimit},
	Result:   Result{Kind: ResultTable, Columns: auditColumns},
	Names:    map[Dialect]string{Console: "login_failures"},
	Operator: true,
	Handle:   loginFailures,
}

func loginFailures(ctx context.Context, c *Call) (any, error) {
	limit, err := listLimit(c)
	if err != nil {
		return nil, err
	}
	es, err := c.Env.Store.AuditLog(ctx, store.AuditFilter{Command: AuditLoginFailed, Limit: limit})
	if err != nil {
		return nil, err
	}
	return auditTable(es), nil
}
