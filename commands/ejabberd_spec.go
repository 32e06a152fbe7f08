package commands

import (
	"context"
	"fmt"
	"strings"
)

// EjabberdCommand is one command of the ejabberd API reference: its wire
// name, its tags (for api-permission patterns like "[tag:accounts]") and, if
// xmppgate does not offer it, why. A refused command is still a registry
// Def: it answers its NotImplemented error, never a fake success.
type EjabberdCommand struct {
	Name    string
	Tags    []string
	Refused string
}

// Why commands are refused.
const (
	refusedErlang = "there is no Erlang node, cluster or module system in xmppgate"
	refusedMnesia = "there is no Mnesia database in xmppgate (its data is in SQLite)"
	refusedMAM    = "xmppgate keeps no message archive (XEP-0313)"
	refusedPubSub = "xmppgate has no PubSub service"
	refusedPush   = "xmppgate has no push notification sessions (XEP-0357)"
	refusedMUC    = "xmppgate has no MUC service yet"
	refusedACME   = "xmppgate does not manage TLS certificates"
	refusedSCRAM  = "passwords are always stored as SCRAM keys"
	refusedSQL    = "there is no ejabberd SQL schema in xmppgate"
	refusedS2S    = "xmppgate does not federate (no s2s)"
	refusedLater  = "not implemented yet"
)

// ReasonRefused: the command exists in the reference but xmppgate does not
// offer it (Kind NotImplemented; Msg says why).
const ReasonRefused Reason = "refused"

// Reasons of the ejabberd-shaped commands.
const (
	ReasonScrammed    Reason = "passwords_scrammed"  // no recoverable password copy to hash
	ReasonUnknownHash Reason = "unknown_hash_method" // check_password_hash's hashmethod
	ReasonOutOfRange  Reason = "out_of_range"        // resource_num's num
)

// EjabberdCommands lists every command of the reference, in its order.
func EjabberdCommands() []EjabberdCommand { return ejabberdCommands }

// EjabberdKind is how the ejabberd dialect encodes a result
// (mod_http_api's format_result).
type EjabberdKind int

// Result encodings.
const (
	// EjRescode: 0 for success, 1 otherwise (a Rescode, or 0 for a receipt).
	EjRescode EjabberdKind = iota
	// EjRestuple: a JSON string, never wrapped (a string, or Text of a receipt).
	EjRestuple
	// EjInteger: an int64, wrapped as {"<Name>": n} in API v0.
	EjInteger
	// EjString: a string, wrapped as {"<Name>": s} in API v0.
	EjString
	// EjList: a []string, a JSON array.
	EjList
	// EjTuples: a Table, an array of objects keyed by the columns.
	EjTuples
)

// EjabberdResult declares a command's ejabberd result.
type EjabberdResult struct {
	Kind EjabberdKind
	Name string // the result's name: the v0 wrapper key
	// Text, if set, makes the restuple answer from the raw arguments (by
	// ejabberd wire name) and the handler's result.
	Text func(raw map[string]string, res any) string
	// Later lists the shapes of later API versions, oldest first.
	Later []EjabberdVersion
}

// EjabberdVersion is a command's result from API version Since on.
type EjabberdVersion struct {
	Since  int
	Result EjabberdResult
}

// In returns the result declaration in force for API version v.
func (r EjabberdResult) In(v int) EjabberdResult {
	out := r
	for _, l := range r.Later {
		if l.Since <= v {
			out = l.Result
		}
	}
	return out
}

// Rescode is an ejabberd status code result: 0 success, 1 failure.
type Rescode int

