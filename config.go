package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/xmppgate/xmppgate/commands/dreamhost"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
	"github.com/xmppgate/xmppgate/xmppcore/extdisco"
)

// Config is the whole configuration. Every key can also be set from the
// environment as XMPPGATE_<KEY> (upper case), which wins over the file;
// flags win over both.
type Config struct {
	Data            string        `yaml:"data"`
	HTTPAddr        string        `yaml:"http_addr"`
	C2SAddr         string        `yaml:"c2s_addr"`
	C2STLSAddr      string        `yaml:"c2stls_addr"`
	CertFile        string        `yaml:"cert_file"`
	KeyFile         string        `yaml:"key_file"`
	WorkerSchedule  string        `yaml:"worker_schedule"`
	BootstrapDomain string        `yaml:"bootstrap_domain"`
	TokenMaxAge     time.Duration `yaml:"token_max_age"`
	LogLevel        string        `yaml:"log_level"`
	// Synchronous is SQLite's synchronous pragma (FULL or NORMAL).
	Synchronous string `yaml:"synchronous"`
	// MaxBody bounds HTTP request bodies in bytes.
	MaxBody int64 `yaml:"max_body"`
	// RESTParentDomain is where the REST API's POST without a name creates a
	// random domain (default chatwith.localhost).
	RESTParentDomain string `yaml:"rest_parent_domain"`
	// OpenfireHTTPAddr, if set, is a second HTTP listener serving only the
	// Openfire paths (legacy and REST), for scripts that point at :9090.
	OpenfireHTTPAddr string `yaml:"openfire_http_addr"`
	// PprofAddr, if set, serves net/http/pprof there (keep it on loopback).
	PprofAddr string `yaml:"pprof_addr"`
	// DreamHostLimits are the DreamHost dialect's per-key rate limits.
	DreamHostLimits []dreamhost.Limit `yaml:"dreamhost_limits"`
	// EjabberdTrustLoopback lets ejabberd API requests without credentials
	// from 127.0.0.0/8 or ::1 act as the bootstrap admin, as ejabberd's
	// example config does. Off by default: anything on the host (or a
	// reverse proxy on it) would be an admin. See docs/ejabberd.md.
	EjabberdTrustLoopback bool `yaml:"ejabberd_trust_loopback"`
	// TransferDirs are the directories where the operator's absolute file
	// paths (import_piefxis /var/backups/x.xml, backup, ...) may point;
	// empty means DATA/transfer/ only. See docs/backup.md.
	TransferDirs []string `yaml:"transfer_dirs"`
	// UploadURL is the public base URL of XEP-0363 uploads as clients must
	// reach it (e.g. https://chat.example.com/upload behind a TLS proxy);
	// the HTTP listener serves it under /upload/. Empty: derived from
	// http_addr, which reaches only this host with the default address.
	UploadURL string `yaml:"upload_url"`
	// ExternalServices are the STUN/TURN servers XEP-0215 announces to
	// clients (for calls), e.g. [{type: turn, host: turn.example.com,
	// port: 3478, transport: udp, secret: <coturn static-auth-secret>}].
	ExternalServices []extdisco.Service `yaml:"external_services"`
	// SMResumeTimeout is how long an XMPP session with XEP-0198
	// resumption waits for its client after the connection is lost
	// (ejabberd's and Prosody's 300 s by default).
	SMResumeTimeout time.Duration `yaml:"sm_resume_timeout"`
	// S2SAddr is the server-to-server (federation) listener; "" turns
	// federation off. See docs/federation.md.
	S2SAddr string `yaml:"s2s_addr"`
	// S2STLSAddr is the direct TLS (XEP-0368) federation listener; "" turns it off.
	S2STLSAddr string `yaml:"s2stls_addr"`
	// S2SRoutes send the s2s traffic of remote domains to fixed host:port
	// addresses instead of DNS SRV (private networks), e.g.
	// {partner.example: 10.0.0.5:5269}.
	S2SRoutes map[string]string `yaml:"s2s_routes"`
	// S2SBlocklist are remote domains (with their subdomains) refused both ways.
	S2SBlocklist []string `yaml:"s2s_blocklist"`
	// S2SCAFile is a PEM file of the roots that peers' certificates are
	// verified against for SASL EXTERNAL; empty: the system's roots.
	S2SCAFile string `yaml:"s2s_ca_file"`
	// Console serves the operator's web console at /admin on the HTTP
	// listener (off by default). Only admin JIDs of operator accounts log
	// in; put the listener behind TLS before exposing it. See docs/console.md.
	Console bool `yaml:"console"`
	// HTTPSAddr is a TLS HTTP listener serving what http_addr serves
	// (wss:// and https:// for web chat), with cert_file/key_file or the
	// generated self-signed certificate. Empty: none.
	HTTPSAddr string `yaml:"https_addr"`
	// WebSocketInsecureOK lets WebSocket (and BOSH) clients authenticate
	// without TLS from any address (behind a TLS-terminating proxy that
	// is not on this host). Off: only loopback peers may, and others
	// must use https_addr.
	WebSocketInsecureOK bool `yaml:"websocket_insecure_ok"`
	// CORSOrigins are the web origins (https://shop.example.com, or "*")
	// whose pages may use BOSH, WebSocket and host-meta. Unset: any origin
	// when http_addr is a loopback address, none otherwise.
	CORSOrigins []string `yaml:"cors_origins"`
	// WebSocketPingInterval is how often an idle WebSocket is pinged
	// (ejabberd's websocket_ping_interval); its pongs keep a listening
	// session alive. Default 60s.
	WebSocketPingInterval time.Duration `yaml:"websocket_ping_interval"`
	// MetricsAddr, if set, is a listener serving only /metrics, /healthz
	// and /readyz, to any peer that reaches it (e.g. 10.0.0.5:9090 for a
	// Prometheus on the private network). The main HTTP listener serves
	// /metrics to loopback peers only. See docs/operations.md.
	MetricsAddr string `yaml:"metrics_addr"`
	// ACME, when true, gets the XMPP listeners a certificate per domain of
	// the store from an ACME CA (HTTP-01 on acme_http_addr); names without
	// one (localhost, a client without SNI) keep cert_file or the
	// self-signed certificate. See docs/operations.md.
	ACME bool `yaml:"acme"`
	// ACMEHTTPAddr is where the CA's HTTP-01 requests are answered; it
	// must be port 80 of the domains as the CA reaches them (default :80
	// when acme is on).
	ACMEHTTPAddr string `yaml:"acme_http_addr"`
	// ACMECA is the CA's directory URL (default Let's Encrypt's; its
	// staging CA is https://acme-staging-v02.api.letsencrypt.org/directory).
	ACMECA string `yaml:"acme_ca"`
	// ACMECARoot, if set, is a PEM file of the roots the CA's HTTPS is
	// verified with (a private CA such as step-ca or pebble).
	ACMECARoot string `yaml:"acme_ca_root"`
	// ACMEEmail is the ACME account's contact address.
	ACMEEmail string `yaml:"acme_email"`
	// BOSHMaxInactivity ends a BOSH session whose client made no request
	// for that long (Prosody's bosh_max_inactivity; default 60 s).
	BOSHMaxInactivity time.Duration `yaml:"bosh_max_inactivity"`
	// BOSHMaxWait is the longest a BOSH request is held (default 60 s).
	BOSHMaxWait time.Duration `yaml:"bosh_max_wait"`
	// CertECDSAFile and KeyECDSAFile are a second, ECDSA certificate served
	// beside an RSA cert_file to the clients that support it (they log in
	// without the cost of RSA signing). See docs/tls.md.
	CertECDSAFile string `yaml:"cert_ecdsa_file"`
	KeyECDSAFile  string `yaml:"key_ecdsa_file"`
	// TLSECDSACompanion: off (default), auto (generate a self-signed ECDSA
	// companion into DATA/tls/ for a self-signed RSA cert_file) or on (for
	// any RSA cert_file). See docs/tls.md.
	TLSECDSACompanion string `yaml:"tls_ecdsa_companion"`
	// TLSSessionTickets: persist (default; keys in DATA/tls/, rotated
	// daily, so clients resume across restarts), memory or off.
	TLSSessionTickets string `yaml:"tls_session_tickets"`
	// Store is where the store lives: empty, an SQLite file in the data
	// directory (the default); a postgres://… URL, that PostgreSQL
	// database (docs/postgresql.md). Env XMPPGATE_STORE.
	Store string `yaml:"store"`
	// Node names this process among the nodes sharing one store, in
	// ejabberd's name@host form (list_cluster shows it). Empty: xmppgate@
	// the host name. Nodes on one host need distinct names. Env XMPPGATE_NODE.
	Node string `yaml:"node"`
	// NATSURL is the NATS server the nodes route stanzas through
	// (docs/scale-out.md); empty, this node runs alone. It needs a
	// postgres:// store, shared by every node. Env XMPPGATE_NATS_URL.
	NATSURL string `yaml:"nats_url"`
	// ClusterHeartbeat is how often a node with nats_url tells the others
	// it is alive; 0: 1s. ClusterLease is how long the others keep its
	// sessions and rooms after its last heartbeat (a node that died or
	// lost NATS); 0: 5s, and never under three heartbeats
	// (docs/scale-out.md).
	ClusterHeartbeat time.Duration `yaml:"cluster_heartbeat"`
	ClusterLease     time.Duration `yaml:"cluster_lease"`
	// WorkerParallel is how many SCRAM key derivations run at once: the
	// background deriver's, which derives a queued password's keys once
	// the change is acknowledged, and a batch's apply's for the keys the
	// deriver did not get to (a crash, an import faster than it). 0: one
	// fewer than the CPUs (at least one), which keeps a CPU for requests
	// and sessions while a bulk import derives (bench/README.md), but
	// every CPU for a small batch a synchronous dialect waits on.
	WorkerParallel int `yaml:"worker_parallel"`
	// ScramHashes are the SCRAM families a new password gets keys for:
	// sha1,sha256 (the default), sha1 or sha256 (ejabberd's
	// auth_scram_hash: sha is sha1). One family halves what an account
	// costs to create and is what ejabberd and Prosody derive by default;
	// streams then offer only the mechanisms users can answer
	// (credential.Families).
	ScramHashes string `yaml:"scram_hashes"`
	// source is how this configuration was read (reload_config); nil when
	// it was built in code.
	source *configSource
}

