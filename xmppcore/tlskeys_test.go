package xmppcore_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore"
)

// writeRSACert writes an RSA-2048 certificate for domain into dir: self
// signed, or issued by a throwaway CA when byCA.
func writeRSACert(t *testing.T, dir string, byCA bool) (certFile, keyFile string) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: domain}, DNSNames: []string{domain, "localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	parent, signer := tmpl, any(key)
	if byCA {
		caKey, err := rsa.GenerateKey(rand.Reader, 2048)
		require.NoError(t, err)
		parent = &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test CA"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().AddDate(1, 0, 0),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		signer = caKey
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	require.NoError(t, err)
	certFile, keyFile = filepath.Join(dir, "rsa.pem"), filepath.Join(dir, "rsa-key.pem")
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600))
	return certFile, keyFile
}

// tlsDial connects to the direct TLS listener with Go's crypto/tls client
// and reads the server's stream header (which also takes in TLS 1.3
// session tickets); it returns the connection state.
func tlsDial(t *testing.T, addr string, cfg *tls.Config) tls.ConnectionState {
	t.Helper()
	c, err := tls.Dial("tcp", addr, cfg)
	require.NoError(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	_, err = c.Write([]byte(header))
	require.NoError(t, err)
	_, err = c.Read(make([]byte, 64))
	require.NoError(t, err)
	return c.ConnectionState()
}

// rsaOnly is a client that cannot take an ECDSA certificate (TLS 1.2 with
// ECDHE_RSA suites only).
func rsaOnly() *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, ServerName: domain, MaxVersion: tls.VersionTLS12,
		CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256}}
}

// TestECDSACompanion: beside an RSA certificate, clients that support
// ECDSA get the ECDSA one (configured, or a generated companion per mode)
// and the others the RSA one. The client is Go's crypto/tls.
func TestECDSACompanion(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		byCA      bool
		mode      string
		ecdsaFile bool
		wantECDSA bool
	}{
		0: {name: "off-self-signed", mode: xmppcore.CompanionOff},
		1: {name: "default-self-signed", mode: ""},
		2: {name: "auto-self-signed", mode: xmppcore.CompanionAuto, wantECDSA: true},
		3: {name: "auto-ca-issued", byCA: true, mode: xmppcore.CompanionAuto},
		4: {name: "on-ca-issued", byCA: true, mode: xmppcore.CompanionOn, wantECDSA: true},
		5: {name: "configured-ecdsa-file", byCA: true, mode: xmppcore.CompanionOff, ecdsaFile: true, wantECDSA: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			certFile, keyFile := writeRSACert(t, dir, tt.byCA)
			var ecdsaCert, ecdsaKey string
			if tt.ecdsaFile {
				// The self-signed ECDSA certificate the server makes by
				// default, from a first server without cert_file.
				first := setup(t)
				ecdsaCert, ecdsaKey = filepath.Join(first.dataDir, "tls", "cert.pem"), filepath.Join(first.dataDir, "tls", "key.pem")
			}
			b := setup(t, func(c *xmppcore.Config) {
				c.CertFile, c.KeyFile, c.ECDSACompanion = certFile, keyFile, tt.mode
				c.ECDSACertFile, c.ECDSAKeyFile = ecdsaCert, ecdsaKey
			})
			modern := tlsDial(t, b.c2stls, &tls.Config{InsecureSkipVerify: true, ServerName: domain})
			_, isECDSA := modern.PeerCertificates[0].PublicKey.(*ecdsa.PublicKey)
			require.Equal(t, tt.wantECDSA, isECDSA, "certificate served to a client that supports ECDSA")
			require.Contains(t, modern.PeerCertificates[0].DNSNames, domain)
			old := tlsDial(t, b.c2stls, rsaOnly())
			_, isRSA := old.PeerCertificates[0].PublicKey.(*rsa.PublicKey)
			require.True(t, isRSA, "an RSA-only client gets the RSA certificate")

			if tt.mode == xmppcore.CompanionAuto && tt.wantECDSA {
				// The companion is kept: a restart serves the same one.
				b2 := setup(t, func(c *xmppcore.Config) {
					c.CertFile, c.KeyFile, c.ECDSACompanion, c.DataDir = certFile, keyFile, tt.mode, b.dataDir
				})
				again := tlsDial(t, b2.c2stls, &tls.Config{InsecureSkipVerify: true, ServerName: domain})
				require.Equal(t, modern.PeerCertificates[0].Raw, again.PeerCertificates[0].Raw)
			}
		})
	}
}

// TestECDSACompanionLogin: go-xmpp logs in over STARTTLS and direct TLS to
// a server with an RSA certificate and its ECDSA companion.
func TestECDSACompanionLogin(t *testing.T) {
	t.Parallel()
	certFile, keyFile := writeRSACert(t, t.TempDir(), false)
	b := setup(t, func(c *xmppcore.Config) {
		c.CertFile, c.KeyFile, c.ECDSACompanion = certFile, keyFile, xmppcore.CompanionAuto
	})
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	for _, direct := range []bool{false, true} {
		c := b.mustLogin(t, "alice", "pw-a", loginOpts{direct: direct})
		c.Logout(t)
	}
}

// TestSessionTickets: a client resumes its TLS session with a ticket; with
// persisted keys also after the server restarted, with keys in memory not,
// and without tickets never.
func TestSessionTickets(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                         string
		mode                         string
		resumes, resumesAfterRestart bool
	}{
		0: {name: "default-persist", mode: "", resumes: true, resumesAfterRestart: true},
		1: {name: "memory", mode: xmppcore.TicketsMemory, resumes: true},
		2: {name: "off", mode: xmppcore.TicketsOff},
	}
	for _, tt := range tests {
		for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
			t.Run(tt.name+"-"+tls.VersionName(version), func(t *testing.T) {
				t.Parallel()
				b := setup(t, func(c *xmppcore.Config) { c.SessionTickets = tt.mode })
				cfg := &tls.Config{InsecureSkipVerify: true, ServerName: domain, MaxVersion: version,
					ClientSessionCache: tls.NewLRUClientSessionCache(4)}
				require.False(t, tlsDial(t, b.c2stls, cfg).DidResume, "first connection")
				require.Equal(t, tt.resumes, tlsDial(t, b.c2stls, cfg).DidResume, "second connection")

				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				require.NoError(t, b.srv.Shutdown(ctx))
				restarted, err := xmppcore.New(xmppcore.Config{C2STLSAddr: "127.0.0.1:0", DataDir: b.dataDir, SessionTickets: tt.mode}, b.st)
				require.NoError(t, err)
				require.NoError(t, restarted.Start(context.Background()))
				t.Cleanup(func() { restarted.Shutdown(context.Background()) })
				_, addr := restarted.Addrs()
				require.Equal(t, tt.resumesAfterRestart, tlsDial(t, addr.String(), cfg).DidResume, "after a restart")
			})
		}
	}
}
