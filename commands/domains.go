package commands

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
)

// The domains of an account: created by the admin CLI or the REST API, listed
// by every dialect, configured (moduleConfig, authentication) through REST.

// domainDefs are the domain commands.
var domainDefs = []*Def{ListValidDomains, RegisteredVhosts,
	RESTDomainList, RESTDomainGet, RESTDomainCreate, RESTDomainUpdate, RESTDomainDelete, RESTDomainStatus}

// CreateDomain adds a domain to an account.
func CreateDomain(ctx context.Context, env *Env, fqdn string, account int64) (store.Domain, error) {
	name, err := NormalizeDomain(fqdn)
	if err != nil {
		return store.Domain{}, Errorf(Invalid, ReasonMalformed, "fqdn", "%q: %v", fqdn, err)
	}
	var d store.Domain
	err = env.Store.Write(ctx, func(tx *store.Tx) (err error) {
		d, err = tx.InsertDomain(ctx, account, name)
		switch {
		case errors.Is(err, store.ErrDuplicate):
			return Errorf(Conflict, "", "fqdn", "domain %s exists", name)
		case errors.Is(err, store.ErrNotFound):
			return Errorf(NotFound, "", "account", "no account %d", account)
		case err != nil:
			return err
		}
		return tx.Audit(ctx, account, "cli", "domain add", name)
	})
	return d, err
}

// ListValidDomains lists the domains that can have users.
var ListValidDomains = &Def{
	Name:   "list_valid_domains",
	Doc:    "Lists the domains of the account that can have Jabber users.",
	Result: Result{Kind: ResultTable, Columns: []string{"domain"}},
	Names:  map[Dialect]string{DreamHost: "jabber-list_valid_domains"},
	Handle: listValidDomains,
}

func listValidDomains(ctx context.Context, c *Call) (any, error) {
	ds, err := enabledDomains(ctx, c)
	if err != nil {
		return nil, err
	}
	t := Table{Columns: []string{"domain"}, Rows: make([][]any, 0, len(ds))}
	for _, d := range ds {
		t.Rows = append(t.Rows, []any{d})
	}
	return t, nil
}

// RegisteredVhosts is ejabberd's registered_vhosts: the caller's domains.
var RegisteredVhosts = &Def{
	Name:   "registered_vhosts",
	Doc:    "Lists the enabled domains of the caller's account, sorted.",
	Result: Result{Kind: ResultList, Name: "vhosts"},
	Names:  map[Dialect]string{Ejabberd: "registered_vhosts"},
	Handle: registeredVhosts,
}

func registeredVhosts(ctx context.Context, c *Call) (any, error) {
	return enabledDomains(ctx, c)
}

// enabledDomains lists the enabled domains of the caller's accounts, by name.
func enabledDomains(ctx context.Context, c *Call) ([]string, error) {
	ds, err := c.Env.Store.Domains(ctx, c.Caller.Accounts)
	if err != nil {
		return nil, err
	}
	out := []string{}
	for _, d := range ds {
		if d.Enabled {
			out = append(out, d.FQDN)
		}
	}
	return out, nil
}

// Reasons of the REST domain commands.
const (
	ReasonDomainExists    Reason = "domain_exists"    // the domain is hosted already (by any account)
	ReasonUnknownOrg      Reason = "unknown_org"      // organization_name is not an account of the caller
	ReasonReadOnly        Reason = "read_only"        // a field that cannot be changed
	ReasonInvalidSettings Reason = "invalid_settings" // a settings body that is not a JSON object
)

// Module is a simple moduleConfig entry.
type Module struct {
	Enabled bool `json:"enabled"`
}

// MucModule is moduleConfig.modMuc.
type MucModule struct {
	ConferenceSubdomain string   `json:"conferenceSubdomain"`
	Enabled             bool     `json:"enabled"`
	MucAcl              string   `json:"mucAcl"`
	MucCreateAcl        string   `json:"mucCreateAcl"`
	ValidMucAcl         []string `json:"validMucAcl"`
	ValidMucCreateAcl   []string `json:"validMucCreateAcl"`
}

