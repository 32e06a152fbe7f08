// Package console is the operator's web console: server-rendered pages at
// /admin on the HTTP listener, one more front end on the command registry.
// Every page reads, and every button acts, through registry commands (their
// Console names), exactly as the other dialects call them; the console
// decides only how they look.
//
// Only operators get in: an admin JID and its password (the ejabberd API's
// door), of an account marked operator. A session is a random cookie
// (HttpOnly, SameSite=Strict, Secure over TLS) kept server-side with an
// idle and an absolute expiry. Every POST must carry the session's CSRF
// token and come from the console's own origin (Origin, else Referer).
package console

import (
	"embed"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/commands"
)

// Prefix is where the console is mounted.
const Prefix = "/admin"

// cookieName is the session cookie.
const cookieName = "xmppgate_console"

// Options configure the console; the zero value is the documented default.
type Options struct {
	// IdleTimeout ends a session unused this long (default 30 minutes);
	// MaxAge ends any session this old (default 12 hours).
	IdleTimeout, MaxAge time.Duration
	// LoginFailures failed logins from one address within LoginWindow
	// (default 10 in 5 minutes) make it wait for the window to pass.
	LoginFailures int
	LoginWindow   time.Duration
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time
}

//go:embed templates/*.html templates/style.css
var files embed.FS

// Handler serves the console.
type Handler struct {
	reg      *commands.Registry
	env      *commands.Env
	log      *zap.Logger
	sessions *sessions
	throttle *throttle
	pages    map[string]*template.Template
	style    []byte
	mux      *http.ServeMux
}

// New returns the console; mount it on Prefix and everything below it.
// env.Worker must be set: actions are applied before the page answers, so
// the dashboard shows their batch's result.
func New(reg *commands.Registry, env *commands.Env, opts Options) *Handler {
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 30 * time.Minute
	}
	if opts.MaxAge <= 0 {
		opts.MaxAge = 12 * time.Hour
	}
	if opts.LoginFailures <= 0 {
		opts.LoginFailures = 10
	}
	if opts.LoginWindow <= 0 {
		opts.LoginWindow = 5 * time.Minute
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	log := env.Log
	if log == nil {
		log = zap.NewNop()
	}
	style, err := files.ReadFile("templates/style.css")
	if err != nil {
		panic(err)
	}
	h := &Handler{reg: reg, env: env, log: log.Named("dialect.console"), style: style,
		sessions: &sessions{m: map[[32]byte]*session{}, idle: opts.IdleTimeout, max: opts.MaxAge, now: opts.Now},
		throttle: &throttle{m: map[string]*failures{}, limit: opts.LoginFailures, window: opts.LoginWindow, now: opts.Now},
		pages:    map[string]*template.Template{}}
	for _, name := range []string{"login", "dashboard", "domains", "users", "keys", "audit", "error"} {
		h.pages[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/"+name+".html"))
	}
	m := http.NewServeMux()
	m.HandleFunc("GET "+Prefix+"/style.css", h.serveStyle)
	m.HandleFunc("GET "+Prefix+"/login", h.loginPage)
	m.HandleFunc("POST "+Prefix+"/login", h.login)
	m.HandleFunc("POST "+Prefix+"/logout", h.authed(h.logout))
	m.HandleFunc("GET "+Prefix+"/{$}", h.authed(h.dashboard))
	m.HandleFunc("GET "+Prefix+"/domains", h.authed(h.domains))
	m.HandleFunc("GET "+Prefix+"/users", h.authed(h.users))
	m.HandleFunc("POST "+Prefix+"/users/{action}", h.authed(h.userAction))
	m.HandleFunc("GET "+Prefix+"/keys", h.authed(h.keys))
	m.HandleFunc("GET "+Prefix+"/audit", h.authed(h.audit))
	m.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
	})
	h.mux = m
	return h
}

// ServeHTTP answers one request with the console's safety headers: no
// framing, no caching, no scripts, styles only from the console itself.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) serveStyle(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/css; charset=utf-8")
	w.Header().Set("Cache-Control", "max-age=3600")
	w.Write(h.style) //nolint:errcheck // the client went away
}