// DefaultConfig is what `xmppgate serve` runs with when nothing is set.
func DefaultConfig() Config {
	return Config{
		Data:            "./data",
		HTTPAddr:        "127.0.0.1:5280",
		C2SAddr:         "0.0.0.0:5222",
		C2STLSAddr:      ":5223",
		WorkerSchedule:  "@every 5s",
		BootstrapDomain: "localhost",
		TokenMaxAge:     7 * 24 * time.Hour,
		LogLevel:        "info",
		Synchronous:     "FULL",
		MaxBody:         1 << 20,
		SMResumeTimeout: 300 * time.Second,
		S2SAddr:         ":5269", // xmppcore.DefaultS2SAddr
		S2STLSAddr:      ":5270",
		ScramHashes:     "sha1,sha256",
	}
}

// scramFamilies are the parsed scram_hashes (validated on load).
func (c Config) scramFamilies() credential.Families {
	f, err := credential.ParseFamilies(c.ScramHashes)
	if err != nil {
		return credential.Both
	}
	return f
}

// LoadConfig reads file (if not empty) over the defaults, then the
// environment.
func LoadConfig(file string, environ []string) (Config, error) {
	c := DefaultConfig()
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return c, err
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
			return c, fmt.Errorf("config %s: %w", file, err)
		}
	}
	env := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "XMPPGATE_") {
			env[strings.TrimPrefix(k, "XMPPGATE_")] = v
		}
	}
	rv := reflect.ValueOf(&c).Elem()
	for i := 0; i < rv.NumField(); i++ {
		tag := rv.Type().Field(i).Tag.Get("yaml")
		v, ok := env[strings.ToUpper(tag)]
		if !ok {
			continue
		}
		// Each value is read as YAML, so lists and durations work too; a
		// switch is read unquoted, so "true" is a boolean.
		val := quoteYAML(v)
		switch rv.Field(i).Kind() {
		case reflect.Bool, reflect.Int:
			// A count too: quoted, YAML would not read it as a number.
			val = v
		case reflect.Slice:
			// One item needs no brackets: XMPPGATE_TRANSFER_DIRS=/srv/x;
			// an empty value is an empty list.
			switch {
			case v == "":
				val = "[]"
			case !strings.HasPrefix(v, "["):
				val = "[" + val + "]"
			}
		}
		if err := yaml.Unmarshal([]byte(tag+": "+val), &c); err != nil {
			return c, fmt.Errorf("environment XMPPGATE_%s: %w", strings.ToUpper(tag), err)
		}
	}
	return c, c.Validate()
}

