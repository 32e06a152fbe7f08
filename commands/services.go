package commands

import (
	"context"
	"errors"
	"sort"
	"strings"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

var progressColumns = []string{"status", "scheduled", "executed", "finished"}

// Progress reports the state of a batch by token.
var Progress = &Def{
	Name:   "progress",
	Doc:    "Reports the state of the queued changes behind a token: waiting, running, success or failure, with the scheduled, executed and finished times (UTC, empty until reached).",
	Args:   []Arg{{Name: "token", Type: Token, MissingAs: ReasonInvalidToken, Doc: "A token returned by a mutating command."}},
	Result: Result{Kind: ResultTable, Columns: progressColumns},
	Names:  map[Dialect]string{DreamHost: "services-progress"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		b, err := queue.Progress(ctx, c.Env.Store.Reader, c.Args.String("token"), c.Caller.Accounts, c.Env.TokenMaxAge, c.Env.Store.Now())
		switch {
		case errors.Is(err, queue.ErrInvalidToken):
			return nil, Errorf(NotFound, ReasonInvalidToken, "token", "no such token")
		case errors.Is(err, queue.ErrTooOld):
			return nil, Errorf(NotFound, ReasonTokenTooOld, "token", "the service completed too long ago")
		case err != nil:
			return nil, err
		}
		return Table{Columns: progressColumns, Rows: [][]any{{string(b.Status), stamp(b.Scheduled), stamp(b.Executed), stamp(b.Finished)}}}, nil
	},
}

func stamp(t interface {
	IsZero() bool
	Format(string) string
}) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(store.TimeLayout)
}

var accessibleColumns = []string{"cmd", "order", "args", "optargs"}

// ListAccessibleCmds lists the DreamHost commands the key may call.
var ListAccessibleCmds = &Def{
	Name:          "list_accessible_cmds",
	Doc:           "Lists the commands this key may call, with their required and optional arguments and result columns. Every valid key may call it.",
	Result:        Result{Kind: ResultTable, Columns: accessibleColumns},
	Names:         map[Dialect]string{DreamHost: "api-list_accessible_cmds"},
	AlwaysAllowed: true,
	Handle: func(ctx context.Context, c *Call) (any, error) {
		t := Table{Columns: accessibleColumns}
		for _, d := range c.Reg.Dialect(DreamHost) {
			name := d.Names[DreamHost]
			if !c.Caller.MayCall(d) {
				continue
			}
			args, opt := []string{}, []string{}
			for _, a := range d.ArgsIn(DreamHost) {
				if a.Optional {
					opt = append(opt, a.WireName(DreamHost))
				} else {
					args = append(args, a.WireName(DreamHost))
				}
			}
			order := append([]string{}, d.Columns()...)
			t.Rows = append(t.Rows, []any{name, order, args, opt})
		}
		return t, nil
	},
}

// MayCall reports whether a DreamHost key's grants allow def.
func (c Caller) MayCall(def *Def) bool {
	switch {
	case def.AlwaysAllowed:
		return true
	case def.AllKeysOnly:
		return c.Grants.All()
	}
	return c.Grants.Allows(def.Names[DreamHost])
}

var keyColumns = []string{"key", "created", "comment", "functions"}

// ListKeys lists the account's API keys.
var ListKeys = &Def{
	Name:        "list_keys",
	Doc:         "Lists the API keys of the account with their creation time, comment and allowed commands. Only a key allowed every command (*) may call it.",
	Result:      Result{Kind: ResultTable, Columns: keyColumns},
	Names:       map[Dialect]string{DreamHost: "api-list_keys"},
	AllKeysOnly: true,
	Handle: func(ctx context.Context, c *Call) (any, error) {
		keys, err := c.Env.Store.Keys(ctx, c.Caller.Accounts)
		if err != nil {
			return nil, err
		}
		t := Table{Columns: keyColumns, Rows: make([][]any, 0, len(keys))}
		for _, k := range keys {
			plain, err := c.Env.Box.Open(k.Sealed, PurposeAPIKey)
			if err != nil {
				return nil, err
			}
			fns := append([]string{}, k.Cmds...)
			sort.Strings(fns)
			t.Rows = append(t.Rows, []any{string(plain), stamp(k.Created), k.Comment, strings.Join(fns, ",")})
		}
		return t, nil
	},
}

// PurposeAPIKey seals API keys.
const PurposeAPIKey = "api-key"

// spineDefs are the user lifecycle, queue and key commands (DreamHost's
// jabber, services and api modules).
var spineDefs = []*Def{
	ListUsers, ListUsersNoPw, ListValidDomains, AddUser, RemoveUser, ReactivateUser, DeactivateUser,
	Progress, ListAccessibleCmds, ListKeys,
}
