package ejabberd

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/xmppgate/xmppgate/commands"
)

// The two error bodies of mod_http_api: an object with a code (auth,
// permission, endpoint, register) and a bare JSON string (all else).

func object(status, code int, msg, result string) reply {
	return jsonReply(status, struct {
		Status  string `json:"status"`
		Code    int    `json:"code"`
		Message string `json:"message"`
	}{"error", code, msg}, result)
}

func bare(status int, msg string) reply { return jsonReply(status, msg, msg) }

func missingCommand() reply {
	return object(http.StatusBadRequest, 40, "Missing command name.", "missing_command")
}

func unauthorized() reply {
	return object(http.StatusUnauthorized, 10, "You are not authorized to call this command.", "unauthorized")
}

func badToken() reply {
	return object(http.StatusUnauthorized, 10, "Oauth Token is invalid or expired.", "invalid_token")
}

func forbidden() reply {
	return object(http.StatusForbidden, 32, "AccessRules: Account does not have the right to perform the operation.", "forbidden")
}

func internalError(err error) reply {
	return reply{status: http.StatusInternalServerError, body: []byte(`"internal_error"`), result: "internal_error", err: err}
}

// rule is one row of the error table: the first row whose non-empty fields
// match a registry error gives the answer.
type rule struct {
	cmd    string        // ejabberd command name
	kind   commands.Kind // 0 (Internal, never matched): any
	reason commands.Reason
	arg    string // registry argument name
	answer func(e *commands.Error, req *request) reply
}

func fixed(r reply) func(*commands.Error, *request) reply {
	return func(*commands.Error, *request) reply { return r }
}

func cantRegister(why string) func(*commands.Error, *request) reply {
	return func(_ *commands.Error, req *request) reply {
		return object(http.StatusInternalServerError, 10001,
			fmt.Sprintf("Can't register user %s@%s at node %s: %s", req.raw["user"], req.raw["host"], commands.NodeName, why), "cannot_register")
	}
}

// givenEmpty answers r when the request gave the argument as "" (the
// binder takes an empty password as missing), else as a missing argument.
func givenEmpty(r reply) func(*commands.Error, *request) reply {
	return func(e *commands.Error, req *request) reply {
		if v, ok := req.raw[req.wire(e.Arg)]; ok && v == "" {
			return r
		}
		return bare(http.StatusBadRequest, "Request have missing argument: "+req.wire(e.Arg))
	}
}

func message(status int) func(*commands.Error, *request) reply {
	return func(e *commands.Error, _ *request) reply { return bare(status, e.Msg) }
}

// erlangStringArgs are the arguments ejabberd 23.01 declares as Erlang
// strings rather than binaries (the Mnesia backup family's file), which
// its wrong-type message names "string".
var erlangStringArgs = map[string]string{"backup": "file", "dump": "file", "restore": "file", "load": "file"}

