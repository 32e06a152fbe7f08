package bosh

import (
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// Config bounds the sessions of a Manager. Zero values are the defaults
// listed per field.
type Config struct {
	// Wait is the longest a request is held (default 60 s); a client
	// asking less gets less.
	Wait time.Duration
	// Hold is how many requests are held at most (default 1); requests
	// is one more (XEP-0124 7.2).
	Hold int
	// Inactivity ends a session with no request held for that long
	// (default 60 s).
	Inactivity time.Duration
	// Polling is the shortest interval between empty requests (default
	// 2 s); negative: no limit.
	Polling time.Duration
	// MaxPause is the longest pause a client may ask (default 120 s);
	// negative: pauses are not offered.
	MaxPause time.Duration
	// MaxBody bounds one request's <body/> in bytes (default 256 KiB +
	// 8 KiB, a stanza of the c2s default limit and its wrapper).
	MaxBody int
	// MaxPending bounds what waits for a client that does not fetch it
	// (default 1 MiB); beyond, the session ends.
	MaxPending int
	// Log gets the session ends (debug); nil: none.
	Log *zap.Logger
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		switch {
		case *d == 0:
			*d = v
		case *d < 0:
			*d = 0
		}
	}
	def(&c.Wait, 60*time.Second)
	def(&c.Inactivity, 60*time.Second)
	def(&c.Polling, 2*time.Second)
	def(&c.MaxPause, 120*time.Second)
	if c.Hold <= 0 {
		c.Hold = 1
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 256<<10 + 8<<10
	}
	if c.MaxPending <= 0 {
		c.MaxPending = 1 << 20
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
}

// Manager serves BOSH sessions over HTTP (ServeHTTP on /http-bind or
// another path). Mount it behind whatever answers CORS preflights.
type Manager struct {
	cfg  Config
	open Opener

	mu       sync.Mutex
	sessions map[string]*Session
	down     bool
	// listeners are those made with Listen, by the server they serve.
	listeners map[*http.Server]*listener
	// parked counts the held requests whose connection was hijacked.
	parked atomic.Int32
}

// New returns a Manager that starts sessions with open.
func New(open Opener, cfg Config) *Manager {
	if open == nil {
		panic("bosh: nil Opener")
	}
	cfg.defaults()
	return &Manager{cfg: cfg, open: open, sessions: make(map[string]*Session)}
}

// Len returns the number of live sessions.
func (m *Manager) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.sessions)
}

// Shutdown ends every session with system-shutdown and refuses new ones.
func (m *Manager) Shutdown() {
	m.mu.Lock()
	m.down = true
	all := make([]*Session, 0, len(m.sessions))
	for _, s := range m.sessions {
		all = append(all, s)
	}
	m.mu.Unlock()
	for _, s := range all {
		s.end(&Error{Cond: SystemShutdown}, true)
	}
}

func (m *Manager) remove(s *Session) {
	m.mu.Lock()
	if m.sessions[s.sid] == s {
		delete(m.sessions, s.sid)
	}
	m.mu.Unlock()
}

func (m *Manager) log(s *Session, e *Error) {
	if e.Cond == "" {
		m.cfg.Log.Debug("BOSH session ended", zap.String("sid", s.sid), zap.String("why", e.Text))
		return
	}
	m.cfg.Log.Debug("BOSH session ended", zap.String("sid", s.sid), zap.String("condition", string(e.Cond)),
		zap.String("why", e.Text))
}

// response is an HTTP answer.
type response struct {
	status int
	body   []byte
}

// terminate is the answer with a terminal binding condition: a legacy
// client gets the HTTP status instead (XEP-0124 17.1), with the same body
// for whoever reads it.
func (m *Manager) terminate(legacy bool, cond Condition) response {
	st := 200
	if legacy && cond.legacyStatus() != 0 {
		st = cond.legacyStatus()
	}
	return response{st, terminateBody(cond, nil)}
}

