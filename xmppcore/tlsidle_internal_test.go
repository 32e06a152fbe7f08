package xmppcore

import (
	"crypto/tls"
	"io"
	"net"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReleaseTLSBuffers: on this Go release the read buffers of an idle
// tls.Conn are found and dropped, and the connection reads and writes on
// afterwards. It fails when a Go upgrade changes crypto/tls's layout, so
// that the idle cost coming back is seen (tlsidle.go).
func TestReleaseTLSBuffers(t *testing.T) {
	t.Parallel()
	require.True(t, tlsIdle.ok, "crypto/tls.Conn has rawInput, input, hand and in as expected")
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	require.NoError(t, selfSigned(cf, kf, []string{"example.test"}))
	cert, err := tls.LoadX509KeyPair(cf, kf)
	require.NoError(t, err)
	a, b := net.Pipe()
	srv := tls.Server(a, &tls.Config{Certificates: []tls.Certificate{cert}})
	cli := tls.Client(b, &tls.Config{InsecureSkipVerify: true})
	defer srv.Close()
	defer cli.Close()
	done := make(chan error, 1)
	go func() {
		_, err := cli.Write([]byte("ping"))
		if err == nil {
			_, err = io.ReadFull(cli, make([]byte, 4))
		}
		done <- err
	}()
	buf := make([]byte, 4)
	_, err = io.ReadFull(srv, buf)
	require.NoError(t, err)
	require.Equal(t, "ping", string(buf))
	require.Positive(t, tlsBufferCap(srv), "the handshake grew the read buffers")
	require.True(t, releaseTLSBuffers(srv))
	require.Zero(t, tlsBufferCap(srv))
	_, err = srv.Write([]byte("pong"))
	require.NoError(t, err)
	require.NoError(t, <-done)

	go func() { _, err := cli.Write([]byte("more")); done <- err }()
	_, err = io.ReadFull(srv, buf)
	require.NoError(t, err)
	require.Equal(t, "more", string(buf))
	require.NoError(t, <-done)
}
