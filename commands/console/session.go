package console

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"sync"
	"time"
)

// session is one logged-in operator. It holds the JID only: the caller is
// resolved again on every request, so a deactivated admin or an account
// that stopped being an operator loses its sessions at once.
type session struct {
	jid      string
	csrf     string
	created  time.Time
	seen     time.Time
	flash    string // a one-shot message for the next page
	flashErr bool
}

// sessions are kept by the SHA-256 of their cookie value: the map is never
// searched with the secret itself, and a dump of it holds no cookie.
type sessions struct {
	mu   sync.Mutex
	m    map[[32]byte]*session
	idle time.Duration
	max  time.Duration
	now  func() time.Time
}

// maxSessions bounds the table; when full, expired sessions go first and
// then the oldest.
const maxSessions = 1000

func newSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("console: no randomness: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func sessionKey(id string) ([32]byte, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) != 32 {
		return [32]byte{}, false
	}
	return sha256.Sum256(raw), true
}

// create starts a session for jid and returns its cookie value.
func (s *sessions) create(jid string) (string, *session) {
	id := newSecret()
	k, _ := sessionKey(id)
	now := s.now()
	ses := &session{jid: jid, csrf: newSecret(), created: now, seen: now}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.m) >= maxSessions {
		s.evictLocked(now)
	}
	s.m[k] = ses
	return id, ses
}

func (s *sessions) expired(ses *session, now time.Time) bool {
	return now.Sub(ses.seen) > s.idle || now.Sub(ses.created) > s.max
}

func (s *sessions) evictLocked(now time.Time) {
	var oldestKey [32]byte
	var oldest *session
	for k, ses := range s.m {
		if s.expired(ses, now) {
			delete(s.m, k)
			continue
		}
		if oldest == nil || ses.created.Before(oldest.created) {
			oldest, oldestKey = ses, k
		}
	}
	if len(s.m) >= maxSessions && oldest != nil {
		delete(s.m, oldestKey)
	}
}

// get returns the live session of a cookie value and marks it seen; an
// expired one is removed.
func (s *sessions) get(id string) (*session, bool) {
	k, ok := sessionKey(id)
	if !ok {
		return nil, false
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ses, ok := s.m[k]
	if !ok {
		return nil, false
	}
	if s.expired(ses, now) {
		delete(s.m, k)
		return nil, false
	}
	ses.seen = now
	return ses, true
}

func (s *sessions) remove(id string) {
	if k, ok := sessionKey(id); ok {
		s.mu.Lock()
		delete(s.m, k)
		s.mu.Unlock()
	}
}

// setFlash and takeFlash pass a message to the page after a redirect.
func (s *sessions) setFlash(ses *session, msg string, isErr bool) {
	s.mu.Lock()
	ses.flash, ses.flashErr = msg, isErr
	s.mu.Unlock()
}

func (s *sessions) takeFlash(ses *session) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	msg, isErr := ses.flash, ses.flashErr
	ses.flash, ses.flashErr = "", false
	return msg, isErr
}

// validCSRF compares a form's token with the session's in constant time.
func validCSRF(ses *session, token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(ses.csrf), []byte(token)) == 1
}

// throttle counts failed logins per client address: past limit within
// window, further attempts are refused before any password is checked.
type throttle struct {
	mu     sync.Mutex
	m      map[string]*failures
	limit  int
	window time.Duration
	now    func() time.Time
}

type failures struct {
	n     int
	since time.Time
}

// maxThrottled bounds the table against a flood of addresses.
const maxThrottled = 10000

func clientIP(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		return remote
	}
	return host
}

func (t *throttle) blocked(ip string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f, ok := t.m[ip]
	if !ok {
		return false
	}
	if t.now().Sub(f.since) > t.window {
		delete(t.m, ip)
		return false
	}
	return f.n >= t.limit
}

func (t *throttle) fail(ip string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	f, ok := t.m[ip]
	if !ok || now.Sub(f.since) > t.window {
		if len(t.m) >= maxThrottled {
			for k, v := range t.m {
				if now.Sub(v.since) > t.window {
					delete(t.m, k)
				}
			}
			if len(t.m) >= maxThrottled {
				clear(t.m)
			}
		}
		f = &failures{since: now}
		t.m[ip] = f
	}
	f.n++
}
