// Package openfirerest answers the REST form of Openfire's provisioning
// plugins: the User Service 2.x REST API under /plugins/userService/ and
// the restAPI plugin under /plugins/restapi/v1/ (users, user groups,
// roster, lockouts, groups), with the raw-secret Authorization header,
// XML or JSON bodies and Openfire's status codes and error triplets. Its
// routes are the registry's OpenfireREST command names ("GET users/{username}").
// docs/openfire.md lists the choices made where Openfire's behaviour is a quirk.
package openfirerest

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/commands"
)

// The two bases. Mount both on New's handler, after the legacy query API's
// exact paths (/plugins/userService/userservice, /plugins/restapi/v1/userservice).
const (
	// PrefixRestAPI is the restAPI plugin's base (R).
	PrefixRestAPI = "/plugins/restapi/v1/"
	// PrefixUserService is the User Service 2.x REST base (L2): conflicts
	// answer 400 and errors are always XML there.
	PrefixUserService = "/plugins/userService/"
)

// Prefixes lists the bases, for mounting.
var Prefixes = []string{PrefixRestAPI, PrefixUserService}

// MaxBody bounds a request body.
const MaxBody = 1 << 20

// Handler serves the REST API.
type Handler struct {
	reg    *commands.Registry
	env    *commands.Env
	log    *zap.Logger
	routes []route
}

// New returns the front end. env.Worker must be set: every mutation is
// applied before the answer.
func New(reg *commands.Registry, env *commands.Env) *Handler {
	log := env.Log
	if log == nil {
		log = zap.NewNop()
	}
	h := &Handler{reg: reg, env: env, log: log.Named("dialect.openfirerest")}
	for _, d := range reg.Dialect(commands.OpenfireREST) {
		h.routes = append(h.routes, parseRoute(d))
	}
	return h
}

// logLine is what the request's log line carries besides status and time.
type logLine struct {
	cmd     string
	account int64
	result  string
	err     error
}

// ServeHTTP answers one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var lg logLine
	rep := h.handle(w, r, &lg)
	hdr := w.Header()
	// The restAPI plugin's CORS headers, on every answer.
	hdr.Set("Access-Control-Allow-Origin", "*")
	hdr.Set("Access-Control-Allow-Headers", "origin, content-type, accept, authorization")
	hdr.Set("Access-Control-Allow-Credentials", "true")
	hdr.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS, HEAD")
	if rep.contentType != "" {
		hdr.Set("Content-Type", rep.contentType)
	}
	hdr.Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(rep.body)
	}
	if lg.result == "" {
		lg.result = "ok"
	}
	h.env.LogRequest(commands.RequestLine{Dialect: commands.OpenfireREST, Command: lg.cmd, Account: lg.account, Result: lg.result,
		Status: rep.status, Start: start, Err: lg.err}, h.log)
}

// reply is one answer.
type reply struct {
	status      int
	contentType string
	body        []byte
}

func empty(status int, lg *logLine, result string) reply {
	lg.result = result
	return reply{status: status}
}

func (h *Handler) handle(w http.ResponseWriter, r *http.Request, lg *logLine) reply {
	base, rest := PrefixRestAPI, strings.TrimPrefix(r.URL.EscapedPath(), PrefixRestAPI)
	if strings.HasPrefix(r.URL.EscapedPath(), PrefixUserService) {
		base, rest = PrefixUserService, strings.TrimPrefix(r.URL.EscapedPath(), PrefixUserService)
	}
	if r.Method == http.MethodOptions {
		return reply{status: http.StatusOK} // CORS preflight passes the filter
	}
	// The secret names the account, whose switch and address list then
	// apply in Openfire's order: disabled 403, address 401.
	ctx := r.Context()
	cred, err := commands.AuthenticateOpenfire(ctx, h.env, commands.OpenfireREST, r.Header.Get("Authorization"))
	if err != nil {
		if commands.AsError(err).Reason == commands.ReasonBadCredentials {
			return empty(http.StatusUnauthorized, lg, "unauthorized")
		}
		lg.err = err
		return empty(http.StatusInternalServerError, lg, "internal")
	}
	lg.account = cred.Caller.Account
	if !cred.Enabled {
		return empty(http.StatusForbidden, lg, "disabled")
	}
	if !cred.Allows(r) {
		return empty(http.StatusUnauthorized, lg, "address_refused")
	}

	rt, vars, allowed := h.match(r.Method, rest)
	if rt == nil {
		if len(allowed) > 0 {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			return empty(http.StatusMethodNotAllowed, lg, "method_not_allowed")
		}
		return empty(http.StatusNotFound, lg, "no_route")
	}
	lg.cmd = rt.wire
	ef := errorFormat(r, base)
	fail := func(status int, exception, message, resource string) reply {
		lg.result = exception
		return errorReply(ef, status, exception, message, resource)
	}

	body, err := readBody(w, r)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return empty(http.StatusRequestEntityTooLarge, lg, "too_large")
		}
		if errors.Is(err, errMediaType) {
			return empty(http.StatusUnsupportedMediaType, lg, "unsupported_media_type")
		}
		return fail(http.StatusBadRequest, exIllegalArgument, "malformed request body: "+err.Error(), "")
	}
	if len(body["properties"]) > 0 {
		return fail(http.StatusBadRequest, exIllegalArgument, "user properties are not supported", "")
	}
	raw, conflict := buildRaw(rt.def, r.URL.Query(), body, vars, cred.Domain)
	if conflict != "" {
		return fail(http.StatusBadRequest, exIllegalArgument, "the body's "+conflict+" differs from the path's", vars[conflict])
	}

	caller := cred.Caller
	args, err := h.reg.Bind(ctx, h.env, caller, rt.def, commands.Input{Text: raw})
	if err == nil {
		call := &commands.Call{Def: rt.def, Caller: caller, Env: h.env, Reg: h.reg, Args: args}
		var res any
		if res, err = call.RunNow(ctx); err == nil {
			return h.success(r, rt, res)
		}
	}
	m := mapError(err, r.Method, base)
	if m.status == http.StatusInternalServerError {
		lg.err = err
	}
	return fail(m.status, m.exception, m.message, resourceOf(commands.AsError(err), rt, vars, raw))
}

