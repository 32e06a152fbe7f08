package commands

import (
	"context"
	"encoding/json"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// The message archive (XEP-0313) family: ejabberd's mod_mam commands. The
// XMPP server archives 1:1 messages only (no MUC archive yet), so the
// "groupchat" type finds nothing to delete. An archive ID is the
// archiving time in microseconds (store/archive.go), so "older than days"
// is "below the ID of the cutoff".

// archiveDefs is the archive family.
var archiveDefs = []*Def{DeleteOldMamMessages, DeleteOldMamMessagesBatch, DeleteOldMamMessagesStatus,
	AbortDeleteOldMamMessages, RemoveMamForUser, RemoveMamForUserWithPeer}

// ReasonUnsupportedType: a message type other than chat, groupchat or all.
const ReasonUnsupportedType Reason = "unsupported_type"

var argMamType = Arg{Name: "type", Type: String, Doc: "Type of messages to delete: chat, groupchat or all."}

// mamTypes are the types ejabberd's delete_old_mam_messages takes.
var mamTypes = map[string]bool{"chat": true, "groupchat": true, "all": true}

// mamCutoff is the archive ID below which messages are older than days
// days (days 0: every message, as ejabberd's cutoff is the current
// microsecond).
func mamCutoff(c *Call, days int64) int64 {
	return c.Env.Store.Now().Add(-time.Duration(days)*24*time.Hour).UnixMicro() + 1
}

// mamPurge is the change record of delete_old_mam_messages (Before) and of
// one batch of delete_old_mam_messages_batch (IDs).
type mamPurge struct {
	DomainIDs []int64 `json:"domain_ids,omitempty"`
	Before    int64   `json:"before,omitempty"`
	Domain    string  `json:"domain,omitempty"`
	IDs       []int64 `json:"ids,omitempty"`
}

// DeleteOldMamMessages is mod_mam's delete_old_mam_messages.
var DeleteOldMamMessages = &Def{
	Name: "delete_old_mam_messages",
	Doc: "Deletes the archived messages (XEP-0313) older than days days of the users of the caller's domains (the " +
		"operator: every domain), applied before it answers 0. type is chat, groupchat or all (anything else: 1, " +
		"ejabberd's unsupported_type); the archive holds 1:1 messages only, so groupchat deletes nothing. days 0 " +
		"deletes every archived message.",
	Args:    []Arg{argMamType, argDays},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "delete_old_mam_messages"},
	Handle:  deleteOldMamMessages,
	Apply:   applyDeleteOldMamMessages,
}

func deleteOldMamMessages(ctx context.Context, c *Call) (any, error) {
	typ := c.Args.String("type")
	if !mamTypes[typ] {
		return StatusFailed, nil
	}
	ds, err := callerDomains(ctx, c)
	if err != nil || len(ds) == 0 || typ == "groupchat" {
		return StatusOK, err
	}
	before := mamCutoff(c, c.Args.Int("days"))
	return c.Mutate(ctx, func(*store.Tx) (store.Change, error) {
		return changeOf(0, mamPurge{DomainIDs: domainIDs(ds), Before: before})
	})
}

func applyDeleteOldMamMessages(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var p mamPurge
	if err := json.Unmarshal(w.Args, &p); err != nil {
		return err
	}
	_, err := tx.DeleteOldArchive(ctx, p.DomainIDs, p.Before)
	return err
}

// DeleteOldMamMessagesBatch is mod_mam's delete_old_mam_messages_batch.
var DeleteOldMamMessagesBatch = &Def{
	Name: "delete_old_mam_messages_batch",
	Doc: "Starts a background task deleting the host's archived messages older than days days, batch_size at a " +
		"time (each batch a queued change applied at once), at most rate messages a minute; answers \"\" at once. " +
		"delete_old_mam_messages_status reports its progress, abort_delete_old_mam_messages stops it. A task " +
		"already working on the host: 400 \"Operation in progress\". A type other than chat, groupchat or all, " +
		"batch_size or rate below 1: 400 (ejabberd crashes, or its task fails). Tasks live in the process: a " +
		"restart forgets them.",
	Args: []Arg{argDomain, argMamType, {Name: "days", Type: Int, Doc: "Days to keep messages."},
		{Name: "batch_size", Type: Int, Doc: "Messages deleted per batch."},
		{Name: "rate", Type: Int, Doc: "Messages deleted per minute, at most."}},
	Result:  Result{Kind: ResultMessage},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "delete_old_mam_messages_batch"},
	Handle:  deleteOldMamMessagesBatch,
	Apply:   applyDeleteOldMamMessagesBatch,
}

func deleteOldMamMessagesBatch(ctx context.Context, c *Call) (any, error) {
	typ := c.Args.String("type")
	if !mamTypes[typ] {
		return nil, Errorf(Invalid, ReasonUnsupportedType, "type", "must be chat, groupchat or all")
	}
	step := mamPurgeStep
	if typ == "groupchat" {
		step = func(context.Context, *Call, store.Domain, time.Time, int) (int64, error) { return 0, nil }
	}
	return startPurge(c, "mam", step)
}

// mamPurgeStep queues and applies one batch of archived messages.
func mamPurgeStep(ctx context.Context, c *Call, d store.Domain, before time.Time, size int) (int64, error) {
	ids, err := c.Env.Store.OldArchiveIDs(ctx, d.ID, before.UnixMicro(), size)
	if err != nil || len(ids) == 0 {
		return 0, err
	}
	return applyPurgeBatch(ctx, c, mamPurge{Domain: d.FQDN, IDs: ids})
}

