package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
)

// ctl runs `xmppgate ctl ARGS` against s as the shell would.
func (s *testServer) ctl(args ...string) (int, string, string) {
	s.t.Helper()
	var out, errb bytes.Buffer
	addr := strings.TrimSuffix(strings.TrimPrefix(s.url, "http://"), "/")
	full := append([]string{"ctl", "--data", s.data, "--http", addr}, args...)
	code := run(context.Background(), full, nil, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCtl(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	other, err := commands.CreateAccount(t0(), s.app.env, "other", 0, false)
	require.NoError(t, err)
	_, err = commands.CreateDomain(t0(), s.app.env, "b.example", other.ID)
	require.NoError(t, err)

	for _, c := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string // a substring; "" = nothing on stderr
	}{
		// restuple: the text; a mutation is applied before the answer.
		{"register", []string{"register", "bob", "localhost", "bobpass"}, 0, "User bob@localhost successfully registered\n", ""},
		// rescode: only the exit status.
		{"check_account exists", []string{"check_account", "bob", "localhost"}, 0, "", ""},
		{"check_account missing", []string{"check_account", "nobody", "localhost"}, 1, "", ""},
		{"check_password right", []string{"check-password", "bob", "localhost", "bobpass"}, 0, "", ""},
		// The operator reaches every account's domains.
		{"register other account", []string{"register", "carol", "b.example", "--", "-pw-"}, 0, "User carol@b.example successfully registered\n", ""},
		{"check_password dash", []string{"check_password", "carol", "b.example", "--", "-pw-"}, 0, "", ""},
		// list: one item per line.
		{"registered_users", []string{"registered_users", "localhost"}, 0, "admin\nbob\n", ""},
		{"registered_vhosts", []string{"registered_vhosts"}, 0, "b.example\nlocalhost\n", ""},
		// status: ejabberdctl's own two lines, not the API's text.
		{"status", []string{"status"}, 0, "The node xmppgate@localhost is started with status: started\n" +
			"xmppgate (ejabberd 23.01 API) is running in that node\n", ""},
		// integer: the value.
		{"connected_users_number", []string{"connected_users_number"}, 0, "0\n", ""},
		// restuple "" prints nothing.
		{"unregister", []string{"unregister", "nobody", "localhost"}, 0, "", ""},
		// Optional arguments before a required one are given as "".
		{"add_rosteritem", []string{"add_rosteritem", "bob", "localhost", "carol", "b.example", "", "", "both"}, 0, "", ""},
		{"add_rosteritem short", []string{"add_rosteritem", "bob", "localhost", "carol", "b.example", "both"}, 1, "", "requires 2 more argument"},
		{"get_roster", []string{"get_roster", "bob", "localhost"}, 0, "carol@b.example\t\tboth\tundefined\t\n", ""},
		// errors: the message on stderr, exit 1.
		{"register again", []string{"register", "bob", "localhost", "x"}, 1, "", "Error: conflict: User bob@localhost already registered\n"},
		{"unknown vhost", []string{"registered_users", "nowhere.example"}, 1, "", "Error: Unknown virtual host\n"},
		{"bad integer", []string{"oauth_issue_token", "admin@localhost", "soon", "ejabberd:admin"}, 1, "", "is not in format integer"},
		{"too few", []string{"register", "bob"}, 1, "", "requires 2 more argument"},
		{"too many", []string{"check_account", "a", "b", "c"}, 1, "", "requires 1 less argument"},
		{"unknown command", []string{"registerr", "x"}, 1, "", "Error: unknown command 'registerr'. Did you mean 'register'?"},
		{"refused", []string{"mnesia_info"}, 1, "", "Not implemented in xmppgate: mnesia_info"},
	} {
		code, out, errText := s.ctl(c.args...)
		require.Equal(t, c.code, code, "%s: stdout %q stderr %q", c.name, out, errText)
		require.Equal(t, c.stdout, out, c.name)
		if c.stderr == "" {
			require.Empty(t, errText, c.name)
		} else {
			require.Contains(t, errText, c.stderr, c.name)
		}
	}

	// tuple: tab-separated fields; tuples: one per line.
	code, out, errText := s.ctl("oauth_issue_token", "admin@localhost", "3600", "ejabberd:admin;registered_users")
	require.Equal(t, 0, code, errText)
	require.Regexp(t, regexp.MustCompile(`^[A-Za-z0-9]{32}\tejabberd:admin;registered_users\t3600 seconds\n$`), out)
	code, out, _ = s.ctl("oauth_list_tokens")
	require.Equal(t, 0, code)
	require.Regexp(t, regexp.MustCompile(`^[0-9a-f]{64}\tadmin@localhost\tejabberd:admin;registered_users\t3600 seconds\n$`), out)
}

func TestCtlHelp(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	code, out, errText := cli(t, data, "ctl", "help")
	require.Equal(t, 0, code, errText)
	require.Contains(t, out, "Usage: xmppgate ctl")
	require.Regexp(t, `(?m)^  register user host password +Creates a user\.`, out)
	require.Regexp(t, `(?m)^  oauth_issue_token jid ttl scopes `, out)
	require.Contains(t, out, "  mnesia_info ")

	code, out, _ = cli(t, data, "ctl", "help", "register")
	require.Equal(t, 0, code)
	require.Contains(t, out, "  Command Name: register\n\n  Arguments: user::string : ")
	require.Contains(t, out, "             password::string : ")
	require.Contains(t, out, "  Result: res::restuple (the text)\n")
	require.Contains(t, out, "  Tags: accounts\n")
	code, out, _ = cli(t, data, "ctl", "help", "oauth-list-tokens")
	require.Equal(t, 0, code)
	require.Contains(t, out, "  Result: tokens::[{token, user, scope, expires_in}] (one per line, fields separated by tabs)\n")
	code, out, _ = cli(t, data, "ctl", "help", "check_account")
	require.Equal(t, 0, code)
	require.Contains(t, out, "res::rescode (exit status 0 for success, 1 otherwise)")

	code, _, errText = cli(t, data, "ctl", "help", "nope_nope")
	require.Equal(t, 1, code)
	require.Contains(t, errText, "No command matches 'nope_nope'")
}

// TestCtlNotRunning: without a server the error says so.
func TestCtlNotRunning(t *testing.T) {
	t.Parallel()
	data := filepath.Join(t.TempDir(), "data")
	require.NoError(t, os.MkdirAll(data, 0o700))
	code, _, errText := cli(t, data, "ctl", "registered_vhosts")
	require.Equal(t, 1, code)
	require.Contains(t, errText, "no xmppgate server is running on data directory "+data)
	// A stale secret, nobody listening.
	require.NoError(t, os.WriteFile(filepath.Join(data, ctlSecretFile), []byte("x\n"), 0o600))
	code, _, errText = cli(t, data, "ctl", "registered_vhosts", "--http", freeAddr(t))
	require.Equal(t, 1, code)
	require.Contains(t, errText, "no xmppgate server answers at http://127.0.0.1:")
	code, _, errText = cli(t, data, "ctl")
	require.Equal(t, 2, code)
	require.Contains(t, errText, "no command given")
}

// TestCtlSecretFile: the server writes a 0600 secret on start, a stale one
// is refused, and the file goes on shutdown.
func TestCtlSecretFile(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	path := filepath.Join(s.data, ctlSecretFile)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Regexp(t, `^[0-9a-f]{64}\n$`, string(raw))
	require.NoError(t, os.WriteFile(path, []byte("0000\n"), 0o600))
	code, _, errText := s.ctl("registered_vhosts")
	require.Equal(t, 1, code)
	require.Contains(t, errText, "Error: You are not authorized to call this command.")
	require.NoError(t, os.WriteFile(path, raw, 0o600))
	code, _, _ = s.ctl("registered_vhosts")
	require.Equal(t, 0, code)

	removeCtlSecret(s.data, "not-it")
	require.FileExists(t, path, "another server's secret stays")
	removeCtlSecret(s.data, strings.TrimSpace(string(raw)))
	require.NoFileExists(t, path)
}

func TestCtlURL(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ addr, url, err string }{
		{"127.0.0.1:5280", "http://127.0.0.1:5280", ""},
		{":5280", "http://127.0.0.1:5280", ""},
		{"0.0.0.0:5280", "http://127.0.0.1:5280", ""},
		{"[::]:5280", "http://[::1]:5280", ""},
		{"[::1]:5280", "http://[::1]:5280", ""},
		{"localhost:5280", "http://localhost:5280", ""},
		{"192.0.2.1:5280", "", "not a loopback or wildcard address"},
		{"nonsense", "", "http_addr"},
	} {
		u, err := ctlURL(c.addr)
		if c.err != "" {
			require.ErrorContains(t, err, c.err, c.addr)
			continue
		}
		require.NoError(t, err, c.addr)
		require.Equal(t, c.url, u, c.addr)
	}
}

