package main

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// TestLiveReloadRealBinary serves from a config file in a real process,
// with a go-xmpp client logged in. SIGHUP, after the file changed, applies
// the new log level, worker schedule and certificate (the same file names,
// new contents, as a renewal leaves them), the DreamHost rate limits and
// cors_origins without a restart: the level reads back, a queued change waiting for an
// hourly worker is applied within seconds, a new TLS handshake gets the
// new certificate, the new limit refuses a second call, a page of an
// origin no longer listed is refused its CORS preflight, a changed
// key that needs a restart is logged as such; and the client's session
// goes on (it still gets its messages). reload_config through the ejabberd
// API then does the same with the file changed back.
func TestLiveReloadRealBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process test")
	}
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile, file := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), filepath.Join(dir, "xmppgate.yaml")
	writeTestCert(t, certFile, keyFile, 1)
	writeConfig := func(level, schedule, extra string) {
		t.Helper()
		cfg := "http_addr: 127.0.0.1:0\nc2s_addr: 127.0.0.1:0\nc2stls_addr: \"\"\n" +
			"cert_file: " + certFile + "\nkey_file: " + keyFile + "\n" +
			"log_level: " + level + "\nworker_schedule: \"" + schedule + "\"\n" + extra
		require.NoError(t, os.WriteFile(file, []byte(cfg), 0o600))
	}
	writeConfig("info", "@every 1h", "")
	p := (&serverProc{bin: buildBinary(t), data: filepath.Join(dir, "data"), config: file}).restart(t)
	p.boot = readBootstrap(t, p.data)
	domain, base := p.boot.Domain, "http://"+p.http+"/"
	call := func(cmd, body string) (int, string) { return ejabberdCall(t, base, p.boot, cmd, body) }

	status, body := call("register", `{"user":"alice","host":"`+domain+`","password":"pw"}`)
	require.Equal(t, 200, status, body)
	alice := goxmpptest.Login(t, p.c2s, "alice@"+domain, "pw", goxmpptest.Resource("desk"))
	stillThere := func(text string) {
		t.Helper()
		_, err := alice.Send(goxmpp.Chat{Remote: "alice@" + domain, Type: "chat", Text: text})
		require.NoError(t, err)
		alice.Expect(t, text, func(st any) bool { m, ok := st.(goxmpp.Chat); return ok && m.Text == text })
	}
	require.Equal(t, int64(1), peerCertSerial(t, p.c2s, domain))
	_, body = call("get_loglevel", `{}`)
	require.Equal(t, `{"levelatom":"info"}`, body)
	// A DreamHost change waits for the worker, which runs hourly.
	token := dhToken(t, base, p.boot.Key, url.Values{"cmd": {"jabber-add_user"}, "username": {"bob"}, "domain": {domain}, "password": {"pw"}})
	require.Equal(t, "waiting", progress(t, p, p.boot, token))

	listUsers := func() string {
		t.Helper()
		_, body := request(t, "GET", base+"?"+url.Values{"key": {p.boot.Key}, "cmd": {"jabber-list_users"}}.Encode(), "", nil)
		return body
	}
	// A browser page's CORS preflight: on a loopback listener without
	// cors_origins any origin may.
	preflight := func(origin string) int {
		t.Helper()
		status, _ := request(t, "OPTIONS", base+".well-known/host-meta", "", func(r *http.Request) {
			r.Header.Set("Origin", origin)
			r.Header.Set("Access-Control-Request-Method", "GET")
		})
		return status
	}
	require.Equal(t, 204, preflight("https://elsewhere.example"))
	writeConfig("warn", "@every 1s", "token_max_age: 49h\ndreamhost_limits: [{cmds: jabber-list_users, max: 1, window: 1h}]\n"+
		"cors_origins: [\"https://shop.example\"]\n")
	writeTestCert(t, certFile, keyFile, 2)
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGHUP))
	require.Eventually(t, func() bool {
		_, body := call("get_loglevel", `{}`)
		return body == `{"levelatom":"warning"}`
	}, 30*time.Second, 50*time.Millisecond, "SIGHUP did not apply log_level")
	require.Eventually(t, func() bool { return progress(t, p, p.boot, token) == "success" },
		30*time.Second, 100*time.Millisecond, "the new worker_schedule did not apply the waiting change")
	require.Equal(t, int64(2), peerCertSerial(t, p.c2s, domain), "a new handshake gets the reloaded certificate")
	require.Eventually(t, func() bool {
		return strings.Contains(p.stderr.String(), "take effect only after a restart") && strings.Contains(p.stderr.String(), `"token_max_age"`)
	}, 10*time.Second, 50*time.Millisecond, "the key needing a restart is logged:\n%s", p.stderr)
	require.True(t, strings.HasPrefix(listUsers(), "success"), "the first call of the new limit")
	require.True(t, strings.HasPrefix(listUsers(), "error"), "dreamhost_limits applied: the second is refused")
	require.Equal(t, 403, preflight("https://elsewhere.example"), "cors_origins applied")
	require.Equal(t, 204, preflight("https://shop.example"))
	stillThere("after SIGHUP")
	require.Equal(t, 1, strings.Count(p.stderr.String(), `"msg":"serving"`), "served on, not started again")

	// reload_config through the ejabberd API: the file changed back.
	writeConfig("info", "@every 1h", "")
	writeTestCert(t, certFile, keyFile, 3)
	status, body = call("reload_config", `{}`)
	require.Equal(t, 200, status, body)
	_, body = call("get_loglevel", `{}`)
	require.Equal(t, `{"levelatom":"info"}`, body)
	require.Equal(t, int64(3), peerCertSerial(t, p.c2s, domain))
	require.True(t, strings.HasPrefix(listUsers(), "success"), "no limit any more")
	require.Equal(t, 204, preflight("https://elsewhere.example"), "cors_origins unset again")
	stillThere("after reload_config")

	// A certificate that does not load changes nothing, and says so.
	require.NoError(t, os.WriteFile(certFile, []byte("not a certificate"), 0o600))
	writeConfig("debug", "@every 1h", "")
	status, body = call("reload_config", `{}`)
	require.Equal(t, 400, status, body)
	require.Contains(t, body, "certificate")
	_, body = call("get_loglevel", `{}`)
	require.Equal(t, `{"levelatom":"info"}`, body, "nothing applied")
	require.Equal(t, int64(3), peerCertSerial(t, p.c2s, domain))
	stillThere("after a refused reload")
}

