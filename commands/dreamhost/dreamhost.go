// Package dreamhost answers DreamHost's flat API ("/?key=K&cmd=jabber-add_user")
// over the command registry, byte-compatible with the clients written for it
// (see docs/dreamhost.md for the choices where DreamHost's behaviour is unknown).
package dreamhost

import (
	"context"
	"errors"
	"fmt"
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

// Config tunes the dialect; zero values are defaults.
type Config struct {
	// MaxBody bounds a POST body (default 1 MiB).
	MaxBody int64
	// Limits are rate limits per key; only successful calls count.
	Limits []Limit
	// Now is the clock of the rate limiter.
	Now func() time.Time
}

// Handler serves the dialect on "/".
type Handler struct {
	reg     *commands.Registry
	env     *commands.Env
	log     *zap.Logger
	maxBody int64
	limits  *limiter
}

// New returns the DreamHost front end.
func New(reg *commands.Registry, env *commands.Env, cfg Config) *Handler {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = 1 << 20
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	log := env.Log
	if log == nil {
		log = zap.NewNop()
	}
	return &Handler{reg: reg, env: env, log: log.Named("dialect.dreamhost"), maxBody: cfg.MaxBody, limits: newLimiter(cfg.Limits, cfg.Now)}
}

// SetLimits replaces the rate limits while the handler serves (a
// configuration reload); counting starts afresh.
func (h *Handler) SetLimits(limits []Limit) { h.limits.set(limits) }

// Global error codes of the dialect (spec section 3).
const (
	codeNoKey          = "no_key"
	codeInvalidKey     = "invalid_api_key"
	codeNoCmd          = "no_cmd"
	codeCannotAccess   = "this_key_cannot_access_this_cmd"
	codeNoSuchCmd      = "no_such_cmd"
	codeUniqueIDUsed   = "unique_id_already_used"
	codeInvalidUID     = "invalid_unique_id"
	codeInvalidAccount = "invalid_account"
	codeSlowDown       = "slow_down_bucko"
	codeInternal       = "internal_error"
	codeTooLarge       = "request_too_large"
)

const reasonNoSuchKey = "The API key you provided does not exist."

// MaxUniqueID is the longest unique_id, in bytes after decoding.
const MaxUniqueID = 64

// reply is what one request produced, for the log line and the writer.
type reply struct {
	status int
	env    Envelope
}

func fail(code string) reply { return reply{status: http.StatusOK, env: Envelope{Scalar: code}} }

// ServeHTTP answers one API request. Every API result, errors included, is
// HTTP 200, as clients such as lego require.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	params, perr := h.params(w, r)
	format := ParseFormat(first(params, "format"))
	var rep reply
	var lg logLine
	if perr != nil {
		rep = reply{status: http.StatusRequestEntityTooLarge, env: Envelope{Scalar: codeTooLarge, Reason: perr.Error()}}
		lg.cmd = first(params, "cmd")
	} else {
		rep = h.handle(r.Context(), r, params, &lg)
	}
	body := Encode(format, rep.env)
	w.Header().Set("Content-Type", format.ContentType())
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(body)

	result := "success"
	if !rep.env.OK {
		result = rep.env.Scalar
	}
	h.env.LogRequest(commands.RequestLine{Dialect: commands.DreamHost, Command: lg.cmd, Account: lg.account, Result: result, Status: rep.status,
		Start: start, Err: lg.err}, h.log, zap.Int64("key_id", lg.keyID), zap.String("format", string(format)))
}

type logLine struct {
	cmd     string
	account int64
	keyID   int64
	err     error // an internal error, logged, never shown
}

