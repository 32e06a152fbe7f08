package commands

import (
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xmppgate/xmppgate/store"
)

// The rest of Openfire's restAPI plugin: client sessions (/sessions), the
// broadcast (/messages/users), system properties (/system/properties) and
// the security audit log (/logs/security). The credential names one domain
// (the front end binds it as domain), so each of them sees and touches only
// that domain: its sessions, its settings as properties, and the audit log
// of its account. docs/openfire.md lists the properties and the choices.

var openfireSystemDefs = []*Def{OpenfireSessionList, OpenfireUserSessionList, OpenfireSessionsClose, OpenfireBroadcast,
	OpenfirePropertyList, OpenfirePropertyGet, OpenfirePropertyCreate, OpenfirePropertyUpdate, OpenfirePropertyDelete,
	OpenfireSecurityLog}

// Reasons of the system endpoints.
const (
	ReasonNoProperty       Reason = "no_property"        // not a property this server maps (Openfire: PropertyNotFoundException)
	ReasonReadOnlyProperty Reason = "read_only_property" // a property that shows configuration the API may not change
)

// --- sessions

// ofSessionColumns are the SessionEntity's fields in the plugin's order.
var ofSessionColumns = []string{"sessionId", "username", "resource", "node", "sessionStatus", "presenceStatus",
	"presenceMessage", "priority", "hostAddress", "hostName", "creationDate", "lastActionDate", "secure"}

// ofPresence is a session's availability in the plugin's words. Openfire
// starts a session with an unavailable presence without show, which it
// reports as Online too.
func ofPresence(s Session) string {
	switch s.Show {
	case "":
		return "Online"
	case "away":
		return "Away"
	case "chat":
		return "Available to Chat"
	case "dnd":
		return "Do Not Disturb"
	case "xa":
		return "Extended Away"
	}
	return "Unknown/Not Recognized"
}

// ofSessionTable is sessions as SessionEntities. Every session here is
// bound, hence Authenticated, and held by this process (Local). hostName is
// the address: Openfire's reverse lookup per session would make a listing
// wait on DNS, and Java answers the address when there is no PTR record.
func ofSessionTable(ss []Session) Table {
	t := Table{Columns: ofSessionColumns, Rows: [][]any{}}
	for _, s := range ss {
		user := s.Username
		if s.Anonymous {
			user = "Anonymous"
		}
		status := ""
		if s.Available {
			status = s.Status
		}
		last := s.LastActive
		if last.IsZero() {
			last = s.Connected
		}
		node := "Local"
		if s.Remote {
			node = "Remote" // on another node of the cluster, as Openfire names it
		}
		t.Rows = append(t.Rows, []any{s.JID, user, s.Resource, node, "Authenticated", ofPresence(s), status,
			int64(s.Priority), s.IP, s.IP, s.Connected, last, s.TLS})
	}
	return t
}

// OpenfireSessionList is GET sessions.
var OpenfireSessionList = &Def{
	Name:   "openfire_session_list",
	Doc:    "Lists the live client sessions of the credential's domain, by full JID.",
	Args:   []Arg{argDomain},
	Result: Result{Kind: ResultTable, Columns: ofSessionColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET sessions"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		ss, err := sessions(ctx, c, c.Args.Domain("domain").FQDN, "")
		return ofSessionTable(ss), err
	},
}

// OpenfireUserSessionList is GET sessions/{username}.
var OpenfireUserSessionList = &Def{
	Name:   "openfire_user_session_list",
	Doc:    "Lists the user's live client sessions; none for a user who is offline or does not exist, as the plugin answers.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultTable, Columns: ofSessionColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET sessions/{username}"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		ss, err := userSessions(ctx, c)
		return ofSessionTable(ss), err
	},
}

// OpenfireSessionsClose is DELETE sessions/{username}.
var OpenfireSessionsClose = &Def{
	Name: "openfire_sessions_close",
	Doc: "Closes every live session of the user with a stream error (the plugin's kick) and says how many; " +
		"0 for a user who is offline or does not exist. The account stays active: the client may log in again.",
	Args:   []Arg{argUsername, argDomain},
	Result: Result{Kind: ResultNumber, Name: "sessions"},
	Names:  map[Dialect]string{OpenfireREST: "DELETE sessions/{username}"},
	Handle: openfireSessionsClose,
}

