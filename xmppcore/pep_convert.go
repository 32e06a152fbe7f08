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
// storage and in PEP (XEP-0402 compatibility, XEP-0411), the avatar in the
// vCard and in PEP (XEP-0398). Each write is copied inside its own
// transaction, so the copies never disagree.

// pepWritten copies what c's user just wrote to node name in tx (payload:
// the item published, nil for a retraction, purge or deletion) to the
// other copy of the same data; other nodes are left alone.
func pepWritten(ctx context.Context, tx *store.Tx, c *conn, name string, payload *xmlel.Element) ([]pubsub.Change, error) {
	src := pubsub.FromPEP
	switch name {
	case pubsub.NSBookmarks:
	case pubsub.NSLegacyBookmarks:
		src = pubsub.FromLegacyPEP
	case pubsub.NSAvatarMetadata:
		return nil, vcardFromAvatar(ctx, tx, c.user.ID, payload)
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

// pepChanges sends the events of the items a conversion changed, as
// their nodes' configurations allow.
func (s *Server) pepChanges(c *conn, changes []pubsub.Change) {
	cfgs := map[string]pubsub.Config{}
	for _, ch := range changes {
		cfg, ok := cfgs[ch.Node]
		if !ok {
			n, err := s.st.PubsubNode(context.Background(), c.user.ID, ch.Node)
			if err != nil {
				continue // deleted since
			}
			cfg = pubsub.Decode(n.Config)
			cfgs[ch.Node] = cfg
		}
		ev := xmlel.New(pubsub.NSEvent, "items", "node", ch.Node)
		if ch.Payload != nil {
			ev.Add(xmlel.New(pubsub.NSEvent, "item", "id", ch.ID).Add(ch.Payload))
		} else {
			ev.Add(xmlel.New(pubsub.NSEvent, "retract", "id", ch.ID))
		}
		s.pepNotify(c.user, c.bare, cfg, ch.Node, ev)
	}
}

// vcardFromAvatar sets the vCard PHOTO to the avatar that the metadata
// payload meta announces (XEP-0398 3): the image published in the data
// node under its id; empty metadata removes the PHOTO. Metadata naming an
// image the data node does not hold (or only a URL) leaves the vCard.
func vcardFromAvatar(ctx context.Context, tx *store.Tx, userID int64, meta *xmlel.Element) error {
	if meta == nil {
		return nil
	}
	var a pubsub.Avatar
	id, typ, ok := pubsub.MetadataInfo(meta)
	if ok {
		n, err := tx.PubsubNode(ctx, userID, pubsub.NSAvatarData)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		its, err := tx.PubsubItems(ctx, n.ID, 0, []string{id})
		if err != nil || len(its) == 0 {
			return err
		}
		data, err := xmlel.Parse(its[0].Payload)
		if err != nil {
			return nil
		}
		if a, ok = pubsub.AvatarOfData(id, typ, data); !ok {
			return nil
		}
	} else if len(meta.Elements()) > 0 {
		return nil // only pointers elsewhere: nothing to put in a vCard
	}
	cur, err := tx.VCard(ctx, userID)
	var v *xmlel.Element
	switch {
	case err == nil:
		if v, err = xmlel.Parse(cur); err != nil {
			v = nil
		}
	case !errors.Is(err, store.ErrNotFound):
		return err
	case !ok:
		return nil // no vCard, no avatar: nothing to remove
	}
	return tx.SetVCard(ctx, userID, pubsub.WithPhoto(v, a, ok).Bytes(""))
}

// vcardWritten publishes the PHOTO of the vCard v, just stored by r's user
// in tx, as the PEP avatar (XEP-0398 4); it returns what to run once tx
// committed (the events).
func (s *Server) vcardWritten(ctx context.Context, tx *store.Tx, r *iqReq, v *xmlel.Element) (func(), error) {
	if !r.dom.On(modcfg.Pep) {
		return nil, nil
	}
	changes, err := pubsub.AvatarFromVCard(ctx, tx, r.c.user.ID, r.c.bare, v)
	if err != nil || len(changes) == 0 {
		return nil, err
	}
	return func() { s.pepChanges(r.c, changes) }, nil
}
