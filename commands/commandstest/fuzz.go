package commandstest

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xmppgate/xmppgate/commands/fuzzseed"
)

// FuzzServer is a dialect's real handler on a real store as every
// FuzzHandler target drives it: called in process (no socket per input),
// over a store that skips fsync (a target runs thousands of inputs) and
// logging at Info to an observer, so that an internal error, logged at
// Error, shows.
type FuzzServer struct {
	*Fixture
	Handler http.Handler
	Logs    *observer.ObservedLogs
	// Request builds the request of an input; nil is fuzzseed.NewRequest
	// with no header hook.
	Request func(method, target, headers string, body []byte) (*http.Request, error)
	// Settle runs after each input's request, before its log is read
	// (DreamHost runs its worker there).
	Settle func() error
}

// NewFuzzServer builds the fixture; the caller sets Handler (and the
// hooks) and adds its tenants.
func NewFuzzServer(tb testing.TB) *FuzzServer {
	tb.Helper()
	log, logs := Observe(zapcore.InfoLevel)
	return &FuzzServer{Fixture: New(tb, Options{Log: log, Synchronous: "OFF"}), Logs: logs}
}

// Do sends one request straight to the handler. Status 0: the input is no
// request.
func (s *FuzzServer) Do(method, target, headers string, body []byte) (int, http.Header, []byte) {
	build := s.Request
	if build == nil {
		build = func(method, target, headers string, body []byte) (*http.Request, error) {
			return fuzzseed.NewRequest(method, target, headers, body, nil)
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

// FuzzReply is what one input got, with the one line the request logged.
type FuzzReply struct {
	Status int
	Header http.Header
	Body   []byte
	Log    observer.LoggedEntry
}

// Handle is what every dialect's FuzzHandler checks first: the input is
// sent; unless it is no request (ok false), exactly one line is logged,
// at Info (an internal error logs at Error), and Content-Length is right.
func (s *FuzzServer) Handle(t *testing.T, method, target, headers string, body []byte) (rep FuzzReply, ok bool) {
	t.Helper()
	s.Logs.TakeAll()
	status, header, out := s.Do(method, target, headers, body)
	if status == 0 {
		return FuzzReply{}, false
	}
	if s.Settle != nil {
		require.NoError(t, s.Settle())
	}
	entries := s.Logs.TakeAll()
	require.Len(t, entries, 1, "one log line per request")
	require.Equal(t, zapcore.InfoLevel, entries[0].Level, "internal error: %v", entries[0].ContextMap())
	require.Equal(t, strconv.Itoa(len(out)), header.Get("Content-Length"))
	return FuzzReply{Status: status, Header: header, Body: out, Log: entries[0]}, true
}