// MamModule is moduleConfig.modMam: the XEP-0313 archive, and how many
// days archived messages are kept (0: forever).
type MamModule struct {
	Enabled       bool  `json:"enabled"`
	RetentionDays int64 `json:"retentionDays"`
}

// MaxRetentionDays bounds modMam.retentionDays (about 100 years).
const MaxRetentionDays = 36500

// PubsubModule is moduleConfig.modPubsub.
type PubsubModule struct {
	CreatenodeAcl      string   `json:"createnodeAcl"`
	Enabled            bool     `json:"enabled"`
	ValidCreatenodeAcl []string `json:"validCreatenodeAcl"`
}

// UploadModule is moduleConfig.modHttpUpload (XEP-0363): sizes in bytes,
// quota per user (0: none), expiryDays after which a file is deleted (0:
// kept). xmppcore/modcfg reads the same keys, and its defaults are these.
type UploadModule struct {
	Enabled     bool  `json:"enabled"`
	ExpiryDays  int64 `json:"expiryDays"`
	MaxFileSize int64 `json:"maxFileSize"`
	Quota       int64 `json:"quota"`
}

// ModuleConfig is a domain's moduleConfig. Fields are in alphabetical order
// so the JSON keys come out sorted, as the seed documents show them.
type ModuleConfig struct {
	EnableAnonymousLogin bool         `json:"enableAnonymousLogin"`
	EnableFederation     bool         `json:"enableFederation"`
	EnableOrgFederation  bool         `json:"enableOrgFederation"`
	ModAdhoc             Module       `json:"modAdhoc"`
	ModBlocking          Module       `json:"modBlocking"`
	ModCarbons           Module       `json:"modCarbons"`
	ModClientState       Module       `json:"modClientState"`
	ModDisco             Module       `json:"modDisco"`
	ModExtDisco          Module       `json:"modExtDisco"`
	ModHttpBind          Module       `json:"modHttpBind"`
	ModHttpUpload        UploadModule `json:"modHttpUpload"`
	ModLast              Module       `json:"modLast"`
	ModMam               MamModule    `json:"modMam"`
	ModMongerBilling     Module       `json:"modMongerBilling"`
	ModMuc               MucModule    `json:"modMuc"`
	ModMulticast         Module       `json:"modMulticast"`
	ModOffline           Module       `json:"modOffline"`
	ModPep               Module       `json:"modPep"`
	ModPing              Module       `json:"modPing"`
	ModPrivacy           Module       `json:"modPrivacy"`
	ModPrivate           Module       `json:"modPrivate"`
	ModPubsub            PubsubModule `json:"modPubsub"`
	ModPush              Module       `json:"modPush"`
	ModRoster            Module       `json:"modRoster"`
	ModSharedRoster      Module       `json:"modSharedRoster"`
	ModStreamManagement  Module       `json:"modStreamManagement"`
	ModTime              Module       `json:"modTime"`
	ModVcard             Module       `json:"modVcard"`
	ModVersion           Module       `json:"modVersion"`
}

// DomainSettings is what a domain's settings JSON holds: the writable
// fields of the REST domain object, under the same names. xmppcore/modcfg
// reads moduleConfig.<module>.enabled from it; external authentication
// reads the auth* fields.
type DomainSettings struct {
	AuthPop3AppendDomain string       `json:"authPop3AppendDomain"`
	AuthPop3CacheTtl     int64        `json:"authPop3CacheTtl"`
	AuthPop3Host         string       `json:"authPop3Host"`
	AuthPop3Port         int64        `json:"authPop3Port"`
	AuthPop3UseSsl       bool         `json:"authPop3UseSsl"`
	AuthRestCacheTtl     int64        `json:"authRestCacheTtl"`
	AuthRestMethod       string       `json:"authRestMethod"`
	AuthRestSecret       string       `json:"authRestSecret"`
	AuthRestUrl          string       `json:"authRestUrl"`
	AuthenticationMethod string       `json:"authenticationMethod"`
	DisplayName          string       `json:"displayName"`
	ModuleConfig         ModuleConfig `json:"moduleConfig"`
}

