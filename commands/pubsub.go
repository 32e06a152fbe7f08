package commands

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore/pubsub"
)

// Personal eventing (PEP) data: the bookmarks conversion and the purges of
// mod_pubsub and mod_private. As with the offline purges, ejabberd purges
// every vhost it serves; here a caller purges the nodes of its domains'
// users and of its domains' pubsub services (the operator: every domain). The bookmark conversion is the pure
// one xmppcore runs on every write (xmppcore/pubsub), applied in the
// worker's transaction.

var pubsubDefs = []*Def{BookmarksToPEP, DeleteOldPubsubItems, DeleteExpiredPubsubItems}

// ReasonNoBookmarks: the user has no XEP-0048 bookmarks in private XML.
const ReasonNoBookmarks Reason = "no_bookmarks"

// BookmarksExported is bookmarks_to_pep's answer.
const BookmarksExported = "Bookmarks exported to PEP node"

// bookmarksChange is the change record of bookmarks_to_pep.
type bookmarksChange struct {
	userRef
}

// BookmarksToPEP is ejabberd's bookmarks_to_pep.
var BookmarksToPEP = &Def{
	Name: "bookmarks_to_pep",
	Doc: "Copies the user's XEP-0048 bookmarks from private XML storage (storage:bookmarks) to PEP: the node " +
		"storage:bookmarks (item current, created whitelisted if needed) as ejabberd does, and the XEP-0402 items " +
		"of urn:xmpp:bookmarks:1, which xmppgate keeps in step with private XML on every write anyway. Answers \"" +
		BookmarksExported + "\"; a user without stored bookmarks, or that does not exist, fails with \"Cannot " +
		"retrieve bookmarks from private XML storage\". Clients online see the items at their next retrieval.",
	Args:    []Arg{argUsername, argDomain},
	Result:  Result{Kind: ResultMessage},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "bookmarks_to_pep"},
	Handle:  bookmarksToPEP,
	Apply:   applyBookmarksToPEP,
}

func noBookmarks() error {
	return Errorf(Invalid, ReasonNoBookmarks, "", "Cannot retrieve bookmarks from private XML storage")
}

func bookmarksToPEP(ctx context.Context, c *Call) (any, error) {
	u, found, err := existing(ctx, c)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, noBookmarks()
	}
	if _, err := c.Env.Store.PrivateXML(ctx, u.ID, pubsub.NSLegacyBookmarks); errors.Is(err, store.ErrNotFound) {
		return nil, noBookmarks()
	} else if err != nil {
		return nil, err
	}
	r, found, err := queueForUser(ctx, c, c.Args.String("username"), &bookmarksChange{userRef{c.Args.String("username"), c.Args.Domain("domain").FQDN}})
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, noBookmarks()
	}
	if err := c.applyNow(ctx, r); err != nil {
		return nil, err
	}
	return BookmarksExported, nil
}

func applyBookmarksToPEP(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var ch bookmarksChange
	if err := readUserChange(ctx, tx, w, &ch); err != nil {
		return err
	}
	_, err := pubsub.SyncBookmarks(ctx, tx, w.UserID, ch.Username+"@"+ch.Domain, pubsub.FromPrivate, pubsub.Create)
	if errors.Is(err, pubsub.ErrNoBookmarks) {
		return noBookmarks() // what was stored when the change was queued is gone or no <storage/>
	}
	return err
}

// pubsubPurge is the change record of the pubsub purges.
type pubsubPurge struct {
	DomainIDs []int64 `json:"domain_ids"`
	Keep      int     `json:"keep,omitempty"` // delete_old_pubsub_items
	Expired   bool    `json:"expired,omitempty"`
}

// DeleteOldPubsubItems is ejabberd's delete_old_pubsub_items.
var DeleteOldPubsubItems = &Def{
	Name: "delete_old_pubsub_items",
	Doc: "Keeps only the number newest items of every PEP node of the users of the caller's domains and of " +
		"every node of their pubsub services (the operator: every domain) and deletes the others, applied before it answers 0. number 0 empties every node.",
	Args:    []Arg{{Name: "number", Type: Int, Doc: "Items to keep per node."}},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "delete_old_pubsub_items"},
	Handle:  deleteOldPubsubItems,
	Apply:   applyPubsubPurge,
}

func deleteOldPubsubItems(ctx context.Context, c *Call) (any, error) {
	n := c.Args.Int("number")
	if n < 0 {
		return nil, Errorf(Invalid, ReasonMalformed, "number", "below 0")
	}
	return queuePubsubPurge(ctx, c, pubsubPurge{Keep: int(n)})
}

// DeleteExpiredPubsubItems is ejabberd's delete_expired_pubsub_items.
var DeleteExpiredPubsubItems = &Def{
	Name: "delete_expired_pubsub_items",
	Doc: "Deletes the items of the PEP nodes of the users of the caller's domains and of the nodes of their " +
		"pubsub services (the operator: every domain) published longer ago than their node's pubsub#item_expire; nodes without it keep their items. Applied " +
		"before it answers 0.",
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "delete_expired_pubsub_items"},
	Handle:  deleteExpiredPubsubItems,
	Apply:   applyPubsubPurge,
}

func deleteExpiredPubsubItems(ctx context.Context, c *Call) (any, error) {
	return queuePubsubPurge(ctx, c, pubsubPurge{Expired: true})
}

func queuePubsubPurge(ctx context.Context, c *Call, p pubsubPurge) (any, error) {
	ds, err := callerDomains(ctx, c)
	if err != nil || len(ds) == 0 {
		return StatusOK, err
	}
	p.DomainIDs = domainIDs(ds)
	return c.Mutate(ctx, func(*store.Tx) (store.Change, error) { return changeOf(0, p) })
}

func applyPubsubPurge(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error {
	var p pubsubPurge
	if err := json.Unmarshal(w.Args, &p); err != nil {
		return err
	}
	var err error
	if p.Expired {
		_, err = tx.DeleteExpiredPubsubItems(ctx, p.DomainIDs)
	} else {
		_, err = tx.DeleteOldPubsubItems(ctx, p.DomainIDs, p.Keep)
	}
	return err
}
