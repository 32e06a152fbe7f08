package commands

import (
	"context"
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
	refusedErlang   = "there is no Erlang node, cluster or module system in xmppgate"
	refusedMnesia   = "there is no Mnesia database in xmppgate (its data is in SQLite)"
	refusedMAM      = "xmppgate keeps no message archive (XEP-0313)"
	refusedPubSub   = "xmppgate has no PubSub service"
	refusedPush     = "xmppgate has no push notification sessions (XEP-0357)"
	refusedMUC      = "xmppgate has no MUC service yet"
	refusedACME     = "xmppgate does not manage TLS certificates"
	refusedSCRAM    = "passwords are always stored as SCRAM keys"
	refusedSQL      = "there is no ejabberd SQL schema in xmppgate"
	refusedS2S      = "xmppgate does not federate (no s2s)"
	refusedLater    = "not implemented yet"
	refusedYAML     = "xmppgate's configuration is YAML already; there is no Erlang configuration to convert"
	refusedFail2ban = "xmppgate does not ban IP addresses (no mod_fail2ban)"
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
	// EjTuple: a Table of one row, one object keyed by the columns, never wrapped.
	EjTuple
)

// EjabberdResult declares a command's ejabberd result.
type EjabberdResult struct {
	Kind EjabberdKind
	Name string // the result's name: the v0 wrapper key
	// Text, if set, makes the restuple answer from the raw arguments (by
	// ejabberd wire name) and the handler's result.
	Text func(raw map[string]string, res any) string
	// Join, if set, turns the list cells ([]string) of a Table result
	// into one string with this separator.
	Join string
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

// EjabberdResultOf returns the ejabberd result declaration of a registry
// command; ok is false for a command the ejabberd dialect refuses.
func EjabberdResultOf(def *Def) (EjabberdResult, bool) {
	if def == nil || def.Ejabberd == nil {
		return EjabberdResult{}, false
	}
	return *def.Ejabberd, true
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

// refusedDefs makes a Def for every command of the reference that defs
// do not implement: it answers why (the reference row's Refused reason).
func refusedDefs(defs []*Def) []*Def {
	implemented := map[string]bool{}
	for _, d := range defs {
		if n, ok := d.Names[Ejabberd]; ok && d.Ejabberd != nil {
			implemented[n] = true
		}
	}
	var out []*Def
	for _, c := range ejabberdCommands {
		if implemented[c.Name] {
			continue
		}
		why := c.Refused
		if why == "" {
			why = refusedLater
		}
		out = append(out, &Def{
			Name:  "ejabberd_" + c.Name,
			Doc:   "Refused: " + why + ".",
			Names: map[Dialect]string{Ejabberd: c.Name},
			Handle: func(context.Context, *Call) (any, error) {
				return nil, Errorf(NotImplemented, ReasonRefused, "", "%s: %s", c.Name, why)
			},
		})
	}
	return out
}

// ejabberdDefs are the commands the ejabberd admin API introduced, family
// by family; register and unregister are AddUser and RemoveUser. All()
// adds a refusing Def for every other command of the reference.
var ejabberdDefs = concat(
	[]*Def{ChangePassword, CheckAccount, CheckPassword, CheckPasswordHash, BanAccount, RegisteredUsers, RegisteredVhosts},
	[]*Def{ConnectedUsers, ConnectedUsersInfo, ConnectedUsersNumber, ConnectedUsersVhost, KickUser, KickSession,
		UserResources, UserSessionsInfo, NumResources, ResourceNum, ServerStatus, StatusNum, StatusNumHost},
	[]*Def{AddRosteritem, DeleteRosteritem, GetRoster, PushAlltoall, ProcessRosteritems, PushRoster, PushRosterAll},
	[]*Def{SendMessage, SendStanza, SendStanzaC2S, GetPresence, SetPresence, StatusList, StatusListHost},
	[]*Def{Stats, StatsHost, IncomingS2SNumber, OutgoingS2SNumber, ReloadConfig, SetLoglevel, GetLoglevel, ReopenLog, RotateLog,
		Stop, Restart, StopKindly, DumpConfig},
	[]*Def{GenMarkdownDocForCommands, GenHTMLDocForCommands, GenMarkdownDocForTags, Man},
	ejabberdVcardDefs, ejabberdUserdataDefs, ejabberdPurgeDefs,
	ejabberdSrgDefs,
	[]*Def{Backup, Restore, Dump, Load, ExportPiefxis, ExportPiefxisHost, ImportPiefxis, ImportProsody},
	ejabberdOAuthDefs,
)

func concat(families ...[]*Def) []*Def {
	var out []*Def
	for _, f := range families {
		out = append(out, f...)
	}
	return out
}
