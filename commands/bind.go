package commands

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// MaxPasswordBytes bounds a password; longer ones are malformed.
const MaxPasswordBytes = 1024

// Raw is a request's text arguments by wire name (query strings, forms,
// path segments, positional CLI arguments); a name given more than once has
// several values, and the first counts.
type Raw map[string][]string

// Field is one argument of a JSON object as given: its wire name and its
// value, still JSON.
type Field struct {
	Name  string
	Value json.RawMessage
}

// Input is what a dialect hands the binder: the arguments of one request,
// decoded from its wire form but not checked.
type Input struct {
	Text Raw
	// JSON are the members of a JSON object body in request order,
	// duplicates kept. A member given both as text and as JSON is the
	// JSON one.
	JSON []Field
	// Strict is ejabberd's format_args: an argument given twice or not
	// taken by the command is an error, a JSON null is a value of the
	// wrong type (elsewhere it is no value), and the JSON types are
	// checked, argument by argument, before anything else.
	Strict bool
}

// given is one argument as the request has it: absent, text or JSON.
type given struct {
	present bool
	text    string
	json    json.RawMessage // nil for text
}

func (in Input) lookup(wire string) given {
	for _, f := range in.JSON {
		if f.Name == wire {
			if !in.Strict && string(bytes.TrimSpace(f.Value)) == "null" {
				break
			}
			return given{present: true, json: f.Value}
		}
	}
	if vs := in.Text[wire]; len(vs) > 0 {
		return given{present: true, text: vs[0]}
	}
	return given{}
}

// empty reports whether a given value is the empty string, which a
// required argument may not be. For a JSON value only a string argument
// can be empty: "" given for a list is a one-item list.
func (g given) empty(a Arg, version int) bool {
	if g.json == nil {
		return g.text == ""
	}
	var s string
	return JSONType(a, version) == "binary" && json.Unmarshal(g.json, &s) == nil && s == ""
}

// Bind checks and converts a request's arguments for def, in an order that
// makes every dialect report the same first problem: first the request's
// shape (see Shape); then each required argument given empty; then each
// argument's value in declaration order (normalised, parsed, checked
// against the store). Outside strict mode unknown arguments are ignored
// (DreamHost clients send extras such as username on every call).
func (r *Registry) Bind(ctx context.Context, env *Env, caller Caller, def *Def, in Input) (Values, error) {
	if def.Operator && !caller.Operator {
		return nil, Errorf(Forbidden, ReasonOperatorOnly, "", "%s acts on the whole server; only the operator may call it", def.Name)
	}
	args, err := shape(def, caller, in)
	if err != nil {
		return nil, err
	}
	if in.Strict {
		for _, a := range args {
			if g := in.lookup(a.WireName(caller.Dialect)); !a.Optional && g.empty(a, caller.Version) {
				return nil, missing(a, a.WireName(caller.Dialect))
			}
		}
	}
	out := Values{}
	for _, a := range args {
		g := in.lookup(a.WireName(caller.Dialect))
		// An optional argument given as empty text is absent (forms and
		// query strings have no other way to leave it out), and so in
		// strict mode is one given as ""; a JSON body otherwise says what
		// it means.
		if !g.present || a.Optional && (g.json == nil || in.Strict) && g.empty(a, caller.Version) {
			continue
		}
		s := g.text
		if g.json != nil {
			v, err := fromJSON(a, caller.Version, g.json)
			if err != nil {
				return nil, err
			}
			switch v := v.(type) {
			case []string, bool:
				out[a.Name] = v
				continue
			case string:
				s = v
			}
		}
		v, err := coerce(ctx, env, caller, a, s)
		if err != nil {
			return nil, err
		}
		out[a.Name] = v
	}
	return out, nil
}

// Shape checks what a request says without looking at any value: in
// strict mode no argument given twice; each declared argument in order
// present if required (outside strict mode, also not empty) and, strict, of
// its JSON type; in strict mode no argument the command does not take. It
// is Bind's first step, which the ejabberd dialect also runs before its
// permission check, as ejabberd's format_args does.
func (r *Registry) Shape(def *Def, caller Caller, in Input) error {
	_, err := shape(def, caller, in)
	return err
}

