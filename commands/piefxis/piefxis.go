// Package piefxis reads and writes XEP-0227 (Portable Import/Export Format
// for XMPP-IM Servers) files as ejabberd and Prosody write them, and reads
// a Prosody 0.12 data directory into the same model.
//
// The package knows formats only: which hosts and users exist, and whether
// a caller may touch them, is decided by its callers.
package piefxis

import (
	"time"

	"github.com/xmppgate/xmppgate/xmlel"
)

// Namespaces of the format and of what users carry.
const (
	NS        = "urn:xmpp:pie:0"
	NSOld     = "http://www.xmpp.org/extensions/xep-0227.html#ns" // ejabberd before 2.1, still read by ejabberd
	NSScram   = "urn:xmpp:pie:0#scram"
	NSXInc    = "http://www.w3.org/2001/XInclude"
	NSRoster  = "jabber:iq:roster"
	NSPrivate = "jabber:iq:private"
	NSVCard   = "vcard-temp"
	NSClient  = "jabber:client"
	NSDelay   = "urn:xmpp:delay"
)

// SCRAM mechanism names as XEP-0227 spells them.
const (
	ScramSHA1   = "SCRAM-SHA-1"
	ScramSHA256 = "SCRAM-SHA-256"
)

// Host is one virtual host, its users and the persistent rooms of its
// MUC service.
type Host struct {
	JID   string
	Users []User
	Rooms []Room
}

// Room is a persistent MUC room as Prosody keeps it, in the words of the
// XEP-0045 room configuration form.
type Room struct {
	JID                 string // the room's bare JID
	Name, Description   string
	Subject             string
	SubjectBy           string // the nickname that set the subject
	Language            string
	Public, MembersOnly bool
	Moderated           bool
	Password            string
	Whois               string // "moderators" or "anyone"
	HistoryLength       int    // -1: the service's default
	AllowInvites        bool   // members may invite
	ChangeSubject       bool   // occupants may change the subject
	// Affiliations maps bare JIDs to owner, admin, member or outcast.
	Affiliations map[string]string
	// Nicks maps bare JIDs to the nickname they reserved in the room.
	Nicks map[string]string
}

// User is one account with its data. Nothing is normalised here.
type User struct {
	Name string
	// Password is the plaintext password, "" if the file has none.
	Password string
	// SCRAM are the stored keys, one per mechanism.
	SCRAM   []SCRAM
	Roster  []Item
	Pending []string // bare JIDs with an inbound subscription request
	VCard   *xmlel.Element
	Private []*xmlel.Element // the children of the private storage query
	Offline []Offline
}

// SCRAM is one mechanism's stored credentials (RFC 5802).
type SCRAM struct {
	Mechanism  string
	Salt       []byte
	Iterations int
	StoredKey  []byte
	ServerKey  []byte
}

// Item is one roster item (RFC 6121).
type Item struct {
	JID, Name, Subscription string
	Ask                     bool // an outbound subscription request is pending
	Groups                  []string
}

// Offline is one stored message: Message holds no delay element; Stamp is
// when it was stored (zero if unknown).
type Offline struct {
	Stamp   time.Time
	Message *xmlel.Element
}
