package xmppcore

import (
	"context"
	"errors"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/pubsub"
)

// Conversions between personal data kept twice: bookmarks in private XML
// storage and in PEP (XEP-0402 compatibility, XEP-0411). Each write is
// copied inside its own transaction, so the copies never disagree.

// bookmarksWritten copies the bookmarks node name, just written by c's
// user in tx, to the other copies; any other node is left alone.
func bookmarksWritten(ctx context.Context, tx *store.Tx, c *conn, name string) ([]pubsub.Change, error) {
	src := pubsub.FromPEP
	switch name {
	case pubsub.NSBookmarks:
	case pubsub.NSLegacyBookmarks:
		src = pubsub.FromLegacyPEP
	default:
		return nil, nil
	}
	ch, err := pubsub.SyncBookmarks(ctx, tx, c.user.ID, c.bare, src, pubsub.IfExists)
	if errors.Is(err, pubsub.ErrNoBookmarks) {
		return nil, nil // a legacy item that is no <storage/>: nothing to copy
	}
	return ch, err
}

// privateWritten copies bookmarks stored with jabber:iq:private in tx to
// PEP; it returns what to run once tx committed (the notifications).
func (s *Server) privateWritten(ctx context.Context, tx *store.Tx, r *iqReq, kids []*xmlel.Element) (func(), error) {
	if !r.dom.On(modcfg.Pep) {
		return nil, nil
	}
	for _, k := range kids {
		if k.Name.Space != pubsub.NSLegacyBookmarks {
			continue
		}
		ch, err := pubsub.SyncBookmarks(ctx, tx, r.c.user.ID, r.c.bare, pubsub.FromPrivate, pubsub.IfExists)
		if errors.Is(err, pubsub.ErrNoBookmarks) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		return func() { s.pepChanges(r.c, ch) }, nil
	}
	return nil, nil
}

// pepChanges notifies c's user's sessions of the items a sync changed
// (bookmarks nodes are the owner's alone).
func (s *Server) pepChanges(c *conn, changes []pubsub.Change) {
	for _, ch := range changes {
		ev := xmlel.New(pubsub.NSEvent, "items", "node", ch.Node)
		if ch.Payload != nil {
			ev.Add(xmlel.New(pubsub.NSEvent, "item", "id", ch.ID).Add(ch.Payload))
		} else {
			ev.Add(xmlel.New(pubsub.NSEvent, "retract", "id", ch.ID))
		}
		s.pepNotify(c.user, c.bare, pubsub.Config{Access: pubsub.Whitelist}, ch.Node, ev)
	}
}