func quoteYAML(v string) string {
	if strings.HasPrefix(v, "[") || strings.HasPrefix(v, "{") {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", "''") + "'"
}

// NodeName is the configured node name, or xmppgate@ the host name.
func (c Config) NodeName() string {
	if c.Node != "" {
		return c.Node
	}
	h, err := os.Hostname()
	if err != nil || h == "" {
		h = "localhost"
	}
	return "xmppgate@" + h
}

// Validate checks values that would otherwise fail late.
func (c Config) Validate() error {
	if c.Data == "" {
		return errors.New("config: data must be set")
	}
	if c.WorkerSchedule == "" {
		return errors.New("config: worker_schedule must be set")
	}
	if c.Store != "" && !store.IsPostgres(c.Store) {
		return errors.New("config: store must be empty (SQLite in the data directory) or a postgres:// URL")
	}
	if c.NATSURL != "" && !store.IsPostgres(c.Store) {
		return errors.New("config: nats_url needs a postgres:// store shared by every node; an SQLite store serves one node")
	}
	if c.ClusterHeartbeat < 0 || c.ClusterLease < 0 {
		return errors.New("config: cluster_heartbeat and cluster_lease must not be negative (0: the defaults, 1s and 5s)")
	}
	if c.Node != "" && !strings.Contains(c.Node, "@") {
		return fmt.Errorf("config: node %q is not of the form name@host", c.Node)
	}
	for _, d := range c.TransferDirs {
		if !filepath.IsAbs(d) {
			return fmt.Errorf("config: transfer_dirs entry %q is not an absolute path", d)
		}
	}
	for i, s := range c.ExternalServices {
		if err := s.Validate(); err != nil {
			return fmt.Errorf("config: external_services[%d]: %w", i, err)
		}
	}
	if c.SMResumeTimeout <= 0 {
		return fmt.Errorf("config: sm_resume_timeout %s must be positive (e.g. 300s)", c.SMResumeTimeout)
	}
	switch c.TLSECDSACompanion {
	case "", "off", "auto", "on":
	default:
		return fmt.Errorf("config: tls_ecdsa_companion %q is not off, auto or on", c.TLSECDSACompanion)
	}
	switch c.TLSSessionTickets {
	case "", "persist", "memory", "off":
	default:
		return fmt.Errorf("config: tls_session_tickets %q is not persist, memory or off", c.TLSSessionTickets)
	}
	if (c.CertECDSAFile == "") != (c.KeyECDSAFile == "") {
		return errors.New("config: cert_ecdsa_file and key_ecdsa_file go together")
	}
	switch strings.ToUpper(c.Synchronous) {
	case "FULL", "NORMAL", "EXTRA":
	default:
		return fmt.Errorf("config: synchronous %q is not FULL, NORMAL or EXTRA", c.Synchronous)
	}
	if _, err := credential.ParseFamilies(c.ScramHashes); err != nil {
		return fmt.Errorf("config: scram_hashes: %w", err)
	}
	return nil
}
