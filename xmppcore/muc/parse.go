package muc

import (
	"errors"

	"github.com/xmppgate/xmppgate/xmlel"
)

// Join is what a presence to a room/nick JID asks.
type Join struct {
	// MUC: the presence carries <x xmlns='http://jabber.org/protocol/muc'/>,
	// a join by a MUC client (without it, an old groupchat 1.0 client or a
	// presence update).
	MUC      bool
	Password string
	History  Request
}

// ParseJoin reads the MUC extension of a presence; ErrBadHistory if its
// <history/> is malformed.
func ParseJoin(p *xmlel.Element) (Join, error) {
	j := Join{History: NoLimit}
	x := p.Child(NS, "x")
	if x == nil {
		return j, nil
	}
	j.MUC = true
	j.Password = x.ChildText(NS, "password")
	var err error
	j.History, err = ParseHistory(x.Child(NS, "history"))
	return j, err
}

// Item is one <item/> of a muc#admin or muc#owner request (XEP-0045 8, 9, 10).
type Item struct {
	Nick, JID   string
	Role, Aff   string
	Reason      string
	hasRole     bool
	hasAffilion bool
}

// ErrBadItem: an admin <item/> names no target, or an unknown role or affiliation.
var ErrBadItem = errors.New("muc: bad admin item")

// AdminQuery is a parsed <query xmlns='...#admin'/>.
type AdminQuery struct {
	Items []Item
}

// IsRoleChange reports whether the item changes a role (by nick).
func (i Item) IsRoleChange() bool { return i.hasRole }

// IsAffChange reports whether the item changes an affiliation (by JID).
func (i Item) IsAffChange() bool { return i.hasAffilion }

// ParseAdmin reads a muc#admin query. For a get, items name a role or an
// affiliation to list; for a set, each item changes a role (by nick) or an
// affiliation (by jid).
func ParseAdmin(q *xmlel.Element, set bool) (AdminQuery, error) {
	var out AdminQuery
	for _, it := range q.Elements() {
		if it.Name.Local != "item" || it.Name.Space != NSAdmin {
			continue
		}
		i := Item{Nick: it.Get("nick"), JID: it.Get("jid"), Role: it.Get("role"), Aff: it.Get("affiliation"),
			Reason: it.ChildText(NSAdmin, "reason")}
		i.hasRole, i.hasAffilion = i.Role != "", i.Aff != ""
		switch {
		case i.hasRole && !ValidRole(i.Role), i.hasAffilion && !ValidAffiliation(i.Aff):
			return out, ErrBadItem
		case !i.hasRole && !i.hasAffilion:
			return out, ErrBadItem
		case set && i.hasAffilion && i.JID == "":
			return out, ErrBadItem
		case set && i.hasRole && !i.hasAffilion && i.Nick == "":
			return out, ErrBadItem
		}
		out.Items = append(out.Items, i)
	}
	if len(out.Items) == 0 || len(out.Items) > 100 {
		return out, ErrBadItem
	}
	return out, nil
}