// The ACL vocabularies of modMuc and modPubsub (read-only).
var (
	validMucAcl        = []string{"all", "local", "muc_users", "muc_create_users"}
	validMucCreateAcl  = []string{"local", "muc_create_users"}
	validCreatenodeAcl = []string{"local", "pubsub_create_users"}
)

// DefaultDomainSettings are the settings of a domain that never set any:
// the modules xmppcore implements are on, the others off.
func DefaultDomainSettings(fqdn string) DomainSettings {
	on, off := Module{Enabled: true}, Module{}
	return DomainSettings{
		AuthPop3CacheTtl: 120, AuthPop3Port: 110, AuthRestCacheTtl: 120, AuthRestMethod: "POST",
		AuthenticationMethod: "default", DisplayName: fqdn,
		ModuleConfig: ModuleConfig{
			EnableFederation: true, EnableOrgFederation: true,
			ModAdhoc: on, ModBlocking: on, ModCarbons: on, ModClientState: on, ModDisco: on, ModExtDisco: on, ModHttpBind: on,
			ModHttpUpload: UploadModule{Enabled: true, ExpiryDays: modcfg.DefaultUpload.ExpiryDays,
				MaxFileSize: modcfg.DefaultUpload.MaxFileSize, Quota: modcfg.DefaultUpload.Quota},
			ModLast: on, ModMam: MamModule{Enabled: true}, ModMongerBilling: off,
			ModMuc: MucModule{ConferenceSubdomain: "conference", Enabled: true, MucAcl: "local", MucCreateAcl: "local",
				ValidMucAcl: validMucAcl, ValidMucCreateAcl: validMucCreateAcl},
			ModMulticast: on, ModOffline: on, ModPep: on, ModPing: on, ModPrivacy: on, ModPrivate: on,
			ModPubsub: PubsubModule{CreatenodeAcl: "local", Enabled: true, ValidCreatenodeAcl: validCreatenodeAcl}, ModPush: on,
			ModRoster: on, ModSharedRoster: on, ModStreamManagement: on, ModTime: on, ModVcard: on, ModVersion: on,
		},
	}
}

// toMap is v as a generic JSON object.
func toMap(v any) map[string]any {
	b, _ := json.Marshal(v)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	return m
}

// EffectiveSettings overlays a domain's stored settings on the defaults.
func EffectiveSettings(d store.Domain) DomainSettings {
	s := DefaultDomainSettings(d.FQDN)
	if len(d.Settings) == 0 {
		return s
	}
	var stored map[string]any
	if json.Unmarshal(d.Settings, &stored) != nil {
		return s
	}
	merged := toMap(s)
	mergeInto(merged, stored)
	b, _ := json.Marshal(merged)
	var out DomainSettings
	if json.Unmarshal(b, &out) != nil {
		return s
	}
	// The vocabularies are ours, never the stored copy's.
	out.ModuleConfig.ModMuc.ValidMucAcl, out.ModuleConfig.ModMuc.ValidMucCreateAcl = validMucAcl, validMucCreateAcl
	out.ModuleConfig.ModPubsub.ValidCreatenodeAcl = validCreatenodeAcl
	return out
}

// mergeInto copies src into dst, recursing into objects present in both.
func mergeInto(dst, src map[string]any) {
	for k, v := range src {
		if sub, ok := v.(map[string]any); ok {
			if d, ok := dst[k].(map[string]any); ok {
				mergeInto(d, sub)
				continue
			}
		}
		dst[k] = v
	}
}

// The domain object's fields that PUT ignores.
var readOnlyDomainFields = map[string]bool{
	"fqdn": true, "isEnabled": true, "isRunning": true, "organizationName": true,
	"resourceUri": true, "userCount": true, "userlistUri": true,
}

