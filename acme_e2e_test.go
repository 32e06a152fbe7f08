package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	pebbledb "github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
	"github.com/stretchr/testify/require"
)

// pebble is Let's Encrypt's test ACME server, run in this process: its
// directory behind an HTTPS test server, its validation authority asking
// a DNS server of the test that every name is 127.0.0.1.
type pebble struct {
	dirURL string
	// caFile is the PEM of the HTTPS server's certificate (acme_ca_root).
	caFile  string
	handler atomic.Pointer[http.Handler]
	ca      *ca.CAImpl
	dnsAddr string
}

func newPebble(t *testing.T) *pebble {
	t.Helper()
	p := &pebble{}
	ts := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := p.handler.Load()
		if h == nil {
			http.Error(w, "pebble not started yet", http.StatusServiceUnavailable)
			return
		}
		(*h).ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	p.dirURL = ts.URL + wfe.DirectoryPath
	p.caFile = filepath.Join(t.TempDir(), "pebble-https.pem")
	require.NoError(t, os.WriteFile(p.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ts.Certificate().Raw}), 0o600))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		for _, question := range q.Question {
			if question.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{Hdr: dns.RR_Header{Name: question.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A: net.IPv4(127, 0, 0, 1)})
			}
		}
		_ = w.WriteMsg(m)
	})}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	p.dnsAddr = ln.Addr().String()
	return p
}

// start runs pebble, validating HTTP-01 challenges on httpPort.
func (p *pebble) start(t *testing.T, httpPort int) {
	t.Helper()
	logger := log.New(io.Discard, "", 0)
	if testing.Verbose() {
		logger = log.New(os.Stderr, "pebble ", log.LstdFlags)
	}
	store := pebbledb.NewMemoryStore()
	p.ca = ca.New(logger, store, "", "ecdsa", 0, 1, map[string]ca.Profile{"default": {Description: "default"}})
	// TLS-ALPN-01 is off in xmppgate; its port here is one nothing serves.
	v := va.New(logger, httpPort, 1, false, p.dnsAddr, store)
	front := wfe.New(logger, store, v, p.ca, []string{"pebble.letsencrypt.org"}, false, false, 0, 0)
	h := front.Handler()
	p.handler.Store(&h)
}

// roots is pebble's issuing root, which certificates it issues chain to.
func (p *pebble) roots(t *testing.T) *x509.CertPool {
	t.Helper()
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(p.ca.GetRootCert(0).PEM()))
	return pool
}

// startTLSHandshake opens an XMPP stream to addr for domain, asks for
// STARTTLS and returns the TLS client connection after its handshake.
func startTLSHandshake(addr, domain string, roots *x509.CertPool) (*tls.Conn, error) {
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	_ = nc.SetDeadline(time.Now().Add(2 * time.Minute))
	if _, err := io.WriteString(nc, "<?xml version='1.0'?><stream:stream to='"+domain+
		"' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"); err != nil {
		nc.Close()
		return nil, err
	}
	br := bufio.NewReader(nc)
	readUntil := func(marker string) error {
		var seen strings.Builder
		for !strings.Contains(seen.String(), marker) {
			b, err := br.ReadByte()
			if err != nil {
				return err
			}
			seen.WriteByte(b)
		}
		return nil
	}
	if err := readUntil("</stream:features>"); err != nil {
		nc.Close()
		return nil, err
	}
	if _, err := io.WriteString(nc, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"); err != nil {
		nc.Close()
		return nil, err
	}
	if err := readUntil("<proceed"); err != nil {
		nc.Close()
		return nil, err
	}
	if err := readUntil(">"); err != nil {
		nc.Close()
		return nil, err
	}
	tc := tls.Client(nc, &tls.Config{ServerName: domain, RootCAs: roots, MinVersion: tls.VersionTLS12})
	if err := tc.Handshake(); err != nil {
		tc.Close()
		return nil, err
	}
	return tc, nil
}

