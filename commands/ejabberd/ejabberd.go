// Package ejabberd answers ejabberd's admin HTTP API (mod_http_api,
// "POST /api/<command>" with a JSON object of arguments) over the command
// registry, with the v0 result shapes of ejabberd 23.01 by default.
// docs/ejabberd.md lists the choices made where ejabberd's behaviour is not
// copied; docs/ejabberd-commands.md lists every command of the reference.
package ejabberd

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/commands"
)

// Prefix is the path to mount New's handler on (it serves everything below).
const Prefix = "/api/"

// MaxBody bounds a request body.
const MaxBody = 1 << 20

// DefaultVersion is the API version of a URL without a vN segment: 0, the
// shapes of ejabberd 23.x that deployed clients parse.
const DefaultVersion = 0

// Handler serves the ejabberd admin API.
type Handler struct {
	reg  *commands.Registry
	env  *commands.Env
	log  *zap.Logger
	opts Options
}

// New returns the ejabberd front end, to be mounted on Prefix. env.Worker
// must be set: every mutation is applied before the answer.
func New(reg *commands.Registry, env *commands.Env) http.Handler {
	return NewWithOptions(reg, env, Options{})
}

// NewWithOptions is New with the loopback and ctl switches.
func NewWithOptions(reg *commands.Registry, env *commands.Env, opts Options) http.Handler {
	log := env.Log
	if log == nil {
		log = zap.NewNop()
	}
	return &Handler{reg: reg, env: env, log: log.Named("dialect.ejabberd"), opts: opts}
}

// reply is one answer: a status and a JSON body (nil: empty).
type reply struct {
	status int
	body   []byte
	result string // for the log line
	err    error  // an internal error: logged, never shown
}

// jsonReply encodes v compactly, without HTML escaping (as jiffy writes).
func jsonReply(status int, v any, result string) reply {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return reply{status: 500, body: []byte(`"internal_error"`), result: "internal_error", err: err}
	}
	return reply{status: status, body: bytes.TrimSuffix(b.Bytes(), []byte("\n")), result: result}
}

// request is what a call is about, for the log line and the error table.
type request struct {
	cmd     string
	def     *commands.Def
	version int
	fields  []commands.Field  // the arguments as given, aliases resolved
	raw     map[string]string // arguments by wire name, as given, for messages (strings unquoted)
	account int64
	actor   string
	// progress is the call's Progress: set for ctl when it asks.
	progress func(done, total int, unit string)
}

// ServeHTTP answers one request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	var req request
	if _, ctl := r.Header[CtlHeader]; ctl && r.Header.Get(ProgressHeader) != "" {
		req.progress = informProgress(w)
	}
	rep := h.serve(r, &req)
	hd := w.Header()
	hd.Set("Access-Control-Allow-Origin", "*")
	hd.Set("Access-Control-Allow-Headers", "Content-Type, Authorization, X-Admin")
	if r.Method == http.MethodOptions && rep.status == http.StatusOK {
		hd.Set("Content-Type", "text/plain")
		hd.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
		hd.Set("Access-Control-Max-Age", "86400")
	} else if len(rep.body) > 0 && rep.body[0] == '<' {
		hd.Set("Content-Type", "text/html; charset=utf-8")
	} else if rep.body != nil {
		hd.Set("Content-Type", "application/json")
	}
	hd.Set("Content-Length", strconv.Itoa(len(rep.body)))
	w.WriteHeader(rep.status)
	_, _ = w.Write(rep.body)

	h.env.LogRequest(commands.RequestLine{Dialect: commands.Ejabberd, Command: req.cmd, Account: req.account, Result: rep.result, Status: rep.status,
		Start: start, Err: rep.err}, h.log, zap.Int("version", req.version), zap.String("actor", req.actor))
}

var versionSegment = regexp.MustCompile(`^v[0-9]+$`)

// route splits the path: the command is the first segment after the
// prefix that is not a version marker; the version is the last vN segment
// anywhere in the path (ejabberd's get_api_version).
func route(path string) (cmd string, version int) {
	version = DefaultVersion
	base := strings.TrimSuffix(Prefix, "/")
	if path != base && !strings.HasPrefix(path, Prefix) {
		return "", version
	}
	rest := strings.TrimPrefix(path, base)
	for _, seg := range strings.Split(path, "/") {
		if versionSegment.MatchString(seg) {
			if n, err := strconv.Atoi(seg[1:]); err == nil {
				version = n
			}
		}
	}
	for _, seg := range strings.Split(rest, "/") {
		if seg != "" && !versionSegment.MatchString(seg) {
			return seg, version
		}
	}
	return "", version
}