// TestCtlBinary drives the built binary: serve in one process, ctl in
// others, exit statuses as a shell sees them.
func TestCtlBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	p := startBinary(t)
	ctl := func(args ...string) (int, string, string) { return p.ctl(t, "", args...) }
	code, out, errText := ctl("register", "dave", "localhost", "pw")
	require.Equal(t, 0, code, errText)
	require.Equal(t, "User dave@localhost successfully registered\n", out)
	code, _, _ = ctl("check_account", "dave", "localhost")
	require.Equal(t, 0, code)
	code, out, errText = ctl("check_account", "erin", "localhost")
	require.Equal(t, 1, code)
	require.Empty(t, out+errText)
	code, out, _ = ctl("registered_users", "localhost")
	require.Equal(t, 0, code)
	require.Equal(t, "admin\ndave\n", out)
	code, _, errText = ctl("register", "dave", "localhost", "pw")
	require.Equal(t, 1, code)
	require.Equal(t, "Error: conflict: User dave@localhost already registered\n", errText)
	p.kill()
	code, _, errText = ctl("registered_users", "localhost")
	require.Equal(t, 1, code)
	require.Contains(t, errText, "xmppgate: no xmppgate server answers at")
}

// TestTrustLoopback: the config switch (also from the environment) lets a
// loopback request without credentials act as the bootstrap admin.
func TestTrustLoopback(t *testing.T) {
	t.Parallel()
	c, err := LoadConfig("", []string{"XMPPGATE_EJABBERD_TRUST_LOOPBACK=true"})
	require.NoError(t, err)
	require.True(t, c.EjabberdTrustLoopback)
	c, err = LoadConfig("", nil)
	require.NoError(t, err)
	require.False(t, c.EjabberdTrustLoopback, "off by default")

	post := func(s *testServer) (int, string) {
		resp, err := http.Post(s.url+"api/registered_users", "application/json", strings.NewReader(`{"host":"localhost"}`))
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := post(startServer(t, nil))
	require.Equal(t, 403, status, body)
	status, body = post(startServer(t, func(c *Config) { c.EjabberdTrustLoopback = true }))
	require.Equal(t, 200, status, body)
	require.Equal(t, `["admin"]`, body)
}
