// Package muc is the protocol side of XEP-0045 Multi-User Chat that needs
// no sessions: room configuration and its data forms, the affiliation and
// role tables of XEP-0045 section 5, join and admin requests as parsed from
// the wire, discussion history, nickname rules and status codes. The
// server's glue (xmppcore/muc.go) keeps occupants and delivers.
package muc

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"golang.org/x/text/secure/precis"
)

// Namespaces of XEP-0045 and its neighbours.
const (
	NS         = "http://jabber.org/protocol/muc"
	NSUser     = NS + "#user"
	NSAdmin    = NS + "#admin"
	NSOwner    = NS + "#owner"
	NSRoomConf = NS + "#roomconfig"
	NSRoomInfo = NS + "#roominfo"
	NSRegister = "jabber:iq:register"
	NSData     = "jabber:x:data"
	NSConfInv  = "jabber:x:conference" // XEP-0249 direct invitations
	NSSub      = "urn:xmpp:mucsub:0"
)

// Status codes (XEP-0045 section 15.6).
const (
	StatusRealJID         = "100" // the room is non-anonymous (on join)
	StatusSelf            = "110" // presence refers to the occupant itself
	StatusLogging         = "170" // the room is archived
	StatusCreated         = "201" // a new room was created
	StatusNickModified    = "210" // the service changed the occupant's nick
	StatusNickChange      = "303" // nickname change (with <item nick>)
	StatusKicked          = "307"
	StatusBanned          = "301"
	StatusAffChange       = "321" // removed for an affiliation change
	StatusMembersOnly     = "322" // removed: the room became members-only
	StatusShutdown        = "332" // removed: the service goes down
	StatusConfigChanged   = "104" // the configuration changed (message)
	StatusNowNonAnonymous = "172"
	StatusNowSemiAnon     = "173"
)

// Affiliations (XEP-0045 5.2).
const (
	Owner   = "owner"
	Admin   = "admin"
	Member  = "member"
	Outcast = "outcast"
	None    = "none"
)

// Roles (XEP-0045 5.1).
const (
	Moderator   = "moderator"
	Participant = "participant"
	Visitor     = "visitor"
	NoRole      = "none"
)

// Whois values (muc#roomconfig_whois).
const (
	WhoisModerators = "moderators"
	WhoisAnyone     = "anyone"
)

// Who may send private messages (muc#roomconfig_allowpm, as ejabberd names them).
const (
	PMAnyone       = "anyone"
	PMParticipants = "participants"
	PMModerators   = "moderators"
	PMNone         = "none"
)

// Config is a room's configuration, stored as JSON in muc_rooms.config.
type Config struct {
	Name          string `json:"name,omitempty"`
	Description   string `json:"description,omitempty"`
	Persistent    bool   `json:"persistent"`
	Public        bool   `json:"public"`
	MembersOnly   bool   `json:"membersOnly"`
	Moderated     bool   `json:"moderated"`
	Password      string `json:"password,omitempty"`
	MaxUsers      int    `json:"maxUsers"`
	Whois         string `json:"whois"`
	HistoryLength int    `json:"historyLength"`
	AllowInvites  bool   `json:"allowInvites"`
	ChangeSubject bool   `json:"changeSubject"`
	AllowPM       string `json:"allowPM"`
	Archive       bool   `json:"archive"`
	// Lang is muc#roomconfig_lang.
	Lang string `json:"lang,omitempty"`
	// Extra keeps the ejabberd room options the service does not act on
	// (create_room_with_opts, change_room_option) as their text, so an
	// owner's form does not drop what the API set and get_room_options
	// shows it back.
	Extra map[string]string `json:"ejabberd,omitempty"`
}

// Limits of the service.
const (
	DefaultMaxUsers  = 200
	MaxMaxUsers      = 1000
	DefaultHistory   = 20
	MaxHistory       = 100
	MaxNameLen       = 200
	MaxDescLen       = 2000
	MaxSubjectLen    = 4000
	MaxPasswordLen   = 200
	MaxRoomNameBytes = 1023
)

// Default is a new room's configuration (ejabberd's defaults: temporary,
// public, open, unmoderated, semi-anonymous, 20 messages of history);
// archive follows the domain's modMam.
func Default(archive bool) Config {
	return Config{Public: true, MaxUsers: DefaultMaxUsers, Whois: WhoisModerators, HistoryLength: DefaultHistory,
		AllowPM: PMAnyone, Archive: archive}
}

// Decode reads a stored configuration over the defaults; a broken one
// yields the defaults.
func Decode(b []byte, archive bool) Config {
	c := Default(archive)
	_ = json.Unmarshal(b, &c)
	return c.normal()
}

// Encode is the stored form of c.
func (c Config) Encode() []byte {
	b, _ := json.Marshal(c.normal())
	return b
}

func (c Config) normal() Config {
	if c.MaxUsers <= 0 || c.MaxUsers > MaxMaxUsers {
		c.MaxUsers = min(max(c.MaxUsers, 0), MaxMaxUsers)
		if c.MaxUsers == 0 {
			c.MaxUsers = DefaultMaxUsers
		}
	}
	c.HistoryLength = min(max(c.HistoryLength, 0), MaxHistory)
	if c.Whois != WhoisAnyone {
		c.Whois = WhoisModerators
	}
	switch c.AllowPM {
	case PMAnyone, PMParticipants, PMModerators, PMNone:
	default:
		c.AllowPM = PMAnyone
	}
	return c
}

// Equal reports whether two configurations are the same, Extra included
// (a struct with a map cannot be compared with ==; the stored forms can).
func (c Config) Equal(o Config) bool { return bytes.Equal(c.Encode(), o.Encode()) }