// ServeHTTP serves one BOSH request (POST). A request is answered at
// once, or held until the session has something to say or its wait ends.
func (m *Manager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST, OPTIONS")
		http.Error(w, "BOSH (XEP-0124) takes POST requests", http.StatusMethodNotAllowed)
		return
	}
	now := time.Now()
	b, err := Parse(r.Body, m.cfg.MaxBody)
	if err != nil {
		var e *Error
		errors.As(err, &e)
		if b != nil && b.SID != "" {
			if s := m.get(b.SID); s != nil {
				req := newRequest(b, now)
				s.fail(req, e)
				write(w, req.resp)
				return
			}
		}
		// Not a wrapper this manager can tie to a session or a client
		// version: an HTTP error, with the binding condition in the body
		// for clients that read it.
		resp := m.terminate(true, e.Cond)
		if resp.status == 200 {
			resp.status = 400
		}
		write(w, resp)
		return
	}
	var s *Session
	if b.SID == "" {
		var resp response
		if s, resp = m.create(b, r); s == nil {
			write(w, resp)
			return
		}
	} else if s = m.get(b.SID); s == nil {
		// The client's version is unknown here; every client of the last
		// fifteen years sends ver, so the binding condition it is.
		write(w, m.terminate(false, ItemNotFound))
		return
	}
	req := s.handle(b, now)
	m.wait(w, r, s, req)
}

func (m *Manager) get(sid string) *Session {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.sessions[sid]
}

// create starts a session for a creation request; nil and the answer if
// it is refused.
func (m *Manager) create(b *Body, r *http.Request) (*Session, response) {
	legacy := b.Ver == ""
	if b.To == "" {
		return nil, m.terminate(legacy, ImproperAddressing)
	}
	s := &Session{
		m: m, sid: newSID(), legacy: legacy, acks: b.Ack == 1, pause: -1,
		wait: m.cfg.Wait, hold: m.cfg.Hold, inactivity: m.cfg.Inactivity, polling: m.cfg.Polling,
		maxPause: m.cfg.MaxPause, hi: b.RID - 1,
	}
	if !legacy {
		s.ver = lowerVersion(b.Ver, Version)
	}
	if b.Wait >= 0 && time.Duration(b.Wait)*time.Second < s.wait {
		s.wait = time.Duration(b.Wait) * time.Second
	}
	if b.Hold >= 0 && b.Hold < s.hold {
		s.hold = b.Hold
	}
	s.requests = s.hold + 1
	m.mu.Lock()
	down := m.down
	m.mu.Unlock()
	if down {
		return nil, m.terminate(legacy, SystemShutdown)
	}
	st, err := m.open.Open(s, b, r)
	if err != nil {
		var e *Error
		if !errors.As(err, &e) {
			m.cfg.Log.Warn("opening a BOSH session failed", zap.Error(err))
			e = &Error{Cond: InternalServerError}
		}
		return nil, m.terminate(legacy, e.Cond)
	}
	s.stream = st
	// The creation request is processed as the session's first: its
	// payload (if any) goes to the stream and it waits for the features.
	b.Pause, b.Type, b.Restart = -1, "", false
	m.mu.Lock()
	m.sessions[s.sid] = s
	m.mu.Unlock()
	return s, response{}
}

// wait writes the answer to req once there is one: at once, when the
// session has something to say, or empty when the session's wait ends.
func (m *Manager) wait(w http.ResponseWriter, r *http.Request, s *Session, req *request) {
	select {
	case <-req.done:
		write(w, req.resp)
		return
	default:
	}
	if m.park(w, r, s, req) {
		return
	}
	// The server's ReadTimeout would cancel the request's context (its
	// connection's background read times out) before a long wait ends.
	http.NewResponseController(w).SetReadDeadline(time.Now().Add(s.wait + 30*time.Second))
	t := time.NewTimer(s.wait)
	defer t.Stop()
	for {
		select {
		case <-req.done:
			write(w, req.resp)
			return
		case <-t.C:
			s.timeout(req)
		case <-r.Context().Done():
			s.abandon(req)
			return
		}
	}
}

func write(w http.ResponseWriter, resp response) {
	if resp.body == nil { // a repeat of the same rid answers instead
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/xml; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	if resp.status == 0 {
		resp.status = 200
	}
	w.WriteHeader(resp.status)
	w.Write(resp.body)
}
