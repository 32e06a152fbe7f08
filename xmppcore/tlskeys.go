package xmppcore

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.uber.org/zap"
)

// ECDSA companion modes (Config.ECDSACompanion, docs/tls.md).
const (
	// CompanionOff serves the configured certificate alone (the default).
	CompanionOff = "off"
	// CompanionAuto generates a companion only for a self-signed RSA
	// certificate: no client can be validating that one against a CA.
	CompanionAuto = "auto"
	// CompanionOn generates one for any RSA certificate; clients that
	// validate certificates then refuse the companion they prefer.
	CompanionOn = "on"
)

// Session ticket modes (Config.SessionTickets, docs/tls.md).
const (
	// TicketsPersist keeps the ticket keys in DataDir/tls/ticket-keys.json,
	// rotated daily and kept a week, so clients resume across restarts
	// (the default).
	TicketsPersist = "persist"
	// TicketsMemory leaves the keys to crypto/tls: random per start,
	// rotated daily.
	TicketsMemory = "memory"
	// TicketsOff disables session tickets (every login a full handshake).
	TicketsOff = "off"
)

const (
	ticketRotate   = 24 * time.Hour
	ticketLifetime = 8 * 24 * time.Hour // a key decrypts for a week after it stopped encrypting
)

// companionCert returns the ECDSA certificate to serve beside pair, or nil.
// RSA signing dominates a login with an RSA certificate (issue 17: 845
// logins/s against 1,320 with ECDSA), and nearly every client offers
// ECDSA: crypto/tls picks, per ClientHello, the first certificate of the
// list the client supports.
func companionCert(cfg Config, pair tls.Certificate, log *zap.Logger) (*tls.Certificate, error) {
	if cfg.ECDSACertFile != "" || cfg.ECDSAKeyFile != "" {
		c, err := tls.LoadX509KeyPair(cfg.ECDSACertFile, cfg.ECDSAKeyFile)
		if err != nil {
			return nil, fmt.Errorf("xmppcore: ECDSA certificate: %w", err)
		}
		if _, ok := c.PrivateKey.(*ecdsa.PrivateKey); !ok {
			return nil, fmt.Errorf("xmppcore: ECDSA certificate %s has no ECDSA key", cfg.ECDSACertFile)
		}
		return &c, nil
	}
	if _, ok := pair.PrivateKey.(*rsa.PrivateKey); !ok {
		return nil, nil
	}
	mode := cfg.ECDSACompanion
	switch mode {
	case "", CompanionOff:
		return nil, nil
	case CompanionAuto, CompanionOn:
	default:
		return nil, fmt.Errorf("xmppcore: ECDSA companion %q: want off, auto or on", mode)
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("xmppcore: certificate: %w", err)
	}
	selfSignedLeaf := bytes.Equal(leaf.RawIssuer, leaf.RawSubject) &&
		leaf.CheckSignature(leaf.SignatureAlgorithm, leaf.RawTBSCertificate, leaf.Signature) == nil
	if !selfSignedLeaf {
		if mode == CompanionAuto {
			log.Info("no ECDSA companion: the certificate is issued by a CA; give cert_ecdsa_file/key_ecdsa_file instead",
				zap.String("subject", leaf.Subject.String()))
			return nil, nil
		}
		log.Warn("ECDSA companion beside a CA-issued certificate: clients that validate certificates will refuse it",
			zap.String("issuer", leaf.Issuer.String()))
	}
	names := leaf.DNSNames
	if len(names) == 0 && leaf.Subject.CommonName != "" {
		names = []string{leaf.Subject.CommonName}
	}
	if len(names) == 0 {
		return nil, errors.New("xmppcore: ECDSA companion: the certificate names no host")
	}
	dir := filepath.Join(cfg.DataDir, "tls")
	certFile, keyFile := filepath.Join(dir, "ecdsa-companion.pem"), filepath.Join(dir, "ecdsa-companion-key.pem")
	if !certCovers(certFile, keyFile, names) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		if err := selfSigned(certFile, keyFile, names); err != nil {
			return nil, err
		}
		log.Info("generated ECDSA companion certificate", zap.String("file", certFile), zap.Strings("names", names))
	}
	c, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("xmppcore: ECDSA companion: %w", err)
	}
	return &c, nil
}

