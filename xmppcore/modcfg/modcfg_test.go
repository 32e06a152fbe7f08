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

func TestParseAnonymous(t *testing.T) {
	t.Parallel()
	tests := []struct {
		settings string
		want     bool
	}{
		0: {`{"moduleConfig": {"enableAnonymousLogin": true}}`, true},
		1: {`{"moduleConfig": {"enableAnonymousLogin": false}}`, false},
		2: {`{"moduleConfig": {}}`, false},
		3: {`{"moduleConfig": {"enableAnonymousLogin": "true"}}`, false}, // only a JSON true
		4: {`{"enableAnonymousLogin": true}`, false},                     // it lives in moduleConfig
		5: {`not json`, false},
	}
	for i, tt := range tests {
		d := Parse(store.Domain{FQDN: "x", Enabled: true, Settings: json.RawMessage(tt.settings)})
		require.Equal(t, tt.want, d.Anonymous, "row %d", i)
	}
}