// errorTable is the dialect's one error table (ejabberd's
// format_error_result and the errors its commands return).
var errorTable = []rule{
	// Request shape (format_args).
	// An empty password given (not absent): check_password is a wrong
	// password, change_password's ejabberd_auth refuses it.
	{cmd: "check_password", reason: commands.ReasonMissing, arg: "password", answer: givenEmpty(jsonReply(http.StatusOK, 1, "ok"))},
	{cmd: "change_password", reason: commands.ReasonMissing, arg: "password", answer: givenEmpty(bare(http.StatusBadRequest, "invalid_password"))},
	{kind: commands.Invalid, reason: commands.ReasonMissing, answer: func(e *commands.Error, req *request) reply {
		return bare(http.StatusBadRequest, "Request have missing argument: "+req.wire(e.Arg))
	}},
	{kind: commands.Invalid, reason: commands.ReasonUnknownArg, answer: func(e *commands.Error, _ *request) reply {
		return bare(http.StatusBadRequest, "Request have unknown arguments: ["+strings.Join(e.Names, ",")+"]")
	}},
	{kind: commands.Invalid, reason: commands.ReasonDuplicateArg, answer: func(e *commands.Error, _ *request) reply {
		return bare(http.StatusBadRequest, "Request have duplicate argument: "+e.Arg)
	}},
	{kind: commands.Invalid, reason: commands.ReasonWrongType, answer: func(e *commands.Error, req *request) reply {
		format := commands.JSONType(req.arg(e.Arg), req.version)
		if erlangStringArgs[req.cmd] == req.wire(e.Arg) {
			format = "string"
		}
		if a := req.arg(e.Arg); a.Pairs[0] != "" {
			// ejabberd names the list's Erlang type: the item is the
			// argument's name in the singular (options: option).
			format = fmt.Sprintf("{list,{%s,{tuple,[{%s,binary},{%s,binary}]}}}",
				strings.TrimSuffix(req.wire(e.Arg), "s"), a.Pairs[0], a.Pairs[1])
		}
		return bare(http.StatusBadRequest, "Arg "+shown(req.given(e.Arg), true)+" is not in format "+format)
	}},
	{kind: commands.Invalid, reason: commands.ReasonMalformed, arg: "-", answer: message(http.StatusBadRequest)},

	// register (ejabberd_admin:register/3).
	{cmd: "register", reason: commands.ReasonUserExists, answer: func(_ *commands.Error, req *request) reply {
		return object(http.StatusConflict, 10090, fmt.Sprintf("User %s@%s already registered", req.raw["user"], req.raw["host"]), "conflict")
	}},
	{cmd: "register", reason: commands.ReasonUnknownDomain, answer: fixed(object(http.StatusInternalServerError, 10001, "Unknown virtual host", "cannot_register"))},
	{cmd: "register", reason: commands.ReasonMalformed, arg: "username", answer: cantRegister("Malformed username")},
	{cmd: "register", reason: commands.ReasonMalformed, arg: "password", answer: cantRegister("The password contains unacceptable characters")},
	// unregister answers "" for a user that does not exist.
	{cmd: "unregister", reason: commands.ReasonNoUser, answer: fixed(jsonReply(http.StatusOK, "", "ok"))},
	// change_password (mod_admin_extra).
	{cmd: "change_password", reason: commands.ReasonNoUser, answer: fixed(bare(http.StatusNotFound, "unknown_user"))},
	{cmd: "change_password", reason: commands.ReasonMalformed, arg: "password", answer: fixed(bare(http.StatusBadRequest, "invalid_password"))},
	// check_password_hash (sic: unkown).
	{reason: commands.ReasonScrammed, answer: fixed(bare(http.StatusBadRequest, "passwords_scrammed_command_cannot_work"))},
	{reason: commands.ReasonUnknownHash, answer: fixed(bare(http.StatusBadRequest, "unkown_hash_method"))},
	// get_vcard* of a host not served (mod_admin_extra's is_muc_service).
	{cmd: "get_vcard", reason: commands.ReasonUnknownDomain, answer: fixed(bare(http.StatusBadRequest, "error_wrong_hostname"))},
	{cmd: "get_vcard2", reason: commands.ReasonUnknownDomain, answer: fixed(bare(http.StatusBadRequest, "error_wrong_hostname"))},
	{cmd: "get_vcard2_multi", reason: commands.ReasonUnknownDomain, answer: fixed(bare(http.StatusBadRequest, "error_wrong_hostname"))},
	// resource_num out of range crashes in ejabberd.
	{reason: commands.ReasonOutOfRange, answer: fixed(reply{status: http.StatusInternalServerError, body: []byte(`"internal_error"`), result: "out_of_range"})},

	// Any command.
	{reason: commands.ReasonUnknownDomain, answer: fixed(bare(http.StatusBadRequest, "Unknown virtual host"))},
	{reason: commands.ReasonMalformed, arg: "username", answer: fixed(bare(http.StatusBadRequest, "Invalid 'user'"))},
	{reason: commands.ReasonMalformed, answer: func(e *commands.Error, req *request) reply {
		return bare(http.StatusBadRequest, "Invalid '"+req.wire(e.Arg)+"'")
	}},
	{kind: commands.NotImplemented, answer: func(e *commands.Error, _ *request) reply {
		return object(http.StatusNotImplemented, 0, "Not implemented in xmppgate: "+e.Msg, "refused")
	}},
	{kind: commands.Unauthorized, answer: fixed(unauthorized())},
	{kind: commands.Forbidden, answer: fixed(forbidden())},
	{kind: commands.NotFound, answer: fixed(bare(http.StatusNotFound, "not_found"))},
	{kind: commands.Invalid, answer: message(http.StatusBadRequest)},
}

// failure maps a registry error through the table; anything unmatched
// (internal errors, a change still pending after RunNow's retries) is a
// logged 500 "internal_error".
func (h *Handler) failure(err error, req *request) reply {
	e := commands.AsError(err)
	if e.Kind == commands.Internal || e.Reason == commands.ReasonPending {
		return internalError(err)
	}
	for _, r := range errorTable {
		if r.cmd != "" && r.cmd != req.cmd {
			continue
		}
		if r.kind != 0 && r.kind != e.Kind {
			continue
		}
		if r.reason != "" && r.reason != e.Reason {
			continue
		}
		if r.arg == "-" && e.Arg != "" || r.arg != "" && r.arg != "-" && r.arg != e.Arg {
			continue
		}
		return r.answer(e, req)
	}
	return internalError(err)
}

// arg is the command's argument of registry name name.
func (req *request) arg(name string) commands.Arg {
	if req.def != nil {
		for _, a := range req.def.Args {
			if a.Name == name {
				return a
			}
		}
	}
	return commands.Arg{Name: name}
}

// wire is an argument's ejabberd name.
func (req *request) wire(name string) string { return req.arg(name).WireName(commands.Ejabberd) }

// given is the value the request gave an argument (by registry name).
func (req *request) given(name string) json.RawMessage {
	wire := req.wire(name)
	for _, f := range req.fields {
		if f.Name == wire {
			return f.Value
		}
	}
	return nil
}