// TestACMECertificateForNewDomain: with acme on, a domain created through
// the REST dialect while the server runs gets a certificate from pebble
// (HTTP-01 answered on acme_http_addr) that a TLS client verifies against
// pebble's root, on the direct-TLS listener and after STARTTLS; a name
// that is no domain of the store keeps the self-signed certificate.
func TestACMECertificateForNewDomain(t *testing.T) {
	os.Setenv("PEBBLE_VA_NOSLEEP", "1")      // read by pebble's constructors (t.Setenv forbids t.Parallel)
	os.Setenv("PEBBLE_WFE_NONCEREJECT", "0") // no deliberately bad nonces
	t.Parallel()
	p := newPebble(t)
	s := startServer(t, func(c *Config) {
		c.ACME = true
		c.ACMECA = p.dirURL
		c.ACMECARoot = p.caFile
		c.ACMEHTTPAddr = "127.0.0.1:0"
		c.ACMEEmail = "hostmaster@example.com"
	})
	_, portText, err := net.SplitHostPort(s.acmeHTTP)
	require.NoError(t, err)
	port, err := strconv.Atoi(portText)
	require.NoError(t, err)
	p.start(t, port)
	roots := p.roots(t)

	const domain = "chat.acme-e2e.test"
	status, body := s.do(http.MethodPost, "/api/1.0/xmppdomains/"+domain, "", func(r *http.Request) {
		r.SetBasicAuth(s.boot.RESTUser, s.boot.RESTPassword)
	})
	require.Equal(t, http.StatusOK, status, body)

	tc, err := tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Minute}, "tcp", s.c2stls,
		&tls.Config{ServerName: domain, RootCAs: roots, MinVersion: tls.VersionTLS12})
	require.NoError(t, err, "direct TLS to %s verified against pebble's root", domain)
	leaf := tc.ConnectionState().PeerCertificates[0]
	require.Equal(t, []string{domain}, leaf.DNSNames)
	tc.Close()

	stc, err := startTLSHandshake(s.c2s, domain, roots)
	require.NoError(t, err, "STARTTLS to %s verified against pebble's root", domain)
	require.Equal(t, leaf.Raw, stc.ConnectionState().PeerCertificates[0].Raw, "the same certificate on both listeners")
	stc.Close()

	// ejabberd's ACME commands, as the operator.
	op := tenantCreds{adminJID: s.boot.AdminJID, adminPW: s.boot.AdminPassword}
	type certRow struct{ Domain, File, Used string }
	list := func() []certRow {
		t.Helper()
		status, body := s.ejabberd(op, "list_certificates", `{}`)
		require.Equal(t, http.StatusOK, status, body)
		var rows []certRow
		require.NoError(t, json.Unmarshal([]byte(body), &rows), body)
		return rows
	}
	rows := list()
	require.Len(t, rows, 1)
	require.Equal(t, domain, rows[0].Domain)
	require.Equal(t, "used", rows[0].Used)
	stored, err := os.ReadFile(rows[0].File)
	require.NoError(t, err)
	block, _ := pem.Decode(stored)
	require.NotNil(t, block)
	require.Equal(t, leaf.Raw, block.Bytes, "the file list_certificates names holds the served certificate")

	for i, c := range []struct {
		cmd, body string
		status    int
		answer    string
	}{
		0: {"request_certificate", `{"domains":"` + domain + `"}`, http.StatusOK, `{"res":"Success"}`},
		1: {"request_certificate", `{"domains":"all"}`, http.StatusOK, `{"res":"Success"}`},
		2: {"request_certificate", `{"domains":"not-served.example"}`, http.StatusBadRequest, `"Unknown virtual host"`},
		3: {"revoke_certificate", `{"file":"/etc/passwd"}`, http.StatusNotFound, `"not_found"`},
		4: {"revoke_certificate", `{"file":"` + rows[0].File + `"}`, http.StatusOK, `{"res":"Success"}`},
	} {
		status, body := s.ejabberd(op, c.cmd, c.body)
		require.Equal(t, c.status, status, "%d: %s", i, body)
		require.Equal(t, c.answer, body, "%d", i)
	}
	require.Empty(t, list(), "revoked and deleted")
	// The next handshake obtains a new certificate.
	tc, err = tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Minute}, "tcp", s.c2stls,
		&tls.Config{ServerName: domain, RootCAs: roots, MinVersion: tls.VersionTLS12})
	require.NoError(t, err)
	require.NotEqual(t, leaf.SerialNumber, tc.ConnectionState().PeerCertificates[0].SerialNumber)
	tc.Close()

	// localhost is no public name: the listener's own certificate.
	_, err = tls.Dial("tcp", s.c2stls, &tls.Config{ServerName: "localhost", RootCAs: roots, MinVersion: tls.VersionTLS12})
	require.Error(t, err)
	var unknown x509.UnknownAuthorityError
	require.ErrorAs(t, err, &unknown)
}