func openfireSessionsClose(ctx context.Context, c *Call) (any, error) {
	if c.Env.Live == nil {
		return int64(0), nil
	}
	d, user := c.Args.Domain("domain"), c.Args.String("username")
	n := c.Env.Live.Kick(d.FQDN, user, "", "Closed by the administrator")
	if n > 0 {
		err := c.Env.Store.Write(ctx, func(tx *store.Tx) error {
			return tx.Audit(ctx, d.AccountID, c.Caller.Actor, "openfire close sessions",
				user+"@"+d.FQDN+" ("+strconv.Itoa(n)+" sessions)")
		})
		if err != nil {
			return nil, err
		}
	}
	return int64(n), nil
}

// msgOFEmptyBody is the plugin's answer to a broadcast without text.
const msgOFEmptyBody = "Message content/body is null or empty"

// OpenfireBroadcast is POST messages/users.
var OpenfireBroadcast = &Def{
	Name: "openfire_broadcast",
	Doc: "Sends a message with body from the domain (as Openfire's server message, of type normal) to every live " +
		"session of the credential's domain; the users of other domains do not get it.",
	Args:   []Arg{argDomain, {Name: "body", Type: String, Optional: true, Doc: "The message's text; empty is refused."}},
	Result: Result{Kind: ResultMessage},
	Names:  map[Dialect]string{OpenfireREST: "POST messages/users"},
	Handle: openfireBroadcast,
}

func openfireBroadcast(ctx context.Context, c *Call) (any, error) {
	body := c.Args.String("body")
	if body == "" {
		return nil, Errorf(Invalid, ReasonMissing, "body", "%s", msgOFEmptyBody)
	}
	d := c.Args.Domain("domain")
	ss, err := sessions(ctx, c, d.FQDN, "")
	if err != nil {
		return nil, err
	}
	sent := 0
	for _, s := range ss {
		// A session gone since the listing is not an error: it is offline.
		if c.Env.Live.SendMessage(ctx, d.FQDN, s.JID, "", "", body) == nil {
			sent++
		}
	}
	err = c.Env.Store.Write(ctx, func(tx *store.Tx) error {
		return tx.Audit(ctx, d.AccountID, c.Caller.Actor, "openfire broadcast", d.FQDN+" ("+strconv.Itoa(sent)+" sessions)")
	})
	return "", err
}

// --- system properties

// ofProperty maps one Openfire system property onto a domain's settings.
type ofProperty struct {
	key, doc string
	// get reads the property's value from the domain's settings.
	get func(d store.Domain, s DomainSettings) string
	// patch turns a value into the settings patch that stores it (the
	// domain object's shape, as PUT xmppdomains takes it); nil: read-only.
	patch func(value string) (map[string]any, error)
	// unset is the value DELETE restores (the default's).
	unset string
}

// ofBool parses a boolean property as Openfire writes them.
func ofBool(key, value string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(value)) {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, Errorf(Invalid, ReasonBadValue, "value", "%s must be true or false", key)
}

// ofModuleProperty is a boolean property that switches a module of the
// domain's moduleConfig.
func ofModuleProperty(key, module, doc string, on func(ModuleConfig) bool) ofProperty {
	return ofProperty{key: key, doc: doc, unset: "true",
		get: func(_ store.Domain, s DomainSettings) string { return strconv.FormatBool(on(s.ModuleConfig)) },
		patch: func(v string) (map[string]any, error) {
			b, err := ofBool(key, v)
			return map[string]any{"moduleConfig": map[string]any{module: map[string]any{"enabled": b}}}, err
		}}
}

// ofFlagProperty is a boolean property stored as one of moduleConfig's flags.
func ofFlagProperty(key, flag, doc string, def bool, on func(ModuleConfig) bool) ofProperty {
	return ofProperty{key: key, doc: doc, unset: strconv.FormatBool(def),
		get: func(_ store.Domain, s DomainSettings) string { return strconv.FormatBool(on(s.ModuleConfig)) },
		patch: func(v string) (map[string]any, error) {
			b, err := ofBool(key, v)
			return map[string]any{"moduleConfig": map[string]any{flag: b}}, err
		}}
}