// NonAnonymous: every occupant sees real JIDs.
func (c Config) NonAnonymous() bool { return c.Whois == WhoisAnyone }

// Rank orders affiliations: outcast < none < member < admin < owner.
func Rank(aff string) int {
	switch aff {
	case Outcast:
		return -1
	case Member:
		return 1
	case Admin:
		return 2
	case Owner:
		return 3
	}
	return 0
}

// ValidAffiliation reports whether a is one of the five affiliations.
func ValidAffiliation(a string) bool {
	switch a {
	case Owner, Admin, Member, Outcast, None:
		return true
	}
	return false
}

// ValidRole reports whether r is one of the four roles.
func ValidRole(r string) bool {
	switch r {
	case Moderator, Participant, Visitor, NoRole:
		return true
	}
	return false
}

// DefaultRole is the role an occupant of affiliation aff gets on entering
// (XEP-0045 5.1.2): owners and admins moderate, a moderated room makes
// unaffiliated occupants visitors.
func DefaultRole(c Config, aff string) string {
	switch aff {
	case Owner, Admin:
		return Moderator
	case Member:
		return Participant
	case Outcast:
		return NoRole
	}
	if c.Moderated {
		return Visitor
	}
	return Participant
}

// Join errors: why an entity may not enter (XEP-0045 7.2).
var (
	ErrBanned       = errors.New("muc: banned")             // forbidden (403)
	ErrMembersOnly  = errors.New("muc: members only")       // registration-required (407)
	ErrPassword     = errors.New("muc: password required")  // not-authorized (401)
	ErrFull         = errors.New("muc: room full")          // service-unavailable (503)
	ErrNickConflict = errors.New("muc: nickname in use")    // conflict (409)
	ErrNickReserved = errors.New("muc: nickname reserved")  // conflict (409)
	ErrLocked       = errors.New("muc: room locked")        // item-not-found (404)
	ErrBadNick      = errors.New("muc: nickname malformed") // jid-malformed (400)
)

// MayEnter decides whether an entity of affiliation aff may enter a room
// with occupants occupants, giving password (XEP-0045 7.2.5-7.2.10).
// Owners and admins pass the password and the limit, as ejabberd lets them.
func MayEnter(c Config, aff string, password string, occupants int) error {
	switch {
	case aff == Outcast:
		return ErrBanned
	case c.MembersOnly && Rank(aff) < Rank(Member):
		return ErrMembersOnly
	case c.Password != "" && password != c.Password && Rank(aff) < Rank(Admin):
		return ErrPassword
	case occupants >= c.MaxUsers && Rank(aff) < Rank(Admin):
		return ErrFull
	}
	return nil
}

// MayKick: a moderator may kick an occupant with a role change to none,
// never one whose affiliation is admin or owner (XEP-0045 8.2), and no one
// of an affiliation above its own.
func MayChangeRole(actorRole, actorAff, targetAff, targetRole, newRole string) bool {
	if actorRole != Moderator {
		return false
	}
	switch newRole {
	case NoRole, Visitor, Participant:
		if targetRole == Moderator && Rank(actorAff) < Rank(Admin) {
			return false
		}
		return Rank(targetAff) < Rank(Admin) || (newRole != NoRole && Rank(actorAff) > Rank(targetAff))
	case Moderator:
		return Rank(actorAff) >= Rank(Admin)
	}
	return false
}

// MayChangeAffiliation: owners change any affiliation; admins change
// members, outcasts and none, never to admin or owner (XEP-0045 9, 10).
func MayChangeAffiliation(actorAff, targetAff, newAff string) bool {
	switch actorAff {
	case Owner:
		return true
	case Admin:
		return Rank(targetAff) < Rank(Admin) && Rank(newAff) < Rank(Admin)
	}
	return false
}

// MayListAffiliation: who may read the list of an affiliation (XEP-0045
// 9.5, 9.8, 10.5, 10.8): owners all, admins members and outcasts.
func MayListAffiliation(actorAff, aff string) bool {
	switch aff {
	case Member, Outcast:
		return Rank(actorAff) >= Rank(Admin)
	case Admin, Owner:
		return Rank(actorAff) >= Rank(Admin)
	}
	return false
}

// MayPM says whether an occupant of role may send a private message in c.
func MayPM(c Config, role string) bool {
	switch c.AllowPM {
	case PMAnyone:
		return true
	case PMParticipants:
		return role == Participant || role == Moderator
	case PMModerators:
		return role == Moderator
	}
	return false
}

// MayChangeSubject: moderators always, participants when the room lets them.
func MayChangeSubject(c Config, role string) bool {
	return role == Moderator || (c.ChangeSubject && role == Participant)
}

// MayInvite: in a members-only room only admins and owners invite unless
// the room allows invites; in others anyone present may.
func MayInvite(c Config, aff, role string) bool {
	if role == NoRole {
		return false
	}
	if c.MembersOnly {
		return c.AllowInvites || Rank(aff) >= Rank(Admin)
	}
	return true
}

// SeesJID says whether a viewer of role sees occupants' real JIDs.
func SeesJID(c Config, role string) bool { return c.NonAnonymous() || role == Moderator }

// PrepareNick applies the PRECIS nickname profile (RFC 8266) and the room
// JID's resourcepart limits; ErrBadNick if it cannot be a nickname.
func PrepareNick(nick string) (string, error) {
	out, err := precis.Nickname.String(nick)
	if err != nil || out == "" || len(out) > 1023 {
		return "", ErrBadNick
	}
	return out, nil
}

// NickKey is what two nicknames are compared by: the PRECIS nickname
// comparison (case-folded), so "Alice" and "alice" conflict.
func NickKey(nick string) string {
	k, err := precis.Nickname.CompareKey(nick)
	if err != nil {
		return strings.ToLower(nick)
	}
	return k
}
