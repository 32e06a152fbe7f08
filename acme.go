package main

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/certs"
	"github.com/xmppgate/xmppgate/commands"
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
	a.env.Certs = certsAdapter{m}
	log.Info("acme on", zap.Stringer("http01", m.Addr()), zap.String("ca", cfg.ACMECA))
	return m, nil
}

// certsAdapter gives the commands the manager (commands never imports certs).
type certsAdapter struct{ m *certs.Manager }

func (c certsAdapter) List(ctx context.Context) ([]commands.CertInfo, error) {
	in, err := c.m.List(ctx)
	out := make([]commands.CertInfo, len(in))
	for i, ci := range in {
		out[i] = commands.CertInfo{Domain: ci.Domain, File: ci.File, Used: ci.Used}
	}
	return out, err
}

func (c certsAdapter) Request(ctx context.Context, domains []string) error {
	return c.m.Request(ctx, domains)
}

func (c certsAdapter) Revoke(ctx context.Context, file string) error {
	err := c.m.Revoke(ctx, file)
	if errors.Is(err, certs.ErrUnknownFile) {
		return fmt.Errorf("%w: %w", commands.ErrUnknownCertificate, err)
	}
	return err
}

var _ commands.Certificates = certsAdapter{}
