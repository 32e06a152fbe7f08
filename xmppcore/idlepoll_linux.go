package xmppcore

import (
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// An idle session that waits on a goroutine, however shallow, still costs
// that goroutine: 2 KiB of stack and its g, about 2.6 KiB per session
// (runtime.MemStats StackInuse in bench/xmpp). So a session with nothing
// to read is parked here instead: its socket is registered, one-shot, with
// an epoll instance of our own (a socket may sit in several; the runtime's
// netpoller keeps its registration), and no goroutine runs for it until
// the socket turns readable, its idle time runs out, or it is closed. Then
// a fresh goroutine continues the session exactly where the shallow wait
// of idlewait.go would have returned.
//
// A socket is parked only while its pollConn is open, and pollConn.Close
// unparks it before the descriptor is closed: a closed descriptor leaves
// an epoll set silently, and its number may be reused. A wake-up that races
// with such a reuse reaches the new session needlessly, which then just
// waits as before.

// idle is the process's poller: one epoll instance and one goroutine for
// every server in it, made at the first park.
var idle idlePoller

type idlePoller struct {
	once   sync.Once
	epfd   int
	ok     atomic.Bool // set once the epoll instance runs
	mu     sync.Mutex
	parked map[int32]*parkedConn
}

type parkedConn struct {
	c     *conn
	timer *time.Timer
	// fn, for a connection watched with WatchReadable instead (c nil).
	fn func()
}

// pollConn is an accepted TCP connection whose session may be parked.
type pollConn struct {
	*net.TCPConn
	fd     int32 // -1 where the descriptor could not be had
	mu     sync.Mutex
	closed bool
}

// wrapIdle makes nc parkable (a TCP connection); others stay as they are.
func wrapIdle(nc net.Conn) net.Conn {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return nc
	}
	pc := &pollConn{TCPConn: tc, fd: -1}
	if rc, err := tc.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) { pc.fd = int32(fd) })
	}
	return pc
}

// Close unparks the session (its goroutine then sees the closed
// connection), then closes.
func (pc *pollConn) Close() error {
	pc.mu.Lock()
	already := pc.closed
	pc.closed = true
	pc.mu.Unlock()
	if !already && pc.fd >= 0 {
		idle.wake(pc.fd)
	}
	return pc.TCPConn.Close()
}

func (p *idlePoller) start() {
	fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return
	}
	p.epfd, p.parked = fd, map[int32]*parkedConn{}
	p.ok.Store(true)
	go p.loop()
}

func (p *idlePoller) loop() {
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err == syscall.EINTR {
				continue
			}
			panic("xmppcore: epoll_wait: " + err.Error()) // cannot happen with a valid epfd
		}
		for _, ev := range events[:n] {
			p.wake(ev.Fd)
		}
	}
}

// park registers c's socket and reports whether it did; c's goroutine must
// then end at once. The read deadline is already armed (awaitInput); the
// timer wakes the session at it, and the session's wait then reports it.
func (p *idlePoller) park(c *conn, tc interface{ NetConn() net.Conn }) bool {
	pc, ok := tc.NetConn().(*pollConn)
	if !ok || pc.fd < 0 {
		return false
	}
	p.once.Do(p.start)
	if !p.ok.Load() {
		return false
	}
	pc.mu.Lock() // against Close: a closed descriptor must not be registered
	defer pc.mu.Unlock()
	if pc.closed {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: pc.fd}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(pc.fd), &ev); err != nil {
		return false
	}
	e := &parkedConn{c: c}
	if c.lim.idle > 0 {
		fd := pc.fd
		e.timer = time.AfterFunc(c.lim.idle+time.Millisecond, func() { p.wakeConn(fd, c) })
	}
	p.parked[pc.fd] = e
	return true
}

// wake continues the session parked on fd, if any.
func (p *idlePoller) wake(fd int32) { p.wakeConn(fd, nil) }

// wakeConn is wake, limited to conn c when c is not nil (a timer must not
// wake a later session on a reused descriptor).
func (p *idlePoller) wakeConn(fd int32, c *conn) {
	if !p.ok.Load() {
		return
	}
	p.mu.Lock()
	e := p.parked[fd]
	if e == nil || (c != nil && e.c != c) {
		p.mu.Unlock()
		return
	}
	delete(p.parked, fd)
	syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
	p.mu.Unlock()
	if e.timer != nil {
		e.timer.Stop()
	}
	if e.fn != nil {
		go e.fn()
		return
	}
	e.c.fresh = true
	wakers.run(e.c)
}

// WatchReadable calls fn once, on a goroutine of its own, when nc turns
// readable (data, or the peer closed or reset it), without a goroutine
// waiting meanwhile: a BOSH request parked without a reader
// (xmppcore/bosh) learns so that its client went away. stop unregisters
// nc and reports whether fn will not run (false: it ran or runs); call it
// before closing nc or handing it on. ok is false where nc cannot be
// watched (not a TCP connection, no epoll): fn is then never called.
func WatchReadable(nc net.Conn, fn func()) (stop func() bool, ok bool) {
	if tc, isTLS := nc.(interface{ NetConn() net.Conn }); isTLS {
		nc = tc.NetConn()
	}
	sc, isSys := nc.(syscall.Conn)
	if !isSys {
		return nil, false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nil, false
	}
	fd := int32(-1)
	if rc.Control(func(f uintptr) { fd = int32(f) }) != nil || fd < 0 {
		return nil, false
	}
	p := &idle
	p.once.Do(p.start)
	if !p.ok.Load() {
		return nil, false
	}
	e := &parkedConn{fn: fn}
	p.mu.Lock()
	if p.parked[fd] != nil {
		p.mu.Unlock()
		return nil, false
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: fd}
	if err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev); err != nil {
		p.mu.Unlock()
		return nil, false
	}
	p.parked[fd] = e
	p.mu.Unlock()
	return func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.parked[fd] != e {
			return false
		}
		delete(p.parked, fd)
		syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_DEL, int(fd), nil)
		return true
	}, true
}

// resumeParked continues a session whose transport woke it (inputParker).
func resumeParked(c *conn) { wakers.run(c) }

// wakers are the goroutines woken sessions read on. A session's stack
// grows to 16 KiB while it handles a stanza; a fresh goroutine per
// wake-up grew it anew each time (runtime.copystack, most of a tenth of
// the CPU in a profile of joins into new rooms). A goroutine whose
// session parked again waits wakerIdle for the next woken session
// instead, so a busy server reuses grown stacks, and an idle one keeps
// none: the waiters end.
var wakers wakerPool

// wakerIdle is how long a waker waits for another session before it ends.
const wakerIdle = time.Second

type wakerPool struct{ next chan *conn }

func init() { wakers.next = make(chan *conn) }

// run continues c on a waiting waker, or on a new one if none waits.
func (p *wakerPool) run(c *conn) {
	select {
	case p.next <- c:
	default:
		go p.work(c)
	}
}

func (p *wakerPool) work(c *conn) {
	t := time.NewTimer(wakerIdle)
	defer t.Stop()
	for {
		c.session()
		t.Reset(wakerIdle)
		select {
		case c = <-p.next:
		case <-t.C:
			return
		}
	}
}

// parkedCount is how many sessions wait without a goroutine (for tests).
func (p *idlePoller) parkedCount() int {
	if !p.ok.Load() {
		return 0
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.parked)
}

// holds reports whether c is parked (for tests).
func (p *idlePoller) holds(c *conn) bool {
	if !p.ok.Load() {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, e := range p.parked {
		if e.c == c {
			return true
		}
	}
	return false
}
