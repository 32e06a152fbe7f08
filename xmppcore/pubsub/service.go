package pubsub

import (
	"slices"
	"time"

	"github.com/xmppgate/xmppgate/xmlel"
)

// A XEP-0060 service (pubsub.<domain>) has nodes owned through
// affiliations rather than by an account: its access decisions go by
// affiliation, and the roster-based models have no roster to ask.

// Affiliations (XEP-0060 4.1).
const (
	Owner     = "owner"
	Publisher = "publisher"
	Member    = "member"
	Outcast   = "outcast"
	None      = "none"
)

// ServiceDefaultMaxItems is how many items a new service node keeps
// (Prosody's mod_pubsub default; ejabberd keeps up to its max_items_node).
const ServiceDefaultMaxItems = 256

// ServiceDefault is the configuration of a new node of a pubsub service:
// open access, items kept, the last one sent on subscription.
func ServiceDefault() Config {
	return Config{Access: Open, Persist: true, MaxItems: ServiceDefaultMaxItems, NotifyRetract: true, SendLast: SendOnSub}
}

// PersonalOnly reports whether c has an access model only personal
// eventing can decide (presence and roster need the owner's roster).
func (c Config) PersonalOnly() bool { return c.Access == Presence || c.Access == Roster }

// ValidAffiliation reports whether an owner may set aff (XEP-0060 8.9.2).
func ValidAffiliation(aff string) bool {
	return slices.Contains([]string{Owner, Publisher, Member, Outcast, None}, aff)
}

// CanPublish reports whether aff may publish and retract (the publishers
// publish model).
func CanPublish(aff string) bool { return aff == Owner || aff == Publisher }

// AllowsAffiliated reports whether the access model lets a requester with
// affiliation aff retrieve items and subscribe: outcasts never, a
// whitelist its owners, publishers and members.
func (c Config) AllowsAffiliated(aff string) bool {
	if aff == Outcast {
		return false
	}
	return c.Allows(Relation{Owner: aff == Owner || aff == Publisher || aff == Member})
}

// MetaData is a node's XEP-0060 5.4 meta-data form for its disco#info.
func (c Config) MetaData(owners []string, created time.Time) *xmlel.Element {
	x := xmlel.New(NSData, "x", "type", "result")
	field := func(v, typ string, vals ...string) {
		f := xmlel.New(NSData, "field", "var", v, "type", typ)
		for _, val := range vals {
			f.Text(NSData, "value", val)
		}
		x.Add(f)
	}
	field("FORM_TYPE", "hidden", NS+"#meta-data")
	field("pubsub#title", "text-single", c.Title)
	field("pubsub#access_model", "list-single", c.Access)
	field("pubsub#owner", "jid-multi", owners...)
	field("pubsub#creation_date", "text-single", created.UTC().Format(time.RFC3339))
	return x
}