func shape(def *Def, caller Caller, in Input) ([]Arg, error) {
	args := def.argsFor(caller)
	if in.Strict {
		seen := map[string]bool{}
		for _, f := range in.JSON {
			if seen[f.Name] {
				return nil, &Error{Kind: Invalid, Reason: ReasonDuplicateArg, Arg: f.Name, Msg: "argument given twice: " + f.Name}
			}
			seen[f.Name] = true
		}
	}
	for _, a := range args {
		wire := a.WireName(caller.Dialect)
		g := in.lookup(wire)
		if !a.Optional && (!g.present || !in.Strict && g.empty(a, caller.Version)) {
			return nil, missing(a, wire)
		}
		if in.Strict && g.json != nil {
			if _, err := fromJSON(a, caller.Version, g.json); err != nil {
				return nil, err
			}
		}
	}
	if in.Strict {
		if unknown := unknownArgs(args, caller.Dialect, in); len(unknown) > 0 {
			return nil, &Error{Kind: Invalid, Reason: ReasonUnknownArg, Arg: unknown[0], Names: unknown,
				Msg: "unknown arguments: " + strings.Join(unknown, ", ")}
		}
	}
	return args, nil
}

func missing(a Arg, wire string) *Error {
	reason := ReasonMissing
	if a.MissingAs != "" {
		reason = a.MissingAs
	}
	return &Error{Kind: Invalid, Reason: reason, Arg: a.Name, Msg: "missing argument " + wire}
}

// unknownArgs lists, in request order, the arguments the command does not
// take.
func unknownArgs(args []Arg, d Dialect, in Input) []string {
	takes := map[string]bool{}
	for _, a := range args {
		takes[a.WireName(d)] = true
	}
	var out []string
	for _, f := range in.JSON {
		if !takes[f.Name] {
			out = append(out, f.Name)
		}
	}
	var text []string
	for name := range in.Text {
		if !takes[name] {
			text = append(text, name)
		}
	}
	sort.Strings(text) // a map has no request order
	return append(out, text...)
}

// JSONType names the JSON type an argument takes in API version v, as
// ejabberd's format_arg names it: integer, list, boolean, string (a list
// still given as one separated string) or binary (any other string).
func JSONType(a Arg, v int) string {
	switch {
	case a.Type == Int && a.EjabberdIntSince > 0 && v < a.EjabberdIntSince:
		return "binary"
	case a.Type == Int:
		return "integer"
	case a.Type == Bool:
		return "boolean"
	case a.Type == List && a.EjabberdListSince > 0 && v < a.EjabberdListSince:
		return "string"
	case a.Type == List:
		return "list"
	}
	return "binary"
}

// fromJSON reads a JSON value of a's type in API version v: a string (the
// text the binder then normalises), a []string or a bool. Integers also
// come as decimal strings (ejabberd 25.10), so GET can pass them; a list
// may come as one string, a one-item list (ejabberd 25.10), or before
// Arg.EjabberdListSince as items separated by Sep.
func fromJSON(a Arg, v int, raw json.RawMessage) (any, error) {
	var s string
	isString := len(raw) > 0 && raw[0] == '"' && json.Unmarshal(raw, &s) == nil
	switch want := JSONType(a, v); want {
	case "integer":
		if isString {
			if _, err := strconv.ParseInt(s, 10, 64); err == nil {
				return s, nil
			}
		} else {
			var n json.Number
			d := json.NewDecoder(bytes.NewReader(raw))
			d.UseNumber()
			if d.Decode(&n) == nil {
				if _, err := strconv.ParseInt(n.String(), 10, 64); err == nil {
					return n.String(), nil
				}
			}
		}
	case "boolean":
		var b bool
		if json.Unmarshal(raw, &b) == nil {
			return b, nil
		}
	case "string":
		if isString {
			return splitList(a, s), nil
		}
	case "list":
		if a.Pairs[0] != "" && len(raw) > 0 && (raw[0] == '[' || raw[0] == '{') {
			return pairsFromJSON(a, raw)
		}
		if isString && a.Pairs[0] == "" {
			return []string{s}, nil
		}
		var items []string
		if len(raw) > 0 && raw[0] == '[' && json.Unmarshal(raw, &items) == nil {
			for _, it := range items {
				if !utf8.ValidString(it) {
					return nil, malformed(a, "not valid UTF-8")
				}
			}
			if items == nil {
				items = []string{}
			}
			return items, nil
		}
	default:
		if isString {
			return s, nil
		}
	}
	return nil, &Error{Kind: Invalid, Reason: ReasonWrongType, Arg: a.Name, Msg: a.Name + " must be " + article(JSONType(a, v))}
}

