package pubsub

import (
	"context"
	"errors"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
)

// Bookmarks: XEP-0402 keeps one item per room in the node
// urn:xmpp:bookmarks:1; XEP-0048 kept them all in one <storage/> element,
// in private XML storage (XEP-0049) or in the PEP node storage:bookmarks
// (XEP-0411 converts between those two). The conversions here are what
// keeps the three in step.
const (
	NSBookmarks       = "urn:xmpp:bookmarks:1"
	NSLegacyBookmarks = "storage:bookmarks"
)

// BookmarksConfig is the configuration XEP-0402 3.1 asks for: the items
// are the owner's alone, every one kept.
func BookmarksConfig() Config {
	c := Default()
	c.Access, c.MaxItems, c.SendLast = Whitelist, MaxItems, SendNever
	return c
}

// LegacyBookmarksConfig is the configuration of the XEP-0048 node: one
// item ("current") holding the whole <storage/>.
func LegacyBookmarksConfig() Config {
	c := Default()
	c.Access = Whitelist
	return c
}

// Bookmark is one XEP-0402 item: the room's JID is the item id.
type Bookmark struct {
	JID        string
	Conference *xmlel.Element // <conference xmlns='urn:xmpp:bookmarks:1'/>
}

func truthy(s string) bool { return s == "true" || s == "1" }

// FromStorage converts an XEP-0048 <storage/> into XEP-0402 items, one
// per conference with a JID (a later duplicate wins, as a client reading
// the list would see it last).
func FromStorage(storage *xmlel.Element) []Bookmark {
	var out []Bookmark
	idx := map[string]int{}
	for _, c := range storage.Elements() {
		if c.Name.Local != "conference" || c.Get("jid") == "" {
			continue
		}
		conf := xmlel.New(NSBookmarks, "conference", "name", c.Get("name"))
		if truthy(c.Get("autojoin")) {
			conf.Set("autojoin", "true")
		}
		if nick := c.ChildText("", "nick"); nick != "" {
			conf.Text(NSBookmarks, "nick", nick)
		}
		if pw := c.ChildText("", "password"); pw != "" {
			conf.Text(NSBookmarks, "password", pw)
		}
		b := Bookmark{JID: c.Get("jid"), Conference: conf}
		if i, ok := idx[b.JID]; ok {
			out[i] = b
			continue
		}
		idx[b.JID] = len(out)
		out = append(out, b)
	}
	return out
}

// ToStorage converts XEP-0402 items into an XEP-0048 <storage/>, keeping
// the non-conference children (the <url/> bookmarks XEP-0402 has no
// place for) of the storage element old (nil: none).
func ToStorage(items []Bookmark, old *xmlel.Element) *xmlel.Element {
	s := xmlel.New(NSLegacyBookmarks, "storage")
	for _, b := range items {
		c := xmlel.New(NSLegacyBookmarks, "conference", "jid", b.JID, "name", b.Conference.Get("name"))
		if truthy(b.Conference.Get("autojoin")) {
			c.Set("autojoin", "true")
		}
		if nick := b.Conference.ChildText(NSBookmarks, "nick"); nick != "" {
			c.Text(NSLegacyBookmarks, "nick", nick)
		}
		if pw := b.Conference.ChildText(NSBookmarks, "password"); pw != "" {
			c.Text(NSLegacyBookmarks, "password", pw)
		}
		s.Add(c)
	}
	if old != nil {
		for _, k := range old.Elements() {
			if k.Name.Local != "conference" {
				s.Add(k)
			}
		}
	}
	return s
}

// Source is the copy of the bookmarks that was just written.
type Source int

// The three copies.
const (
	FromPrivate   Source = iota // jabber:iq:private storage:bookmarks
	FromPEP                     // urn:xmpp:bookmarks:1
	FromLegacyPEP               // the PEP node storage:bookmarks
)

// Change is an item a sync published (Payload set) or retracted, for the
// owner's notifications.
type Change struct {
	Node, ID string
	Payload  *xmlel.Element
}

// Legacy says whether SyncBookmarks writes the storage:bookmarks PEP node:
// IfExists keeps a node some client created in step; Create makes it
// (ejabberd's bookmarks_to_pep).
type Legacy bool

const (
	IfExists Legacy = false
	Create   Legacy = true
)

// ErrNoBookmarks: the source copy holds no bookmarks to convert.
var ErrNoBookmarks = errors.New("pubsub: no bookmarks stored")

