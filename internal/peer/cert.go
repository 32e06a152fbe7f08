// Package peer runs the real servers xmppgate is compared with (Debian's
// ejabberd 23.01 and Prosody 0.12) as private instances on loopback: their
// installation with the system services kept off, their config, start and
// stop. bench/peers measures against them and conformance/ compares the
// ejabberd API with them.
package peer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"
)

// Cert is one throw-away self-signed certificate for a domain, shared by
// the servers of a run: RSA-2048 by default, as in the peers' anchor
// measurements (the server signs once per TLS handshake, so the key type must
// be the same for everyone).
type Cert struct {
	Cert, Key string // PEM files
	Combined  string // key + certificate in one file (ejabberd's certfiles)
}

// MakeCert writes the certificate; kind is "rsa" (RSA-2048, the default) or
// "ecdsa" (P-256, to see what the key type costs every server).
func MakeCert(dir, domain, kind string) (Cert, error) {
	var key crypto.Signer
	var err error
	switch kind {
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ecdsa":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		err = fmt.Errorf("certificate kind %q is not rsa or ecdsa", kind)
	}
	if err != nil {
		return Cert{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: domain},
		DNSNames:              []string{domain},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return Cert{}, err
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Cert{}, err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	f := Cert{Cert: filepath.Join(dir, domain+".crt"), Key: filepath.Join(dir, domain+".key"), Combined: filepath.Join(dir, "combined.pem")}
	for _, w := range []struct {
		path string
		data []byte
	}{{f.Cert, certPEM}, {f.Key, keyPEM}, {f.Combined, append(append([]byte{}, keyPEM...), certPEM...)}} {
		if err := os.WriteFile(w.path, w.data, 0o600); err != nil {
			return Cert{}, err
		}
	}
	return f, nil
}

// CopyFor copies the certificate files into dir and gives them to the
// server's system user (servers drop root; the files stay mode 600).
func (f Cert) CopyFor(dir string, uid, gid int) (Cert, error) {
	out := Cert{Cert: filepath.Join(dir, filepath.Base(f.Cert)), Key: filepath.Join(dir, filepath.Base(f.Key)), Combined: filepath.Join(dir, filepath.Base(f.Combined))}
	for _, p := range [][2]string{{f.Cert, out.Cert}, {f.Key, out.Key}, {f.Combined, out.Combined}} {
		b, err := os.ReadFile(p[0])
		if err != nil {
			return out, err
		}
		if err := os.WriteFile(p[1], b, 0o600); err != nil {
			return out, err
		}
		if err := os.Chown(p[1], uid, gid); err != nil {
			return out, err
		}
	}
	return out, nil
}
