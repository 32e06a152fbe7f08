package muc

import (
	"errors"
	"strconv"
	"strings"

	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/pubsub"
)

// ErrBadForm: the submitted configuration form is not one (wrong
// FORM_TYPE, type, or a value out of range).
var ErrBadForm = errors.New("muc: bad configuration form")

func field(typ, v, label string, vals ...string) *xmlel.Element {
	f := xmlel.New(NSData, "field", "var", v, "type", typ, "label", label)
	for _, val := range vals {
		f.Add(xmlel.New(NSData, "value").Add(val))
	}
	if len(vals) == 0 && typ != "fixed" {
		f.Add(xmlel.New(NSData, "value"))
	}
	return f
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func options(f *xmlel.Element, pairs ...string) *xmlel.Element {
	for i := 0; i+1 < len(pairs); i += 2 {
		f.Add(xmlel.New(NSData, "option", "label", pairs[i+1]).Add(xmlel.New(NSData, "value").Add(pairs[i])))
	}
	return f
}

// Form is the muc#roomconfig form of c (XEP-0045 10.2, 15.5.3) as the
// owner gets it to fill in.
func (c Config) Form() *xmlel.Element {
	x := xmlel.New(NSData, "x", "type", "form")
	x.Text(NSData, "title", "Room configuration")
	x.Add(field("hidden", "FORM_TYPE", "", NSRoomConf))
	x.Add(field("text-single", "muc#roomconfig_roomname", "Room title", c.Name))
	x.Add(field("text-single", "muc#roomconfig_roomdesc", "Room description", c.Description))
	x.Add(field("text-single", "muc#roomconfig_lang", "Natural language for room discussions", c.Lang))
	x.Add(field("boolean", "muc#roomconfig_persistentroom", "Make room persistent", boolStr(c.Persistent)))
	x.Add(field("boolean", "muc#roomconfig_publicroom", "Make room public searchable", boolStr(c.Public)))
	x.Add(field("boolean", "muc#roomconfig_membersonly", "Make room members-only", boolStr(c.MembersOnly)))
	x.Add(field("boolean", "muc#roomconfig_moderatedroom", "Make room moderated", boolStr(c.Moderated)))
	x.Add(field("boolean", "muc#roomconfig_passwordprotectedroom", "Make room password protected", boolStr(c.Password != "")))
	x.Add(field("text-private", "muc#roomconfig_roomsecret", "Password", c.Password))
	x.Add(options(field("list-single", "muc#roomconfig_maxusers", "Maximum Number of Occupants", strconv.Itoa(c.MaxUsers)),
		"5", "5", "10", "10", "20", "20", "30", "30", "50", "50", "100", "100", "200", "200", "500", "500", "1000", "1000"))
	x.Add(options(field("list-single", "muc#roomconfig_whois", "Present real Jabber IDs to", c.Whois),
		WhoisModerators, "moderators only", WhoisAnyone, "anyone"))
	x.Add(field("text-single", "muc#maxhistoryfetch", "Maximum number of history messages returned by room", strconv.Itoa(c.HistoryLength)))
	x.Add(field("boolean", "muc#roomconfig_allowinvites", "Allow users to send invites", boolStr(c.AllowInvites)))
	x.Add(field("boolean", "muc#roomconfig_changesubject", "Allow users to change the subject", boolStr(c.ChangeSubject)))
	x.Add(options(field("list-single", "muc#roomconfig_allowpm", "Allow users to send private messages", c.AllowPM),
		PMAnyone, "Anyone", PMParticipants, "Anyone with Voice", PMModerators, "Moderators Only", PMNone, "Nobody"))
	x.Add(field("boolean", "muc#roomconfig_enablearchiving", "Enable message archiving", boolStr(c.Archive)))
	x.Add(field("boolean", "mam", "Enable message archiving", boolStr(c.Archive)))
	return x
}

// Apply returns c with the fields of a submitted muc#roomconfig form set
// (XEP-0045 10.2). Unknown fields are ignored, as XEP-0045 lets a service
// do with fields it does not support; a value out of range is ErrBadForm.
// A form of type cancel is not a submission: the caller handles it.
func (c Config) Apply(x *xmlel.Element) (Config, error) {
	fields, err := pubsub.Fields(x, NSRoomConf)
	if err != nil {
		return c, ErrBadForm
	}
	protect := -1 // passwordprotectedroom, applied after roomsecret
	for name, vals := range fields {
		var err error
		switch name {
		case "muc#roomconfig_roomname":
			c.Name, err = text(vals, MaxNameLen)
		case "muc#roomconfig_roomdesc":
			c.Description, err = text(vals, MaxDescLen)
		case "muc#roomconfig_lang":
			c.Lang, err = text(vals, 35)
		case "muc#roomconfig_persistentroom":
			c.Persistent, err = pubsub.FieldBool(vals)
		case "muc#roomconfig_publicroom":
			c.Public, err = pubsub.FieldBool(vals)
		case "muc#roomconfig_membersonly":
			c.MembersOnly, err = pubsub.FieldBool(vals)
		case "muc#roomconfig_moderatedroom":
			c.Moderated, err = pubsub.FieldBool(vals)
		case "muc#roomconfig_passwordprotectedroom":
			var on bool
			on, err = pubsub.FieldBool(vals)
			protect = map[bool]int{false: 0, true: 1}[on]
		case "muc#roomconfig_roomsecret":
			c.Password, err = text(vals, MaxPasswordLen)
		case "muc#roomconfig_maxusers":
			var v string
			if v, err = pubsub.FieldValue(vals); err == nil {
				n, perr := strconv.Atoi(v)
				if v == "none" {
					n, perr = MaxMaxUsers, nil
				}
				if perr != nil || n < 1 || n > MaxMaxUsers {
					err = ErrBadForm
				}
				c.MaxUsers = n
			}
		case "muc#roomconfig_whois":
			var v string
			if v, err = pubsub.FieldValue(vals); err == nil {
				if v != WhoisAnyone && v != WhoisModerators {
					err = ErrBadForm
				}
				c.Whois = v
			}
		case "muc#maxhistoryfetch", "muc#roomconfig_historylength":
			var v string
			if v, err = pubsub.FieldValue(vals); err == nil {
				n, perr := strconv.Atoi(strings.TrimSpace(v))
				if perr != nil || n < 0 {
					err = ErrBadForm
				}
				c.HistoryLength = min(n, MaxHistory)
			}
		case "muc#roomconfig_allowinvites":
			c.AllowInvites, err = pubsub.FieldBool(vals)
		case "muc#roomconfig_changesubject":
			c.ChangeSubject, err = pubsub.FieldBool(vals)
		case "muc#roomconfig_allowpm":
			var v string
			if v, err = pubsub.FieldValue(vals); err == nil {
				switch v {
				case PMAnyone, PMParticipants, PMModerators, PMNone:
					c.AllowPM = v
				default:
					err = ErrBadForm
				}
			}
		case "muc#roomconfig_enablearchiving", "mam":
			c.Archive, err = pubsub.FieldBool(vals)
		}
		if err != nil {
			return c, ErrBadForm
		}
	}
	if protect == 0 {
		c.Password = ""
	}
	if protect == 1 && c.Password == "" {
		return c, ErrBadForm
	}
	return c.normal(), nil
}

func text(vals []string, limit int) (string, error) {
	if len(vals) == 0 {
		return "", nil
	}
	if len(vals) > 1 || len(vals[0]) > limit {
		return "", ErrBadForm
	}
	return vals[0], nil
}

// Features are the disco#info features of a room with configuration c
// (XEP-0045 6.4, 15.2).
func (c Config) Features(mam bool) []string {
	f := []string{NS}
	pick := func(on bool, yes, no string) {
		if on {
			f = append(f, yes)
		} else {
			f = append(f, no)
		}
	}
	pick(c.Public, "muc_public", "muc_hidden")
	pick(c.MembersOnly, "muc_membersonly", "muc_open")
	pick(c.Moderated, "muc_moderated", "muc_unmoderated")
	pick(c.Password != "", "muc_passwordprotected", "muc_unsecured")
	pick(c.NonAnonymous(), "muc_nonanonymous", "muc_semianonymous")
	pick(c.Persistent, "muc_persistent", "muc_temporary")
	if mam {
		f = append(f, "urn:xmpp:mam:2", "urn:xmpp:sid:0")
	}
	f = append(f, NSRegister, NSSub, "urn:xmpp:ping")
	return f
}

// InfoForm is the muc#roominfo extension of a room's disco#info (XEP-0045 6.4).
func (c Config) InfoForm(occupants int, subject string, subjectMod bool) *xmlel.Element {
	x := xmlel.New(NSData, "x", "type", "result")
	x.Add(field("hidden", "FORM_TYPE", "", NSRoomInfo))
	x.Add(field("text-single", "muc#roominfo_description", "Room description", c.Description))
	x.Add(field("text-single", "muc#roominfo_occupants", "Number of occupants", strconv.Itoa(occupants)))
	x.Add(field("text-single", "muc#roominfo_subject", "Current discussion topic", subject))
	x.Add(field("boolean", "muc#roominfo_subjectmod", "Allow users to change the subject", boolStr(subjectMod)))
	if c.Lang != "" {
		x.Add(field("text-single", "muc#roominfo_lang", "Natural language for room discussions", c.Lang))
	}
	x.Add(field("text-single", "muc#roomconfig_roomname", "Room title", c.Name))
	return x
}
