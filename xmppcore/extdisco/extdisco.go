// Package extdisco is XEP-0215 External Service Discovery's data: the STUN
// and TURN servers an operator configures, and the time-limited TURN
// credentials handed to clients for them. Credentials follow the "TURN
// REST API" convention (draft-uberti-behave-turn-rest) that coturn's
// use-auth-secret, ejabberd's mod_stun_disco and Prosody's turn_external
// all implement: the username is the expiry time, the password an HMAC of
// it under the secret the TURN server shares.
package extdisco

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Service is one configured external service (the `external_services`
// setting).
type Service struct {
	Type      string `yaml:"type"`      // stun, turn, stuns, turns, ...
	Host      string `yaml:"host"`      // name or address clients connect to
	Port      int    `yaml:"port"`      // 0: the protocol's default, not announced
	Transport string `yaml:"transport"` // udp or tcp; "" not announced
	Name      string `yaml:"name"`      // shown to users; optional
	// Secret, if set, is the TURN server's shared secret: the service is
	// announced restricted and clients get time-limited credentials.
	Secret string `yaml:"secret"`
	// TTL is how long such credentials last (default 24h).
	TTL time.Duration `yaml:"ttl"`
	// Username and Password are static credentials (no Secret).
	Username string `yaml:"username"`
	Password string `yaml:"password"`
}

// Validate reports a service the operator misconfigured.
func (s Service) Validate() error {
	switch {
	case s.Type == "":
		return errors.New("type is required (stun, turn, stuns, turns)")
	case s.Host == "":
		return fmt.Errorf("%s: host is required", s.Type)
	case s.Port < 0 || s.Port > 65535:
		return fmt.Errorf("%s %s: port %d is out of range", s.Type, s.Host, s.Port)
	case s.Transport != "" && s.Transport != "udp" && s.Transport != "tcp":
		return fmt.Errorf("%s %s: transport must be udp or tcp", s.Type, s.Host)
	case s.Secret != "" && s.Username != "":
		return fmt.Errorf("%s %s: a secret and static credentials exclude each other", s.Type, s.Host)
	}
	return nil
}

// Restricted reports whether clients need credentials for s.
func (s Service) Restricted() bool { return s.Secret != "" || s.Username != "" }

// Credentials are what a client presents to a restricted service.
type Credentials struct {
	Username, Password string
	Expires            time.Time // zero for static credentials
}

// CredentialsFor returns credentials for user (a bare JID, only used to
// tell credentials apart in the TURN server's logs) at time now.
func (s Service) CredentialsFor(user string, now time.Time) Credentials {
	if s.Secret == "" {
		return Credentials{Username: s.Username, Password: s.Password}
	}
	ttl := s.TTL
	if ttl <= 0 {
		ttl = 24 * time.Hour
	}
	exp := now.Add(ttl).Truncate(time.Second)
	name := strconv.FormatInt(exp.Unix(), 10) + ":" + user
	mac := hmac.New(sha1.New, []byte(s.Secret))
	mac.Write([]byte(name))
	return Credentials{Username: name, Password: base64.StdEncoding.EncodeToString(mac.Sum(nil)), Expires: exp}
}