// dhToken sends a DreamHost mutation and returns its token.
func dhToken(t *testing.T, base, key string, v url.Values) string {
	t.Helper()
	v.Set("key", key)
	v.Set("format", "json")
	status, body := request(t, "GET", base+"?"+v.Encode(), "", nil)
	require.Equal(t, 200, status, body)
	i := strings.Index(body, `"token":"`)
	require.GreaterOrEqual(t, i, 0, body)
	tok, _, _ := strings.Cut(body[i+len(`"token":"`):], `"`)
	return tok
}

// writeTestCert writes a self-signed certificate for localhost with serial.
func writeTestCert(t *testing.T, certFile, keyFile string, serial int64) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "localhost"},
		DNSNames: []string{"localhost"}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	kb, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	require.NoError(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
}

// peerCertSerial opens a stream to the c2s listener, negotiates STARTTLS by
// hand and returns the serial number of the certificate the server shows.
func peerCertSerial(t *testing.T, addr, domain string) int64 {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(20*time.Second)))
	r := bufio.NewReader(conn)
	readUntil := func(marker string) {
		var got strings.Builder
		for !strings.Contains(got.String(), marker) {
			b, err := r.ReadByte()
			require.NoError(t, err, "waiting for %s after %q", marker, got.String())
			got.WriteByte(b)
		}
	}
	_, err = conn.Write([]byte("<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='" +
		domain + "' version='1.0'>"))
	require.NoError(t, err)
	readUntil("</stream:features>")
	_, err = conn.Write([]byte("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"))
	require.NoError(t, err)
	readUntil("<proceed")
	readUntil(">")
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true, ServerName: domain}) //nolint:gosec // the serial is what is tested
	require.NoError(t, tc.Handshake())
	return tc.ConnectionState().PeerCertificates[0].SerialNumber.Int64()
}
