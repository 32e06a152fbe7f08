//go:build !linux

package xmppcore

import "net"

// waitReadable does not wait where the socket cannot be peeked portably:
// the read that follows blocks instead, with the deeper stack.
func waitReadable(net.Conn) error { return nil }

// readable cannot tell where waitReadable does not wait.
func readable(net.Conn) (ready, ok bool) { return false, false }

// peekable: a TLS session cannot tell it is idle here, so it keeps its goroutine.
const peekable = false
