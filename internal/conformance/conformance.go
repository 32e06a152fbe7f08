// Package conformance holds what compares xmppgate's ejabberd dialect with
// a real ejabberd 23.01: the cases (one table, cases.go), how a case is sent
// to a server, what of an answer is normalised, and the golden files that
// keep ejabberd's answers for the replay in `make test`. `go run
// ./conformance` runs the cases on both servers and (re)writes the goldens
// and docs/ejabberd-conformance.md; the root package's
// TestEjabberdConformance replays the goldens on xmppgate alone.
package conformance

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Hosts are the two vhosts both servers serve; the admin is admin@Hosts[0].
var Hosts = []string{"one.example", "two.example"}

// Call is one API request: POST /api/<Cmd>[/v<Version>] with Body, or
// with GET set, GET /api/<Cmd>?<Body>.
type Call struct {
	Cmd     string
	Version int    // 0: no version segment (ejabberd's default v0)
	Body    string // JSON text, sent as is; the query string of a GET
	GET     bool
}

// Method is the request's HTTP method.
func (c Call) Method() string {
	if c.GET {
		return http.MethodGet
	}
	return http.MethodPost
}

// Path is the request's path.
func (c Call) Path() string {
	p := "/api/" + c.Cmd
	if c.Version > 0 {
		p += "/v" + strconv.Itoa(c.Version)
	}
	return p
}

// Case is one request sent to both servers, after its setup.
type Case struct {
	Command string // the command it is filed under (its golden file)
	Name    string // what it shows, short: "ok", "unknown user", "missing host"
	Call           // the request (Call.Cmd: the command under test)
	Setup   []Call // sent first to both, answers not compared (state both need)
	// Why, if set, makes this a deliberate divergence: xmppgate answers
	// otherwise than ejabberd, for this reason.
	Why string
	// Auth is how the request authenticates: "" the admin's HTTP Basic
	// credentials, AuthNone none, AuthWrong the admin with a wrong password.
	Auth string
}

// The Case.Auth values.
const (
	AuthNone  = "none"
	AuthWrong = "wrong password"
)

// Answer is a status and a body, normalised.
type Answer struct {
	Status int
	Body   string
}

func (a Answer) String() string { return strconv.Itoa(a.Status) + "\n" + a.Body }

// Target is a server's API base (http://host:port) and the admin's HTTP
// Basic credentials.
type Target struct {
	Base, User, Password string
	Client               *http.Client
	// DataDir, if set, is xmppgate's data directory: its path in an answer
	// becomes DATA (it differs between a run and the replay).
	DataDir string
	// Files, if set, is the directory FilesDir stands for on this server:
	// FilesDir in a request becomes Files, and Files in an answer becomes
	// FILES, so the replay can use a temporary directory of its own.
	Files string
}

// local is c with FilesDir in its body replaced by t.Files.
func (t Target) local(c Call) Call {
	if t.Files != "" {
		c.Body = strings.ReplaceAll(c.Body, FilesDir, t.Files)
	}
	return c
}

// Do sends c with the admin's credentials and returns the answer as is.
func (t Target) Do(ctx context.Context, c Call) (Answer, error) { return t.do(ctx, c, "") }

func (t Target) do(ctx context.Context, c Call, auth string) (Answer, error) {
	target, body := t.Base+c.Path(), c.Body
	if c.GET {
		target, body = target+"?"+c.Body, ""
	}
	req, err := http.NewRequestWithContext(ctx, c.Method(), target, strings.NewReader(body))
	if err != nil {
		return Answer{}, err
	}
	if !c.GET {
		req.Header.Set("Content-Type", "application/json")
	}
	switch auth {
	case "":
		req.SetBasicAuth(t.User, t.Password)
	case AuthWrong:
		req.SetBasicAuth(t.User, t.Password+"-wrong")
	case AuthNone:
	default:
		return Answer{}, fmt.Errorf("auth %q is not %q or %q", auth, AuthNone, AuthWrong)
	}
	cl := t.Client
	if cl == nil {
		cl = http.DefaultClient
	}
	resp, err := cl.Do(req)
	if err != nil {
		return Answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return Answer{}, err
	}
	return Answer{Status: resp.StatusCode, Body: string(b)}, nil
}

