// Package pubsub implements the parts of XEP-0060 Publish-Subscribe that
// XEP-0163 Personal Eventing needs and that do not touch sessions: node
// configuration and its data forms (with XEP-0223 publish-options), access
// decisions, and XEP-0115 entity capabilities for +notify filtering.
package pubsub

import (
	"encoding/json"
	"errors"
	"slices"
	"strconv"

	"github.com/xmppgate/xmppgate/xmlel"
)

// Namespaces.
const (
	NS       = "http://jabber.org/protocol/pubsub"
	NSOwner  = NS + "#owner"
	NSEvent  = NS + "#event"
	NSErrors = NS + "#errors"
	NSData   = "jabber:x:data"

	FormNodeConfig     = NS + "#node_config"
	FormPublishOptions = NS + "#publish-options"
)

// Access models (XEP-0060 4.5). authorize is not offered: PEP nodes have
// no pending subscriptions to approve.
const (
	Open      = "open"
	Presence  = "presence"
	Roster    = "roster"
	Whitelist = "whitelist"
)

// Values of pubsub#send_last_published_item.
const (
	SendNever            = "never"
	SendOnSub            = "on_sub"
	SendOnSubAndPresence = "on_sub_and_presence"
)

// MaxItems is the most items a node keeps, and what max_items "max" means
// (ejabberd's max_items_node default).
const MaxItems = 1000

// Config is a node's configuration, stored as JSON.
type Config struct {
	Access        string   `json:"access_model"`
	Persist       bool     `json:"persist_items"`
	MaxItems      int      `json:"max_items"`
	ItemExpire    int64    `json:"item_expire,omitempty"`
	NotifyRetract bool     `json:"notify_retract"`
	SendLast      string   `json:"send_last_published_item"`
	Title         string   `json:"title,omitempty"`
	RosterGroups  []string `json:"roster_groups_allowed,omitempty"`
}

// Default is the configuration of a new PEP node: presence access, the
// last item kept (ejabberd's and Prosody's PEP defaults).
func Default() Config {
	return Config{Access: Presence, Persist: true, MaxItems: 1, NotifyRetract: true, SendLast: SendOnSubAndPresence}
}

// Kept is how many items the store keeps for the node.
func (c Config) Kept() int {
	if !c.Persist {
		return 0
	}
	return c.MaxItems
}

// Decode reads a stored configuration; fields it lacks keep their defaults.
func Decode(b []byte) Config {
	c := Default()
	_ = json.Unmarshal(b, &c) // written by Encode; a bad row reads as the default
	return c
}

// Encode is the stored form of c.
func (c Config) Encode() []byte {
	b, _ := json.Marshal(c)
	return b
}

// Errors of Apply and Matches.
var (
	// ErrBadForm: not a data form of the expected FORM_TYPE.
	ErrBadForm = errors.New("pubsub: bad data form")
	// ErrBadValue: a field this service knows with a value it does not
	// support (XEP-0060 8.2.5: not-acceptable).
	ErrBadValue = errors.New("pubsub: unsupported configuration value")
	// ErrUnknownField: a field this service does not implement.
	ErrUnknownField = errors.New("pubsub: unsupported configuration field")
)

// Fields parses a submitted data form of FORM_TYPE formType into its
// fields' values, FORM_TYPE left out. A form without FORM_TYPE is taken as
// the expected type, as ejabberd and Prosody do.
func Fields(x *xmlel.Element, formType string) (map[string][]string, error) {
	if x == nil || x.Name.Space != NSData || x.Name.Local != "x" || (x.Get("type") != "submit" && x.Get("type") != "") {
		return nil, ErrBadForm
	}
	out := map[string][]string{}
	for _, f := range x.Elements() {
		if f.Name.Local != "field" || f.Get("var") == "" {
			continue
		}
		var vals []string
		for _, v := range f.Elements() {
			if v.Name.Local == "value" {
				vals = append(vals, v.InnerText())
			}
		}
		if f.Get("var") == "FORM_TYPE" {
			if len(vals) != 1 || vals[0] != formType {
				return nil, ErrBadForm
			}
			continue
		}
		out[f.Get("var")] = vals
	}
	return out, nil
}

// FieldValue is the one value of a data-form field (XEP-0004);
// ErrBadValue if it has none or several.
func FieldValue(vals []string) (string, error) {
	if len(vals) != 1 {
		return "", ErrBadValue
	}
	return vals[0], nil
}

// FieldBool is a boolean field's value ("1"/"true", "0"/"false").
func FieldBool(vals []string) (bool, error) {
	v, err := FieldValue(vals)
	switch {
	case err != nil:
		return false, err
	case v == "1" || v == "true":
		return true, nil
	case v == "0" || v == "false":
		return false, nil
	}
	return false, ErrBadValue
}