// success renders a result: a mutation answers 201 (POST) or 200 with an
// empty body, a read its entity, an action that stores nothing (a chat room
// invitation) 200.
func (h *Handler) success(r *http.Request, rt *route, res any) reply {
	t, ok := res.(commands.Table)
	if _, queued := res.(commands.Receipt); queued || !ok {
		if r.Method == http.MethodPost && rt.def.Result.Kind != commands.ResultStatus {
			return reply{status: http.StatusCreated}
		}
		return reply{status: http.StatusOK}
	}
	if wantJSON(r) {
		return reply{status: http.StatusOK, contentType: "application/json", body: renderJSON(t, rt.item)}
	}
	return reply{status: http.StatusOK, contentType: "application/xml", body: renderXML(t, rt.item)}
}

// buildRaw turns query, body and path variables into the registry's raw
// arguments. Path variables win; a body field naming a path variable with
// another value is a conflict (Openfire's group rename refusal; xmppgate
// does not rename users either). A list argument gets a JSON array; other
// arguments the first value, or several values joined by commas (roster
// groups).
func buildRaw(def *commands.Def, query url.Values, body fields, vars map[string]string, domain string) (commands.Raw, string) {
	raw := commands.Raw{}
	for k, vs := range query {
		raw[k] = vs
	}
	for _, a := range def.ArgsIn(commands.OpenfireREST) {
		wire := a.WireName(commands.OpenfireREST)
		vs, ok := body.get(wire)
		if !ok {
			continue
		}
		if v, isVar := vars[wire]; isVar && a.Type != commands.List && len(vs) > 0 && !sameName(vs[0], v) {
			return nil, wire
		}
		if a.Type == commands.List {
			raw[wire] = []string{jsonList(vs)}
		} else {
			raw[wire] = []string{strings.Join(vs, ",")}
		}
	}
	for _, a := range def.ArgsIn(commands.OpenfireREST) {
		wire := a.WireName(commands.OpenfireREST)
		if v, ok := vars[wire]; ok {
			if a.Type == commands.List {
				raw[wire] = []string{jsonList([]string{v})}
			} else {
				raw[wire] = []string{v}
			}
		}
	}
	raw["domain"] = []string{domain}
	// Openfire's username handling: trim, lower-case, XEP-0106 escaping;
	// the binder then applies PRECIS (as the legacy dialect does). Only for
	// a user's name: the audit log's username is who acted, kept as given.
	if vs := raw["username"]; len(vs) > 0 && vs[0] != "" && isLocalpart(def, "username") {
		raw["username"] = []string{commands.EscapeNode(strings.ToLower(strings.TrimSpace(vs[0])))}
	}
	return raw, ""
}

// isLocalpart says whether def's argument of that wire name is a username.
func isLocalpart(def *commands.Def, wire string) bool {
	for _, a := range def.ArgsIn(commands.OpenfireREST) {
		if a.WireName(commands.OpenfireREST) == wire {
			return a.Type == commands.Localpart
		}
	}
	return false
}

func sameName(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

// readBody reads a JSON or XML body (up to MaxBody) into fields.
func readBody(w http.ResponseWriter, r *http.Request) (fields, error) {
	if r.Body == nil {
		return fields{}, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		return nil, err
	}
	if len(strings.TrimSpace(string(b))) == 0 {
		return fields{}, nil
	}
	return parseBody(r.Header.Get("Content-Type"), b)
}