// The top-level fields the seed's PUT table lists inside moduleConfig.
var moduleConfigFlags = map[string]bool{"enableAnonymousLogin": true, "enableFederation": true, "enableOrgFederation": true}

func settingsError(format string, a ...any) *Error {
	return Errorf(Invalid, ReasonInvalidSettings, "settings", format, a...)
}

// PatchSettings applies a partial domain object (PUT's body) to cur and
// validates the result: only present fields change; read-only fields are
// ignored, unknown ones refused; a module may be given as {"enabled": b}
// (merged per key) or as a bare boolean.
func PatchSettings(cur DomainSettings, body []byte) (DomainSettings, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return cur, nil
	}
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(body, &patch); err != nil || patch == nil {
		return cur, settingsError("the body is not a JSON object")
	}
	merged := toMap(cur)
	mcCur := merged["moduleConfig"].(map[string]any)
	keys := make([]string, 0, len(patch))
	for k := range patch {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	// moduleConfig first, so a top-level enableFederation (the PUT table's
	// spelling) wins over the one inside moduleConfig.
	sort.SliceStable(keys, func(i, j int) bool { return keys[i] == "moduleConfig" && keys[j] != "moduleConfig" })
	for _, k := range keys {
		raw := patch[k]
		switch {
		case readOnlyDomainFields[k]:
			continue
		case k == "moduleConfig":
			var mc map[string]json.RawMessage
			if err := json.Unmarshal(raw, &mc); err != nil || mc == nil {
				return cur, settingsError("moduleConfig must be a JSON object")
			}
			if err := patchModules(mcCur, mc); err != nil {
				return cur, err
			}
		case moduleConfigFlags[k]:
			var v any
			_ = json.Unmarshal(raw, &v)
			mcCur[k] = v
		default:
			if _, known := merged[k]; !known {
				return cur, settingsError("unknown field %s", k)
			}
			var v any
			if err := json.Unmarshal(raw, &v); err != nil {
				return cur, settingsError("%s: not a JSON value", k)
			}
			merged[k] = v
		}
	}
	b, _ := json.Marshal(merged)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var out DomainSettings
	if err := dec.Decode(&out); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return cur, settingsError("%s must be %s, not %s", te.Field, jsonKind(te.Type.Kind().String()), te.Value)
		}
		return cur, settingsError("%v", err)
	}
	return out, ValidateSettings(out)
}

func jsonKind(goKind string) string {
	switch goKind {
	case "bool":
		return "a boolean"
	case "int64":
		return "an integer"
	case "string":
		return "a string"
	case "slice":
		return "a list"
	}
	return "an object"
}