func article(jsonType string) string {
	switch jsonType {
	case "integer":
		return "an integer"
	case "list":
		return "a list"
	case "boolean":
		return "a boolean"
	}
	return "a string"
}

// splitList splits text separated by a's Sep (default ","), items trimmed
// and empty ones dropped.
func splitList(a Arg, s string) []string {
	sep := a.Sep
	if sep == "" {
		sep = ","
	}
	out := []string{}
	for _, it := range strings.Split(s, sep) {
		if it = strings.TrimSpace(it); it != "" {
			out = append(out, it)
		}
	}
	return out
}

// parseList reads a List argument given as text: a JSON array of strings
// or items separated by Sep (default ",": query strings, the CLI).
func parseList(a Arg, s string) ([]string, error) {
	if a.Pairs[0] != "" {
		if t := strings.TrimSpace(s); strings.HasPrefix(t, "[") || strings.HasPrefix(t, "{") {
			return pairsFromJSON(a, json.RawMessage(t))
		}
		out := []string{}
		for _, it := range splitList(a, s) {
			first, second, _ := strings.Cut(it, "=")
			if !utf8.ValidString(it) || strings.ContainsRune(it, 0) {
				return nil, malformed(a, "not valid UTF-8")
			}
			out = append(out, PairItem(first, second))
		}
		return out, nil
	}
	if strings.HasPrefix(strings.TrimSpace(s), "[") {
		var items []string
		if err := json.Unmarshal([]byte(s), &items); err != nil {
			return nil, malformed(a, "not a list of strings")
		}
		out := []string{}
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
	return splitList(a, s), nil
}

// PairItem is how a bound Pairs argument holds one item: its two fields
// joined by NUL, which neither may contain.
func PairItem(first, second string) string { return first + "\x00" + second }

// SplitPair is the inverse of PairItem.
func SplitPair(item string) (first, second string) {
	first, second, _ = strings.Cut(item, "\x00")
	return first, second
}

// pairsFromJSON reads a Pairs argument: an array of objects with a's two
// fields (strings) or of first=second texts, or one object whose members
// are the pairs in order.
func pairsFromJSON(a Arg, raw json.RawMessage) ([]string, error) {
	bad := &Error{Kind: Invalid, Reason: ReasonWrongType, Arg: a.Name, Msg: a.Name + " must be a list"}
	out := []string{}
	ok := func(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
	if raw[0] == '{' {
		d := json.NewDecoder(bytes.NewReader(raw))
		if t, err := d.Token(); err != nil || t != json.Delim('{') {
			return nil, bad
		}
		for d.More() {
			k, err := d.Token()
			var v string
			if err != nil || d.Decode(&v) != nil || !ok(k.(string)) || !ok(v) {
				return nil, bad
			}
			out = append(out, PairItem(k.(string), v))
		}
		return out, nil
	}
	// Text items (first=second) in an array: how ctl sends a list.
	var texts []string
	if json.Unmarshal(raw, &texts) == nil {
		for _, t := range texts {
			first, second, found := strings.Cut(t, "=")
			if !found || !ok(t) {
				return nil, bad
			}
			out = append(out, PairItem(first, second))
		}
		return out, nil
	}
	var items []map[string]string
	if json.Unmarshal(raw, &items) != nil {
		return nil, bad
	}
	for _, it := range items {
		first, ok1 := it[a.Pairs[0]]
		second, ok2 := it[a.Pairs[1]]
		if !ok1 || !ok2 || len(it) != 2 || !ok(first) || !ok(second) {
			return nil, bad
		}
		out = append(out, PairItem(first, second))
	}
	return out, nil
}

func malformed(a Arg, msg string) *Error {
	return &Error{Kind: Invalid, Reason: ReasonMalformed, Arg: a.Name, Msg: msg}
}

// coerce converts one text value by a's type.
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
	case Bool:
		switch strings.ToLower(strings.TrimSpace(s)) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, malformed(a, a.Name+" must be a boolean")
	case Localpart:
		u, err := NormalizeLocalpart(s)
		if err != nil {
			return nil, malformed(a, err.Error())
		}
		return u, nil
	case Password:
		if s == "" {
			// A given password that is empty is no password.
			return nil, missing(a, a.WireName(caller.Dialect))
		}
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
