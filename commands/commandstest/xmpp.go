package commandstest

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore"
)

// XMPPServer is a running xmppcore server adapted to commands.Live as
// serve.go adapts it (commands never imports xmppcore); its worker
// effects (closing sessions, pushing rosters) are the server's own.
type XMPPServer struct{ *xmppcore.Server }

// Sessions converts the server's sessions to commands.Session.
func (l *XMPPServer) Sessions(domain, username string) []commands.Session {
	in := l.Server.Sessions(domain, username)
	out := make([]commands.Session, len(in))
	for i, s := range in {
		out[i] = commands.Session{JID: s.JID, Domain: s.Domain, Username: s.Username, Resource: s.Resource, IP: s.IP,
			Port: s.Port, Priority: s.Priority, Connected: s.Connected, Status: s.Status, Show: s.Show, TLS: s.TLS, Available: s.Available,
			Transport: s.Transport, LastActive: s.LastActive, Anonymous: s.Anonymous}
	}
	return out
}

var _ commands.Live = (*XMPPServer)(nil)

// StartXMPP runs an XMPP server on loopback over st until t ends and
// returns it with its C2S address.
func StartXMPP(t testing.TB, st *store.Store) (*XMPPServer, string) {
	t.Helper()
	srv, err := xmppcore.New(xmppcore.Config{C2SAddr: "127.0.0.1:0", DataDir: t.TempDir()}, st)
	require.NoError(t, err)
	require.NoError(t, srv.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
	})
	c2s, _ := srv.Addrs()
	return &XMPPServer{srv}, c2s.String()
}