func patchModules(cur map[string]any, mc map[string]json.RawMessage) error {
	names := make([]string, 0, len(mc))
	for k := range mc {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		raw := mc[name]
		old, known := cur[name]
		if !known {
			return settingsError("unknown module moduleConfig.%s", name)
		}
		if moduleConfigFlags[name] {
			var v any
			_ = json.Unmarshal(raw, &v)
			cur[name] = v
			continue
		}
		oldObj := old.(map[string]any)
		var b bool
		if json.Unmarshal(raw, &b) == nil {
			oldObj["enabled"] = b
			continue
		}
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			return settingsError("moduleConfig.%s must be an object or a boolean", name)
		}
		fields := make([]string, 0, len(obj))
		for f := range obj {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, f := range fields {
			v := obj[f]
			was, ok := oldObj[f]
			if !ok {
				return settingsError("unknown field moduleConfig.%s.%s", name, f)
			}
			if strings.HasPrefix(f, "valid") {
				if !jsonEqual(was, v) {
					return Errorf(Invalid, ReasonReadOnly, "settings", "moduleConfig.%s.%s is read-only", name, f)
				}
				continue
			}
			oldObj[f] = v
		}
	}
	return nil
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func oneOf(v string, list []string) bool {
	for _, x := range list {
		if v == x {
			return true
		}
	}
	return false
}

// MaxCacheTTL bounds authRestCacheTtl and authPop3CacheTtl (one week).
const MaxCacheTTL = 7 * 24 * 3600

// ValidateSettings checks every field's value.
func ValidateSettings(s DomainSettings) error {
	if !oneOf(s.AuthenticationMethod, []string{"default", "restapi", "pop3"}) {
		return settingsError("authenticationMethod must be one of default, restapi, pop3")
	}
	if !oneOf(s.AuthRestMethod, []string{"GET", "POST"}) {
		return settingsError("authRestMethod must be GET or POST")
	}
	if s.AuthRestUrl != "" {
		u, err := url.Parse(s.AuthRestUrl)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return settingsError("authRestUrl must be an absolute http or https URL")
		}
	}
	if s.AuthenticationMethod == "restapi" && s.AuthRestUrl == "" {
		return settingsError("authRestUrl is required when authenticationMethod is restapi")
	}
	if s.AuthPop3Host != "" {
		if _, err := NormalizeDomain(s.AuthPop3Host); err != nil {
			return settingsError("authPop3Host must be a host name or address")
		}
	}
	if s.AuthenticationMethod == "pop3" && s.AuthPop3Host == "" {
		return settingsError("authPop3Host is required when authenticationMethod is pop3")
	}
	if s.AuthPop3Port < 1 || s.AuthPop3Port > 65535 {
		return settingsError("authPop3Port must be between 1 and 65535")
	}
	if s.AuthPop3AppendDomain != "" {
		if _, err := NormalizeDomain(s.AuthPop3AppendDomain); err != nil {
			return settingsError("authPop3AppendDomain must be empty or a domain name")
		}
	}
	for name, ttl := range map[string]int64{"authPop3CacheTtl": s.AuthPop3CacheTtl, "authRestCacheTtl": s.AuthRestCacheTtl} {
		if ttl < 0 || ttl > MaxCacheTTL {
			return settingsError("%s must be between 0 and %d seconds", name, MaxCacheTTL)
		}
	}
	if !utf8.ValidString(s.DisplayName) || len(s.DisplayName) > 255 || strings.ContainsAny(s.DisplayName, "\x00\r\n") {
		return settingsError("displayName must be one line of at most 255 bytes")
	}
	if len(s.AuthRestSecret) > 1024 {
		return settingsError("authRestSecret must be at most 1024 bytes")
	}
	m := s.ModuleConfig
	if !oneOf(m.ModMuc.MucAcl, validMucAcl) {
		return settingsError("moduleConfig.modMuc.mucAcl must be one of %s", strings.Join(validMucAcl, ", "))
	}
	if !oneOf(m.ModMuc.MucCreateAcl, validMucCreateAcl) {
		return settingsError("moduleConfig.modMuc.mucCreateAcl must be one of %s", strings.Join(validMucCreateAcl, ", "))
	}
	if d := m.ModMam.RetentionDays; d < 0 || d > MaxRetentionDays {
		return settingsError("moduleConfig.modMam.retentionDays must be between 0 and %d", MaxRetentionDays)
	}
	if !oneOf(m.ModPubsub.CreatenodeAcl, validCreatenodeAcl) {
		return settingsError("moduleConfig.modPubsub.createnodeAcl must be one of %s", strings.Join(validCreatenodeAcl, ", "))
	}
	if u := m.ModHttpUpload; u.MaxFileSize <= 0 || u.Quota < 0 || u.ExpiryDays < 0 {
		return settingsError("moduleConfig.modHttpUpload: maxFileSize must be a positive number of bytes, quota (bytes) and expiryDays at least 0")
	}
	if l := m.ModMuc.ConferenceSubdomain; l == "" || strings.Contains(l, ".") {
		return settingsError("moduleConfig.modMuc.conferenceSubdomain must be one DNS label")
	} else if _, err := NormalizeDomain(l); err != nil {
		return settingsError("moduleConfig.modMuc.conferenceSubdomain must be one DNS label")
	}
	return nil
}

