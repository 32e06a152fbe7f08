package openfire

import (
	"net/http"

	"github.com/xmppgate/xmppgate/commands"
)

// The error strings of the legacy API (Openfire exception names; note the
// British spelling of RequestNotAuthorised).
const (
	errIllegalArgument = "IllegalArgumentException"
	errUserNotFound    = "UserNotFoundException"
	errUserExists      = "UserAlreadyExistsException"
	errNotAuthorised   = "RequestNotAuthorised"
	errDisabled        = "UserServiceDisabled"
	errSharedGroup     = "SharedGroupException"
	// errInternal stands for Openfire's "<error>" + exception.toString() of
	// an unexpected exception; the cause is logged, never shown.
	errInternal = "InternalError"
)

// byReason and byKind are the dialect's one error table: a registry error's
// reason decides, else its kind.
var (
	byReason = map[commands.Reason]string{
		commands.ReasonMissing:          errIllegalArgument,
		commands.ReasonMalformed:        errIllegalArgument,
		commands.ReasonUnknownArg:       errIllegalArgument,
		commands.ReasonDuplicateArg:     errIllegalArgument,
		commands.ReasonNoUser:           errUserNotFound,
		commands.ReasonNoRosterItem:     errUserNotFound,
		commands.ReasonUserExists:       errUserExists,
		commands.ReasonRosterItemExists: errUserExists,
		commands.ReasonSharedGroup:      errSharedGroup,
	}
	byKind = map[commands.Kind]string{
		commands.Invalid:      errIllegalArgument,
		commands.NotFound:     errUserNotFound,
		commands.Conflict:     errUserExists,
		commands.Forbidden:    errNotAuthorised,
		commands.Unauthorized: errNotAuthorised,
	}
)

func errorReply(status int, name string) reply {
	return reply{status: status, body: "<error>" + name + "</error>\n", result: name}
}

func internal() reply { return errorReply(http.StatusInternalServerError, errInternal) }

// failure maps a registry error to its Openfire string. A change still
// pending after RunNow's retries, and anything unknown, is internal.
func (h *Handler) failure(err error, lg *logLine) reply {
	e := commands.AsError(err)
	if name, ok := byReason[e.Reason]; ok {
		return errorReply(http.StatusOK, name)
	}
	if e.Reason != commands.ReasonPending {
		if name, ok := byKind[e.Kind]; ok {
			return errorReply(http.StatusOK, name)
		}
	}
	lg.err = err
	return internal()
}
