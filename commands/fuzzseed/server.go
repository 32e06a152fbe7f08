package fuzzseed

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xmppgate/xmppgate/commands/commandstest"
)

// Server is a dialect's real handler on a real store as every FuzzHandler
// target drives it: called in process (no socket per input), over a store
// that skips fsync (a target runs thousands of inputs) and logging at Info
// to an observer, so that an internal error, logged at Error, shows.
type Server struct {
	*commandstest.Fixture
	Handler http.Handler
	Logs    *observer.ObservedLogs
	// Request builds the request of an input; nil is NewRequest with no
	// header hook.
	Request func(method, target, headers string, body []byte) (*http.Request, error)
	// Settle runs after each input's request, before its log is read
	// (DreamHost runs its worker there).
	Settle func() error
}

// NewServer builds the fixture; the caller sets Handler (and the hooks)
// and adds its tenants.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	log, logs := commandstest.Observe(zapcore.InfoLevel)
	return &Server{Fixture: commandstest.New(tb, commandstest.Options{Log: log, Synchronous: "OFF"}), Logs: logs}
}

// NewRequest builds a request to target from an input's parts. headers
// holds "Name: value" lines; each goes through header, which may act on
// it and say it handled it, and the others are added as given. Lines
// without a colon are skipped: a fuzzed input has many.
func NewRequest(method, target, headers string, body []byte, header func(r *http.Request, name, value string) bool) (*http.Request, error) {
	r, err := http.NewRequest(method, "http://127.0.0.1"+target, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for _, l := range strings.Split(headers, "\n") {
		k, v, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if header == nil || !header(r, k, v) {
			r.Header.Add(k, v)
		}
	}
	return r, nil
}

// Do sends one request straight to the handler. Status 0: the input is no
// request.
func (s *Server) Do(method, target, headers string, body []byte) (int, http.Header, []byte) {
	build := s.Request
	if build == nil {
		build = func(method, target, headers string, body []byte) (*http.Request, error) {
			return NewRequest(method, target, headers, body, nil)
		}
	}
	r, err := build(method, target, headers, body)
	if err != nil {
		return 0, nil, nil
	}
	w := httptest.NewRecorder()
	s.Handler.ServeHTTP(w, r)
	return w.Code, w.Result().Header, w.Body.Bytes()
}

// Reply is what one input got, with the one line the request logged.
type Reply struct {
	Status int
	Header http.Header
	Body   []byte
	Log    observer.LoggedEntry
}

// Handle is what every dialect's FuzzHandler checks first: the input is
// sent; unless it is no request (ok false), exactly one line is logged,
// at Info (an internal error logs at Error), and Content-Length is right.
func (s *Server) Handle(t *testing.T, method, target, headers string, body []byte) (rep Reply, ok bool) {
	t.Helper()
	s.Logs.TakeAll()
	status, header, out := s.Do(method, target, headers, body)
	if status == 0 {
		return Reply{}, false
	}
	if s.Settle != nil {
		require.NoError(t, s.Settle())
	}
	entries := s.Logs.TakeAll()
	require.Len(t, entries, 1, "one log line per request")
	require.Equal(t, zapcore.InfoLevel, entries[0].Level, "internal error: %v", entries[0].ContextMap())
	require.Equal(t, strconv.Itoa(len(out)), header.Get("Content-Length"))
	return Reply{Status: status, Header: header, Body: out, Log: entries[0]}, true
}