// DomainInfo is one domain as the REST API's domain object shows it.
type DomainInfo struct {
	FQDN     string
	Enabled  bool // the domain should be served
	Running  bool // the embedded XMPP server serves it
	Owner    string
	Users    int
	Settings DomainSettings
}

func (c *Call) domainInfo(ctx context.Context, r store.Reader, d store.Domain) (DomainInfo, error) {
	n, err := r.CountDomainUsers(ctx, d.ID)
	if err != nil {
		return DomainInfo{}, err
	}
	a, err := r.Account(ctx, d.AccountID)
	if err != nil {
		return DomainInfo{}, err
	}
	return DomainInfo{FQDN: d.FQDN, Enabled: d.Enabled, Running: d.Enabled && c.Env.Live != nil, Owner: a.Name, Users: n,
		Settings: EffectiveSettings(d)}, nil
}

func (c *Call) settingsChanged(fqdn string) {
	if c.Env.Live != nil {
		c.Env.Live.DomainSettingsChanged(fqdn)
	}
}

var (
	argRESTDomain   = Arg{Name: "domain", Type: Domain, Doc: "A domain of the caller's account (or its sub-accounts)."}
	argRESTSettings = Arg{Name: "settings", Type: String, Optional: true,
		Doc: "A JSON domain object; only the fields present change (read-only ones are ignored, unknown ones refused)."}
)

// RESTDomainList lists the caller's domains.
var RESTDomainList = &Def{
	Name:   "rest_domain_list",
	Doc:    "Lists the XMPP domains of the caller's account and sub-accounts, as domain objects sorted by name, all on one page.",
	Result: Result{Kind: ResultRecord, Name: "[]DomainInfo"},
	Names:  map[Dialect]string{REST: "GET xmppdomains", Console: "rest_domain_list"},
	Handle: restDomainList,
}

func restDomainList(ctx context.Context, c *Call) (any, error) {
	ds, err := c.Env.Store.Domains(ctx, c.Caller.Accounts)
	if err != nil {
		return nil, err
	}
	out := make([]DomainInfo, 0, len(ds))
	for _, d := range ds {
		info, err := c.domainInfo(ctx, c.Env.Store.Reader, d)
		if err != nil {
			return nil, err
		}
		out = append(out, info)
	}
	return out, nil
}

// RESTDomainGet returns one domain object.
var RESTDomainGet = &Def{
	Name:   "rest_domain_get",
	Doc:    "Returns a domain object with every setting (defaults filled in), its state, owner and user count.",
	Args:   []Arg{argRESTDomain},
	Result: Result{Kind: ResultRecord, Name: "DomainInfo"},
	Names:  map[Dialect]string{REST: "GET xmppdomains/<fqdn>"},
	Handle: restDomainGet,
}

func restDomainGet(ctx context.Context, c *Call) (any, error) {
	return c.domainInfo(ctx, c.Env.Store.Reader, c.Args.Domain("domain"))
}

// RESTDomainStatus returns a domain's control object.
var RESTDomainStatus = &Def{
	Name:   "rest_domain_status",
	Doc:    "Returns the control object of a domain: isEnabled (it should be served), isRunning (the embedded XMPP server serves it) and the action URIs.",
	Args:   []Arg{argRESTDomain},
	Result: Result{Kind: ResultRecord, Name: "DomainInfo"},
	Names:  map[Dialect]string{REST: "GET xmppdomains/<fqdn>/status"},
	Handle: restDomainGet,
}

// randomLabel is four random lower-case letters (chatwith.it's pool names).
func randomLabel() string {
	const letters = "abcdefghijklmnopqrstuvwxyz"
	out := make([]byte, 0, 4)
	b := make([]byte, 8)
	for len(out) < 4 {
		if _, err := rand.Read(b); err != nil {
			panic("commands: no randomness: " + err.Error())
		}
		for _, x := range b {
			if x < 234 && len(out) < 4 { // 234 = 9*26: stay uniform
				out = append(out, letters[int(x)%26])
			}
		}
	}
	return string(out)
}

