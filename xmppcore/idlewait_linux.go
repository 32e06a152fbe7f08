package xmppcore

import (
	"net"
	"syscall"
)

// peekable: a TLS session finds out it is idle (readable) and hands off.
const peekable = true

// waitReadable blocks until nc's socket has data (or EOF, or an error)
// without consuming any: the readiness check peeks, so a byte that arrived
// before the wait began is not missed. It honours nc's read deadline.
func waitReadable(nc net.Conn) error {
	return rawRead(nc, func(fd uintptr) bool { return peek(fd) })
}

// readable reports, without waiting, whether nc's socket has input; ok is
// false where that cannot be known.
func readable(nc net.Conn) (ready, ok bool) {
	err := rawRead(nc, func(fd uintptr) bool {
		ready, ok = peek(fd), true
		return true
	})
	return ready, ok && err == nil
}

// peek reports whether a read of fd would not block (data, EOF or an error).
func peek(fd uintptr) bool {
	var b [1]byte
	_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return err != syscall.EAGAIN && err != syscall.EINTR
}

// rawRead runs f as syscall.RawConn's Read does (again each time the
// socket becomes readable, until f returns true).
func rawRead(nc net.Conn, f func(fd uintptr) bool) error {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc.Read(f)
}