func (h *Handler) serve(r *http.Request, req *request) reply {
	req.cmd, req.version = route(r.URL.Path)
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, MaxBody))
	if err != nil {
		return bare(http.StatusBadRequest, "400 Bad Request")
	}
	var args []commands.Field
	switch r.Method {
	case http.MethodOptions:
		if len(body) > 0 {
			return reply{status: http.StatusBadRequest, result: "options_with_body"}
		}
		return reply{status: http.StatusOK, result: "options"}
	case http.MethodPost:
		if len(body) == 0 {
			// ejabberd_http refuses a POST without data before mod_http_api runs.
			return webPage(http.StatusBadRequest, "400 Bad Request", "missing_post_data")
		}
		if args, err = decodeBody(body); err != nil {
			return bare(http.StatusBadRequest, err.Error())
		}
	case http.MethodGet:
		for _, kv := range strings.Split(r.URL.RawQuery, "&") {
			if kv == "" {
				continue
			}
			k, v, _ := strings.Cut(kv, "=")
			k, v = unescape(k), unescape(v)
			s, _ := json.Marshal(v)
			args = append(args, commands.Field{Name: k, Value: s})
		}
	default:
		return missingCommand()
	}
	if req.cmd == "" {
		return missingCommand()
	}
	def, implemented := h.reg.Lookup(commands.Ejabberd, req.cmd)
	ref, known := lookup(req.cmd)
	if !implemented && (!known || ref.Refused == "") {
		return object(http.StatusNotFound, 40, "Endpoint not found.", "unknown_command")
	}
	req.def = def
	ctx := r.Context()
	caller, rep := h.authenticate(ctx, r, req)
	if rep != nil {
		return *rep
	}
	// A refused command takes no arguments: it answers why after the
	// permission check, whatever it is given.
	if !implemented {
		if !allowedFor(caller, req.cmd) {
			return forbidden()
		}
		return h.failure(refusal(ref), req)
	}
	req.fields = resolveAliases(def, req.version, args)
	req.raw = asGiven(req.fields)
	in := commands.Input{JSON: req.fields, Strict: true}
	// ejabberd checks the request's shape (format_args) before the
	// permission, and the values after.
	err = h.reg.Shape(def, caller, in)
	if e := commands.AsError(err); err == nil || e.Reason == commands.ReasonUnknownArg {
		if absent := absentArg(def, req); absent != "" && req.actor != "ctl" {
			err = commands.Errorf(commands.Invalid, commands.ReasonMissing, absent, "missing argument %s", req.wire(absent))
		}
	}
	if err != nil {
		return h.failure(err, req)
	}
	if !allowedFor(caller, req.cmd) {
		return forbidden()
	}
	values, err := h.reg.Bind(ctx, h.env, caller, def, in)
	if err != nil {
		return h.failure(err, req)
	}
	call := &commands.Call{Def: def, Caller: caller, Env: h.env, Reg: h.reg, Args: values, Reference: apiReference{h.reg},
		Progress: req.progress}
	res, err := call.RunNow(ctx)
	if err != nil {
		return h.failure(err, req)
	}
	return h.success(res, req)
}

// absentArg is the registry name of the first argument of the request's
// version that the request does not give and ejabberd would miss: the
// registry takes some as optional (other dialects leave them out), 23.01
// answers "Request have missing argument" for any not EjabberdOptional.
// "" if none.
// `xmppgate ctl` keeps leaving out trailing optional arguments.
func absentArg(def *commands.Def, req *request) string {
	given := map[string]bool{}
	for _, f := range req.fields {
		given[f.Name] = true
	}
	for _, a := range def.ArgsIn(commands.Ejabberd) {
		if a.InEjabberd(req.version) && !given[a.WireName(commands.Ejabberd)] && !a.EjabberdOptional {
			return a.Name
		}
	}
	return ""
}

// decodeBody reads a JSON object into its pairs in order, keeping
// duplicates; an array (jiffy's "[]"), any other JSON value or a blank body
// is no arguments, as ejabberd 23.01 extracts arguments from an object only.
// Text that is not JSON is 23.01's "400 Bad Request".
func decodeBody(body []byte) ([]commands.Field, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil, nil
	}
	bad := errors.New("400 Bad Request")
	if !json.Valid(body) {
		return nil, bad
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	tok, err := dec.Token()
	if err != nil {
		return nil, bad
	}
	switch tok {
	case json.Delim('['):
		var rest []json.RawMessage
		if err := json.Unmarshal(body, &rest); err != nil || len(rest) > 0 {
			return nil, bad
		}
		return nil, nil
	case json.Delim('{'):
	default:
		return nil, nil
	}
	var out []commands.Field
	for dec.More() {
		k, err := dec.Token()
		if err != nil {
			return nil, bad
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, bad
		}
		out = append(out, commands.Field{Name: k.(string), Value: v})
	}
	return out, nil
}

// aliases are the argument renames ejabberd's args_rename declares and real
// clients send (ejabberd-api's user resources sends server everywhere):
// applied for every command that takes the target and not the alias.
// (srg_create's name→label too.)
var aliases = map[string]string{"server": "host", "localserver": "localhost", "name": "label"}