// SyncBookmarks makes the other copies of a user's bookmarks what the copy
// src now holds, inside tx (XEP-0402 compatibility and XEP-0411). It
// returns the PEP items it changed.
func SyncBookmarks(ctx context.Context, tx *store.Tx, userID int64, publisher string, src Source, legacy Legacy) ([]Change, error) {
	priv, err := storedElement(tx.PrivateXML(ctx, userID, NSLegacyBookmarks))
	if err != nil {
		return nil, err
	}
	var storage *xmlel.Element
	switch src {
	case FromPrivate:
		storage = priv
	case FromPEP:
		var items []Bookmark
		if n, err := tx.PubsubNode(ctx, userID, NSBookmarks); err == nil {
			its, err := tx.PubsubItems(ctx, n.ID, 0, nil)
			if err != nil {
				return nil, err
			}
			for _, it := range its {
				if el, err := xmlel.Parse(it.Payload); err == nil && el.Name.Space == NSBookmarks && el.Name.Local == "conference" {
					items = append(items, Bookmark{JID: it.ID, Conference: el})
				}
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		storage = ToStorage(items, priv)
	case FromLegacyPEP:
		if n, err := tx.PubsubNode(ctx, userID, NSLegacyBookmarks); err == nil {
			its, err := tx.PubsubItems(ctx, n.ID, 1, nil)
			if err != nil {
				return nil, err
			}
			if len(its) == 1 {
				storage, _ = xmlel.Parse(its[0].Payload)
			}
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	if storage == nil || storage.Name.Space != NSLegacyBookmarks || storage.Name.Local != "storage" {
		if src != FromPEP {
			return nil, ErrNoBookmarks
		}
		storage = xmlel.New(NSLegacyBookmarks, "storage")
	}
	var changes []Change
	if src != FromPrivate {
		if err := tx.SetPrivateXML(ctx, userID, NSLegacyBookmarks, storage.Bytes("")); err != nil {
			return nil, err
		}
	}
	if src != FromPEP {
		ch, err := syncItems(ctx, tx, userID, publisher, FromStorage(storage))
		if err != nil {
			return nil, err
		}
		changes = append(changes, ch...)
	}
	if src != FromLegacyPEP {
		n, err := tx.PubsubNode(ctx, userID, NSLegacyBookmarks)
		switch {
		case errors.Is(err, store.ErrNotFound) && legacy == Create:
			n, err = createNode(ctx, tx, userID, NSLegacyBookmarks, LegacyBookmarksConfig())
		case errors.Is(err, store.ErrNotFound):
			return changes, nil
		}
		if err != nil {
			return nil, err
		}
		if err := tx.PublishPubsubItem(ctx, n.ID, store.PubsubItem{ID: "current", Payload: storage.Bytes(""), Publisher: publisher}); err != nil {
			return nil, err
		}
		changes = append(changes, Change{Node: NSLegacyBookmarks, ID: "current", Payload: storage})
	}
	return changes, nil
}

// syncItems makes the XEP-0402 node hold exactly want.
func syncItems(ctx context.Context, tx *store.Tx, userID int64, publisher string, want []Bookmark) ([]Change, error) {
	n, err := tx.PubsubNode(ctx, userID, NSBookmarks)
	if errors.Is(err, store.ErrNotFound) {
		if len(want) == 0 {
			return nil, nil
		}
		n, err = createNode(ctx, tx, userID, NSBookmarks, BookmarksConfig())
	}
	if err != nil {
		return nil, err
	}
	have, err := tx.PubsubItems(ctx, n.ID, 0, nil)
	if err != nil {
		return nil, err
	}
	old := map[string]string{}
	for _, it := range have {
		old[it.ID] = string(it.Payload)
	}
	var changes []Change
	for _, b := range want {
		p := b.Conference.Bytes("")
		if prev, ok := old[b.JID]; ok && prev == string(p) {
			delete(old, b.JID)
			continue
		}
		delete(old, b.JID)
		if err := tx.PublishPubsubItem(ctx, n.ID, store.PubsubItem{ID: b.JID, Payload: p, Publisher: publisher}); err != nil {
			return nil, err
		}
		changes = append(changes, Change{Node: NSBookmarks, ID: b.JID, Payload: b.Conference})
	}
	for _, it := range have {
		if _, gone := old[it.ID]; gone {
			if err := tx.RetractPubsubItem(ctx, n.ID, it.ID); err != nil {
				return nil, err
			}
			changes = append(changes, Change{Node: NSBookmarks, ID: it.ID})
		}
	}
	return changes, nil
}

func createNode(ctx context.Context, tx *store.Tx, userID int64, name string, c Config) (store.PubsubNode, error) {
	return tx.CreatePubsubNode(ctx, store.PubsubNode{UserID: userID, Name: name, Config: c.Encode(), MaxItems: c.Kept(), ItemExpire: c.ItemExpire})
}

// storedElement parses a stored element; a missing one is nil.
func storedElement(b []byte, err error) (*xmlel.Element, error) {
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	el, err := xmlel.Parse(b)
	if err != nil {
		return nil, nil // unreadable: as good as none
	}
	return el, nil
}
