package xmppcore

import (
	"net"
	"syscall"
)

// waitReadable blocks until nc's socket has data (or EOF, or an error)
// without consuming any: the readiness check peeks, so a byte that arrived
// before the wait began is not missed. It honours nc's read deadline.
func waitReadable(nc net.Conn) error {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return nil
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return rc.Read(func(fd uintptr) bool {
		var b [1]byte
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		return err != syscall.EAGAIN && err != syscall.EINTR
	})
}
