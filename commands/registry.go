// Package commands is xmppgate's command registry: one declarative Def per
// command, from which every dialect, the CLI and docs/ are driven.
//
// A dialect turns its request into a command name and raw arguments, asks the
// registry for the Def, binds the arguments (Bind checks presence, types and
// normalisation once for all dialects) and calls the handler. Handlers return
// plain values (a Table, a queue.Queued receipt, a string) that each dialect
// renders in its own format, and *Error values that each dialect maps to its
// own codes.
package commands

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// Dialect names a front end.
type Dialect string

// The front ends.
const (
	DreamHost Dialect = "dreamhost"
	Ejabberd  Dialect = "ejabberd"
	Openfire  Dialect = "openfire"
	REST      Dialect = "rest"
	// OpenfireREST is the Openfire User Service 2.x / restAPI plugin REST
	// form; its command names are "METHOD route" (commands/openfirerest).
	OpenfireREST Dialect = "openfirerest"
)

// Type is an argument's type; Bind coerces and normalises by it.
type Type int

// Argument types.
const (
	String    Type = iota
	Int            // decimal integer
	Localpart      // a JID localpart, PRECIS UsernameCaseMapped (RFC 8265, RFC 7622)
	Domain         // a domain of the caller's accounts (an ownership check)
	Password       // PRECIS OpaqueString-valid secret
	Token          // a queue token
	List           // a list of strings: a JSON array of strings, or comma-separated text
)

func (t Type) String() string {
	return [...]string{"string", "integer", "localpart", "domain", "password", "token", "list"}[t]
}

// Arg declares one argument.
type Arg struct {
	Name     string // registry name; also the wire name unless Names says otherwise
	Type     Type
	Optional bool
	Secret   bool // redacted in logs and audit
	Doc      string
	// MissingAs, if set, is the Reason reported when the argument is absent
	// (services-progress answers invalid_token, DreamHost has no no_token).
	MissingAs Reason
	// Dialects, if set, limits the argument to these dialects (Openfire's
	// name and email of add_user, say); elsewhere it does not exist.
	Dialects []Dialect
	// Names maps a dialect to this argument's wire name there.
	Names map[Dialect]string
	// EjSince and EjUntil bound the ejabberd API versions that take the
	// argument: from EjSince on, before EjUntil (0: no bound). ejabberd 24.02
	// (v1) changed some arguments' names and types (add_rosteritem's group
	// string became the groups list).
	EjSince, EjUntil int
	// Sep separates a List argument's items given as text (default ",").
	Sep string
	// EjabberdListSince, for a List: the ejabberd API version from which
	// it is a JSON array under the same wire name; in earlier versions it is
	// a string of items separated by Sep (oauth_issue_token's scopes: "a;b"
	// in v0, a list in v1). EjSince/EjUntil are for a change of name.
	EjabberdListSince int
}

// InEjabberd reports whether the argument exists in ejabberd API version v.
func (a Arg) InEjabberd(v int) bool {
	return v >= a.EjSince && (a.EjUntil == 0 || v < a.EjUntil)
}

// In reports whether the argument exists in dialect d.
func (a Arg) In(d Dialect) bool {
	if a.Dialects == nil {
		return true
	}
	for _, x := range a.Dialects {
		if x == d {
			return true
		}
	}
	return false
}

// ArgsIn lists the arguments def takes in dialect d.
func (d *Def) ArgsIn(dialect Dialect) []Arg {
	var out []Arg
	for _, a := range d.Args {
		if a.In(dialect) {
			out = append(out, a)
		}
	}
	return out
}

// WireName is the argument's name in dialect d.
func (a Arg) WireName(d Dialect) string {
	if n, ok := a.Names[d]; ok {
		return n
	}
	return a.Name
}

// ResultKind is the shape of a command's result.
type ResultKind int

// Result shapes.
const (
	// ResultTable: a Table with the declared Columns.
	ResultTable ResultKind = iota
	// ResultToken: a queue.Queued receipt; DreamHost shows it as a one-column
	// "token" table, synchronous dialects wait for it to be applied.
	ResultToken
	// ResultScalar: one string.
	ResultScalar
)

// Result declares what a command returns.
type Result struct {
	Kind    ResultKind
	Columns []string // ResultTable
}

// Def is the single definition of a command.
type Def struct {
	Name    string // registry name; also the kind of its queued changes, so keep it stable
	Doc     string
	Args    []Arg
	Result  Result
	Mutates bool
	// Names is the command's name in each dialect that offers it.
	Names map[Dialect]string
	// AllKeysOnly: only a DreamHost key allowed every command ("*") may call it.
	AllKeysOnly bool
	// AlwaysAllowed: every valid key may call it (api-list_accessible_cmds).
	AlwaysAllowed bool
	Handle        func(ctx context.Context, c *Call) (any, error)
	// Prepare (optional) and Apply are how the worker applies this command's
	// queued changes; see queue.Applier.
	Prepare func(ctx context.Context, env *Env, w *queue.Work) error
	Apply   func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error
	// ApplyAtomic: Apply makes at most one write (see queue.Applier.Atomic).
	ApplyAtomic bool
	// Ejabberd is how the ejabberd dialect encodes the result; nil for a
	// command it offers only to refuse.
	Ejabberd *EjabberdResult
	// Operator: only the server's operator may call it (server-wide
	// commands such as stop or backup; see Caller.Operator).
	Operator bool
}

