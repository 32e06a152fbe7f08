package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store/credential"
	"github.com/xmppgate/xmppgate/xmppcore/extdisco"
)

func cli(t *testing.T, data string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append(args, "--data", data), nil, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCLI(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")

	code, out, _ := cli(t, data, "account", "add", "acme")
	require.Equal(t, 0, code)
	require.Equal(t, "1\n", out)
	code, out, _ = cli(t, data, "account", "add", "acme-sub", "--parent", "1")
	require.Equal(t, 0, code)
	require.Equal(t, "2\n", out)
	code, _, errText := cli(t, data, "account", "add", "acme")
	require.Equal(t, 1, code)
	require.Contains(t, errText, `account "acme" exists`)

	code, out, _ = cli(t, data, "key", "add", "--account", "1", "--cmds", "jabber-*,services-progress", "--ip", "10.0.0.0/8", "--comment", "panel")
	require.Equal(t, 0, code)
	require.Regexp(t, regexp.MustCompile(`^[A-Z0-9]{16}\n$`), out)
	code, _, errText = cli(t, data, "key", "add", "--account", "1", "--cmds", "jab*ber")
	require.Equal(t, 1, code)
	require.Contains(t, errText, "not *, <module>-* or a command")
	code, _, errText = cli(t, data, "key", "add", "--cmds", "*")
	require.Equal(t, 2, code)
	require.Contains(t, errText, "--account is required")

	code, _, _ = cli(t, data, "domain", "add", "Chat.Example.COM.", "--account", "2")
	require.Equal(t, 0, code)
	code, _, errText = cli(t, data, "domain", "add", "chat.example.com", "--account", "1")
	require.Equal(t, 1, code)
	require.Contains(t, errText, "exists")
	code, _, errText = cli(t, data, "domain", "add", "x.example", "--account", "99")
	require.Equal(t, 1, code)
	require.Contains(t, errText, "no account 99")

	_, out, _ = cli(t, data, "domain", "list")
	require.Contains(t, out, "chat.example.com")
	_, out, _ = cli(t, data, "domain", "list", "--account", "1")
	require.NotContains(t, out, "chat.example.com")
	_, out, _ = cli(t, data, "key", "list")
	require.Contains(t, out, "jabber-*,services-progress")
	require.Contains(t, out, "10.0.0.0/8")
	_, out, _ = cli(t, data, "account", "list")
	require.Contains(t, out, "acme-sub")

	code, out, errText = cli(t, data, "openfire", "set", "--account", "2", "--ip", "10.1.2.3")
	require.Equal(t, 0, code, errText)
	require.Regexp(t, regexp.MustCompile(`^[A-Za-z0-9]{16}\n$`), out)
	secret := strings.TrimSpace(out)
	_, out, _ = cli(t, data, "openfire", "list")
	require.Contains(t, out, "chat.example.com")
	require.Contains(t, out, "10.1.2.3")
	require.NotContains(t, out, secret, "list never shows secrets")

	code, _, errText = cli(t, data, "frobnicate")
	require.Equal(t, 2, code)
	require.Contains(t, errText, "unknown command")
	code, _, errText = cli(t, data, "account", "add")
	require.Equal(t, 2, code)
	require.Contains(t, errText, "takes 1 argument")
}

func TestCLIHelp(t *testing.T) {
	t.Parallel()
	var out, errb bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"--help"}, nil, &out, &errb))
	for _, c := range cliCommands {
		require.Contains(t, out.String(), c.Path)
	}
	for _, c := range cliCommands {
		var out, errb bytes.Buffer
		args := append(strings.Fields(c.Path), "--help")
		require.Equal(t, 0, run(context.Background(), args, nil, &out, &errb), c.Path)
		require.Contains(t, errb.String(), "Usage: xmppgate "+c.Path)
	}
}

func TestBootstrapOnceThenReused(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	first := readBootstrap(t, s.data)
	require.Regexp(t, `^[A-Z0-9]{16}$`, first.Key)
	require.Equal(t, "localhost", first.Domain)
	ctx := context.Background()
	a, err := openApp(ctx, s.app.cfg, nil)
	require.NoError(t, err)
	defer a.Close()
	var out bytes.Buffer
	again, err := a.bootstrap(ctx, &out)
	require.NoError(t, err)
	require.Equal(t, first, again)
	require.Empty(t, out.String(), "printed only on first start")
	// The bootstrap key works and may call everything.
	r := s.dh(first.Key, "jabber-list_valid_domains")
	require.JSONEq(t, `[{"domain":"localhost"}]`, string(r.Data))
	r = s.dh(first.Key, "api-list_keys")
	require.Equal(t, "success", r.Result)
	// The Openfire secret works on the bootstrap domain, synchronously.
	require.Regexp(t, `^[A-Za-z0-9]{16}$`, first.OpenfireSecret)
	resp, err := http.Get(strings.TrimSuffix(s.url, "/") + "/plugins/userService/userservice?type=add&username=Carl&password=pw&secret=" + first.OpenfireSecret)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, "<result>ok</result>\n", string(body))
	require.Equal(t, []string{"carl@localhost active"}, s.users())
	// The REST API's Basic credentials see the bootstrap domain and its user.
	req, err := http.NewRequest(http.MethodGet, strings.TrimSuffix(s.url, "/")+"/api/1.0/xmppdomains/localhost/users/carl", nil)
	require.NoError(t, err)
	req.SetBasicAuth(first.RESTUser, first.RESTPassword)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.Contains(t, string(body), `"username"`)
	require.Contains(t, string(body), "carl")
	req.SetBasicAuth(first.RESTUser, "wrong")
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 401, resp.StatusCode)
	// The ejabberd admin JID authenticates the ejabberd API.
	require.Equal(t, "admin@localhost", first.AdminJID)
	req, err = http.NewRequest(http.MethodPost, strings.TrimSuffix(s.url, "/")+"/api/registered_users", strings.NewReader(`{"host":"localhost"}`))
	require.NoError(t, err)
	req.SetBasicAuth(first.AdminJID, first.AdminPassword)
	resp, err = http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode, string(body))
	require.JSONEq(t, `["admin","carl"]`, string(body))
}