// resolveAliases applies the argument renames of aliases to a command
// that takes the target and not the alias.
func resolveAliases(def *commands.Def, version int, args []commands.Field) []commands.Field {
	takes := map[string]bool{}
	for _, a := range def.ArgsIn(commands.Ejabberd) {
		if a.InEjabberd(version) {
			takes[a.WireName(commands.Ejabberd)] = true
		}
	}
	out := make([]commands.Field, len(args))
	for i, f := range args {
		if to, ok := aliases[f.Name]; ok && !takes[f.Name] && takes[to] {
			f.Name = to
		}
		out[i] = f
	}
	return out
}

// asGiven is each argument's text as given (the first of a name), for the
// messages that quote it: a string unquoted, anything else as JSON.
func asGiven(args []commands.Field) map[string]string {
	out := map[string]string{}
	for _, f := range args {
		if _, dup := out[f.Name]; !dup {
			out[f.Name] = shown(f.Value, false)
		}
	}
	return out
}

// shown is a value as a message shows it: a string unquoted (or as Erlang's
// ~w shows jiffy's binary when erlang is set), anything else as compact JSON.
func shown(v json.RawMessage, erlang bool) string {
	var s string
	if len(v) > 0 && v[0] == '"' && json.Unmarshal(v, &s) == nil {
		if erlang {
			return commands.ErlangBytes(s)
		}
		return s
	}
	return string(compact(v))
}

func compact(v json.RawMessage) []byte {
	var b bytes.Buffer
	if json.Compact(&b, v) != nil {
		return v
	}
	return b.Bytes()
}

// success encodes a result as format_result does for the command's
// declared result kind and the requested API version.
func (h *Handler) success(res any, req *request) reply {
	spec, _ := ShapeOf(req.def, req.version)
	wrap := func(v any) any {
		if req.version == 0 {
			return map[string]any{spec.Name: v}
		}
		return v
	}
	switch spec.Kind {
	case Rescode:
		code := 0
		if st, ok := res.(commands.Status); ok && !bool(st) {
			code = 1
		}
		return jsonReply(http.StatusOK, code, "ok")
	case Restuple:
		if spec.text != nil {
			return jsonReply(http.StatusOK, spec.text(req.raw, res), "ok")
		}
		s, _ := res.(string)
		return jsonReply(http.StatusOK, s, "ok")
	case Integer:
		n, _ := res.(int64)
		return jsonReply(http.StatusOK, wrap(n), "ok")
	case String:
		s, _ := res.(string)
		return jsonReply(http.StatusOK, wrap(s), "ok")
	case List:
		l, _ := res.([]string)
		if l == nil {
			l = []string{}
		}
		return jsonReply(http.StatusOK, l, "ok")
	case Tuples:
		t, _ := res.(commands.Table)
		return jsonReply(http.StatusOK, tuples(joinLists(t, spec.join)), "ok")
	case Dict:
		t, _ := res.(commands.Table)
		return jsonReply(http.StatusOK, dict(t), "ok")
	case Tuple:
		if t, _ := res.(commands.Table); len(t.Rows) == 1 {
			return jsonReply(http.StatusOK, tuple(joinLists(t, spec.join)), "ok")
		}
	}
	return reply{status: 500, body: []byte(`"internal_error"`), result: "internal_error", err: fmt.Errorf("ejabberd: no result kind for %s", req.cmd)}
}

// joinLists returns t with its []string cells joined by sep (Shape.join);
// t itself if sep is empty.
func joinLists(t commands.Table, sep string) commands.Table {
	if sep == "" {
		return t
	}
	out := commands.Table{Columns: t.Columns, Rows: make([][]any, len(t.Rows))}
	for i, row := range t.Rows {
		out.Rows[i] = make([]any, len(row))
		for j, v := range row {
			if l, ok := v.([]string); ok {
				v = strings.Join(l, sep)
			}
			out.Rows[i][j] = v
		}
	}
	return out
}

// tuples renders a table as an array of objects, keys in column order.
type tuples commands.Table

func (t tuples) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('[')
	for i, row := range t.Rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteByte('{')
		for j, col := range t.Columns {
			if j > 0 {
				b.WriteByte(',')
			}
			k := jsonReply(200, col, "")
			v := jsonReply(200, row[j], "")
			if v.err != nil {
				return nil, v.err
			}
			b.Write(k.body)
			b.WriteByte(':')
			b.Write(v.body)
		}
		b.WriteByte('}')
	}
	b.WriteByte(']')
	return b.Bytes(), nil
}

// tuple renders a one-row table as one object, keys in column order.
type tuple commands.Table

func (t tuple) MarshalJSON() ([]byte, error) {
	b, err := tuples(t).MarshalJSON()
	if err != nil {
		return nil, err
	}
	return b[1 : len(b)-1], nil
}

// dict renders a two-column table as one object, its rows the members in order.
type dict commands.Table

func (t dict) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, row := range t.Rows {
		if i > 0 {
			b.WriteByte(',')
		}
		k := jsonReply(200, fmt.Sprint(row[0]), "")
		v := jsonReply(200, row[1], "")
		if v.err != nil {
			return nil, v.err
		}
		b.Write(k.body)
		b.WriteByte(':')
		b.Write(v.body)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func unescape(s string) string {
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}
