package peer

import (
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// The config both callers write is YAML ejabberd can read, with their
// hosts, admins, API permissions and password format where ejabberd looks
// for them, the console group always first.
func TestEjabberdConfig(t *testing.T) {
	e := &Ejabberd{cfg: EjabberdConfig{Dir: "/tmp/xmppgate-x", Node: "n@localhost", C2SPort: 1, HTTPPort: 2, DistPort: 3,
		Hosts: []string{"one.example", "two.example"}, Admins: []string{"admin@one.example"}, PasswordFormat: "plain", LogLevel: "error",
		APIPermissions: "  \"admin access\":\n    from:\n      - mod_http_api\n    who: admin\n    what: \"*\"\n"},
		cert: Cert{Combined: "/tmp/xmppgate-x/combined.pem"}}
	files, err := e.configFiles()
	require.NoError(t, err)
	type config struct {
		Loglevel           string
		Hosts              []string
		Certfiles          []string
		AuthPasswordFormat string `yaml:"auth_password_format"`
		ACL                struct{ Admin struct{ User []string } }
		APIPermissions     yaml.Node `yaml:"api_permissions"`
		Listen             []struct{ Port int }
	}
	var y config
	require.NoError(t, yaml.Unmarshal(files["ejabberd.yml"], &y), "%s", files["ejabberd.yml"])
	require.Equal(t, "error", y.Loglevel)
	require.Equal(t, []string{"one.example", "two.example"}, y.Hosts)
	require.Equal(t, []string{"/tmp/xmppgate-x/combined.pem"}, y.Certfiles)
	require.Equal(t, "plain", y.AuthPasswordFormat)
	require.Equal(t, []string{"admin@one.example"}, y.ACL.Admin.User)
	require.Len(t, y.APIPermissions.Content, 4) // two groups, name and body each
	require.Equal(t, "console commands", y.APIPermissions.Content[0].Value)
	require.Equal(t, "admin access", y.APIPermissions.Content[2].Value)
	require.Equal(t, 1, y.Listen[0].Port)
	require.Equal(t, 2, y.Listen[1].Port)
	require.Contains(t, string(files["ejabberdctl.cfg"]), "ERLANG_NODE=n@localhost\nERL_DIST_PORT=3\n")

	// Without admins the ACL has the empty user (nobody), as Debian's file.
	e.cfg.Admins, e.cfg.APIPermissions = nil, ""
	files, err = e.configFiles()
	require.NoError(t, err)
	y = config{}
	require.NoError(t, yaml.Unmarshal(files["ejabberd.yml"], &y))
	require.Equal(t, []string{""}, y.ACL.Admin.User)
	require.Len(t, y.APIPermissions.Content, 2) // the console group only

	// Web puts BOSH and WebSocket on the HTTP listener and loads mod_bosh;
	// without it neither is there.
	type web struct {
		Listen []struct {
			RequestHandlers map[string]string `yaml:"request_handlers"`
		}
		Modules map[string]any
	}
	for _, on := range []bool{false, true} {
		e.cfg.Web = on
		files, err = e.configFiles()
		require.NoError(t, err)
		var w web
		require.NoError(t, yaml.Unmarshal(files["ejabberd.yml"], &w), "%s", files["ejabberd.yml"])
		_, bosh := w.Modules["mod_bosh"]
		require.Equal(t, on, bosh)
		want := map[string]string{"/api": "mod_http_api"}
		if on {
			want["/bosh"], want["/ws"] = "mod_bosh", "ejabberd_http_ws"
		}
		require.Equal(t, want, w.Listen[1].RequestHandlers)
	}
}
