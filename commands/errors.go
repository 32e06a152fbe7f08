package commands

import (
	"encoding/json"
	"errors"
	"fmt"
)

// Kind classifies an error; each dialect maps kinds (and reasons) to its own
// wire codes in one table, at the edge.
type Kind int

// Error kinds.
const (
	Internal Kind = iota
	Invalid
	NotFound
	Conflict
	Forbidden
	Unauthorized
	NotImplemented
)

func (k Kind) String() string {
	switch k {
	case Invalid:
		return "invalid"
	case NotFound:
		return "not_found"
	case Conflict:
		return "conflict"
	case Forbidden:
		return "forbidden"
	case Unauthorized:
		return "unauthorized"
	case NotImplemented:
		return "not_implemented"
	}
	return "internal"
}

// Reason names what exactly went wrong, dialect-neutrally. Dialects derive
// their codes from (Kind, Reason, Arg).
type Reason string

// Reasons used by the handlers.
const (
	ReasonMissing       Reason = "missing"        // a required argument is absent
	ReasonMalformed     Reason = "malformed"      // an argument does not parse or normalise
	ReasonUnknownArg    Reason = "unknown_arg"    // an argument the command does not take
	ReasonDuplicateArg  Reason = "duplicate_arg"  // an argument given twice
	ReasonWrongType     Reason = "wrong_type"     // a JSON value of another type than the argument's
	ReasonUserExists    Reason = "user_exists"    // the user exists, in any state
	ReasonNoUser        Reason = "no_user"        // the user does not exist
	ReasonPending       Reason = "change_pending" // a change already waits on the user
	ReasonUnknownDomain Reason = "unknown_domain" // not a domain of the caller's accounts
	ReasonInvalidToken  Reason = "invalid_token"
	ReasonTokenTooOld   Reason = "token_too_old"
	ReasonKeyNotAll     Reason = "key_not_all"    // the command needs a key allowed every command
	ReasonOperatorOnly  Reason = "operator_only"  // a server-wide command; the caller is not the operator
	ReasonUniqueIDUsed  Reason = "unique_id_used" // a DreamHost unique_id of the key is used up already
	// ReasonInvalidJID: a JID argument does not parse; Msg is ejabberd's text
	// ("Invalid 'user'/'server'").
	ReasonInvalidJID Reason = "invalid_jid"
)

// Reasons shared by several command families.
const (
	// ReasonRefused: xmppgate does not offer what was asked (Kind
	// NotImplemented; Msg says why).
	ReasonRefused    Reason = "refused"
	ReasonOutOfRange Reason = "out_of_range" // a number or name outside what the command knows (resource_num's num, stats' name)
	// ReasonBadValue: an argument value the command refuses; the message
	// is the whole answer (ejabberd's {error, Text}).
	ReasonBadValue Reason = "bad_value"
	ReasonNoServer Reason = "no_server" // no XMPP server (or no server at all) runs in this process
)

// Reasons of the commands on files of the data directory (all Kind
// Invalid: the ejabberd dialect answers 400 with the message).
const (
	ReasonBadPath Reason = "bad_path" // absolute, "..", or not where it must be
	ReasonNoFile  Reason = "no_file"  // the named file does not exist
	ReasonBadFile Reason = "bad_file" // the file is not what the command reads
)

// Error is the error value of the registry: a kind, an optional reason and
// argument, a message safe to show to the caller, and the cause (never shown).
type Error struct {
	Kind   Kind
	Reason Reason
	Arg    string // the registry name of the argument concerned, if any
	// Names are the wire names of every argument concerned, when there are
	// several (the unknown arguments of a request, in its order).
	Names []string
	Msg   string
	Err   error
}

func (e *Error) Error() string {
	s := e.Kind.String()
	if e.Reason != "" {
		s += " " + string(e.Reason)
	}
	if e.Arg != "" {
		s += " (" + e.Arg + ")"
	}
	if e.Msg != "" {
		s += ": " + e.Msg
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

// errorCode is an *Error as a failed change keeps it (queue.CodedError).
type errorCode struct {
	Kind   string `json:"kind"`
	Reason Reason `json:"reason,omitempty"`
	Arg    string `json:"arg,omitempty"`
	Msg    string `json:"msg,omitempty"`
}

// ChangeCode is the error's structured form, stored with a failed change.
func (e *Error) ChangeCode() string {
	b, _ := json.Marshal(errorCode{Kind: e.Kind.String(), Reason: e.Reason, Arg: e.Arg, Msg: e.Msg})
	return string(b)
}

// errorFromCode reads back what ChangeCode wrote; nil for anything else.
func errorFromCode(s string) *Error {
	var c errorCode
	if s == "" || json.Unmarshal([]byte(s), &c) != nil {
		return nil
	}
	for k := Internal; k <= NotImplemented; k++ {
		if k.String() == c.Kind && k != Internal {
			return &Error{Kind: k, Reason: c.Reason, Arg: c.Arg, Msg: c.Msg}
		}
	}
	return nil
}

// Errorf builds an *Error.
func Errorf(kind Kind, reason Reason, arg, format string, a ...any) *Error {
	return &Error{Kind: kind, Reason: reason, Arg: arg, Msg: fmt.Sprintf(format, a...)}
}

// AsError returns err as an *Error; anything else is Internal.
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: Internal, Err: err}
}
