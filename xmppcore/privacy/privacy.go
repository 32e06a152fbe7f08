// Package privacy is XEP-0016 (Privacy Lists) without the sessions: a
// list's items parsed from and serialised to jabber:iq:privacy, and the
// decision whether a stanza of a kind from or to a JID is allowed by a list.
package privacy

import (
	"errors"
	"slices"
	"strconv"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/xmlel"
)

// NS is the jabber:iq:privacy namespace.
const NS = "jabber:iq:privacy"

// Kind is the stanza kind a list item applies to (its child elements);
// an item with none applies to every kind, outbound messages and IQs
// included.
type Kind uint8

const (
	Message     Kind = 1 << iota // inbound message
	IQ                           // inbound IQ request
	PresenceIn                   // inbound presence
	PresenceOut                  // outbound presence
	// Other is an outbound message or IQ: only items without a kind apply
	// (ejabberd's "other").
	Other
)

var kindNames = []struct {
	k    Kind
	name string
}{{Message, "message"}, {IQ, "iq"}, {PresenceIn, "presence-in"}, {PresenceOut, "presence-out"}}

// Item is one rule of a list.
type Item struct {
	Type  string // "", "jid", "group" or "subscription"
	Value string // normalised JID for "jid"
	Allow bool
	Order uint32
	Kinds Kind // 0: all kinds
	// The parts of a "jid" item's value, compared with a stanza's JID's.
	local, domain, res string
}

// List is a named list, its items by ascending order.
type List struct {
	Name  string
	Items []Item
	// Roster says whether an item needs the owner's roster (a group or
	// subscription item): only then is the roster looked up.
	Roster bool
}

// MaxBytes bounds one stored list (its serialised bytes), whoever sets it.
const MaxBytes = 64 << 10

// ErrBadList is a list that XEP-0016 does not allow: the request is a
// bad-request.
var ErrBadList = errors.New("privacy: malformed list")

// Parse reads a <list/> element; an empty list (no items) is returned with
// no items, which the caller takes as a deletion.
func Parse(el *xmlel.Element) (List, error) {
	l := List{Name: el.Get("name")}
	if l.Name == "" {
		return l, ErrBadList
	}
	seen := map[uint32]bool{}
	for _, ie := range el.Elements() {
		if ie.Name.Local != "item" || ie.Name.Space != NS {
			return l, ErrBadList
		}
		it, err := parseItem(ie)
		if err != nil || seen[it.Order] {
			return l, ErrBadList
		}
		seen[it.Order] = true
		l.Items = append(l.Items, it)
		l.Roster = l.Roster || it.Type == "group" || it.Type == "subscription"
	}
	slices.SortFunc(l.Items, func(a, b Item) int { return compare(a.Order, b.Order) })
	return l, nil
}

func compare(a, b uint32) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func parseItem(ie *xmlel.Element) (Item, error) {
	var it Item
	switch ie.Get("action") {
	case "allow":
		it.Allow = true
	case "deny":
	default:
		return it, ErrBadList
	}
	o, err := strconv.ParseUint(ie.Get("order"), 10, 32)
	if err != nil {
		return it, ErrBadList
	}
	it.Order = uint32(o)
	it.Type, it.Value = ie.Get("type"), ie.Get("value")
	switch it.Type {
	case "":
		if it.Value != "" {
			return it, ErrBadList
		}
	case "jid":
		j, err := jid.Parse(it.Value)
		if err != nil || it.Value == "" {
			return it, ErrBadList
		}
		it.Value = j.String()
		it.local, it.domain, it.res = j.Localpart(), j.Domainpart(), j.Resourcepart()
	case "group":
		if it.Value == "" {
			return it, ErrBadList
		}
	case "subscription":
		switch it.Value {
		case "none", "to", "from", "both":
		default:
			return it, ErrBadList
		}
	default:
		return it, ErrBadList
	}
	for _, k := range ie.Elements() {
		found := false
		for _, kn := range kindNames {
			if k.Name.Local == kn.name && k.Name.Space == NS {
				it.Kinds |= kn.k
				found = true
			}
		}
		if !found {
			return it, ErrBadList
		}
	}
	return it, nil
}

// Element serialises the list as <list name='…'> with its items.
func (l List) Element() *xmlel.Element {
	e := xmlel.New(NS, "list", "name", l.Name)
	for _, it := range l.Items {
		ie := xmlel.New(NS, "item")
		if it.Type != "" {
			ie.Set("type", it.Type).Set("value", it.Value)
		}
		if it.Allow {
			ie.Set("action", "allow")
		} else {
			ie.Set("action", "deny")
		}
		ie.Set("order", strconv.FormatUint(uint64(it.Order), 10))
		for _, kn := range kindNames {
			if it.Kinds&kn.k != 0 {
				ie.Add(xmlel.New(NS, kn.name))
			}
		}
		e.Add(ie)
	}
	return e
}

// Contact is what the list owner's roster says about the other party.
type Contact struct {
	Subscription string // "none" when not in the roster
	Groups       []string
}

// Allowed reports whether l lets a stanza of kind k pass between the owner
// and other (the sender of an inbound stanza, the recipient of an outbound
// one). roster is called at most once, and only when an item needs it. The
// first item in order that matches decides; none matching allows (XEP-0016
// 2.1).
func (l *List) Allowed(k Kind, other jid.JID, roster func() Contact) bool {
	if l == nil {
		return true
	}
	var c *Contact
	for i := range l.Items {
		it := &l.Items[i]
		if it.Kinds == 0 {
			// An item for all kinds covers outbound messages and IQs too.
		} else if it.Kinds&k == 0 {
			continue
		}
		switch it.Type {
		case "jid":
			if !it.matches(other) {
				continue
			}
		case "group", "subscription":
			if c == nil {
				got := roster()
				if got.Subscription == "" {
					got.Subscription = "none"
				}
				c = &got
			}
			if it.Type == "group" && !slices.Contains(c.Groups, it.Value) {
				continue
			}
			if it.Type == "subscription" && c.Subscription != it.Value {
				continue
			}
		}
		return it.Allow
	}
	return true
}

// matches applies XEP-0016 2.1's JID forms (ejabberd's is_type_match):
// an item's full JID matches that full JID only, a bare JID any resource
// of it, domain/resource that resource of any user and of the domain
// itself, a domain every JID of it.
func (it *Item) matches(j jid.JID) bool {
	if j.Domainpart() != it.domain || (it.local != "" && j.Localpart() != it.local) {
		return false
	}
	return it.res == "" || j.Resourcepart() == it.res
}