func applyDeleteOldMamMessagesBatch(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var p mamPurge
	if err := json.Unmarshal(w.Args, &p); err != nil {
		return err
	}
	n, err := tx.DeleteArchiveIDs(ctx, p.IDs)
	if err != nil {
		return err
	}
	purgeTasks.Lock()
	purgeTasks.counts[w.ID] = n
	purgeTasks.Unlock()
	return nil
}

// DeleteOldMamMessagesStatus is mod_mam's delete_old_mam_messages_status.
var DeleteOldMamMessagesStatus = &Def{
	Name: "delete_old_mam_messages_status",
	Doc: "Reports the host's archive batch deletion with delete_old_messages_status's texts (ejabberd_batch's): " +
		"\"Operation not started\", \"Operation in progress, deleted N messages\", \"Operation was completed after " +
		"deleting N messages\", \"Operation was aborted after deleting N messages\" or \"Operation failed after " +
		"deleting N messages with error E\".",
	Args:   []Arg{argDomain},
	Result: Result{Kind: ResultString, Name: "status"},
	Names:  map[Dialect]string{Ejabberd: "delete_old_mam_messages_status"},
	Handle: deleteOldMamMessagesStatus,
}

func deleteOldMamMessagesStatus(ctx context.Context, c *Call) (any, error) {
	return purgeStatus(c, "mam")
}

// AbortDeleteOldMamMessages is mod_mam's abort_delete_old_mam_messages.
var AbortDeleteOldMamMessages = &Def{
	Name: "abort_delete_old_mam_messages",
	Doc: "Stops the host's working archive batch deletion (\"Operation aborted\"; what was deleted stays deleted), " +
		"or answers \"No task running\".",
	Args:   []Arg{argDomain},
	Result: Result{Kind: ResultString, Name: "status"},
	Names:  map[Dialect]string{Ejabberd: "abort_delete_old_mam_messages"},
	Handle: abortDeleteOldMamMessages,
}

func abortDeleteOldMamMessages(ctx context.Context, c *Call) (any, error) {
	return purgeAbort(c, "mam")
}

// mamRemoval is the change record of remove_mam_for_user(_with_peer).
type mamRemoval struct {
	userRef
	With string `json:"with,omitempty"` // a bare JID; "" the whole archive
}

// MamRemoved is what the removal commands answer, as mod_mam does, also
// for a user who has no archive or does not exist.
const MamRemoved = "MAM archive removed"

// RemoveMamForUser is mod_mam's remove_mam_for_user.
var RemoveMamForUser = &Def{
	Name: "remove_mam_for_user",
	Doc: "Deletes the user's whole message archive, applied before it answers \"" + MamRemoved + "\" (also for a " +
		"user that does not exist, as ejabberd does).",
	Args:    []Arg{argUsername, argDomain},
	Result:  Result{Kind: ResultMessage},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "remove_mam_for_user"},
	Handle:  removeMamForUser,
	Apply:   applyRemoveMam,
}

func removeMamForUser(ctx context.Context, c *Call) (any, error) {
	return removeMam(ctx, c, "")
}

// ReasonInvalidPeer: remove_mam_for_user_with_peer's with is not a JID.
const ReasonInvalidPeer Reason = "invalid_peer"

// RemoveMamForUserWithPeer is mod_mam's remove_mam_for_user_with_peer.
var RemoveMamForUserWithPeer = &Def{
	Name: "remove_mam_for_user_with_peer",
	Doc: "Deletes the messages of the user's archive exchanged with the bare JID of with, applied before it " +
		"answers \"" + MamRemoved + "\". with not a JID: \"Invalid peer JID\".",
	Args: []Arg{argUsername, argDomain,
		{Name: "with", Type: String, Doc: "The peer's JID; its resource is ignored."}},
	Result:  Result{Kind: ResultMessage},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "remove_mam_for_user_with_peer"},
	Handle:  removeMamForUserWithPeer,
	Apply:   applyRemoveMam,
}

func removeMamForUserWithPeer(ctx context.Context, c *Call) (any, error) {
	w, err := jid.Parse(c.Args.String("with"))
	if err != nil || c.Args.String("with") == "" {
		return nil, Errorf(Invalid, ReasonInvalidPeer, "with", "Invalid peer JID")
	}
	return removeMam(ctx, c, w.Bare().String())
}

func removeMam(ctx context.Context, c *Call, with string) (any, error) {
	rec := &mamRemoval{With: with}
	rec.Username, rec.Domain = c.Args.String("username"), c.Args.Domain("domain").FQDN
	q, found, err := queueForUser(ctx, c, rec.Username, rec)
	if err != nil {
		return nil, err
	}
	if found {
		if err := c.applyNow(ctx, q); err != nil {
			return nil, err
		}
	}
	return MamRemoved, nil
}

func applyRemoveMam(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var rec mamRemoval
	if err := json.Unmarshal(w.Args, &rec); err != nil {
		return err
	}
	if _, err := tx.UserByID(ctx, w.UserID); err != nil {
		return nil // the user went meanwhile, and the archive with them
	}
	_, err := tx.DeleteUserArchive(ctx, w.UserID, rec.With)
	return err
}
