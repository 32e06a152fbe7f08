package openfirerest

import (
	"net/http"

	"github.com/xmppgate/xmppgate/commands"
)

// The exception names of the error triplet (Openfire's).
const (
	exIllegalArgument  = "IllegalArgumentException"
	exPasswordIsNull   = "PasswordIsNull"
	exUserNotFound     = "UserNotFoundException"
	exUserExists       = "UserAlreadyExistsException"
	exRosterItemAbsent = "RosterItemNotFound"
	exSharedGroup      = "SharedGroupException"
	exGroupNotFound    = "GroupNotFoundException"
	exGroupExists      = "GroupAlreadyExistsException"
	exServiceNotFound  = "MUCServiceNotFoundException"
	exRoomNotFound     = "RoomNotFoundException"
	exAlreadyExists    = "AlreadyExistsException"
	exNoProperty       = "PropertyNotFoundException"
	exNotAllowed       = "NotAllowedException"
	// exNotImplemented is xmppgate's: what the plugin does that cannot map
	// here (user groups as room affiliations) answers 501 with it.
	exNotImplemented = "NotImplementedException"
	// exInternal stands for an unexpected exception; the cause is logged.
	exInternal = "InternalError"
)

// mapped is an error's wire form.
type mapped struct {
	status    int
	exception string
	message   string
}

// byReason is the dialect's error table: a registry error's reason (and
// for two reasons its argument or the method) decides; else its kind.
var byReason = map[commands.Reason]mapped{
	commands.ReasonNoUser:           {http.StatusNotFound, exUserNotFound, "Could not get user"},
	commands.ReasonUserExists:       {http.StatusConflict, exUserExists, "User already exists"},
	commands.ReasonRosterItemExists: {http.StatusConflict, exUserExists, "Roster item already exists"},
	commands.ReasonNoRosterItem:     {http.StatusNotFound, exUserNotFound, "Roster item not found"},
	commands.ReasonSharedGroup:      {http.StatusBadRequest, exSharedGroup, "Roster item can not be added to or deleted from a shared group"},
	commands.ReasonNoGroup:          {http.StatusNotFound, exGroupNotFound, "Could not find group"},
	commands.ReasonGroupExists:      {http.StatusConflict, exGroupExists, "Group already exists"},
	commands.ReasonNoMucService:     {http.StatusNotFound, exServiceNotFound, ""},
	commands.ReasonNoRoom:           {http.StatusNotFound, exRoomNotFound, ""},
	commands.ReasonRoomExists:       {http.StatusConflict, exAlreadyExists, ""},
	commands.ReasonNoProperty:       {http.StatusNotFound, exNoProperty, ""},
	// Openfire writes any property; xmppgate's read-only ones show its
	// configuration, which the API may not change.
	commands.ReasonReadOnlyProperty: {http.StatusForbidden, exNotAllowed, ""},
}

var byKind = map[commands.Kind]mapped{
	commands.Invalid:  {http.StatusBadRequest, exIllegalArgument, ""},
	commands.NotFound: {http.StatusNotFound, exUserNotFound, "Could not get user"},
	commands.Conflict: {http.StatusConflict, exUserExists, "Already exists"},
	// The message says what is refused and why.
	commands.NotImplemented: {http.StatusNotImplemented, exNotImplemented, ""},
}

// mapError gives a registry error its status, exception and message.
func mapError(err error, method, base string) mapped {
	e := commands.AsError(err)
	m, ok := byReason[e.Reason]
	switch {
	case e.Reason == commands.ReasonMissing && e.Arg == "password":
		m, ok = mapped{http.StatusBadRequest, exPasswordIsNull, "Password is null or empty"}, true
	case e.Reason == commands.ReasonMalformed && e.Arg == "subscription":
		// The restAPI plugin answers a subscriptionType outside -1..3 with 409 (sic).
		m, ok = mapped{http.StatusConflict, exIllegalArgument, "subscriptionType must be one of -1, 0, 1, 2, 3"}, true
	case e.Reason == commands.ReasonNoRosterItem && method == http.MethodDelete:
		m = mapped{http.StatusNotFound, exRosterItemAbsent, "Roster Item could not deleted"}
	case !ok && e.Reason != commands.ReasonPending:
		m, ok = byKind[e.Kind]
	}
	if !ok {
		return mapped{http.StatusInternalServerError, exInternal, "internal error"}
	}
	if m.message == "" {
		m.message = e.Msg
	}
	// The User Service 2.x answered "already exists" with 400 (409 came
	// with restAPI 1.0.1).
	if base == PrefixUserService && m.status == http.StatusConflict {
		m.status = http.StatusBadRequest
	}
	return m
}

// resourceOf names what an error is about, as the triplet's resource: the
// path variable of the error's argument if there is one, else the route's
// last path variable (the username, group or JID), else the body's value
// of the command's first argument (the new user's or group's name).
func resourceOf(e *commands.Error, rt *route, vars map[string]string, raw commands.Raw) string {
	// The plugin names the MUC service it did not find.
	if e.Reason == commands.ReasonNoMucService {
		if vs := raw["servicename"]; len(vs) > 0 && vs[0] != "" {
			return vs[0]
		}
		return commands.DefaultMucLabel
	}
	// The plugin names an unknown property by the entity's key on PUT.
	if e.Reason == commands.ReasonNoProperty {
		if vs := raw[e.Arg]; len(vs) == 1 && vs[0] != "" {
			return vs[0]
		}
	}
	for _, a := range rt.def.ArgsIn(commands.OpenfireREST) {
		if v, ok := vars[a.WireName(commands.OpenfireREST)]; ok && a.Name == e.Arg {
			return v
		}
	}
	for i := len(rt.segs) - 1; i >= 0; i-- {
		if isVar(rt.segs[i]) {
			return vars[rt.segs[i][1:len(rt.segs[i])-1]]
		}
	}
	for _, a := range rt.def.ArgsIn(commands.OpenfireREST) {
		if a.Type == commands.Domain {
			continue
		}
		if vs := raw[a.WireName(commands.OpenfireREST)]; len(vs) == 1 && a.Type != commands.List && !a.Secret {
			return vs[0]
		}
		return ""
	}
	return ""
}
