package modcfg

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
)

func TestParse(t *testing.T) {
	t.Parallel()
	d := Parse(store.Domain{FQDN: "x", Enabled: true, Settings: json.RawMessage(`{"moduleConfig": {
		"enableAnonymousLogin": false, "modPing": {"enabled": false}, "modVcard": {"enabled": true},
		"modMuc": {"conferenceSubdomain": "muc", "enabled": false}, "modTime": {}}}`)})
	tests := []struct {
		mod  string
		want bool
	}{
		0: {Ping, false},
		1: {Vcard, true},
		2: {"modMuc", false},
		3: {Time, true}, // no "enabled" key: default on
		4: {Offline, true},
	}
	for i, tt := range tests {
		require.Equal(t, tt.want, d.On(tt.mod), "row %d", i)
	}
	require.True(t, Parse(store.Domain{Settings: json.RawMessage(`not json`)}).On(Ping))
}
