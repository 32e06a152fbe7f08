// Package rest answers the hosted-XMPP REST API of chatwith.it / Chatmongers
// (/api/1.0/xmppdomains[/<fqdn>[/users[/<username>[/acl]]]]) over the
// command registry: HTTP Basic with an account name and its API password,
// JSON bodies with sorted keys, 200 for every success and
// {"status":"error","message":…} with a meaningful HTTP code otherwise.
// docs/rest.md lists the choices made where the public documents are silent.
package rest

import (
	"bytes"
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

	h.env.LogRequest(commands.RequestLine{Dialect: commands.REST, Command: lg.cmd, Account: lg.account, Result: rep.result, Status: rep.status,
		Start: start, Err: lg.err}, h.log, zap.String("method", r.Method))
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
		return x.run("GET xmppdomains/<fqdn>/status", text(commands.Raw{"domain": {rt.fqdn}}), func(res any) any {
			return domainStatus(res.(commands.DomainInfo))
		})
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

// call binds the arguments of the REST command wire and runs it; mutations
// are applied before it returns (RunNow).
func (x *exchange) call(wire string, in commands.Input) (any, error) {
	x.lg.cmd = wire
	def, ok := x.h.reg.Lookup(commands.REST, wire)
	if !ok {
		return nil, errors.New("rest: the registry lacks " + wire)
	}
	args, err := x.h.reg.Bind(x.ctx, x.h.env, x.caller, def, in)
	if err != nil {
		return nil, err
	}
	c := &commands.Call{Def: def, Caller: x.caller, Env: x.h.env, Reg: x.h.reg, Args: args}
	return c.RunNow(x.ctx)
}

// run calls wire and answers its result as show writes it (nil: object).
func (x *exchange) run(wire string, in commands.Input, show func(any) any) reply {
	res, err := x.call(wire, in)
	if err != nil {
		return x.h.failure(err, x.lg)
	}
	if show == nil {
		show = object
	}
	return reply{status: http.StatusOK, body: show(res), result: "ok"}
}

func text(raw commands.Raw) commands.Input { return commands.Input{Text: raw} }

func (x *exchange) domains(method string, rt route) reply {
	if rt.depth == 0 {
		switch method {
		case http.MethodGet:
			return x.run("GET xmppdomains", commands.Input{}, nil)
		case http.MethodPost:
			return x.createDomain("")
		}
		return notAllowed("GET, POST")
	}
	raw := commands.Raw{"domain": {rt.fqdn}}
	switch method {
	case http.MethodGet:
		return x.run("GET xmppdomains/<fqdn>", text(raw), nil)
	case http.MethodPost:
		return x.createDomain(rt.fqdn)
	case http.MethodPut:
		raw["settings"] = []string{string(x.body)}
		return x.run("PUT xmppdomains/<fqdn>", text(raw), nil)
	case http.MethodDelete:
		return x.run("DELETE xmppdomains/<fqdn>", text(raw), func(res any) any {
			return deleted{Status: "success", Message: "XMPP domain " + res.(commands.DomainInfo).FQDN + " deleted"}
		})
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
	return x.run("POST xmppdomains[/<fqdn>]", text(raw), nil)
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
			return x.run("GET xmppdomains/<fqdn>/users", text(raw), func(res any) any { return newUserList(res.(commands.UserPage)) })
		case http.MethodPost:
			return x.createUser(rt)
		}
		return notAllowed("GET, POST")
	}
	raw["username"] = []string{rt.username}
	switch method {
	case http.MethodGet:
		return x.run("GET xmppdomains/<fqdn>/users/<username>", text(raw), nil)
	case http.MethodPost:
		return x.createUser(rt)
	case http.MethodPut:
		return x.updateUser(raw)
	case http.MethodDelete:
		return x.run("DELETE xmppdomains/<fqdn>/users/<username>", text(raw), func(any) any {
			return deleted{Status: "success", Message: "user " + rt.username + "@" + rt.fqdn + " deleted"}
		})
	}
	return notAllowed("GET, POST, PUT, DELETE")
}

