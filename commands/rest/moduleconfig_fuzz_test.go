package rest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/fuzzseed"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
)

// FuzzModuleConfig: any PUT body the domain object decoder accepts is
// stored as the XMPP server then reads it: every module object's enabled
// flag is the switch modcfg gives xmppcore, and the upload limits, archive
// retention, createnodeAcl and anonymous login the API shows are the ones
// the server applies; what a GET shows afterwards is what was accepted.
func FuzzModuleConfig(f *testing.F) {
	for _, r := range goldenRequests(f) {
		if _, target, _, body := fuzzseed.Split(r); strings.HasPrefix(target, base) && strings.Contains(body, "moduleConfig") {
			f.Add([]byte(body))
		}
	}
	f.Add([]byte(`{"moduleConfig":{"modPing":false,"modVcard":{"enabled":false},"modPush":{"enabled":true},"modMam":{"retentionDays":7}}}`))
	f.Add([]byte(`{"moduleConfig":{"modHttpUpload":{"maxFileSize":0,"quota":-1,"expiryDays":3},"modPubsub":{"createnodeAcl":"pubsub_create_users"},"enableAnonymousLogin":true}}`))
	f.Add([]byte(`{"moduleConfig":{"modPubsub":{"createnodeAcl":"nobody"},"modPep":{"enabled":"no"}}}`))
	cur := commands.DefaultDomainSettings("a.example")
	f.Fuzz(func(t *testing.T, body []byte) {
		out, err := commands.PatchSettings(cur, body)
		if err != nil {
			return // FuzzPatchSettings checks the refusals
		}
		raw, err := json.Marshal(out)
		require.NoError(t, err)
		stored := store.Domain{ID: 1, FQDN: "a.example", Enabled: true, Settings: raw}
		d := modcfg.Parse(stored)

		var mc map[string]json.RawMessage
		b, err := json.Marshal(out.ModuleConfig)
		require.NoError(t, err)
		require.NoError(t, json.Unmarshal(b, &mc))
		for name, v := range mc {
			var m struct {
				Enabled *bool `json:"enabled"`
			}
			if json.Unmarshal(v, &m) != nil || m.Enabled == nil {
				continue // a flag, not a module
			}
			require.Equal(t, *m.Enabled, d.On(name), "%s: the API says enabled=%v, the server %v (%s)", name, *m.Enabled, d.On(name), body)
		}
		up := out.ModuleConfig.ModHttpUpload
		want := modcfg.UploadSettings{MaxFileSize: up.MaxFileSize, Quota: up.Quota, ExpiryDays: up.ExpiryDays}
		if want.MaxFileSize == 0 {
			want.MaxFileSize = modcfg.DefaultUpload.MaxFileSize
		}
		require.Equal(t, want, d.Upload, "upload limits (%s)", body)
		require.EqualValues(t, out.ModuleConfig.ModMam.RetentionDays, d.MamRetentionDays, "retention (%s)", body)
		require.Equal(t, out.ModuleConfig.ModPubsub.CreatenodeAcl, d.PubsubCreate, "createnodeAcl (%s)", body)
		require.Equal(t, out.ModuleConfig.EnableAnonymousLogin, d.Anonymous, "anonymous login (%s)", body)
		require.Equal(t, out, commands.EffectiveSettings(stored), "what a GET shows (%s)", body)
	})
}
