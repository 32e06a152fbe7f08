package main

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/certs"
)

// startACME starts the certificate manager when acme is on (nil when off).
func startACME(ctx context.Context, cfg Config, a *app, log *zap.Logger) (*certs.Manager, error) {
	if !cfg.ACME {
		return nil, nil
	}
	var roots *x509.CertPool
	if cfg.ACMECARoot != "" {
		pem, err := os.ReadFile(cfg.ACMECARoot)
		if err != nil {
			return nil, fmt.Errorf("acme_ca_root: %w", err)
		}
		roots = x509.NewCertPool()
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("acme_ca_root: no certificate in %s", cfg.ACMECARoot)
		}
	}
	m, err := certs.New(a.env.Store, certs.Options{Dir: filepath.Join(cfg.Data, "acme"), CA: cfg.ACMECA, CARoots: roots,
		Email: cfg.ACMEEmail, HTTPAddr: cfg.ACMEHTTPAddr, Logger: log.Named("acme")})
	if err != nil {
		return nil, err
	}
	m.Start(ctx)
	log.Info("acme on", zap.Stringer("http01", m.Addr()), zap.String("ca", cfg.ACMECA))
	return m, nil
}