// loadCompanion finds the ECDSA certificate to serve beside pair (none
// when pair is not RSA) and keeps it for pickCert.
func (s *Server) loadCompanion(cfg Config, pair *tls.Certificate) error {
	c, err := companionCert(cfg, *pair, s.log.Named("tls"))
	if err != nil {
		return err
	}
	s.companion.Store(c)
	return nil
}

// pickCert is the certificate of a handshake: the ECDSA companion when
// there is one and the client supports it, else the main certificate.
func (s *Server) pickCert(hello *tls.ClientHelloInfo) *tls.Certificate {
	if c := s.companion.Load(); c != nil && hello.SupportsCertificate(c) == nil {
		return c
	}
	return s.cert.Load()
}

// sessionTickets applies Config.SessionTickets to s.tls. Persisted keys let
// the clients of a restarted server resume instead of all doing a full
// handshake at once; TLS 1.3 resumption here is always PSK with a fresh
// (EC)DHE, so a leaked key file does not decrypt recorded traffic, and the
// file sits beside the certificate key, which is worth more.
func (s *Server) sessionTickets() error {
	mode := s.cfg.SessionTickets
	if mode == "" {
		mode = TicketsPersist
	}
	switch mode {
	case TicketsOff:
		s.tls.SessionTicketsDisabled = true
		return nil
	case TicketsMemory:
		return nil
	case TicketsPersist:
	default:
		return fmt.Errorf("xmppcore: session tickets %q: want persist, memory or off", mode)
	}
	if s.cfg.DataDir == "" {
		return nil // nowhere to keep them: crypto/tls's own keys
	}
	path := filepath.Join(s.cfg.DataDir, "tls", "ticket-keys.json")
	if err := rotateTicketKeys(path, s.tls, time.Now()); err != nil {
		return err
	}
	go func() {
		t := time.NewTicker(time.Hour)
		defer t.Stop()
		for {
			select {
			case <-s.ctx.Done():
				return
			case now := <-t.C:
				if err := rotateTicketKeys(path, s.tls, now); err != nil {
					s.log.Named("tls").Error("session ticket keys", zap.Error(err))
				}
			}
		}
	}()
	return nil
}

type ticketKey struct {
	Created time.Time `json:"created"`
	Key     []byte    `json:"key"` // 32 bytes
}

// rotateTicketKeys loads the keys at path, adds a new first key when the
// newest is a day old, drops those past their lifetime, saves them and
// gives them to cfg (the first encrypts, all decrypt). An unreadable file
// is replaced: clients then do one full handshake.
func rotateTicketKeys(path string, cfg *tls.Config, now time.Time) error {
	var keys []ticketKey
	if b, err := os.ReadFile(path); err == nil {
		json.Unmarshal(b, &keys) //nolint:errcheck // a damaged file starts afresh
	}
	kept := keys[:0]
	for _, k := range keys {
		if len(k.Key) == 32 && now.Sub(k.Created) < ticketLifetime && k.Created.Before(now.Add(time.Hour)) {
			kept = append(kept, k)
		}
	}
	changed := len(kept) != len(keys)
	keys = kept
	if len(keys) == 0 || now.Sub(keys[0].Created) >= ticketRotate {
		k := ticketKey{Created: now.UTC(), Key: make([]byte, 32)}
		rand.Read(k.Key)
		keys, changed = append([]ticketKey{k}, keys...), true
	}
	if changed {
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return err
		}
		b, _ := json.MarshalIndent(keys, "", "  ")
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, b, 0o600); err != nil {
			return err
		}
		if err := os.Rename(tmp, path); err != nil {
			return err
		}
	}
	raw := make([][32]byte, len(keys))
	for i, k := range keys {
		copy(raw[i][:], k.Key)
	}
	cfg.SetSessionTicketKeys(raw)
	return nil
}
