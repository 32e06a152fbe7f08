// Package modcfg reads the per-domain moduleConfig object (the REST
// xmppdomains API's shape: {"modPing": {"enabled": false}, ...}) that switches
// xmppcore's modules per domain. A module whose key is missing is enabled.
package modcfg

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore/extauth"
)

// Module names as moduleConfig spells them.
const (
	Offline  = "modOffline"
	Vcard    = "modVcard"
	Disco    = "modDisco"
	Ping     = "modPing"
	Time     = "modTime"
	Version  = "modVersion"
	Last     = "modLast"
	Blocking = "modBlocking"
	Roster   = "modRoster"
	Private  = "modPrivate"
	Carbons  = "modCarbons"
	Upload   = "modHttpUpload"
	ExtDisco = "modExtDisco"
	Adhoc    = "modAdhoc"
	// Multicast is XEP-0033's multicast.<domain> service.
	Multicast = "modMulticast"
	// Privacy is XEP-0016 privacy lists.
	Privacy = "modPrivacy"
	// StreamManagement is XEP-0198, ClientState XEP-0352, Push XEP-0357.
	StreamManagement = "modStreamManagement"
	ClientState      = "modClientState"
	Push             = "modPush"
	Mam              = "modMam"
	Pep              = "modPep"
	// Pubsub is XEP-0060's pubsub.<domain> service.
	Pubsub = "modPubsub"
	// Muc is XEP-0045's conference.<domain> service.
	Muc = "modMuc"
	// HTTPBind switches the web transports, WebSocket (RFC 7395) and
	// BOSH (XEP-0206), for the domain.
	HTTPBind = "modHttpBind"
)

// Values of moduleConfig.modMuc.mucAcl (who may enter rooms) and
// mucCreateAcl (who may create them). The muc_* names are ejabberd ACLs
// that xmppgate has no store for: they mean the domain's administrators.
const (
	MucAll         = "all"
	MucLocal       = "local"
	MucUsers       = "muc_users"
	MucCreateUsers = "muc_create_users"
)

// MucSettings are moduleConfig.modMuc's values.
type MucSettings struct {
	Subdomain string // conferenceSubdomain: the service's first label
	ACL       string // mucAcl
	CreateACL string // mucCreateAcl
}

// DefaultMuc is what a domain without modMuc values gets (the REST API's defaults).
var DefaultMuc = MucSettings{Subdomain: "conference", ACL: MucLocal, CreateACL: MucLocal}

// Values of moduleConfig.modPubsub.createnodeAcl: who may create nodes on
// the domain's pubsub service.
const (
	CreateLocal = "local"               // any user of the domain
	CreateUsers = "pubsub_create_users" // the domain's administrators
)

// UploadSettings are moduleConfig.modHttpUpload's numbers (XEP-0363); the
// REST API shows DefaultUpload for a domain that never set them.
type UploadSettings struct {
	MaxFileSize int64 `json:"maxFileSize"` // bytes per file
	Quota       int64 `json:"quota"`       // bytes per user; 0: none
	ExpiryDays  int64 `json:"expiryDays"`  // 0: files are kept
}

// DefaultUpload: ejabberd's mod_http_upload max_size and hard quota (100 MiB
// per file, 1000 MiB per user); files expire after 30 days (ejabberd keeps
// them unless told, Prosody deletes them after a week).
var DefaultUpload = UploadSettings{MaxFileSize: 100 << 20, Quota: 1000 << 20, ExpiryDays: 30}

// AnonymousLogin is the moduleConfig flag (a boolean, not a module object)
// that enables SASL ANONYMOUS on a domain.
const AnonymousLogin = "enableAnonymousLogin"

// The moduleConfig flags of federation (booleans).
const (
	Federation    = "enableFederation"
	OrgFederation = "enableOrgFederation"
)

// Domain is what xmppcore needs to know about a hosted domain.
type Domain struct {
	ID       int64
	FQDN     string
	Enabled  bool
	disabled map[string]bool
	// Auth is the domain's authenticationMethod and its auth* fields.
	Auth extauth.Config
	// Anonymous is moduleConfig.enableAnonymousLogin: SASL ANONYMOUS is
	// offered on the domain.
	Anonymous bool
	// Upload are the HTTP File Upload limits.
	Upload UploadSettings
	// MamRetentionDays is moduleConfig.modMam.retentionDays: archived
	// messages older than that many days are purged (0: kept forever).
	MamRetentionDays int
	// PubsubCreate is moduleConfig.modPubsub.createnodeAcl.
	PubsubCreate string
	// Muc is moduleConfig.modMuc's settings.
	Muc MucSettings
	// Federation is moduleConfig.enableFederation: s2s with any remote
	// domain. OrgFederation is moduleConfig.enableOrgFederation: s2s with
	// the remote domains of the same account (docs/federation.md). Both
	// default to on, as the REST API's defaults.
	Federation, OrgFederation bool
}