// member is a member of a JSON object body, unless absent or null.
func member(m map[string]json.RawMessage, name string) (commands.Field, bool) {
	v, ok := m[name]
	if !ok || string(bytes.TrimSpace(v)) == "null" {
		return commands.Field{}, false
	}
	return commands.Field{Name: name, Value: v}, true
}

// createUser: the name is the path's, else the body's (a string), else a
// UUID; the password is the parameter's or the body's, else a UUID, and
// one given empty is refused. The user object answered is read after the
// change is applied.
func (x *exchange) createUser(rt route) reply {
	m, err := x.jsonBody()
	if err != nil {
		return x.h.failure(err, x.lg)
	}
	in := commands.Input{Text: commands.Raw{"domain": {rt.fqdn}}}
	if rt.username != "" {
		in.Text["username"] = []string{rt.username}
	} else if f, ok := member(m, "username"); ok && !isEmptyString(f.Value) {
		in.JSON = append(in.JSON, f)
	} else {
		in.Text["username"] = []string{commands.NewUUID()}
	}
	if pw, ok := x.param("password"); ok {
		// A parameter given empty is a password given empty, not none.
		in.JSON = append(in.JSON, commands.Field{Name: "password", Value: jsonString(pw)})
	} else if f, ok := member(m, "password"); ok {
		in.JSON = append(in.JSON, f)
	} else {
		in.Text["password"] = []string{commands.NewUUID()}
	}
	if _, err := x.call("POST xmppdomains/<fqdn>/users[/<username>]", in); err != nil {
		return x.h.failure(err, x.lg)
	}
	// The binder normalised the name; read the user back by it.
	read := commands.Input{Text: commands.Raw{"domain": in.Text["domain"], "username": in.Text["username"]}}
	if f, ok := field(in.JSON, "username"); ok {
		read.JSON = []commands.Field{f}
	}
	return x.run("GET xmppdomains/<fqdn>/users/<username>", read, nil)
}

// updateUser changes the password and enabled members of the body (the
// password also from the query string, where empty is none) in one change
// applied at once; the user object's other members are ignored. It
// answers the user object.
func (x *exchange) updateUser(raw commands.Raw) reply {
	m, err := x.jsonBody()
	if err != nil {
		return x.h.failure(err, x.lg)
	}
	in := commands.Input{Text: raw}
	for _, name := range []string{"password", "enabled"} {
		if f, ok := member(m, name); ok {
			in.JSON = append(in.JSON, f)
		}
	}
	if pw, ok := x.param("password"); ok {
		in.Text["password"] = []string{pw}
	}
	if _, err := x.call("PUT xmppdomains/<fqdn>/users/<username>", in); err != nil {
		return x.h.failure(err, x.lg)
	}
	return x.run("GET xmppdomains/<fqdn>/users/<username>", text(commands.Raw{"domain": raw["domain"], "username": raw["username"]}), nil)
}

func field(fs []commands.Field, name string) (commands.Field, bool) {
	for _, f := range fs {
		if f.Name == name {
			return f, true
		}
	}
	return commands.Field{}, false
}

func jsonString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

func isEmptyString(v json.RawMessage) bool {
	var s string
	return json.Unmarshal(v, &s) == nil && s == ""
}

func (x *exchange) acl(method string, rt route) reply {
	raw := commands.Raw{"domain": {rt.fqdn}, "username": {rt.username}}
	switch method {
	case http.MethodGet:
		return x.run("GET xmppdomains/<fqdn>/users/<username>/acl", text(raw), nil)
	case http.MethodPost:
		raw["acl"] = []string{string(x.body)}
		return x.run("POST xmppdomains/<fqdn>/users/<username>/acl", text(raw), nil)
	}
	return notAllowed("GET, POST")
}
