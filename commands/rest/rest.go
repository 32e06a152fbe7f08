// Package rest answers the hosted-XMPP REST API of chatwith.it / Chatmongers
// (/api/1.0/xmppdomains[/<fqdn>[/users[/<username>[/acl]]]]) over the
// command registry: HTTP Basic with an account name and its API password,
// JSON bodies with sorted keys, 200 for every success and
// {"status":"error","message":…} with a meaningful HTTP code otherwise.
// docs/rest.md lists the choices made where the public documents are silent.
package rest

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/commands"
)

// Prefix is the path prefix to mount New's handler on.
const Prefix = "/api/1.0/"

// base is the collection every endpoint hangs off.
const base = "/api/1.0/xmppdomains"

// MaxBody bounds a request body.
const MaxBody = 1 << 20

// Config configures the dialect; the zero value is the documented default.
type Config struct {
	// ParentDomain is where POST without a name creates its random domain
	// (<4 letters>.<ParentDomain>); default commands.DefaultRESTParent
	// ("chatwith.localhost").
	ParentDomain string
	// Realm is the Basic realm of WWW-Authenticate; default "xmppgate".
	Realm string
}

// Handler serves the REST API.
type Handler struct {
	reg *commands.Registry
	env *commands.Env
	cfg Config
	log *zap.Logger
}

// New returns the REST front end; mount it on Prefix. env.Worker must be
// set: user changes are applied before the answer.
func New(reg *commands.Registry, env *commands.Env, cfg Config) http.Handler {
	if cfg.ParentDomain == "" {
		cfg.ParentDomain = commands.DefaultRESTParent
	}
	if cfg.Realm == "" {
		cfg.Realm = "xmppgate"
	}
	log := env.Log
	if log == nil {
		log = zap.NewNop()
	}
	return &Handler{reg: reg, env: env, cfg: cfg, log: log.Named("dialect.rest")}
}

// reply is one answer.
type reply struct {
	status int
	body   any
	allow  string // for 405
	result string // for the log line
}

type logLine struct {
	cmd     string
	account int64
	err     error // internal, logged, never shown
}

