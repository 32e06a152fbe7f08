//go:build !linux

package xmppcore

import "net"

// Without epoll an idle session waits on its goroutine (idlewait.go).
var idle idlePoller

type idlePoller struct{}

func wrapIdle(nc net.Conn) net.Conn { return nc }

func (idlePoller) park(*conn, interface{ NetConn() net.Conn }) bool { return false }

func (idlePoller) parkedCount() int { return 0 }

func (idlePoller) holds(*conn) bool { return false }

// resumeParked continues a session whose transport woke it (inputParker).
func resumeParked(c *conn) { go c.session() }

// WatchReadable cannot watch without epoll: fn is never called.
func WatchReadable(net.Conn, func()) (stop func() bool, ok bool) { return nil, false }