// On reports whether module name is enabled on the domain.
func (d Domain) On(name string) bool { return !d.disabled[name] }

// Parse reads the moduleConfig of a domain's settings object.
func Parse(d store.Domain) Domain {
	out := Domain{ID: d.ID, FQDN: d.FQDN, Enabled: d.Enabled, Upload: DefaultUpload, Muc: DefaultMuc,
		Federation: true, OrgFederation: true}
	var settings struct {
		ModuleConfig map[string]json.RawMessage `json:"moduleConfig"`
	}
	if json.Unmarshal(d.Settings, &settings) != nil {
		return out
	}
	out.Auth = parseAuth(d)
	_ = json.Unmarshal(settings.ModuleConfig[AnonymousLogin], &out.Anonymous) // anything but true is off
	for name, v := range map[string]*bool{Federation: &out.Federation, OrgFederation: &out.OrgFederation} {
		var b bool
		if json.Unmarshal(settings.ModuleConfig[name], &b) == nil {
			*v = b // anything but a boolean keeps the default
		}
	}
	out.Upload = parseUpload(settings.ModuleConfig[Upload])
	var mam struct {
		RetentionDays int `json:"retentionDays"`
	}
	if json.Unmarshal(settings.ModuleConfig[Mam], &mam) == nil {
		out.MamRetentionDays = max(0, mam.RetentionDays)
	}
	var ps struct {
		ACL string `json:"createnodeAcl"`
	}
	if json.Unmarshal(settings.ModuleConfig[Pubsub], &ps) == nil && ps.ACL == CreateUsers {
		out.PubsubCreate = CreateUsers
	} else {
		out.PubsubCreate = CreateLocal
	}
	out.Muc = parseMuc(settings.ModuleConfig[Muc])
	for name, raw := range settings.ModuleConfig {
		var m struct {
			Enabled *bool `json:"enabled"`
		}
		if json.Unmarshal(raw, &m) == nil && m.Enabled != nil && !*m.Enabled {
			if out.disabled == nil {
				out.disabled = map[string]bool{}
			}
			out.disabled[name] = true
		}
	}
	return out
}

// Cache keeps parsed domains for ttl, or until Invalidate.
type Cache struct {
	st  *store.Store
	ttl time.Duration
	mu  sync.Mutex
	m   map[string]entry
}

// entry's d is shared by every session of the domain (a session keeps a
// pointer, not a copy of its 280 bytes), so it is never changed: new
// settings get a new entry.
type entry struct {
	d   *Domain
	exp time.Time
}

// NewCache returns a cache over st.
func NewCache(st *store.Store, ttl time.Duration) *Cache {
	return &Cache{st: st, ttl: ttl, m: map[string]entry{}}
}

// Get returns the domain fqdn; ok is false if the store does not host it.
func (c *Cache) Get(ctx context.Context, fqdn string) (Domain, bool, error) {
	d, err := c.Shared(ctx, fqdn)
	if d == nil {
		return Domain{}, false, err
	}
	return *d, true, nil
}

// Shared is Get's domain as the cache holds it, for a holder that keeps it
// as long as a session lives: nil if the store does not host fqdn. The
// caller must not change it.
func (c *Cache) Shared(ctx context.Context, fqdn string) (*Domain, error) {
	fqdn = strings.ToLower(fqdn)
	now := time.Now()
	c.mu.Lock()
	e, hit := c.m[fqdn]
	c.mu.Unlock()
	if hit && now.Before(e.exp) {
		return e.d, nil
	}
	d, err := c.st.DomainByFQDN(ctx, fqdn)
	switch {
	case errors.Is(err, store.ErrNotFound):
		e = entry{exp: now.Add(c.ttl)}
	case err != nil:
		return nil, err
	default:
		p := Parse(d)
		e = entry{d: &p, exp: now.Add(c.ttl)}
	}
	c.mu.Lock()
	if len(c.m) > 10000 {
		clear(c.m)
	}
	c.m[fqdn] = e
	c.mu.Unlock()
	return e.d, nil
}