// ServeHTTP answers one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var lg logLine
	rep := h.serve(r, &lg)
	if rep.status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="`+h.cfg.Realm+`", charset="UTF-8"`)
	}
	if rep.allow != "" {
		w.Header().Set("Allow", rep.allow)
	}
	body, err := encode(rep.body)
	if err != nil {
		lg.err = err
		rep = errorReply(http.StatusInternalServerError, "internal error")
		body, _ = encode(rep.body)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(body)

	commands.RequestLine{Dialect: commands.REST, Command: lg.cmd, Account: lg.account, Result: rep.result, Status: rep.status,
		Start: start, Err: lg.err}.Log(h.log, zap.String("method", r.Method))
}

// encode renders JSON with two-space indentation, no HTML escaping, and a
// final newline; maps and the objects of commands sort their keys.
func encode(v any) ([]byte, error) {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// route is a parsed path below base.
type route struct {
	fqdn, sub, username, tail string
	depth                     int // number of segments below base
}

func parsePath(p string) (route, bool) {
	if p != base && !strings.HasPrefix(p, base+"/") {
		return route{}, false
	}
	rest := strings.Trim(strings.TrimPrefix(p, base), "/")
	if rest == "" {
		return route{}, true
	}
	segs := strings.Split(rest, "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" {
			return route{}, false
		}
		segs[i] = u
	}
	rt := route{depth: len(segs), fqdn: segs[0]}
	if len(segs) > 1 {
		rt.sub = segs[1]
	}
	if len(segs) > 2 {
		rt.username = segs[2]
	}
	if len(segs) > 3 {
		rt.tail = segs[3]
	}
	return rt, len(segs) <= 4
}

func (h *Handler) serve(r *http.Request, lg *logLine) reply {
	rt, ok := parsePath(r.URL.EscapedPath())
	if !ok {
		return errorReply(http.StatusNotFound, "no such resource")
	}
	user, pass, hasAuth := r.BasicAuth()
	if !hasAuth {
		return errorReply(http.StatusUnauthorized, "authentication required")
	}
	caller, err := commands.AuthenticateREST(r.Context(), h.env, user, pass)
	if err != nil {
		if commands.AsError(err).Reason == commands.ReasonBadCredentials {
			return errorReply(http.StatusUnauthorized, "invalid credentials")
		}
		lg.err = err
		return internal()
	}
	lg.account = caller.Account
	q := r.URL.Query()
	if f := q.Get("format"); f != "" && !strings.EqualFold(f, "json") {
		return errorReply(http.StatusBadRequest, "unsupported format "+strconv.Quote(f)+": only json is offered")
	}
	body, form, err := readBody(r)
	if err != nil {
		return h.failure(err, lg)
	}
	x := &exchange{h: h, ctx: r.Context(), caller: caller, lg: lg, q: q, form: form, body: body}
	switch {
	case rt.depth <= 1:
		return x.domains(r.Method, rt)
	case rt.sub == "status" && rt.depth == 2:
		if r.Method != http.MethodGet {
			return notAllowed("GET")
		}
		return x.run("GET xmppdomains/<fqdn>/status", commands.Raw{"domain": {rt.fqdn}})
	case (rt.sub == "start" || rt.sub == "stop" || rt.sub == "aclupdate") && rt.depth == 2:
		return errorReply(http.StatusNotImplemented, "the "+rt.sub+" action is not implemented")
	case rt.sub == "users" && rt.depth <= 3:
		return x.users(r.Method, rt)
	case rt.sub == "users" && rt.depth == 4 && rt.tail == "acl":
		return x.acl(r.Method, rt)
	case rt.depth == 2 && rt.sub != "users" && rt.sub != "gateway":
		return errorReply(http.StatusBadRequest, "unknown action "+strconv.Quote(rt.sub))
	}
	return errorReply(http.StatusNotFound, "no such resource")
}

// readBody reads a form or JSON body; form is nil unless the body was
// application/x-www-form-urlencoded.
func readBody(r *http.Request) ([]byte, url.Values, error) {
	if r.Body == nil {
		return nil, nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, MaxBody+1))
	if err != nil {
		return nil, nil, commands.Errorf(commands.Invalid, commands.ReasonMalformed, "", "unreadable body")
	}
	if len(b) > MaxBody {
		return nil, nil, commands.Errorf(commands.Invalid, commands.ReasonMalformed, "", "the body is larger than 1 MiB")
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(b))
		if err != nil {
			return nil, nil, commands.Errorf(commands.Invalid, commands.ReasonMalformed, "", "malformed form body")
		}
		return nil, form, nil
	}
	return b, nil, nil
}

// exchange is one authenticated request.
type exchange struct {
	h      *Handler
	ctx    context.Context
	caller commands.Caller
	lg     *logLine
	q      url.Values
	form   url.Values
	body   []byte
}

// param is a parameter from the query string or a form body.
func (x *exchange) param(name string) (string, bool) {
	if x.form != nil && x.form.Has(name) {
		return x.form.Get(name), true
	}
	if x.q.Has(name) {
		return x.q.Get(name), true
	}
	return "", false
}

// jsonBody decodes the body as a JSON object (nil if there is no body).
func (x *exchange) jsonBody() (map[string]json.RawMessage, error) {
	if len(strings.TrimSpace(string(x.body))) == 0 {
		return nil, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(x.body, &m); err != nil || m == nil {
		return nil, commands.Errorf(commands.Invalid, commands.ReasonMalformed, "", "the body is not a JSON object")
	}
	return m, nil
}

// call binds raw for the REST command wire and runs it; mutations are
// applied before it returns (RunNow).
func (x *exchange) call(wire string, raw commands.Raw) (any, error) {
	x.lg.cmd = wire
	def, ok := x.h.reg.Lookup(commands.REST, wire)
	if !ok {
		return nil, errors.New("rest: the registry lacks " + wire)
	}
	args, err := x.h.reg.Bind(x.ctx, x.h.env, x.caller, def, commands.Input{Text: raw})
	if err != nil {
		return nil, err
	}
	c := &commands.Call{Def: def, Caller: x.caller, Env: x.h.env, Reg: x.h.reg, Args: args}
	return c.RunNow(x.ctx)
}

func (x *exchange) run(wire string, raw commands.Raw) reply {
	res, err := x.call(wire, raw)
	if err != nil {
		return x.h.failure(err, x.lg)
	}
	return reply{status: http.StatusOK, body: res, result: "ok"}
}

func (x *exchange) domains(method string, rt route) reply {
	if rt.depth == 0 {
		switch method {
		case http.MethodGet:
			return x.run("GET xmppdomains", nil)
		case http.MethodPost:
			return x.createDomain("")
		}
		return notAllowed("GET, POST")
	}
	raw := commands.Raw{"domain": {rt.fqdn}}
	switch method {
	case http.MethodGet:
		return x.run("GET xmppdomains/<fqdn>", raw)
	case http.MethodPost:
		return x.createDomain(rt.fqdn)
	case http.MethodPut:
		raw["settings"] = []string{string(x.body)}
		return x.run("PUT xmppdomains/<fqdn>", raw)
	case http.MethodDelete:
		return x.run("DELETE xmppdomains/<fqdn>", raw)
	}
	return notAllowed("GET, POST, PUT, DELETE")
}

func (x *exchange) createDomain(fqdn string) reply {
	raw := commands.Raw{"parent": {x.h.cfg.ParentDomain}, "settings": {string(x.body)}}
	if fqdn != "" {
		raw["fqdn"] = []string{fqdn}
	}
	if org, ok := x.param("organization_name"); ok {
		raw["organization_name"] = []string{org}
	}
	return x.run("POST xmppdomains[/<fqdn>]", raw)
}

func (x *exchange) users(method string, rt route) reply {
	raw := commands.Raw{"domain": {rt.fqdn}}
	if rt.depth == 2 {
		switch method {
		case http.MethodGet:
			for _, p := range []string{"limit", "offset"} {
				if v, ok := x.param(p); ok {
					raw[p] = []string{v}
				}
			}
			return x.run("GET xmppdomains/<fqdn>/users", raw)
		case http.MethodPost:
			return x.createUser(rt)
		}
		return notAllowed("GET, POST")
	}
	raw["username"] = []string{rt.username}
	switch method {
	case http.MethodGet:
		return x.run("GET xmppdomains/<fqdn>/users/<username>", raw)
	case http.MethodPost:
		return x.createUser(rt)
	case http.MethodPut:
		return x.updateUser(raw)
	case http.MethodDelete:
		if _, err := x.call("DELETE xmppdomains/<fqdn>/users/<username>", raw); err != nil {
			return x.h.failure(err, x.lg)
		}
		return reply{status: http.StatusOK, result: "ok",
			body: commands.Deleted{Status: "success", Message: "user " + rt.username + "@" + rt.fqdn + " deleted"}}
	}
	return notAllowed("GET, POST, PUT, DELETE")
}

// stringField reads an optional string member of a JSON body.
func stringField(m map[string]json.RawMessage, name string) (string, bool, error) {
	v, ok := m[name]
	if !ok || string(v) == "null" {
		return "", false, nil
	}
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return "", false, commands.Errorf(commands.Invalid, commands.ReasonMalformed, name, "%s must be a string", name)
	}
	return s, true, nil
}

// createUser: the name is the path's, else the body's, else a UUID; the
// password is the parameter's or the body's, else a UUID. The user object
// answered is read after the change is applied.
func (x *exchange) createUser(rt route) reply {
	m, err := x.jsonBody()
	if err != nil {
		return x.h.failure(err, x.lg)
	}
	name := rt.username
	if name == "" {
		s, ok, err := stringField(m, "username")
		if err != nil {
			return x.h.failure(err, x.lg)
		}
		name = s
		if !ok || s == "" {
			name = commands.NewUUID()
		}
	}
	pw, ok := x.param("password")
	if !ok {
		s, has, err := stringField(m, "password")
		if err != nil {
			return x.h.failure(err, x.lg)
		}
		pw, ok = s, has
	}
	if !ok {
		pw = commands.NewUUID()
	} else if pw == "" {
		return x.h.failure(commands.Errorf(commands.Invalid, commands.ReasonMalformed, "password", "password must not be empty"), x.lg)
	}
	raw := commands.Raw{"domain": {rt.fqdn}, "username": {name}, "password": {pw}}
	res, err := x.call("POST xmppdomains/<fqdn>/users[/<username>]", raw)
	if err != nil {
		return x.h.failure(err, x.lg)
	}
	_ = res
	// The binder normalised the name; read the user back by it.
	return x.readUser(raw)
}

func (x *exchange) readUser(raw commands.Raw) reply {
	return x.run("GET xmppdomains/<fqdn>/users/<username>", commands.Raw{"domain": raw["domain"], "username": raw["username"]})
}

// updateUser applies password, then enabled (each a queued change applied
// at once); enabled equal to the current state queues nothing. Other
// fields of the user object are ignored.
func (x *exchange) updateUser(raw commands.Raw) reply {
	m, err := x.jsonBody()
	if err != nil {
		return x.h.failure(err, x.lg)
	}
	cur, err := x.call("GET xmppdomains/<fqdn>/users/<username>", raw)
	if err != nil {
		return x.h.failure(err, x.lg)
	}
	pw, hasPw, err := stringField(m, "password")
	if err != nil {
		return x.h.failure(err, x.lg)
	}
	if !hasPw {
		if pw, hasPw = x.param("password"); hasPw && pw == "" {
			hasPw = false
		}
	}
	var enabled *bool
	if v, ok := m["enabled"]; ok && string(v) != "null" {
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return x.h.failure(commands.Errorf(commands.Invalid, commands.ReasonMalformed, "enabled", "enabled must be a boolean"), x.lg)
		}
		enabled = &b
	}
	if hasPw {
		r := commands.Raw{"domain": raw["domain"], "username": raw["username"], "password": {pw}}
		if pw == "" {
			return x.h.failure(commands.Errorf(commands.Invalid, commands.ReasonMalformed, "password", "password must not be empty"), x.lg)
		}
		if _, err := x.call("PUT xmppdomains/<fqdn>/users/<username> password", r); err != nil {
			return x.h.failure(err, x.lg)
		}
	}
	if enabled != nil && *enabled != cur.(commands.UserObject).Enabled {
		wire := "PUT xmppdomains/<fqdn>/users/<username> enabled=false"
		if *enabled {
			wire = "PUT xmppdomains/<fqdn>/users/<username> enabled=true"
		}
		if _, err := x.call(wire, raw); err != nil {
			return x.h.failure(err, x.lg)
		}
	}
	return x.readUser(raw)
}

func (x *exchange) acl(method string, rt route) reply {
	raw := commands.Raw{"domain": {rt.fqdn}, "username": {rt.username}}
	switch method {
	case http.MethodGet:
		return x.run("GET xmppdomains/<fqdn>/users/<username>/acl", raw)
	case http.MethodPost:
		raw["acl"] = []string{string(x.body)}
		return x.run("POST xmppdomains/<fqdn>/users/<username>/acl", raw)
	}
	return notAllowed("GET, POST")
}