// exchange is one request of a logged-in operator.
type exchange struct {
	w      http.ResponseWriter
	r      *http.Request
	ses    *session
	cookie string
	caller commands.Caller
	line   commands.RequestLine
}

// authed resolves the session and its caller before next runs; a POST
// must also pass the CSRF checks. Without a session a page redirects to
// the login form and a POST is refused.
func (h *Handler) authed(next func(*exchange)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		x := &exchange{w: w, r: r, line: commands.RequestLine{Dialect: commands.Console, Start: time.Now(), Command: r.Method + " " + r.URL.Path}}
		defer func() {
			h.env.LogRequest(x.line, h.log, zap.String("method", r.Method), zap.String("path", r.URL.Path))
		}()
		c, err := r.Cookie(cookieName)
		var ok bool
		if err == nil {
			x.cookie = c.Value
			x.ses, ok = h.sessions.get(c.Value)
		}
		if ok {
			x.caller, ok, err = commands.ConsoleCaller(r.Context(), h.env, x.ses.jid)
			if err != nil {
				h.internal(x, err)
				return
			}
			if !ok {
				h.sessions.remove(x.cookie)
			}
		}
		if !ok {
			if r.Method == http.MethodPost {
				h.refuse(x, http.StatusForbidden, "no_session", "Your session has ended. Log in again.")
				return
			}
			x.line.Result, x.line.Status = "no_session", http.StatusSeeOther
			http.Redirect(w, r, Prefix+"/login", http.StatusSeeOther)
			return
		}
		x.line.Account = x.caller.Account
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
			if !sameOrigin(r) {
				h.refuse(x, http.StatusForbidden, "cross_origin", "Refused: the form was not sent from this console.")
				return
			}
			if !validCSRF(x.ses, r.PostFormValue("csrf")) {
				h.refuse(x, http.StatusForbidden, "bad_csrf", "Refused: the form's token is missing or stale. Reload the page and try again.")
				return
			}
		}
		next(x)
	}
}

