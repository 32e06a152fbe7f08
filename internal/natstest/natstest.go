// Package natstest runs a NATS server inside a test process, for the
// tests of nodes that route to each other over NATS.
package natstest

import (
	"testing"
	"time"

	natsserver "github.com/nats-io/nats-server/v2/server"
	"github.com/stretchr/testify/require"
)

// Start serves NATS on a free loopback port until tb ends and returns its URL.
func Start(tb testing.TB) string {
	tb.Helper()
	ns, err := natsserver.NewServer(&natsserver.Options{Host: "127.0.0.1", Port: -1, NoLog: true, NoSigs: true})
	require.NoError(tb, err)
	go ns.Start()
	tb.Cleanup(ns.Shutdown)
	require.True(tb, ns.ReadyForConnections(10*time.Second), "embedded NATS server did not start")
	return ns.ClientURL()
}
