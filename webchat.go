package main

import (
	"encoding/json"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/gorilla/mux"
	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/xmppcore"
	"github.com/xmppgate/xmppgate/xmppcore/websocket"
)

// Web chat on the HTTP listeners: WebSocket (RFC 7395), BOSH (XEP-0206)
// and their discovery (XEP-0156), with the CORS answers pages on other
// origins need.

// Paths of the BOSH endpoint (ejabberd's and Prosody's).
var boshPaths = []string{"/http-bind", "/bosh"}

// XEP-0156 link relations.
const (
	relWebSocket = "urn:xmpp:alt-connections:websocket"
	relBOSH      = "urn:xmpp:alt-connections:xbosh"
)

// originPolicy is cors_origins: which web origins may use web chat.
type originPolicy struct {
	any     bool
	allowed []string
}

// newOriginPolicy reads cors_origins; unset, any origin is allowed when the
// HTTP listener is on loopback (a developer's machine, or behind a proxy
// that decides), none otherwise.
func newOriginPolicy(cfg Config) originPolicy {
	if cfg.CORSOrigins == nil {
		host, _, _ := net.SplitHostPort(cfg.HTTPAddr)
		ip := net.ParseIP(host)
		return originPolicy{any: host == "localhost" || ip != nil && ip.IsLoopback()}
	}
	p := originPolicy{}
	for _, o := range cfg.CORSOrigins {
		if o == "*" {
			p.any = true
		}
		p.allowed = append(p.allowed, strings.TrimSuffix(strings.ToLower(o), "/"))
	}
	return p
}

// allows reports whether a page of origin may call us. A page served by
// this listener itself (same host) always may.
func (p originPolicy) allows(origin, host string) bool {
	if p.any {
		return true
	}
	o := strings.ToLower(origin)
	if rest, ok := strings.CutPrefix(o, "https://"); ok && rest == strings.ToLower(host) {
		return true
	}
	if rest, ok := strings.CutPrefix(o, "http://"); ok && rest == strings.ToLower(host) {
		return true
	}
	return slices.Contains(p.allowed, o)
}

// checkWS is the WebSocket handshake's origin check: browsers apply no
// CORS there, so it is ours. A client that is not a browser sends no
// Origin and is let through.
func (p originPolicy) checkWS(r *http.Request) bool {
	o := r.Header.Get("Origin")
	return o == "" || p.allows(o, r.Host)
}

// cors answers preflights and adds the CORS headers to h's answers for
// allowed origins. BOSH posts text/xml, which browsers preflight.
func (p originPolicy) cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		ok := origin != "" && p.allows(origin, r.Host)
		if ok {
			hd := w.Header()
			hd.Set("Access-Control-Allow-Origin", origin)
			hd.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			if !ok {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			hd := w.Header()
			hd.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			hd.Set("Access-Control-Allow-Headers", "Content-Type")
			hd.Set("Access-Control-Max-Age", "86400")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// origins is cors_origins as serving applies it: a reload (reload_config,
// SIGHUP) replaces the policy with set, and the next request reads it.
type origins struct{ p atomic.Pointer[originPolicy] }

func (o *origins) set(cfg Config) {
	p := newOriginPolicy(cfg)
	o.p.Store(&p)
}

func (o *origins) checkWS(r *http.Request) bool { return o.p.Load().checkWS(r) }

func (o *origins) cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { o.p.Load().cors(h).ServeHTTP(w, r) })
}

// mountWebChat adds web chat's routes to router. bosh serves boshPaths;
// nil answers that BOSH is not available. It returns the origin policy,
// for a reload to replace.
func mountWebChat(router *mux.Router, cfg Config, xs *xmppcore.Server, bosh http.Handler, log *zap.Logger) *origins {
	p := &origins{}
	p.set(cfg)
	ws := &websocket.Handler{Server: xs, CheckOrigin: p.checkWS, Log: log.Named("websocket"), PingInterval: cfg.WebSocketPingInterval,
		InsecureOK: func(r *http.Request) bool { return cfg.WebSocketInsecureOK || websocket.Loopback(r) }}
	for _, path := range websocket.Paths {
		router.Path(path).Handler(ws)
	}
	if bosh == nil {
		bosh = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			http.Error(w, "BOSH (XEP-0206) is not implemented by this server yet; use WebSocket at /ws", http.StatusNotImplemented)
		})
	}
	for _, path := range boshPaths {
		router.Path(path).Handler(p.cors(bosh))
	}
	hm := hostMeta{xs: xs}
	router.Path("/.well-known/host-meta").Handler(p.cors(http.HandlerFunc(hm.xrd)))
	router.Path("/.well-known/host-meta.json").Handler(p.cors(http.HandlerFunc(hm.json)))
	return p
}

// hostMeta answers XEP-0156 discovery for the domain the Host header
// names: its WebSocket and BOSH endpoints on this listener.
type hostMeta struct{ xs *xmppcore.Server }

type link struct {
	Rel  string `json:"rel"`
	Href string `json:"href"`
}

// links are the endpoints for r's host, ws:// and http:// on a plain
// listener, wss:// and https:// on the TLS one. ok is false when the host
// is not a domain with web chat on.
func (h hostMeta) links(r *http.Request) ([]link, bool) {
	host := r.Host
	domain := host
	if d, _, err := net.SplitHostPort(host); err == nil {
		domain = d
	}
	if domain == "" || !h.xs.WebDomain(domain) {
		return nil, false
	}
	ws, web := "ws://", "http://"
	if r.TLS != nil {
		ws, web = "wss://", "https://"
	}
	return []link{
		{Rel: relWebSocket, Href: ws + host + websocket.Paths[0]},
		{Rel: relBOSH, Href: web + host + boshPaths[0]},
	}, true
}

func (h hostMeta) xrd(w http.ResponseWriter, r *http.Request) {
	links, ok := h.links(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	// Written by hand: encoding/xml cannot write the empty <Link/>
	// elements XEP-0156's examples show.
	var b strings.Builder
	b.WriteString(xml.Header + "<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n")
	for _, l := range links {
		b.WriteString("  <Link rel='" + l.Rel + "' href='")
		xml.EscapeText(&b, []byte(l.Href))
		b.WriteString("'/>\n")
	}
	b.WriteString("</XRD>\n")
	w.Header().Set("Content-Type", "application/xrd+xml; charset=utf-8")
	io.WriteString(w, b.String())
}

func (h hostMeta) json(w http.ResponseWriter, r *http.Request) {
	links, ok := h.links(r)
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.Encode(struct {
		Links []link `json:"links"`
	}{links})
}