// RandomDomainAttempts bounds the retries of a random domain name.
const RandomDomainAttempts = 20

// RESTDomainCreate creates a domain with optional initial settings.
var RESTDomainCreate = &Def{
	Name: "rest_domain_create",
	Doc: "Creates a domain for the caller's account, or for organization_name (the caller's account or a sub-account, by name). " +
		"Without fqdn a random name of four letters under parent is chosen. A settings body is applied as PUT applies it. " +
		"Not queued: a domain is configuration, written at once (as the admin CLI's domain add).",
	Args: []Arg{
		{Name: "fqdn", Type: String, Optional: true, Doc: "The domain to create; absent: a random one under parent."},
		{Name: "parent", Type: String, Optional: true, Dialects: []Dialect{REST}, Doc: "The parent domain of random names (the dialect's configuration)."},
		{Name: "organization_name", Type: String, Optional: true, Doc: "The owning account's name; default the caller's account."},
		argRESTSettings,
	},
	Result: Result{Kind: ResultRecord, Name: "DomainInfo"},
	Names:  map[Dialect]string{REST: "POST xmppdomains[/<fqdn>]"},
	Handle: restDomainCreate,
}

func restDomainCreate(ctx context.Context, c *Call) (any, error) {
	owner := c.Caller.Account
	if org := strings.TrimSpace(c.Args.String("organization_name")); org != "" {
		a, err := c.Env.Store.AccountByName(ctx, org)
		if errors.Is(err, store.ErrNotFound) || (err == nil && !c.Caller.Owns(a.ID)) {
			return nil, Errorf(Invalid, ReasonUnknownOrg, "organization_name", "unknown organization %q", org)
		}
		if err != nil {
			return nil, err
		}
		owner = a.ID
	}
	random := !c.Args.Has("fqdn")
	var fqdn string
	if !random {
		var err error
		if fqdn, err = NormalizeDomain(c.Args.String("fqdn")); err != nil {
			return nil, Errorf(Invalid, ReasonMalformed, "fqdn", "%q is not a domain name", c.Args.String("fqdn"))
		}
	}
	parent := c.Args.String("parent")
	if parent == "" {
		parent = DefaultRESTParent
	}
	for attempt := 0; ; attempt++ {
		if random {
			var err error
			if fqdn, err = NormalizeDomain(randomLabel() + "." + parent); err != nil {
				return nil, fmt.Errorf("commands: random domain under %q: %w", parent, err)
			}
		}
		settings, err := PatchSettings(DefaultDomainSettings(fqdn), []byte(c.Args.String("settings")))
		if err != nil {
			return nil, err
		}
		var obj DomainInfo
		err = c.Env.Store.Write(ctx, func(tx *store.Tx) error {
			d, err := tx.InsertDomain(ctx, owner, fqdn)
			if errors.Is(err, store.ErrDuplicate) {
				return Errorf(Conflict, ReasonDomainExists, "fqdn", "XMPP domain %s exists", fqdn)
			}
			if err != nil {
				return err
			}
			raw, err := json.Marshal(settings)
			if err != nil {
				return err
			}
			if err := tx.SetDomainSettings(ctx, d.ID, raw); err != nil {
				return err
			}
			d.Settings = raw
			if err := tx.Audit(ctx, owner, c.Caller.Actor, "rest domain create", fqdn); err != nil {
				return err
			}
			obj, err = c.domainInfo(ctx, tx.Reader, d)
			return err
		})
		if e := AsError(err); err != nil && random && e.Reason == ReasonDomainExists && attempt < RandomDomainAttempts {
			continue
		}
		if err != nil {
			return nil, err
		}
		c.settingsChanged(fqdn)
		return obj, nil
	}
}

// DefaultRESTParent is the parent domain of random domain names.
const DefaultRESTParent = "chatwith.localhost"