// ofProperties are the properties that mean something here, by key.
var ofProperties = func() map[string]ofProperty {
	ps := []ofProperty{
		{key: "xmpp.domain", doc: "The credential's domain (read-only: a domain is renamed by creating another).",
			get: func(d store.Domain, _ DomainSettings) string { return d.FQDN }},
		ofFlagProperty("xmpp.auth.anonymous", "enableAnonymousLogin", "SASL ANONYMOUS logins (moduleConfig.enableAnonymousLogin).", false,
			func(m ModuleConfig) bool { return m.EnableAnonymousLogin }),
		ofFlagProperty("xmpp.server.socket.active", "enableFederation", "Server-to-server federation (moduleConfig.enableFederation).", true,
			func(m ModuleConfig) bool { return m.EnableFederation }),
		ofModuleProperty("xmpp.muc.enabled", "modMuc", "The MUC service (moduleConfig.modMuc.enabled).",
			func(m ModuleConfig) bool { return m.ModMuc.Enabled }),
		{key: "xmpp.muc.create.anyone", unset: "true",
			doc: "Any user of the domain may create rooms (true: modMuc.mucCreateAcl local), or only its administrators (false: muc_create_users).",
			get: func(_ store.Domain, s DomainSettings) string {
				return strconv.FormatBool(s.ModuleConfig.ModMuc.MucCreateAcl == "local")
			},
			patch: func(v string) (map[string]any, error) {
				b, err := ofBool("xmpp.muc.create.anyone", v)
				acl := "muc_create_users"
				if b {
					acl = "local"
				}
				return map[string]any{"moduleConfig": map[string]any{"modMuc": map[string]any{"mucCreateAcl": acl}}}, err
			}},
		ofModuleProperty("xmpp.pubsub.enabled", "modPubsub", "The pubsub service (moduleConfig.modPubsub.enabled).",
			func(m ModuleConfig) bool { return m.ModPubsub.Enabled }),
		ofModuleProperty("xmpp.pep.enabled", "modPep", "Personal eventing (moduleConfig.modPep.enabled).",
			func(m ModuleConfig) bool { return m.ModPep.Enabled }),
		ofModuleProperty("xmpp.privateStorageEnabled", "modPrivate", "Private XML storage (moduleConfig.modPrivate.enabled).",
			func(m ModuleConfig) bool { return m.ModPrivate.Enabled }),
		ofModuleProperty("stream.management.active", "modStreamManagement", "Stream management (moduleConfig.modStreamManagement.enabled).",
			func(m ModuleConfig) bool { return m.ModStreamManagement.Enabled }),
		{key: "plugin.httpfileupload.maxFileSize", unset: strconv.FormatInt(DefaultDomainSettings("").ModuleConfig.ModHttpUpload.MaxFileSize, 10),
			doc: "The largest upload in bytes (moduleConfig.modHttpUpload.maxFileSize).",
			get: func(_ store.Domain, s DomainSettings) string {
				return strconv.FormatInt(s.ModuleConfig.ModHttpUpload.MaxFileSize, 10)
			},
			patch: func(v string) (map[string]any, error) {
				n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				if err != nil {
					return nil, Errorf(Invalid, ReasonBadValue, "value", "plugin.httpfileupload.maxFileSize must be a number of bytes")
				}
				return map[string]any{"moduleConfig": map[string]any{"modHttpUpload": map[string]any{"maxFileSize": n}}}, nil
			}},
	}
	out := map[string]ofProperty{}
	for _, p := range ps {
		out[p.key] = p
	}
	return out
}()