// sameOrigin reports whether a POST comes from a page of this host: its
// Origin, or without one its Referer, names the host the request was sent
// to. A request with neither is refused (every current browser sends
// Origin on a POST). Over TLS the page must be https too; over plain HTTP
// either scheme is taken, as a TLS proxy in front shows its https origin.
func sameOrigin(r *http.Request) bool {
	src := r.Header.Get("Origin")
	if src == "" || src == "null" {
		src = r.Header.Get("Referer")
	}
	if src == "" {
		return false
	}
	u, err := url.Parse(src)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (r.TLS != nil && u.Scheme != "https") {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

// refuse answers a refused request with the error page.
func (h *Handler) refuse(x *exchange, status int, result, msg string) {
	x.line.Result, x.line.Status = result, status
	h.render(x.w, status, "error", view{Title: "Refused", Message: msg})
}

func (h *Handler) internal(x *exchange, err error) {
	x.line.Result, x.line.Status, x.line.Err = "internal", http.StatusInternalServerError, err
	h.render(x.w, http.StatusInternalServerError, "error", view{Title: "Error", Message: "Internal error; the server's log says more."})
}

// view is what every template gets.
type view struct {
	Title   string
	Nav     string
	JID     string
	CSRF    string
	Flash   string
	FlashOK bool
	Message string
	Data    any
}

func (h *Handler) render(w http.ResponseWriter, status int, name string, v view) {
	var b strings.Builder
	if err := h.pages[name].Execute(&b, v); err != nil {
		h.log.Error("console template", zap.String("page", name), zap.Error(err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(b.String())) //nolint:errcheck // the client went away
}

// page renders a logged-in page with the session's flash message.
func (h *Handler) page(x *exchange, name, title string, data any) {
	flash, isErr := h.sessions.takeFlash(x.ses)
	if x.line.Result == "" {
		x.line.Result = "success"
	}
	x.line.Status = http.StatusOK
	h.render(x.w, http.StatusOK, name, view{Title: title, Nav: name, JID: x.ses.jid, CSRF: x.ses.csrf, Flash: flash, FlashOK: !isErr, Data: data})
}

// call binds and runs the registry command name with raw arguments, as
// every front end does; a mutation is applied before call returns.
func (h *Handler) call(x *exchange, name string, raw commands.Raw) (any, error) {
	def, ok := h.reg.Lookup(commands.Console, name)
	if !ok {
		return nil, errors.New("console: the registry lacks " + name)
	}
	args, err := h.reg.Bind(x.r.Context(), h.env, x.caller, def, commands.Input{Text: raw})
	if err != nil {
		return nil, err
	}
	c := &commands.Call{Def: def, Caller: x.caller, Env: h.env, Reg: h.reg, Args: args}
	return c.RunNow(x.r.Context())
}

// errorText is what the operator reads about a command's failure; an
// internal error's cause stays in the log.
func errorText(err error) string {
	e := commands.AsError(err)
	if e.Kind == commands.Internal {
		return "internal error; the server's log says more"
	}
	if e.Msg != "" {
		return e.Msg
	}
	return e.Error()
}

// resultOf is an error's result for the request line.
func resultOf(err error) string {
	e := commands.AsError(err)
	if e.Reason != "" {
		return e.Kind.String() + " " + string(e.Reason)
	}
	return e.Kind.String()
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, value string, maxAge int) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: value, Path: Prefix, MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(cookieName); err == nil {
		if _, ok := h.sessions.get(c.Value); ok {
			http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
			return
		}
	}
	h.render(w, http.StatusOK, "login", view{Title: "Log in"})
}

// loginRefused is the one answer to every refused login, so the page does
// not tell a wrong password from a right one of a non-operator.
const loginRefused = "Login refused: wrong JID or password, or not an operator's admin."

// login checks an admin JID and password and that the JID's account is an
// operator, then starts a session with a fresh cookie. Refusals are
// recorded in the audit log (login_failures reads them) and counted per
// address.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	line := commands.RequestLine{Dialect: commands.Console, Command: "login", Start: time.Now()}
	defer func() { h.env.LogRequest(line, h.log, zap.String("method", r.Method), zap.String("path", r.URL.Path)) }()
	refuse := func(status int, result, msg string) {
		line.Result, line.Status = result, status
		h.render(w, status, "login", view{Title: "Log in", Message: msg})
	}
	if !sameOrigin(r) {
		refuse(http.StatusForbidden, "cross_origin", "Refused: the form was not sent from this console.")
		return
	}
	ip := clientIP(r.RemoteAddr)
	if h.throttle.blocked(ip) {
		refuse(http.StatusTooManyRequests, "throttled", "Too many failed logins from your address; wait a few minutes.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<16)
	jid, password := strings.TrimSpace(r.PostFormValue("jid")), r.PostFormValue("password")
	caller, err := commands.AuthenticateAdmin(r.Context(), h.env, jid, password)
	reason := commands.Reason("")
	switch {
	case err != nil && commands.AsError(err).Kind != commands.Unauthorized:
		line.Result, line.Status, line.Err = "internal", http.StatusInternalServerError, err
		h.render(w, http.StatusInternalServerError, "login", view{Title: "Log in", Message: "Internal error; the server's log says more."})
		return
	case err != nil:
		reason = commands.AsError(err).Reason
	case !caller.Operator:
		reason = commands.ReasonOperatorOnly
	}
	if reason != "" {
		h.throttle.fail(ip)
		if err := commands.RecordLoginFailure(r.Context(), h.env, commands.Console, jid, ip, reason); err != nil {
			line.Err = err
		}
		line.Account = caller.Account
		refuse(http.StatusUnauthorized, string(reason), loginRefused)
		return
	}
	// A new cookie at every login: one planted before cannot be carried in.
	if c, err := r.Cookie(cookieName); err == nil {
		h.sessions.remove(c.Value)
	}
	id, _ := h.sessions.create(caller.Actor)
	h.setCookie(w, r, id, 0)
	line.Account, line.Result, line.Status = caller.Account, "success", http.StatusSeeOther
	http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
}

func (h *Handler) logout(x *exchange) {
	h.sessions.remove(x.cookie)
	h.setCookie(x.w, x.r, "", -1)
	x.line.Command, x.line.Result, x.line.Status = "logout", "success", http.StatusSeeOther
	http.Redirect(x.w, x.r, Prefix+"/login", http.StatusSeeOther)
}