// RESTDomainUpdate changes some of a domain's settings.
var RESTDomainUpdate = &Def{
	Name: "rest_domain_update",
	Doc: "Changes the fields of a domain object present in the body, validating every value; the live XMPP server " +
		"re-reads moduleConfig at once. Not queued: written at once.",
	Args:   []Arg{argRESTDomain, argRESTSettings},
	Result: Result{Kind: ResultRecord, Name: "DomainInfo"},
	Names:  map[Dialect]string{REST: "PUT xmppdomains/<fqdn>"},
	Handle: restDomainUpdate,
}

func restDomainUpdate(ctx context.Context, c *Call) (any, error) {
	var obj DomainInfo
	err := c.patchDomainSettings(ctx, []byte(c.Args.String("settings")), "rest domain update", "",
		func(tx *store.Tx, cur store.Domain) (err error) {
			obj, err = c.domainInfo(ctx, tx.Reader, cur)
			return err
		})
	return obj, err
}

// patchDomainSettings applies a partial domain object to the bound domain's
// stored settings (PatchSettings validates it), writes an audit line
// (command, and detail after the domain's name) and then, in the same
// transaction, runs then (may be nil) on the updated row; the live server
// re-reads the settings after the commit. Not queued: a domain's settings
// are configuration, written at once.
func (c *Call) patchDomainSettings(ctx context.Context, patch []byte, command, detail string, then func(*store.Tx, store.Domain) error) error {
	d := c.Args.Domain("domain")
	err := c.Env.Store.Write(ctx, func(tx *store.Tx) error {
		cur, err := tx.DomainByFQDN(ctx, d.FQDN) // not the memo: the stored settings now
		if errors.Is(err, store.ErrNotFound) {
			return Errorf(Invalid, ReasonUnknownDomain, "domain", "not a domain of this account")
		}
		if err != nil {
			return err
		}
		settings, err := PatchSettings(EffectiveSettings(cur), patch)
		if err != nil {
			return err
		}
		raw, err := json.Marshal(settings)
		if err != nil {
			return err
		}
		if err := tx.SetDomainSettings(ctx, cur.ID, raw); err != nil {
			return err
		}
		cur.Settings = raw
		if err := tx.Audit(ctx, cur.AccountID, c.Caller.Actor, command, strings.TrimSpace(cur.FQDN+" "+detail)); err != nil {
			return err
		}
		if then == nil {
			return nil
		}
		return then(tx, cur)
	})
	if err != nil {
		return err
	}
	c.settingsChanged(d.FQDN)
	return nil
}

// RESTDomainDelete removes a domain with all its users.
var RESTDomainDelete = &Def{
	Name: "rest_domain_delete",
	Doc: "Deletes a domain with all its users and their data; their sessions are closed. " +
		"Not queued: changes still queued for its users fail as their user is gone.",
	Args:   []Arg{argRESTDomain},
	Result: Result{Kind: ResultRecord, Name: "DomainInfo"},
	Names:  map[Dialect]string{REST: "DELETE xmppdomains/<fqdn>"},
	Handle: restDomainDelete,
}

func restDomainDelete(ctx context.Context, c *Call) (any, error) {
	d := c.Args.Domain("domain")
	var users []store.User
	var info DomainInfo
	err := c.Env.Store.Write(ctx, func(tx *store.Tx) (err error) {
		if users, err = tx.DomainUsers(ctx, d.ID); err != nil {
			return err
		}
		if info, err = c.domainInfo(ctx, tx.Reader, d); err != nil {
			return err
		}
		if err := tx.DeleteDomain(ctx, d.ID); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return Errorf(Invalid, ReasonUnknownDomain, "domain", "not a domain of this account")
			}
			return err
		}
		return tx.Audit(ctx, d.AccountID, c.Caller.Actor, "rest domain delete", fmt.Sprintf("%s (%d users)", d.FQDN, len(users)))
	})
	if err != nil {
		return nil, err
	}
	if c.Env.Live != nil {
		for _, u := range users {
			c.Env.Live.Kick(d.FQDN, u.Username, "", "domain deleted")
		}
	}
	c.settingsChanged(d.FQDN)
	return info, nil
}