// OpenfirePropertyKeys lists the mapped properties, sorted (for docs).
func OpenfirePropertyKeys() []string {
	keys := make([]string, 0, len(ofProperties))
	for k := range ofProperties {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var ofPropertyColumns = []string{"key", "value"}

// The plugin's texts.
const (
	msgOFNoProperty       = "Could not find property"
	msgOFNoPropertyUpdate = "Could not find property for update"
	msgOFPropertyMismatch = "Path property name and entity property name doesn't match"
)

func ofPropertyRow(ctx context.Context, c *Call, p ofProperty) ([]any, error) {
	d, err := c.Env.Store.DomainByFQDN(ctx, c.Args.Domain("domain").FQDN)
	if err != nil {
		return nil, err
	}
	return []any{p.key, p.get(d, EffectiveSettings(d))}, nil
}

// ofLookup finds a property; arg names where its key came from.
func ofLookup(key, arg, msg string) (ofProperty, error) {
	p, ok := ofProperties[key]
	if !ok {
		return p, Errorf(NotFound, ReasonNoProperty, arg, "%s", msg)
	}
	return p, nil
}

// ofWrite stores value into a writable property.
func ofWrite(ctx context.Context, c *Call, p ofProperty, value, command string) error {
	if p.patch == nil {
		return Errorf(Forbidden, ReasonReadOnlyProperty, "key", "%s is read-only here: it shows the server's configuration", p.key)
	}
	patch, err := p.patch(value)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(patch)
	if err != nil {
		return err
	}
	return c.patchDomainSettings(ctx, raw, command, p.key+"="+value, nil)
}

var (
	argOFPropertyPath = Arg{Name: "propertyKey", Type: String, Doc: "The property's name, in the path."}
	argOFPropertyKey  = Arg{Name: "key", Type: String, Optional: true, Doc: "The property's name, in the entity."}
	argOFPropertyVal  = Arg{Name: "value", Type: String, Optional: true, Doc: "The property's value."}
)

// OpenfirePropertyList is GET system/properties.
var OpenfirePropertyList = &Def{
	Name: "openfire_property_list",
	Doc: "Lists the system properties that mean something here, sorted by name, with their values for the credential's " +
		"domain (docs/openfire.md maps each onto the domain's settings).",
	Args:   []Arg{argDomain},
	Result: Result{Kind: ResultTable, Columns: ofPropertyColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET system/properties"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		t := Table{Columns: ofPropertyColumns, Rows: [][]any{}}
		for _, k := range OpenfirePropertyKeys() {
			row, err := ofPropertyRow(ctx, c, ofProperties[k])
			if err != nil {
				return nil, err
			}
			t.Rows = append(t.Rows, row)
		}
		return t, nil
	},
}

// OpenfirePropertyGet is GET system/properties/{propertyKey}.
var OpenfirePropertyGet = &Def{
	Name:   "openfire_property_get",
	Doc:    "Shows one system property; one that means nothing here is not found, as an unset one is in Openfire.",
	Args:   []Arg{argDomain, argOFPropertyPath},
	Result: Result{Kind: ResultRow, Columns: ofPropertyColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET system/properties/{propertyKey}"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		p, err := ofLookup(c.Args.String("propertyKey"), "propertyKey", msgOFNoProperty)
		if err != nil {
			return nil, err
		}
		row, err := ofPropertyRow(ctx, c, p)
		return Table{Columns: ofPropertyColumns, Rows: [][]any{row}}, err
	},
}

// OpenfirePropertyCreate is POST system/properties.
var OpenfirePropertyCreate = &Def{
	Name: "openfire_property_create",
	Doc: "Sets a system property (Openfire's create overwrites): a writable one changes the domain's settings at once " +
		"and the live server applies them; a read-only one is refused; one that means nothing here is not stored " +
		"(not implemented), since xmppgate keeps no free-form properties.",
	Args:   []Arg{argDomain, argOFPropertyKey, argOFPropertyVal},
	Result: Result{Kind: ResultMessage},
	Names:  map[Dialect]string{OpenfireREST: "POST system/properties"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		key := c.Args.String("key")
		if key == "" {
			return nil, Errorf(Invalid, ReasonMissing, "key", "The property's key is null or empty")
		}
		p, ok := ofProperties[key]
		if !ok {
			return nil, Errorf(NotImplemented, ReasonRefused, "key",
				"%s means nothing here: xmppgate keeps only the properties it maps onto its settings", key)
		}
		return "", ofWrite(ctx, c, p, c.Args.String("value"), "openfire set property")
	},
}

// OpenfirePropertyUpdate is PUT system/properties/{propertyKey}.
var OpenfirePropertyUpdate = &Def{
	Name: "openfire_property_update",
	Doc: "Changes a system property; the entity's key must be the path's. An unknown property is not found (named " +
		"by the entity's key, as the plugin names it); a read-only one is refused.",
	Args:   []Arg{argDomain, argOFPropertyPath, argOFPropertyKey, argOFPropertyVal},
	Result: Result{Kind: ResultMessage},
	Names:  map[Dialect]string{OpenfireREST: "PUT system/properties/{propertyKey}"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		p, err := ofLookup(c.Args.String("propertyKey"), "key", msgOFNoPropertyUpdate)
		if err != nil {
			return nil, err
		}
		if c.Args.String("key") != p.key {
			return nil, Errorf(Invalid, ReasonBadValue, "propertyKey", "%s", msgOFPropertyMismatch)
		}
		return "", ofWrite(ctx, c, p, c.Args.String("value"), "openfire set property")
	},
}

// OpenfirePropertyDelete is DELETE system/properties/{propertyKey}.
var OpenfirePropertyDelete = &Def{
	Name: "openfire_property_delete",
	Doc: "Removes a system property: a writable one goes back to its default (as Openfire's code default applies " +
		"once a property is deleted); a read-only one is refused; an unknown one is not found.",
	Args:   []Arg{argDomain, argOFPropertyPath},
	Result: Result{Kind: ResultMessage},
	Names:  map[Dialect]string{OpenfireREST: "DELETE system/properties/{propertyKey}"},
	Handle: func(ctx context.Context, c *Call) (any, error) {
		p, err := ofLookup(c.Args.String("propertyKey"), "propertyKey", msgOFNoProperty)
		if err != nil {
			return nil, err
		}
		return "", ofWrite(ctx, c, p, p.unset, "openfire delete property")
	},
}

// --- security audit log

var ofLogColumns = []string{"logId", "username", "timestamp", "summary", "node", "details"}

// OpenfireSecurityLog is GET logs/security.
var OpenfireSecurityLog = &Def{
	Name: "openfire_security_log",
	Doc: "Lists the audit log of the credential's account (and its sub-accounts), newest first: username is who " +
		"acted (a credential such as openfirerest:3, an admin JID, cli), summary the action, details its object; " +
		"timestamp in seconds since the epoch.",
	Args: []Arg{argDomain,
		{Name: "username", Type: String, Optional: true, Doc: "Only what this actor did."},
		{Name: "offset", Type: Int, Optional: true, Doc: "Skip this many entries."},
		{Name: "limit", Type: Int, Optional: true, Doc: "At most this many entries (default 100)."},
		{Name: "startTime", Type: Int, Optional: true, Doc: "Only entries from this time on (seconds since the epoch; 0: no bound)."},
		{Name: "endTime", Type: Int, Optional: true, Doc: "Only entries until this time (seconds since the epoch; 0: now)."},
	},
	Result: Result{Kind: ResultTable, Columns: ofLogColumns},
	Names:  map[Dialect]string{OpenfireREST: "GET logs/security"},
	Handle: openfireSecurityLog,
}

func openfireSecurityLog(ctx context.Context, c *Call) (any, error) {
	f := store.AuditFilter{Accounts: c.Caller.Accounts, Actor: c.Args.String("username"),
		Offset: int(c.Args.Int("offset")), Limit: 100}
	if f.Accounts == nil {
		f.Accounts = []int64{} // a caller without accounts sees none, never all
	}
	if c.Args.Has("limit") {
		f.Limit = int(c.Args.Int("limit"))
		if f.Limit <= 0 {
			return Table{Columns: ofLogColumns, Rows: [][]any{}}, nil
		}
	}
	if s := c.Args.Int("startTime"); s > 0 {
		f.From = time.Unix(s, 0)
	}
	if e := c.Args.Int("endTime"); e > 0 {
		f.To = time.Unix(e, 0)
	}
	es, err := c.Env.Store.AuditLog(ctx, f)
	t := Table{Columns: ofLogColumns, Rows: [][]any{}}
	for _, e := range es {
		t.Rows = append(t.Rows, []any{e.ID, e.Actor, e.Time.Unix(), e.Command, NodeName, e.Detail})
	}
	return t, err
}
