package rest

import (
	"net/http"
	"strings"

	"github.com/xmppgate/xmppgate/commands"
)

// errorBody is the one error shape (the spec's §5 proposal): the documented
// {"status": "error", "message": …} of the control actions, with a
// meaningful HTTP status.
type errorBody struct {
	Message string `json:"message"`
	Status  string `json:"status"`
}

func errorReply(status int, msg string) reply {
	return reply{status: status, body: errorBody{Message: msg, Status: "error"}, result: http.StatusText(status)}
}

func internal() reply { return errorReply(http.StatusInternalServerError, "internal error") }

func notAllowed(allow string) reply {
	r := errorReply(http.StatusMethodNotAllowed, "method not allowed; use "+allow)
	r.allow = allow
	return r
}

// The dialect's one error table: a reason decides, else the kind.
var (
	byReason = map[commands.Reason]int{
		commands.ReasonUnknownDomain: http.StatusNotFound,
		commands.ReasonNoUser:        http.StatusNotFound,
		commands.ReasonUserExists:    http.StatusConflict,
		commands.ReasonDomainExists:  http.StatusConflict,
		commands.ReasonPending:       http.StatusConflict,
	}
	byKind = map[commands.Kind]int{
		commands.Invalid:        http.StatusBadRequest,
		commands.NotFound:       http.StatusNotFound,
		commands.Conflict:       http.StatusConflict,
		commands.Forbidden:      http.StatusForbidden,
		commands.Unauthorized:   http.StatusUnauthorized,
		commands.NotImplemented: http.StatusNotImplemented,
	}
	// byReasonMsg replaces a message where the registry's would say too
	// much or too little: an unknown and another account's domain read the same.
	byReasonMsg = map[commands.Reason]string{
		commands.ReasonUnknownDomain: "no such XMPP domain",
	}
)

// failure maps a registry error to its status and message; anything
// unknown is a logged 500.
func (h *Handler) failure(err error, lg *logLine) reply {
	e := commands.AsError(err)
	status, ok := byReason[e.Reason]
	if !ok {
		status, ok = byKind[e.Kind]
	}
	if !ok || e.Kind == commands.Internal {
		lg.err = err
		return internal()
	}
	msg := e.Msg
	if m, ok := byReasonMsg[e.Reason]; ok {
		msg = m
	}
	if e.Reason == commands.ReasonMissing && e.Arg == "password" {
		// Every REST call supplies a password it was not given (a UUID),
		// so a missing one was given empty.
		msg = "password must not be empty"
	}
	if e.Reason == commands.ReasonMalformed && e.Arg != "" && !strings.Contains(msg, e.Arg) {
		msg = e.Arg + ": " + msg
	}
	if msg == "" {
		msg = http.StatusText(status)
	}
	return errorReply(status, msg)
}