// Invalidate forgets fqdn ("" forgets all).
func (c *Cache) Invalidate(fqdn string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if fqdn == "" {
		clear(c.m)
		return
	}
	delete(c.m, strings.ToLower(fqdn))
}

// parseAuth reads the auth* fields; missing ones get the REST API's
// defaults (POST, TTLs 120 s, port 110 or 995 with SSL). A field of the
// wrong JSON type counts as missing; authPop3AppendDomain true (an older
// boolean form) appends the XMPP domain itself.
func parseAuth(d store.Domain) extauth.Config {
	var s struct {
		Method     string          `json:"authenticationMethod"`
		RestURL    string          `json:"authRestUrl"`
		RestSecret string          `json:"authRestSecret"`
		RestMethod string          `json:"authRestMethod"`
		RestTTL    json.RawMessage `json:"authRestCacheTtl"`
		Pop3Host   string          `json:"authPop3Host"`
		Pop3Port   int             `json:"authPop3Port"`
		Pop3SSL    bool            `json:"authPop3UseSsl"`
		Pop3Append json.RawMessage `json:"authPop3AppendDomain"`
		Pop3TTL    json.RawMessage `json:"authPop3CacheTtl"`
	}
	c := extauth.Config{Method: extauth.Default}
	var syn *json.SyntaxError
	if err := json.Unmarshal(d.Settings, &s); errors.As(err, &syn) {
		return c // a field of the wrong type is skipped, the others are read
	}
	switch strings.ToLower(s.Method) {
	case extauth.REST:
		c.Method = extauth.REST
	case extauth.POP3:
		c.Method = extauth.POP3
	}
	c.RestURL, c.RestSecret, c.RestMethod = s.RestURL, s.RestSecret, strings.ToUpper(s.RestMethod)
	if c.RestMethod != "GET" {
		c.RestMethod = "POST"
	}
	ttl := func(raw json.RawMessage) time.Duration {
		var n int64
		if string(raw) == "null" || json.Unmarshal(raw, &n) != nil {
			return 120 * time.Second
		}
		return time.Duration(max(0, min(n, 7*24*3600))) * time.Second
	}
	c.RestCacheTTL, c.Pop3CacheTTL = ttl(s.RestTTL), ttl(s.Pop3TTL)
	c.Pop3Host, c.Pop3SSL = s.Pop3Host, s.Pop3SSL
	if s.Pop3Port > 0 && s.Pop3Port < 65536 {
		c.Pop3Port = s.Pop3Port
	}
	var app string
	var appBool bool
	if json.Unmarshal(s.Pop3Append, &app) == nil {
		c.Pop3AppendDomain = strings.TrimSpace(app)
	} else if json.Unmarshal(s.Pop3Append, &appBool) == nil && appBool {
		c.Pop3AppendDomain = d.FQDN
	}
	return c
}

// parseUpload reads modHttpUpload's numbers over the defaults; a negative
// or mistyped number keeps its default.
func parseUpload(raw json.RawMessage) UploadSettings {
	u := DefaultUpload
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return u
	}
	for key, dst := range map[string]*int64{"maxFileSize": &u.MaxFileSize, "quota": &u.Quota, "expiryDays": &u.ExpiryDays} {
		var n int64
		if json.Unmarshal(m[key], &n) == nil && n >= 0 {
			*dst = n
		}
	}
	if u.MaxFileSize == 0 {
		u.MaxFileSize = DefaultUpload.MaxFileSize
	}
	return u
}

// parseMuc reads modMuc's values over DefaultMuc; a value outside its
// vocabulary, or a subdomain that is not one DNS label, keeps the default.
func parseMuc(raw json.RawMessage) MucSettings {
	m := DefaultMuc
	var v struct {
		Sub    string `json:"conferenceSubdomain"`
		ACL    string `json:"mucAcl"`
		Create string `json:"mucCreateAcl"`
	}
	if json.Unmarshal(raw, &v) != nil {
		return m
	}
	if l := strings.ToLower(v.Sub); l != "" && len(l) <= 63 && !strings.ContainsAny(l, "./@ ") {
		m.Subdomain = l
	}
	switch v.ACL {
	case MucAll, MucLocal, MucUsers, MucCreateUsers:
		m.ACL = v.ACL
	}
	switch v.Create {
	case MucLocal, MucCreateUsers:
		m.CreateACL = v.Create
	}
	return m
}
