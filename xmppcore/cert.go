package xmppcore

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"time"

	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/store"
)

// loadCertificate returns the server's certificate: the configured one, or
// a self-signed ECDSA P-256 one in DataDir/tls/, regenerated when it does not
// cover every hosted domain or is about to expire.
func loadCertificate(ctx context.Context, cfg Config, st *store.Store, log *zap.Logger) (*tls.Certificate, error) {
	certFile, keyFile := cfg.CertFile, cfg.KeyFile
	if certFile == "" || keyFile == "" {
		dir := filepath.Join(cfg.DataDir, "tls")
		certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
		doms, err := st.Domains(ctx, nil)
		if err != nil {
			return nil, err
		}
		names := []string{"localhost"}
		for _, d := range doms {
			if d.FQDN != "localhost" {
				names = append(names, d.FQDN)
			}
		}
		if !certCovers(certFile, keyFile, names) {
			if err := os.MkdirAll(dir, 0o700); err != nil {
				return nil, err
			}
			if err := selfSigned(certFile, keyFile, names); err != nil {
				return nil, err
			}
			log.Info("generated self-signed certificate", zap.String("file", certFile), zap.Strings("names", names))
		}
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("xmppcore: certificate: %w", err)
	}
	return &pair, nil
}

// ReloadCertificate loads the certificate again, from certFile and keyFile
// (both empty: the self-signed one in the data directory, regenerated if it
// no longer covers every domain): new TLS handshakes get it, sessions
// already running keep theirs. A certificate that does not load changes
// nothing. Without effect when Config.TLSConfig fixed the TLS setup.
func (s *Server) ReloadCertificate(ctx context.Context, certFile, keyFile string) error {
	if s.cfg.TLSConfig != nil {
		return nil
	}
	cfg := s.cfg
	cfg.CertFile, cfg.KeyFile = certFile, keyFile
	pair, err := loadCertificate(ctx, cfg, s.st, s.log.Named("tls"))
	if err != nil {
		return err
	}
	if err := s.loadCompanion(cfg, pair); err != nil {
		return err
	}
	s.cert.Store(pair)
	return nil
}

func certCovers(certFile, keyFile string, names []string) bool {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil || len(pair.Certificate) == 0 {
		return false
	}
	c, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil || time.Until(c.NotAfter) < 30*24*time.Hour {
		return false
	}
	for _, n := range names {
		if !slices.Contains(c.DNSNames, n) {
			return false
		}
	}
	return true
}

func selfSigned(certFile, keyFile string, names []string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: names[len(names)-1], Organization: []string{"xmppgate"}},
		DNSNames:              names,
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().AddDate(2, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return err
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		return err
	}
	return os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}