// Apply returns c with the submitted fields set.
func (c Config) Apply(fields map[string][]string) (Config, error) {
	for name, vals := range fields {
		var err error
		switch name {
		case "pubsub#access_model":
			var v string
			if v, err = FieldValue(vals); err == nil {
				switch v {
				case Open, Presence, Roster, Whitelist:
					c.Access = v
				default:
					err = ErrBadValue
				}
			}
		case "pubsub#persist_items":
			c.Persist, err = FieldBool(vals)
		case "pubsub#max_items":
			c.MaxItems, err = maxItems(vals)
		case "pubsub#item_expire":
			var v string
			if v, err = FieldValue(vals); err == nil {
				c.ItemExpire, err = strconv.ParseInt(v, 10, 64)
				if err != nil || c.ItemExpire < 0 {
					err = ErrBadValue
				}
			}
		case "pubsub#notify_retract":
			c.NotifyRetract, err = FieldBool(vals)
		case "pubsub#send_last_published_item":
			var v string
			if v, err = FieldValue(vals); err == nil {
				switch v {
				case SendNever, SendOnSub, SendOnSubAndPresence:
					c.SendLast = v
				default:
					err = ErrBadValue
				}
			}
		case "pubsub#title":
			c.Title, err = FieldValue(vals)
		case "pubsub#roster_groups_allowed":
			c.RosterGroups = slices.Clone(vals)
		// Fixed by personal eventing: accepted only with the value they have.
		case "pubsub#deliver_notifications", "pubsub#deliver_payloads", "pubsub#presence_based_delivery":
			var b bool
			if b, err = FieldBool(vals); err == nil && b != (name != "pubsub#presence_based_delivery") {
				err = ErrBadValue
			}
		case "pubsub#publish_model":
			if v, e := FieldValue(vals); e != nil || v != "publishers" {
				err = ErrBadValue
			}
		case "pubsub#notification_type":
			if v, e := FieldValue(vals); e != nil || v != "headline" {
				err = ErrBadValue
			}
		default:
			err = ErrUnknownField
		}
		if err != nil {
			if !errors.Is(err, ErrUnknownField) {
				err = ErrBadValue
			}
			return c, err
		}
	}
	return c, nil
}

func maxItems(vals []string) (int, error) {
	v, err := FieldValue(vals)
	if err != nil {
		return 0, err
	}
	if v == "max" {
		return MaxItems, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > MaxItems {
		return 0, ErrBadValue
	}
	return n, nil
}

// Matches reports whether the publish-options fields describe c
// (XEP-0060 7.1.5): applying them would change nothing.
func (c Config) Matches(fields map[string][]string) bool {
	d, err := c.Apply(fields)
	if err != nil {
		return false
	}
	return string(d.Encode()) == string(c.Encode())
}

// Form is c as the data form of a configure request (XEP-0060 8.2).
func (c Config) Form() *xmlel.Element {
	x := xmlel.New(NSData, "x", "type", "form")
	field := func(v, typ, label string, vals ...string) *xmlel.Element {
		f := xmlel.New(NSData, "field", "var", v, "type", typ, "label", label)
		for _, val := range vals {
			f.Text(NSData, "value", val)
		}
		x.Add(f)
		return f
	}
	b := func(v bool) string {
		if v {
			return "1"
		}
		return "0"
	}
	field("FORM_TYPE", "hidden", "", FormNodeConfig)
	field("pubsub#title", "text-single", "A friendly name for the node", c.Title)
	am := field("pubsub#access_model", "list-single", "Specify the subscriber model", c.Access)
	for _, o := range []string{Open, Presence, Roster, Whitelist} {
		am.Add(xmlel.New(NSData, "option").Text(NSData, "value", o))
	}
	field("pubsub#roster_groups_allowed", "list-multi", "Roster groups allowed to subscribe", c.RosterGroups...)
	field("pubsub#persist_items", "boolean", "Persist items to storage", b(c.Persist))
	field("pubsub#max_items", "text-single", "Max # of items to persist", strconv.Itoa(c.MaxItems))
	field("pubsub#item_expire", "text-single", "Number of seconds after which to automatically purge items", strconv.FormatInt(c.ItemExpire, 10))
	field("pubsub#notify_retract", "boolean", "Notify subscribers when items are removed from the node", b(c.NotifyRetract))
	sl := field("pubsub#send_last_published_item", "list-single", "When to send the last published item", c.SendLast)
	for _, o := range []string{SendNever, SendOnSub, SendOnSubAndPresence} {
		sl.Add(xmlel.New(NSData, "option").Text(NSData, "value", o))
	}
	field("pubsub#deliver_notifications", "boolean", "Deliver event notifications", "1")
	field("pubsub#deliver_payloads", "boolean", "Deliver payloads with event notifications", "1")
	field("pubsub#publish_model", "list-single", "Specify the publisher model", "publishers")
	field("pubsub#notification_type", "list-single", "Specify the event message type", "headline")
	return x
}

// Relation is what an access decision needs to know about a requester.
type Relation struct {
	// Owner: the requester is the node's owner (any of their resources).
	Owner bool
	// Subscribed: the owner's roster gives the requester a presence
	// subscription ("from" or "both").
	Subscribed bool
	// Groups are the owner's roster groups the requester is in.
	Groups []string
}

// Allows reports whether the node's access model lets r retrieve items and
// receive notifications.
func (c Config) Allows(r Relation) bool {
	if r.Owner {
		return true
	}
	switch c.Access {
	case Open:
		return true
	case Presence:
		return r.Subscribed
	case Roster:
		for _, g := range r.Groups {
			if slices.Contains(c.RosterGroups, g) {
				return true
			}
		}
	}
	return false
}

// Denial is the XEP-0060 6.5.7 error condition and pubsub#errors
// application condition for a requester the access model refuses.
func (c Config) Denial() (cond, app string) {
	switch c.Access {
	case Presence:
		return "not-authorized", "presence-subscription-required"
	case Roster:
		return "not-authorized", "not-in-roster-group"
	}
	return "not-allowed", "closed-node"
}
