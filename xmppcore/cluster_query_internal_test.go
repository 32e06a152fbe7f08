package xmppcore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// remoteInfo turns a directory entry into what the session listings show:
// show and status come from the last available presence, as the node
// holding the session serialised it (no jabber:client declaration).
func TestRemoteInfo(t *testing.T) {
	t.Parallel()
	since := time.UnixMilli(1_700_000_000_123)
	for i, tc := range []struct {
		in   RemoteSession
		want SessionInfo
		ok   bool
	}{
		0: {RemoteSession{Node: "b@h", JID: "bob@d.example/desk", Available: true, Priority: 5, Transport: TransportWebSocket, IP: "192.0.2.1", Port: 4711, TLS: true, Since: since.UnixMilli(),
			Presence: []byte(`<presence from="bob@d.example/desk"><show>dnd</show><status>in a meeting</status><priority>5</priority></presence>`)},
			SessionInfo{JID: "bob@d.example/desk", Domain: "d.example", Username: "bob", Resource: "desk", IP: "192.0.2.1", Port: 4711, Priority: 5,
				Connected: since, LastActive: since, TLS: true, Available: true, Transport: TransportWebSocket, Show: "dnd", Status: "in a meeting", Node: "b@h", Remote: true}, true},
		1: {RemoteSession{Node: "c@h", JID: "ann@d.example/x", Anonymous: true, Since: since.UnixMilli()},
			SessionInfo{JID: "ann@d.example/x", Domain: "d.example", Username: "ann", Resource: "x", Connected: since, LastActive: since, Anonymous: true, Node: "c@h", Remote: true}, true},
		2: {RemoteSession{Node: "c@h", JID: "ann@d.example/x", Available: true, Presence: []byte(`<presence><status>`)},
			SessionInfo{JID: "ann@d.example/x", Domain: "d.example", Username: "ann", Resource: "x", Connected: time.UnixMilli(0), LastActive: time.UnixMilli(0), Available: true, Node: "c@h", Remote: true}, true},
		3: {RemoteSession{Node: "c@h", JID: "d.example/x"}, SessionInfo{}, false},
		4: {RemoteSession{Node: "c@h", JID: "ann@d.example"}, SessionInfo{}, false},
	} {
		got, ok := remoteInfo(tc.in)
		require.Equal(t, tc.ok, ok, "case %d", i)
		require.Equal(t, tc.want, got, "case %d", i)
	}
}