func TestSecondServerRefused(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	cfg := s.app.cfg
	cfg.HTTPAddr = "127.0.0.1:0"
	err := serve(context.Background(), cfg, io.Discard, nil)
	require.ErrorContains(t, err, "in use by another xmppgate serve")
}

func TestConfigFromEnvironment(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig("", []string{"XMPPGATE_DATA=/x", "XMPPGATE_HTTP_ADDR=127.0.0.1:1", "XMPPGATE_WORKER_SCHEDULE=@every 2s",
		"XMPPGATE_TOKEN_MAX_AGE=1h", "XMPPGATE_DREAMHOST_LIMITS=[{cmds: jabber-*, max: 5, window: 1m}]", "OTHER=1"})
	require.NoError(t, err)
	require.Equal(t, "/x", c.Data)
	require.Equal(t, "127.0.0.1:1", c.HTTPAddr)
	require.Equal(t, "@every 2s", c.WorkerSchedule)
	require.Equal(t, "1h0m0s", c.TokenMaxAge.String())
	require.Len(t, c.DreamHostLimits, 1)
	require.Equal(t, 5, c.DreamHostLimits[0].Max)
	_, err = LoadConfig("", []string{"XMPPGATE_SYNCHRONOUS=sometimes"})
	require.Error(t, err)
	c, err = LoadConfig("", []string{"XMPPGATE_WORKER_PARALLEL=2"})
	require.NoError(t, err)
	require.Equal(t, 2, c.WorkerParallel)

	c, err = LoadConfig("", []string{"XMPPGATE_UPLOAD_URL=https://chat.example/upload",
		"XMPPGATE_EXTERNAL_SERVICES=[{type: turn, host: turn.example, port: 3478, transport: udp, secret: s, ttl: 1h}]"})
	require.NoError(t, err)
	require.Equal(t, "https://chat.example/upload", c.UploadURL)
	require.Equal(t, []extdisco.Service{{Type: "turn", Host: "turn.example", Port: 3478, Transport: "udp", Secret: "s", TTL: time.Hour}}, c.ExternalServices)
	_, err = LoadConfig("", []string{"XMPPGATE_EXTERNAL_SERVICES=[{type: turn, port: 3478}]"})
	require.EqualError(t, err, "config: external_services[0]: turn: host is required")
}

func TestConfigSMResumeTimeout(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig("", nil)
	require.NoError(t, err)
	require.Equal(t, 300*time.Second, c.SMResumeTimeout, "ejabberd's and Prosody's default")
	c, err = LoadConfig("", []string{"XMPPGATE_SM_RESUME_TIMEOUT=90s"})
	require.NoError(t, err)
	require.Equal(t, 90*time.Second, c.SMResumeTimeout)
	for _, bad := range []string{"0s", "-5s", "300"} { // a bare number has no unit
		_, err = LoadConfig("", []string{"XMPPGATE_SM_RESUME_TIMEOUT=" + bad})
		require.Error(t, err, bad)
	}
}

func TestConfigScramHashes(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env  string
		want credential.Families
		err  string
	}{
		{"-", credential.Both, ""}, // not set
		{"", credential.Both, ""},  // set empty
		{"sha1,sha256", credential.Both, ""},
		{"sha", credential.SHA1, ""}, // ejabberd's auth_scram_hash spelling
		{"SHA-256", credential.SHA256, ""},
		{"sha512", 0, `config: scram_hashes: unknown SCRAM hash "sha512" (want sha1, sha256 or both, comma-separated)`},
		{"sha1,", 0, `config: scram_hashes: unknown SCRAM hash "" (want sha1, sha256 or both, comma-separated)`},
	} {
		var env []string
		if tc.env != "-" {
			env = []string{"XMPPGATE_SCRAM_HASHES=" + tc.env}
		}
		c, err := LoadConfig("", env)
		if tc.err != "" {
			require.EqualError(t, err, tc.err, tc.env)
			continue
		}
		require.NoError(t, err, tc.env)
		require.Equal(t, tc.want, c.scramFamilies(), tc.env)
	}
}
