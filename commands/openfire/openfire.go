// Package openfire answers the legacy query API of Openfire's User Service
// plugin ("/plugins/userService/userservice?type=add&secret=S&username=u")
// and its copy in the restAPI plugin, over the command registry,
// byte-compatible with the clients written for it. docs/openfire.md lists
// the choices made where Openfire's behaviour is a quirk.
package openfire

import (
	"context"
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

// The two paths of the legacy API. Mount both on New's handler.
const (
	// PathUserService is the User Service plugin's servlet (1.x, 2.x):
	// a disabled credential answers <error>UserServiceDisabled</error>.
	PathUserService = "/plugins/userService/userservice"
	// PathRestAPI is the restAPI plugin's copy: a disabled credential
	// answers HTTP 403 with an empty body, before the address check.
	PathRestAPI = "/plugins/restapi/v1/userservice"
)

// MaxBody bounds a POST body.
const MaxBody = 1 << 20

// contentType is Openfire's response type, without a charset.
const contentType = "text/xml"

// Handler serves the legacy query API.
type Handler struct {
	reg *commands.Registry
	env *commands.Env
	log *zap.Logger
}

// New returns the Openfire front end. env.Worker must be set: every
// mutation is applied before the answer.
func New(reg *commands.Registry, env *commands.Env) *Handler {
	log := env.Log
	if log == nil {
		log = zap.NewNop()
	}
	return &Handler{reg: reg, env: env, log: log.Named("dialect.openfire")}
}

// reply is one answer: a status and a body (empty for the restAPI's 403).
type reply struct {
	status int
	body   string
	result string // for the log line
}

// ServeHTTP answers one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var lg logLine
	var rep reply
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		w.Header().Set("Allow", "GET, POST")
		rep = reply{status: http.StatusMethodNotAllowed, result: "method_not_allowed"}
	} else if params, err := params(w, r); err != nil {
		rep = errorReply(http.StatusRequestEntityTooLarge, errIllegalArgument)
	} else {
		rep = h.handle(r.Context(), r, params, &lg)
	}
	if rep.body != "" {
		w.Header().Set("Content-Type", contentType)
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)

	h.env.LogRequest(commands.RequestLine{Dialect: commands.Openfire, Command: lg.cmd, Account: lg.account, Result: rep.result, Status: rep.status,
		Start: start, Err: lg.err}, h.log)
}

type logLine struct {
	cmd     string
	account int64
	err     error // an internal error, logged, never shown
}

func (h *Handler) handle(ctx context.Context, r *http.Request, params url.Values, lg *logLine) reply {
	restAPI := r.URL.Path == PathRestAPI
	lg.cmd = first(params, "type")
	// The credential is the account's, so it is resolved first; Openfire's
	// order (address, enabled, secret) is then applied to it. A wrong secret
	// cannot tell which account's address list or switch would have applied.
	cred, err := commands.AuthenticateOpenfire(ctx, h.env, commands.Openfire, first(params, "secret"))
	if err != nil {
		if commands.AsError(err).Reason == commands.ReasonBadCredentials {
			return errorReply(http.StatusOK, errNotAuthorised)
		}
		lg.err = err
		return internal()
	}
	lg.account = cred.Caller.Account
	if restAPI && !cred.Enabled {
		return reply{status: http.StatusForbidden, result: "disabled"}
	}
	if !cred.Allows(r) {
		return errorReply(http.StatusOK, errNotAuthorised)
	}
	if !cred.Enabled {
		return errorReply(http.StatusOK, errDisabled)
	}
	def, known := h.reg.Lookup(commands.Openfire, lg.cmd)
	if !known {
		// Openfire answers a missing type with a 500 page and an unknown one
		// with an empty 200; both are bad parameters here.
		return errorReply(http.StatusOK, errIllegalArgument)
	}
	caller := cred.Caller
	args, err := h.reg.Bind(ctx, h.env, caller, def, commands.Input{Text: decode(params, cred.Domain)})
	if err != nil {
		return h.failure(err, lg)
	}
	call := &commands.Call{Def: def, Caller: caller, Env: h.env, Reg: h.reg, Args: args}
	res, err := call.RunNow(ctx)
	if err != nil {
		return h.failure(err, lg)
	}
	return success(res)
}

// decode turns Openfire's parameters into the registry's raw arguments: the
// domain is the credential's, the username is normalised as Openfire does
// before nodeprep (trim, lower-case, XEP-0106 escaping; the binder then
// applies PRECIS), and an empty groups list is written "," so that it is
// not taken for an absent one.
func decode(params url.Values, domain string) commands.Raw {
	raw := commands.Raw{}
	for k, vs := range params {
		raw[k] = vs
	}
	raw["domain"] = []string{domain}
	if vs := raw["username"]; len(vs) > 0 && vs[0] != "" {
		raw["username"] = []string{commands.EscapeNode(strings.ToLower(trimJava(vs[0])))}
	}
	if vs, ok := raw["groups"]; ok && len(vs) > 0 && vs[0] == "" {
		raw["groups"] = []string{","}
	}
	return raw
}

// trimJava is Java's String.trim: it drops every leading and trailing
// character up to U+0020.
func trimJava(s string) string {
	return strings.TrimFunc(s, func(r rune) bool { return r <= ' ' })
}

func success(res any) reply {
	switch v := res.(type) {
	case commands.Receipt:
		return reply{status: http.StatusOK, body: "<result>ok</result>\n", result: "ok"}
	case commands.Table:
		var b strings.Builder
		b.WriteString("<result>")
		for _, row := range v.Rows {
			for _, cell := range row {
				s, _ := cell.(string)
				b.WriteString("<groupname>")
				b.WriteString(xmlText(s))
				b.WriteString("</groupname>")
			}
		}
		b.WriteString("</result>\n")
		return reply{status: http.StatusOK, body: b.String(), result: "ok"}
	}
	return reply{status: http.StatusOK, body: "<result>ok</result>\n", result: "ok"}
}

// xmlText escapes character data (what XML cannot carry becomes
// U+FFFD).
var xmlText = commands.EscapeXMLText

func first(v url.Values, name string) string {
	if vs := v[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// params reads the parameters as a servlet's getParameter does: the query
// string first, then an application/x-www-form-urlencoded body; the first
// value of a name wins. Malformed escapes are kept as they are.
func params(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	out := url.Values{}
	addPairs(out, r.URL.RawQuery)
	if r.Method != http.MethodPost || r.Body == nil {
		return out, nil
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if ct != "application/x-www-form-urlencoded" {
		return out, nil
	}
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return out, err
		}
		return out, nil
	}
	addPairs(out, string(b))
	return out, nil
}

func addPairs(out url.Values, q string) {
	for _, pair := range strings.Split(q, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		out[unescape(k)] = append(out[unescape(k)], unescape(v))
	}
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return strings.ReplaceAll(s, "+", " ")
}