// ejabberdResults declares the results of the implemented commands, by
// ejabberd name.
var ejabberdResults = map[string]EjabberdResult{
	"register": {Kind: EjRestuple, Name: "res", Text: func(a map[string]string, _ any) string {
		return fmt.Sprintf("User %s@%s successfully registered", a["user"], a["host"])
	}},
	"unregister":          {Kind: EjRestuple, Name: "res", Text: func(map[string]string, any) string { return "" }},
	"change_password":     {Kind: EjRescode, Name: "res"},
	"check_account":       {Kind: EjRescode, Name: "res"},
	"check_password":      {Kind: EjRescode, Name: "res"},
	"check_password_hash": {Kind: EjRescode, Name: "res"},
	"ban_account":         {Kind: EjRescode, Name: "res"},
	"registered_users":    {Kind: EjList, Name: "users"},
	"registered_vhosts":   {Kind: EjList, Name: "vhosts"},

	"connected_users":        {Kind: EjList, Name: "connected_users"},
	"connected_users_info":   {Kind: EjTuples, Name: "connected_users_info"},
	"connected_users_number": {Kind: EjInteger, Name: "num_sessions"},
	"connected_users_vhost":  {Kind: EjList, Name: "connected_users_vhost"},
	"kick_user": {Kind: EjInteger, Name: "num_resources", Later: []EjabberdVersion{{Since: 2, Result: EjabberdResult{
		Kind: EjRestuple, Name: "res", Text: func(_ map[string]string, res any) string { return fmt.Sprintf("Kicked sessions: %d", res) }}}}},
	"kick_session":       {Kind: EjRescode, Name: "res"},
	"user_resources":     {Kind: EjList, Name: "resources"},
	"user_sessions_info": {Kind: EjTuples, Name: "sessions_info"},
	"num_resources":      {Kind: EjInteger, Name: "resources"},
	"resource_num":       {Kind: EjString, Name: "resource"},
	"status":             {Kind: EjRestuple, Name: "res"},
	"status_num":         {Kind: EjInteger, Name: "users"},
	"status_num_host":    {Kind: EjInteger, Name: "users"},
}

// EjabberdResultOf returns the result declaration of an ejabberd command.
func EjabberdResultOf(name string) (EjabberdResult, bool) {
	for _, family := range []map[string]EjabberdResult{ejabberdResults, ejabberdRosterResults} {
		if r, ok := family[name]; ok {
			return r, true
		}
	}
	return EjabberdResult{}, false
}

// EjabberdTags returns the reference's tags of an ejabberd command.
func EjabberdTags(name string) []string {
	for _, c := range ejabberdCommands {
		if c.Name == name {
			return c.Tags
		}
	}
	return nil
}

// EjabberdAllowed applies an api-permission pattern list to a command, as
// ejabberd's api_permissions "what" does: the command must match a positive
// pattern ("*", its name, "[tag:T]" for one of its tags) and no pattern
// prefixed with "!".
func EjabberdAllowed(what []string, name string, tags []string) bool {
	matches := func(p string) bool {
		if p == "*" || p == name {
			return true
		}
		if t, ok := strings.CutPrefix(p, "[tag:"); ok {
			t = strings.TrimSuffix(t, "]")
			for _, x := range tags {
				if x == t {
					return true
				}
			}
		}
		return false
	}
	allowed := false
	for _, p := range what {
		if neg, ok := strings.CutPrefix(p, "!"); ok {
			if matches(neg) {
				return false
			}
			continue
		}
		allowed = allowed || matches(p)
	}
	return allowed
}

// refusedDefs makes a Def for every refused command of the reference.
func refusedDefs() []*Def {
	var out []*Def
	for _, c := range ejabberdCommands {
		if c.Refused == "" {
			continue
		}
		c := c
		out = append(out, &Def{
			Name:  "ejabberd_" + c.Name,
			Doc:   "Refused: " + c.Refused + ".",
			Names: map[Dialect]string{Ejabberd: c.Name},
			Handle: func(context.Context, *Call) (any, error) {
				return nil, Errorf(NotImplemented, ReasonRefused, "", "%s: %s", c.Name, c.Refused)
			},
		})
	}
	return out
}

// ejabberdDefs are the commands the ejabberd admin API introduced (accounts
// and sessions families), then a refusing Def for every other command of the
// reference. register and unregister are AddUser and RemoveUser.
var ejabberdDefs = append([]*Def{
	ChangePassword, CheckAccount, CheckPassword, CheckPasswordHash, BanAccount, RegisteredUsers, RegisteredVhosts,
	ConnectedUsers, ConnectedUsersInfo, ConnectedUsersNumber, ConnectedUsersVhost, KickUser, KickSession,
	UserResources, UserSessionsInfo, NumResources, ResourceNum, ServerStatus, StatusNum, StatusNumHost,
	AddRosteritem, DeleteRosteritem, GetRoster, PushAlltoall, ProcessRosteritems,
}, refusedDefs()...)

// WithEjabberd returns All() plus the ejabberd commands that All does not
// list yet (for tests and BootstrapAdmin until main wires ejabberdDefs).
func WithEjabberd() []*Def {
	all := All()
	seen := map[*Def]bool{}
	for _, d := range all {
		seen[d] = true
	}
	for _, d := range ejabberdDefs {
		if !seen[d] {
			all = append(all, d)
		}
	}
	return all
}
