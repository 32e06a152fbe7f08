package commands

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// MaxPasswordBytes bounds a password; longer ones are malformed.
const MaxPasswordBytes = 1024

// Raw is a dialect's decoded arguments by wire name; a name given more than
// once has several values.
type Raw map[string][]string

// Bind checks and converts raw arguments for def, in two passes so every
// dialect reports the same first problem: first any missing required
// argument (in declaration order), then each argument's validity in
// declaration order. Unknown arguments are ignored unless strict is set
// (DreamHost clients send extras such as username on every call).
func (r *Registry) Bind(ctx context.Context, env *Env, caller Caller, def *Def, raw Raw, strict bool) (Values, error) {
	if def.Operator && !caller.Operator {
		return nil, Errorf(Forbidden, ReasonOperatorOnly, "", "%s acts on the whole server; only the operator may call it", def.Name)
	}
	args := def.ArgsIn(caller.Dialect)
	for _, a := range args {
		vs := raw[a.WireName(caller.Dialect)]
		if !a.Optional && (len(vs) == 0 || vs[0] == "") {
			reason := ReasonMissing
			if a.MissingAs != "" {
				reason = a.MissingAs
			}
			return nil, &Error{Kind: Invalid, Reason: reason, Arg: a.Name, Msg: "missing argument " + a.WireName(caller.Dialect)}
		}
	}
	if strict {
		known := map[string]bool{}
		for _, a := range args {
			known[a.WireName(caller.Dialect)] = true
		}
		for name, vs := range raw {
			if !known[name] {
				return nil, &Error{Kind: Invalid, Reason: ReasonUnknownArg, Arg: name, Msg: "unknown argument " + name}
			}
			if len(vs) > 1 {
				return nil, &Error{Kind: Invalid, Reason: ReasonDuplicateArg, Arg: name, Msg: "argument given twice: " + name}
			}
		}
	}
	out := Values{}
	for _, a := range args {
		vs := raw[a.WireName(caller.Dialect)]
		if len(vs) == 0 || (a.Optional && vs[0] == "") {
			continue
		}
		v, err := coerce(ctx, env, caller, a, vs[0])
		if err != nil {
			return nil, err
		}
		out[a.Name] = v
	}
	return out, nil
}

// parseList reads a List argument: a JSON array of strings (how the
// ejabberd dialect passes one on) or text separated by Sep (default ",":
// query strings, the CLI), items trimmed and empty ones dropped.
func parseList(a Arg, s string) ([]string, error) {
	out := []string{}
	if strings.HasPrefix(strings.TrimSpace(s), "[") {
		var items []string
		if err := json.Unmarshal([]byte(s), &items); err != nil {
			return nil, malformed(a, "not a list of strings")
		}
		for _, it := range items {
			if !utf8.ValidString(it) {
				return nil, malformed(a, "not valid UTF-8")
			}
			out = append(out, it)
		}
		return out, nil
	}
	if !utf8.ValidString(s) {
		return nil, malformed(a, "not valid UTF-8")
	}
	sep := a.Sep
	if sep == "" {
		sep = ","
	}
	for _, it := range strings.Split(s, sep) {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out, nil
}

func malformed(a Arg, msg string) *Error {
	return &Error{Kind: Invalid, Reason: ReasonMalformed, Arg: a.Name, Msg: msg}
}

func coerce(ctx context.Context, env *Env, caller Caller, a Arg, s string) (any, error) {
	switch a.Type {
	case String:
		if !utf8.ValidString(s) {
			return nil, malformed(a, "not valid UTF-8")
		}
		return s, nil
	case Int:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return nil, malformed(a, "not an integer")
		}
		return n, nil
	case Localpart:
		u, err := NormalizeLocalpart(s)
		if err != nil {
			return nil, malformed(a, err.Error())
		}
		return u, nil
	case Password:
		if len(s) > MaxPasswordBytes {
			return nil, malformed(a, "longer than 1024 bytes")
		}
		if _, err := credential.Prepare(s); err != nil {
			return nil, malformed(a, "not allowed by the OpaqueString profile of RFC 8265")
		}
		return s, nil
	case Token:
		return strings.TrimSpace(s), nil
	case List:
		return parseList(a, s)
	case Domain:
		fqdn, err := NormalizeDomain(s)
		if err != nil {
			return nil, &Error{Kind: Invalid, Reason: ReasonUnknownDomain, Arg: a.Name, Msg: err.Error()}
		}
		d, err := env.Store.DomainByFQDN(ctx, fqdn)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !caller.Owns(d.AccountID)) {
			// Another account's domain looks exactly like an unknown one.
			return nil, &Error{Kind: Invalid, Reason: ReasonUnknownDomain, Arg: a.Name, Msg: "not a domain of this account"}
		}
		if err != nil {
			return nil, err
		}
		return d, nil
	}
	return nil, malformed(a, "unsupported type")
}
