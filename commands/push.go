package commands

import (
	"context"
	"encoding/json"
	"time"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// XEP-0357 push registrations (ejabberd's mod_push): what xmppcore's push
// module stores when a client enables push, purged by age.

// pushDefs is the push family.
var pushDefs = []*Def{DeleteOldPushSessions}

// DeleteOldPushSessions is ejabberd's delete_old_push_sessions.
var DeleteOldPushSessions = &Def{
	Name: "delete_old_push_sessions",
	Doc: "Deletes the push registrations (XEP-0357) made or renewed more than days days ago by the users of the " +
		"caller's domains (the operator: every domain), applied before it answers 0. A client renews its " +
		"registration each time it enables push; days 0 deletes every one.",
	Args:    []Arg{argDays},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "delete_old_push_sessions"},
	Handle:  deleteOldPushSessions,
	Apply:   applyDeleteOldPushSessions,
}

// pushPurge is the change record of delete_old_push_sessions.
type pushPurge struct {
	DomainIDs []int64 `json:"domain_ids"`
	Before    string  `json:"before"`
}

func deleteOldPushSessions(ctx context.Context, c *Call) (any, error) {
	ds, err := callerDomains(ctx, c)
	if err != nil || len(ds) == 0 {
		return StatusOK, err
	}
	p := pushPurge{DomainIDs: domainIDs(ds), Before: purgeCutoff(c, c.Args.Int("days")).UTC().Format(time.RFC3339)}
	return c.Mutate(ctx, func(*store.Tx) (store.Change, error) { return changeOf(0, p) })
}

func applyDeleteOldPushSessions(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var p pushPurge
	if err := json.Unmarshal(w.Args, &p); err != nil {
		return err
	}
	before, err := time.Parse(time.RFC3339, p.Before)
	if err != nil {
		return err
	}
	_, err = tx.DeleteOldPush(ctx, p.DomainIDs, before)
	return err
}