// Run sends a case's setup, then its request, and returns the normalised
// answer. A setup call the server fails (transport error or 5xx) is an
// error: the case would not compare like with like.
func (t Target) Run(ctx context.Context, c Case) (Answer, error) {
	for _, s := range c.Setup {
		a, err := t.Do(ctx, t.local(s))
		if err != nil {
			return Answer{}, fmt.Errorf("setup %s %s: %w", s.Path(), s.Body, err)
		}
		if a.Status >= 500 {
			return Answer{}, fmt.Errorf("setup %s %s: %s", s.Path(), s.Body, a)
		}
	}
	a, err := t.do(ctx, t.local(c.Call), c.Auth)
	if err != nil {
		return Answer{}, err
	}
	if t.Files != "" {
		a.Body = strings.ReplaceAll(a.Body, t.Files, "FILES")
	}
	if t.DataDir != "" {
		a.Body = strings.ReplaceAll(a.Body, t.DataDir, "DATA")
	}
	a = Normalise(a)
	if volatileStat(c.Call) {
		a.Body = digits.ReplaceAllString(a.Body, "N")
	}
	if unordered[c.Cmd] {
		a.Body = sortArray(a.Body)
	}
	return a, nil
}

var digits = regexp.MustCompile(`[0-9]+`)

// volatileStat reports whether c asks for a statistic that changes by
// itself (uptime, the number of processes): its number is compared as N.
func volatileStat(c Call) bool {
	if c.Cmd != "stats" && c.Cmd != "stats_host" {
		return false
	}
	var args struct{ Name string }
	_ = json.Unmarshal([]byte(c.Body), &args)
	return args.Name == "uptimeseconds" || args.Name == "processes"
}

// unordered are the commands whose list ejabberd answers in the order of
// a Mnesia table (a hash order, not a defined one): both answers are
// compared with their elements sorted.
var unordered = map[string]bool{"get_roster": true, "process_rosteritems": true, "srg_get_info": true}

// sortArray sorts the elements of a JSON array (by their compact text);
// anything else is returned as is.
func sortArray(body string) string {
	var elems []json.RawMessage
	if json.Unmarshal([]byte(body), &elems) != nil || len(elems) < 2 {
		return body
	}
	texts := make([]string, len(elems))
	for i, e := range elems {
		var b bytes.Buffer
		if json.Compact(&b, e) != nil {
			return body
		}
		texts[i] = b.String()
	}
	sort.Strings(texts)
	return "[" + strings.Join(texts, ",") + "]"
}

// What must differ between the two servers, and what each becomes.
var normalisers = []struct {
	re *regexp.Regexp
	to string
}{
	// Erlang node names: ejabberd's is the instance's, xmppgate's is fixed.
	{regexp.MustCompile(`\b(conformance|xmppgate)@localhost\b`), "NODE"},
	// Server name and version in status and similar texts.
	{regexp.MustCompile(`xmppgate \(ejabberd [0-9.]+ API\)|ejabberd [0-9]+\.[0-9]+(\.[0-9]+)?(-[0-9]+)?`), "SERVER"},
	// Time stamps (get_last, tokens).
	{regexp.MustCompile(`[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:?[0-9]{2})?`), "TIME"},
	// OAuth tokens (32 letters and digits; listed as a hex digest) and
	// their remaining lifetime, counted from a clock.
	{regexp.MustCompile(`"(token|access_token)":"[A-Za-z0-9]+"`), `"$1":"TOKEN"`},
	{regexp.MustCompile(`"expires_in":"[0-9]+ seconds"`), `"expires_in":"N seconds"`},
}

// Normalise replaces what must differ between the servers (node names,
// server versions, time stamps, random tokens) by fixed words, and nothing
// else.
func Normalise(a Answer) Answer {
	b := a.Body
	for _, n := range normalisers {
		b = n.re.ReplaceAllString(b, n.to)
	}
	return Answer{Status: a.Status, Body: b}
}

// ParseAnswer reads Answer.String's text.
func ParseAnswer(s string) (Answer, error) {
	st, body, _ := strings.Cut(s, "\n")
	n, err := strconv.Atoi(st)
	if err != nil {
		return Answer{}, fmt.Errorf("answer %q: no status line", s)
	}
	return Answer{Status: n, Body: body}, nil
}