func (h *Handler) handle(ctx context.Context, r *http.Request, params url.Values, lg *logLine) reply {
	keyText := first(params, "key")
	if keyText == "" {
		return fail(codeNoKey)
	}
	caller, err := commands.AuthenticateKey(ctx, h.env, keyText, r.RemoteAddr)
	lg.keyID, lg.account = caller.KeyID, caller.Account
	if err != nil {
		switch commands.AsError(err).Reason {
		case commands.ReasonBadCredentials:
			return reply{status: http.StatusOK, env: Envelope{Scalar: codeInvalidKey, Reason: reasonNoSuchKey}}
		case commands.ReasonAddressRefused:
			return reply{status: http.StatusOK, env: Envelope{Scalar: codeInvalidKey, Reason: "This API key may not be used from your IP address."}}
		}
		lg.err = err
		return reply{status: http.StatusInternalServerError, env: Envelope{Scalar: codeInternal}}
	}
	cmd := strings.ToLower(first(params, "cmd"))
	lg.cmd = cmd
	if cmd == "" {
		return fail(codeNoCmd)
	}
	def, known := h.reg.Lookup(commands.DreamHost, cmd)
	// Permission before existence: a key that may not call a command cannot
	// learn whether it exists.
	if known && !caller.MayCall(def) || !known && !caller.Grants.Allows(cmd) {
		return fail(codeCannotAccess)
	}
	if !known {
		return fail(codeNoSuchCmd)
	}
	if acc := first(params, "account"); acc != "" {
		id, perr := strconv.ParseInt(strings.TrimSpace(acc), 10, 64)
		if perr != nil {
			return fail(codeInvalidAccount)
		}
		if caller, err = caller.ActAs(ctx, h.env, id); err != nil {
			if commands.AsError(err).Reason == commands.ReasonUnknownAccount {
				return fail(codeInvalidAccount)
			}
			lg.err = err
			return reply{status: http.StatusInternalServerError, env: Envelope{Scalar: codeInternal}}
		}
	}
	lg.account = caller.Account

	uid := []byte(first(params, "unique_id"))
	if len(uid) > MaxUniqueID {
		return reply{status: http.StatusOK, env: Envelope{Scalar: codeInvalidUID, Reason: "unique_id is longer than 64 bytes", TabDetail: true}}
	}
	if len(uid) > 0 {
		used, err := commands.UniqueIDUsed(ctx, h.env, caller, uid)
		if err != nil {
			lg.err = err
			return reply{status: http.StatusInternalServerError, env: Envelope{Scalar: codeInternal}}
		}
		if used {
			return fail(codeUniqueIDUsed)
		}
	}
	if detail, ok := h.limits.allow(caller.KeyID, cmd); !ok {
		return reply{status: http.StatusOK, env: Envelope{Scalar: codeSlowDown, Reason: detail, TabDetail: true}}
	}

	raw := commands.Raw(params)
	args, err := h.reg.Bind(ctx, h.env, caller, def, commands.Input{Text: raw})
	if err != nil {
		return h.failure(err, lg)
	}
	call := &commands.Call{Def: def, Caller: caller, Env: h.env, Reg: h.reg, Args: args}
	if len(uid) > 0 {
		call.UniqueID = uid
	}
	res, err := call.Run(ctx)
	if err != nil {
		return h.failure(err, lg)
	}
	h.limits.record(caller.KeyID, cmd)
	return reply{status: http.StatusOK, env: success(def, res)}
}

func success(def *commands.Def, res any) Envelope {
	switch v := res.(type) {
	case commands.Table:
		return Envelope{OK: true, Table: &v}
	case commands.Receipt:
		return Envelope{OK: true, Table: &commands.Table{Columns: def.Columns(), Rows: [][]any{{v.Token}}}}
	}
	return Envelope{OK: true, Scalar: fmt.Sprint(res)}
}

// failure maps a registry error to its DreamHost code: the dialect's one
// error table.
func (h *Handler) failure(err error, lg *logLine) reply {
	e := commands.AsError(err)
	wire := e.Arg
	switch e.Reason {
	case commands.ReasonUniqueIDUsed:
		// Lost a race with the same unique_id: the other request succeeded.
		return fail(codeUniqueIDUsed)
	case commands.ReasonMissing:
		return fail("no_" + wire)
	case commands.ReasonMalformed:
		return reply{status: http.StatusOK, env: Envelope{Scalar: "invalid_" + wire, Reason: e.Msg, TabDetail: true}}
	case commands.ReasonUnknownDomain:
		return fail("invalid_" + wire)
	case commands.ReasonUserExists:
		return fail("user_exists")
	case commands.ReasonNoUser:
		return fail("user_does_not_exist")
	case commands.ReasonPending:
		return fail("change_already_pending")
	case commands.ReasonInvalidToken:
		return fail("invalid_token")
	case commands.ReasonTokenTooOld:
		return fail("too_old")
	}
	switch e.Kind {
	case commands.Invalid:
		return reply{status: http.StatusOK, env: Envelope{Scalar: "invalid_" + wire, Reason: e.Msg, TabDetail: true}}
	case commands.Forbidden, commands.Unauthorized:
		return fail(codeCannotAccess)
	case commands.NotImplemented:
		return reply{status: http.StatusOK, env: Envelope{Scalar: "not_implemented", Reason: e.Msg, TabDetail: true}}
	}
	lg.err = err
	return reply{status: http.StatusInternalServerError, env: Envelope{Scalar: codeInternal}}
}

func first(v url.Values, name string) string {
	if vs := v[name]; len(vs) > 0 {
		return vs[0]
	}
	return ""
}

// params merges the query string and a POST body (urlencoded or multipart);
// the body wins. Parsing is lenient: clients that do not escape values still
// get their raw text.
func (h *Handler) params(w http.ResponseWriter, r *http.Request) (url.Values, error) {
	out := lenientQuery(r.URL.RawQuery)
	if r.Method != http.MethodPost || r.Body == nil {
		return out, nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var body url.Values
	switch ct {
	case "multipart/form-data":
		if err := r.ParseMultipartForm(h.maxBody); err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return out, fmt.Errorf("body larger than %d bytes", h.maxBody)
			}
			return out, nil
		}
		body = url.Values(r.MultipartForm.Value)
	default:
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return out, fmt.Errorf("body larger than %d bytes", h.maxBody)
		}
		body = lenientQuery(string(b))
	}
	for k, vs := range body {
		out[k] = vs
	}
	return out, nil
}

func lenientQuery(q string) url.Values {
	out := url.Values{}
	for _, pair := range strings.Split(q, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		out[unescape(k)] = append(out[unescape(k)], unescape(v))
	}
	return out
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return strings.ReplaceAll(s, "+", " ")
}