// withEjabberd sets a constructed Def's ejabberd result.
func withEjabberd(r *EjabberdResult, d *Def) *Def {
	d.Ejabberd = r
	return d
}

// Columns returns the result columns as a dialect lists them.
func (d *Def) Columns() []string {
	if d.Result.Kind == ResultToken {
		return []string{"token"}
	}
	return d.Result.Columns
}

// Registry is the immutable command table.
type Registry struct {
	defs   []*Def
	byName map[string]*Def
	byWire map[Dialect]map[string]*Def
}

// New builds a registry, rejecting duplicate or malformed definitions.
func New(defs ...*Def) (*Registry, error) {
	r := &Registry{byName: map[string]*Def{}, byWire: map[Dialect]map[string]*Def{}}
	for _, d := range defs {
		if d.Name == "" || d.Handle == nil {
			return nil, fmt.Errorf("commands: definition %q lacks a name or handler", d.Name)
		}
		if _, dup := r.byName[d.Name]; dup {
			return nil, fmt.Errorf("commands: duplicate command %q", d.Name)
		}
		if d.Mutates != (d.Apply != nil) {
			return nil, fmt.Errorf("commands: %q: a mutating command needs Apply, and only it", d.Name)
		}
		seen := map[string]bool{}
		for _, a := range d.Args {
			if seen[a.Name] {
				return nil, fmt.Errorf("commands: %q: duplicate argument %q", d.Name, a.Name)
			}
			seen[a.Name] = true
		}
		r.byName[d.Name] = d
		for dialect, wire := range d.Names {
			m := r.byWire[dialect]
			if m == nil {
				m = map[string]*Def{}
				r.byWire[dialect] = m
			}
			if _, dup := m[wire]; dup {
				return nil, fmt.Errorf("commands: duplicate %s command %q", dialect, wire)
			}
			m[wire] = d
		}
		r.defs = append(r.defs, d)
	}
	return r, nil
}

// MustNew is New that panics: the table is static, so an error is a bug.
func MustNew(defs ...*Def) *Registry {
	r, err := New(defs...)
	if err != nil {
		panic(err)
	}
	return r
}

// Lookup finds a command by its name in dialect d.
func (r *Registry) Lookup(d Dialect, wire string) (*Def, bool) {
	def, ok := r.byWire[d][wire]
	return def, ok
}

// Dialect lists the commands offered in dialect d, sorted by wire name.
func (r *Registry) Dialect(d Dialect) []*Def {
	var out []*Def
	for _, def := range r.defs {
		if _, ok := def.Names[d]; ok {
			out = append(out, def)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Names[d] < out[j].Names[d] })
	return out
}

// Defs lists every definition in table order.
func (r *Registry) Defs() []*Def { return r.defs }

// Appliers returns the worker's appliers, keyed by change command.
func (r *Registry) Appliers(env *Env) map[string]queue.Applier {
	m := map[string]queue.Applier{}
	for _, d := range r.defs {
		if d.Apply == nil {
			continue
		}
		a := queue.Applier{Atomic: d.ApplyAtomic, Apply: func(ctx context.Context, tx *store.Tx, w *queue.Work) error { return d.Apply(ctx, env, tx, w) }}
		if d.Prepare != nil {
			a.Prepare = func(ctx context.Context, w *queue.Work) error { return d.Prepare(ctx, env, w) }
		}
		m[d.Name] = a
	}
	return m
}

// Grants is a DreamHost key's list of command patterns: "*", "<module>-*" or
// an exact command.
type Grants []string

// All reports whether the key may call every command.
func (g Grants) All() bool {
	for _, p := range g {
		if p == "*" {
			return true
		}
	}
	return false
}

// Allows reports whether cmd matches a pattern (case-insensitively).
func (g Grants) Allows(cmd string) bool {
	cmd = strings.ToLower(cmd)
	for _, p := range g {
		p = strings.ToLower(strings.TrimSpace(p))
		switch {
		case p == "*", p == cmd:
			return true
		case strings.HasSuffix(p, "-*") && strings.HasPrefix(cmd, p[:len(p)-1]):
			return true
		}
	}
	return false
}

// ValidGrant reports whether p is a well-formed pattern.
func ValidGrant(p string) bool {
	if p == "*" {
		return true
	}
	mod, rest, ok := strings.Cut(p, "-")
	if !ok || mod == "" || rest == "" || strings.Contains(mod, "*") {
		return false
	}
	for _, c := range p {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' || c == '*') {
			return false
		}
	}
	return rest == "*" || !strings.Contains(rest, "*")
}
