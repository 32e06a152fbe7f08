// Package extauth checks XMPP passwords against a domain's external
// authority: an HTTP endpoint (authenticationMethod "restapi", the
// Chatmongers external-auth web service) or a POP3 server ("pop3", as
// Openfire's POP3AuthProvider). See docs/extauth.md.
//
// Every check is bounded by a timeout; a remote that is down, slow or
// answers garbage is Unavailable (deny, never cached). Successes are cached
// per (endpoint, domain, user) with a keyed MAC of the password, compared in
// constant time, for the domain's TTL. Passwords and secrets never appear in
// errors.
package extauth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Methods as authenticationMethod spells them.
const (
	Default = "default"
	REST    = "restapi"
	POP3    = "pop3"
)

// DefaultTimeout bounds one remote check.
const DefaultTimeout = 5 * time.Second

// Config is a domain's external authentication settings.
type Config struct {
	Method string // Default, REST or POP3

	RestURL      string
	RestSecret   string
	RestMethod   string // "POST" (default) or "GET"
	RestCacheTTL time.Duration

	Pop3Host         string
	Pop3Port         int // 0: 110, or 995 with Pop3SSL
	Pop3SSL          bool
	Pop3AppendDomain string // "" or the mail domain: the POP3 login is user@Pop3AppendDomain
	Pop3CacheTTL     time.Duration
}

// External reports whether passwords are checked remotely (PLAIN only).
func (c Config) External() bool { return c.Method == REST || c.Method == POP3 }

// Endpoint describes the remote for logs: no credentials, no query.
func (c Config) Endpoint() string {
	switch c.Method {
	case REST:
		return redactURL(c.RestURL)
	case POP3:
		s := "pop3://"
		if c.Pop3SSL {
			s = "pop3s://"
		}
		return s + c.pop3Addr()
	}
	return ""
}

func (c Config) ttl() time.Duration {
	if c.Method == POP3 {
		return c.Pop3CacheTTL
	}
	return c.RestCacheTTL
}

// ErrUnavailable wraps every failure to get a verdict from the remote.
var ErrUnavailable = errors.New("extauth: remote unavailable")

type unavailable struct{ msg string }

func (e unavailable) Error() string        { return e.msg }
func (e unavailable) Is(target error) bool { return target == ErrUnavailable }

func unavailablef(format string, a ...any) error { return unavailable{fmt.Sprintf(format, a...)} }

// Authenticator runs checks; one is shared by all connections.
type Authenticator struct {
	// Timeout bounds one check (DefaultTimeout if zero).
	Timeout time.Duration
	// TLSConfig, if set, is used for HTTPS and POP3S (tests set RootCAs).
	TLSConfig *tls.Config
	// MaxInFlight bounds concurrent remote checks (default 256); a check that
	// cannot start within its timeout is Unavailable.
	MaxInFlight int

	once   sync.Once
	client *http.Client
	sem    chan struct{}
	key    []byte

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	mac []byte
	at  time.Time
}

const maxCache = 100000

func (a *Authenticator) init() {
	a.once.Do(func() {
		if a.Timeout <= 0 {
			a.Timeout = DefaultTimeout
		}
		if a.MaxInFlight <= 0 {
			a.MaxInFlight = 256
		}
		a.sem = make(chan struct{}, a.MaxInFlight)
		a.key = make([]byte, 32)
		rand.Read(a.key)
		a.cache = map[string]cached{}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if a.TLSConfig != nil {
			tr.TLSClientConfig = a.TLSConfig.Clone()
		}
		tr.MaxIdleConnsPerHost = 16
		tr.ResponseHeaderTimeout = a.Timeout
		a.client = &http.Client{
			Transport: tr,
			// A redirect could carry the password elsewhere: it denies.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}
	})
}

// Check asks cfg's remote whether password is user's on domain (user is the
// localpart). A nil error means a verdict: true accepted, false refused. An
// error wrapping ErrUnavailable means no verdict (deny). cachedHit reports
// that the success came from the cache.
func (a *Authenticator) Check(ctx context.Context, cfg Config, domain, user, password string) (ok, cachedHit bool, err error) {
	a.init()
	if !cfg.External() {
		return false, false, errors.New("extauth: domain is not externally authenticated")
	}
	id, mac := a.macs(cfg, domain, user, password)
	ttl := cfg.ttl()
	now := time.Now()
	if ttl > 0 {
		a.mu.Lock()
		e, hit := a.cache[id]
		a.mu.Unlock()
		if hit && now.Sub(e.at) < ttl && subtle.ConstantTimeCompare(e.mac, mac) == 1 {
			return true, true, nil
		}
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, a.Timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	select {
	case a.sem <- struct{}{}:
	case <-ctx.Done():
		return false, false, unavailablef("too many concurrent external checks")
	}
	defer func() { <-a.sem }()
	switch cfg.Method {
	case REST:
		ok, err = a.rest(ctx, cfg, domain, user, password)
	case POP3:
		ok, err = a.pop3(ctx, cfg, domain, user, password)
	}
	if err != nil {
		switch {
		case parent.Err() != nil:
			err = unavailablef("cancelled: %v", err)
		case ctx.Err() != nil || !time.Now().Before(deadline):
			err = unavailablef("no answer within %s: %v", a.Timeout, err)
		case !errors.Is(err, ErrUnavailable):
			err = unavailable{err.Error()}
		}
		return false, false, err
	}
	a.mu.Lock()
	if ok && ttl > 0 {
		if len(a.cache) >= maxCache {
			for k, e := range a.cache {
				if now.Sub(e.at) >= 7*24*time.Hour {
					delete(a.cache, k)
				}
			}
			if len(a.cache) >= maxCache {
				clear(a.cache)
			}
		}
		a.cache[id] = cached{mac: mac, at: now}
	} else if e, hit := a.cache[id]; !ok && hit && subtle.ConstantTimeCompare(e.mac, mac) == 1 {
		delete(a.cache, id) // the remote now refuses this password: forget its success
	}
	a.mu.Unlock()
	return ok, false, nil
}

// Forget drops every cached success.
func (a *Authenticator) Forget() {
	a.init()
	a.mu.Lock()
	clear(a.cache)
	a.mu.Unlock()
}

// macs returns the cache key (the remote's identity, domain and user) and
// the password's MAC, both keyed with a per-process random key.
func (a *Authenticator) macs(cfg Config, domain, user, password string) (string, []byte) {
	h := hmac.New(sha256.New, a.key)
	for _, s := range []string{cfg.Method, cfg.RestURL, cfg.RestSecret, cfg.RestMethod, cfg.Pop3Host,
		strconv.Itoa(cfg.Pop3Port), strconv.FormatBool(cfg.Pop3SSL), cfg.Pop3AppendDomain, domain, user} {
		h.Write([]byte(strconv.Itoa(len(s)) + ":" + s))
	}
	id := string(h.Sum(nil))
	h.Reset()
	h.Write([]byte(id))
	h.Write([]byte(password))
	return id, h.Sum(nil)
}
