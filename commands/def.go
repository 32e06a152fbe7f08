package commands

import (
	"context"

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
	// Console is the operator's web console (commands/console); its
	// command names are the registry's.
	Console Dialect = "console"
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
	Bool           // true or false
)

func (t Type) String() string {
	return [...]string{"string", "integer", "localpart", "domain", "password", "token", "list", "boolean"}[t]
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
	// Pairs, for a List: the names of the two fields of each item, which
	// ejabberd takes as a list of tuples (create_room_with_opts' options
	// {name, value}). A JSON array of such objects, or one object of
	// name/value members, binds as items PairItem joined; as text each
	// item is first=second.
	Pairs [2]string
	// EjabberdListSince, for a List: the ejabberd API version from which
	// it is a JSON array under the same wire name; in earlier versions it is
	// a string of items separated by Sep (oauth_issue_token's scopes: "a;b"
	// in v0, a list in v1). EjSince/EjUntil are for a change of name.
	EjabberdListSince int
	// EjabberdIntSince, for an Int: the ejabberd API version from which it
	// is a JSON integer; in earlier versions ejabberd declares it binary
	// and takes only a string holding the decimal (set_presence's priority:
	// "5" in v0, 5 from v1).
	EjabberdIntSince int
	// EjabberdOptional says a request through the ejabberd API may leave the
	// argument out. ejabberd 23.01 requires every argument of a command
	// ("Request have missing argument"), whatever Optional says for the
	// other dialects, except those its documentation lets clients omit
	// (add_rosteritem's nick and group) and the optional ones of
	// xmppgate's own commands. `xmppgate ctl` may still leave out trailing
	// Optional ones.
	EjabberdOptional bool
	// Path says the argument names a file or directory on the server's
	// host: `xmppgate ctl` makes a relative one absolute against the shell's
	// working directory, as ejabberdctl users expect.
	Path bool
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

// argsFor lists the arguments def takes from caller: those of its dialect
// and, in the ejabberd API, of its version.
func (d *Def) argsFor(c Caller) []Arg {
	var out []Arg
	for _, a := range d.ArgsIn(c.Dialect) {
		if c.Dialect != Ejabberd || a.InEjabberd(c.Version) {
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

// ResultKind says what a command answers, whatever the dialect: each front
// end decides how that is spelled on its wire (a DreamHost table, an
// ejabberd rescode or v0-wrapped integer, a REST object, ...).
type ResultKind int

// Result kinds, and the Go value a handler returns for each.
const (
	// ResultTable: a Table with the declared Columns.
	ResultTable ResultKind = iota
	// ResultRow: a Table of exactly one row with the declared Columns.
	ResultRow
	// ResultToken: a Receipt of a queued change; synchronous dialects wait
	// until it is applied. A handler that finds nothing to queue answers a
	// Status instead.
	ResultToken
	// ResultStatus: a Status, whether the command did what was asked.
	ResultStatus
	// ResultMessage: a string written for people ("User a@b successfully
	// registered"), "" when there is nothing to say.
	ResultMessage
	// ResultNumber: an int64.
	ResultNumber
	// ResultString: a string value (a log level, a vCard field).
	ResultString
	// ResultList: a []string.
	ResultList
	// ResultRecord: a typed value of this package (DomainInfo, UserInfo,
	// ...), one record of what the command is about.
	ResultRecord
)

var resultKindNames = [...]string{"table", "row", "token", "status", "message", "number", "string", "list", "record"}

func (k ResultKind) String() string { return resultKindNames[k] }

// Result declares what a command returns.
type Result struct {
	Kind ResultKind
	// Name names the value (ejabberd's result name, which its API v0 also
	// uses as the key of an object wrapping a number or a string).
	Name    string
	Columns []string // ResultTable, ResultRow
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
	// Derive (optional) computes Prepare's slow part ahead, when the change
	// is queued; see queue.Applier.Derive.
	Derive func(ctx context.Context, env *Env, w *queue.Work) ([]byte, error)
	Apply  func(ctx context.Context, env *Env, tx *store.Tx, w *queue.Work) error
	// ApplyAtomic: Apply makes at most one write (see queue.Applier.Atomic).
	ApplyAtomic bool
	// ApplyRun (optional) applies consecutive changes of the command at
	// once; see queue.Applier.ApplyRun.
	ApplyRun func(ctx context.Context, env *Env, tx *store.Tx, run []*queue.Work) ([]error, error)
	// Operator: only the server's operator may call it (server-wide
	// commands such as stop or backup; see Caller.Operator).
	Operator bool
}

// Columns returns the result columns as a dialect lists them.
func (d *Def) Columns() []string {
	if d.Result.Kind == ResultToken {
		return []string{"token"}
	}
	return d.Result.Columns
}
