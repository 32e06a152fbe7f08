package xmppload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// LoginResult is one login run.
type LoginResult struct {
	Conns   []*Conn         // the sessions, in account order (nil where a login failed)
	Elapsed time.Duration   // first connect to last ping answer
	Lat     []time.Duration // per login, connect to ping answer
	Errors  int
	First   error // the first error, for the report
}

// LoginAll logs every account in with conc workers and keeps the sessions
// open (the caller closes them with CloseAll). It stops starting logins once
// ctx is done; those count as errors.
func LoginAll(ctx context.Context, accts []Account, conc int, cache *ScramCache, timeout time.Duration) LoginResult {
	return LoginAllWith(ctx, accts, conc, func(a Account) (*Conn, error) { return Login(a, cache, timeout) })
}

// LoginAllWith is LoginAll with another login (over WebSocket or BOSH).
func LoginAllWith(ctx context.Context, accts []Account, conc int, login func(Account) (*Conn, error)) LoginResult {
	res := LoginResult{Conns: make([]*Conn, len(accts)), Lat: make([]time.Duration, len(accts))}
	var (
		next   atomic.Int64
		errs   atomic.Int64
		once   sync.Once
		wg     sync.WaitGroup
		failed = make([]bool, len(accts))
	)
	t0 := time.Now()
	for range min(conc, len(accts)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(accts) {
					return
				}
				if ctx.Err() != nil {
					errs.Add(1)
					failed[i] = true
					once.Do(func() { res.First = ctx.Err() })
					continue
				}
				s := time.Now()
				c, err := login(accts[i])
				res.Lat[i] = time.Since(s)
				if err != nil {
					errs.Add(1)
					failed[i] = true
					once.Do(func() { res.First = err })
					continue
				}
				res.Conns[i] = c
			}
		}()
	}
	wg.Wait()
	res.Elapsed = time.Since(t0)
	res.Errors = int(errs.Load())
	if res.Errors > 0 { // failed logins carry no latency
		lat := res.Lat[:0]
		for i, d := range res.Lat {
			if !failed[i] {
				lat = append(lat, d)
			}
		}
		res.Lat = lat
	}
	return res
}

// CloseAll ends every session.
func CloseAll(conns []*Conn) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			c.Close()
			<-sem
		}()
	}
	wg.Wait()
}

// MsgResult is one message run.
type MsgResult struct {
	Received int             // messages received inside the window
	Sent     int             // messages sent inside the window
	Window   time.Duration   // the measured window
	Lat      []time.Duration // send-to-receive latency of the received ones
}

// Messages runs 1:1 chat between pairs of sessions: conns[2k] sends to
// conns[2k+1], with at most window messages in flight per pair (a slot is
// freed when the receiver sees one), for dur. Receivers count <message/>
// elements; the body carries the send time for the latency.
// mark, if not nil, is called as the measured window opens (false) and
// closes (true), for the caller's CPU readings.
func Messages(conns []*Conn, window int, dur time.Duration, mark func(end bool)) (MsgResult, error) {
	if len(conns)%2 != 0 || len(conns) == 0 {
		return MsgResult{}, errors.New("xmppload: messages need an even, non-zero number of sessions")
	}
	pairs := len(conns) / 2
	var (
		start    = time.Now()
		counting atomic.Bool
		stop     atomic.Bool
		sent     atomic.Int64
		received atomic.Int64
		wg       sync.WaitGroup
		mu       sync.Mutex
		lat      []time.Duration
		firstErr error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	pad := string(bytes.Repeat([]byte("x"), 40))
	doneRecv := make(chan struct{})
	stopSend := make(chan struct{})
	for p := range pairs {
		snd, rcv := conns[2*p], conns[2*p+1]
		to := bareJID(rcv.JID)
		slots := make(chan struct{}, window)
		// Receiver: runs until the sender stops and everything in flight is
		// back, or the stream fails.
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			defer func() {
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			}()
			for {
				el, err := rcv.w.next()
				if err != nil {
					select {
					case <-doneRecv:
					default:
						fail(fmt.Errorf("receiver %s: %w", rcv.JID, err))
					}
					return
				}
				if len(el) < 8 || string(el[:8]) != "<message" {
					continue
				}
				now := time.Now()
				if counting.Load() {
					received.Add(1)
					if b := text(el, "body"); len(b) > 2 && b[:2] == "t=" {
						if end := bytes.IndexByte([]byte(b), ';'); end > 2 {
							if ns, err := strconv.ParseInt(b[2:end], 10, 64); err == nil {
								mine = append(mine, now.Sub(start)-time.Duration(ns))
							}
						}
					}
				}
				select {
				case <-slots:
				default:
				}
			}
		}()
		// Sender: fills the free slots in one write each time.
		wg.Add(1)
		go func() {
			defer wg.Done()
			var el []byte
			for !stop.Load() {
				select { // blocks while the window is full
				case slots <- struct{}{}:
				case <-stopSend:
					return
				}
				n := 1
			fill:
				for n < window {
					select {
					case slots <- struct{}{}:
						n++
					default:
						break fill
					}
				}
				ns := strconv.FormatInt(int64(time.Since(start)), 10)
				var err error
				for range n {
					el = append(el[:0], "<message"...)
					el = append(el, snd.ns...)
					el = append(el, " type='chat' to='"...)
					el = append(el, to...)
					el = append(el, "'><body>t="...)
					el = append(el, ns...)
					el = append(el, ';')
					el = append(el, pad...)
					el = append(el, "</body></message>"...)
					if err = snd.w.add(el); err != nil {
						break
					}
				}
				if err == nil {
					err = snd.w.flush()
				}
				if err != nil {
					if !stop.Load() {
						fail(fmt.Errorf("sender %s: %w", snd.JID, err))
					}
					return
				}
				if counting.Load() {
					sent.Add(int64(n))
				}
			}
		}()
	}
	time.Sleep(time.Second) // warm-up, not counted
	if mark != nil {
		mark(false)
	}
	counting.Store(true)
	t0 := time.Now()
	time.Sleep(dur)
	counting.Store(false)
	window0 := time.Since(t0)
	if mark != nil {
		mark(true)
	}
	res := MsgResult{Received: int(received.Load()), Sent: int(sent.Load()), Window: window0}
	// Stop the senders, then cut the streams so every receiver ends too.
	stop.Store(true)
	close(stopSend)
	close(doneRecv)
	for _, c := range conns {
		c.w.abort()
	}
	drain := make(chan struct{})
	go func() { wg.Wait(); close(drain) }()
	select {
	case <-drain:
	case <-time.After(5 * time.Second):
		return res, errors.New("xmppload: message goroutines did not stop")
	}
	mu.Lock()
	res.Lat = lat
	mu.Unlock()
	return res, firstErr
}

func bareJID(full string) string {
	if i := bytes.IndexByte([]byte(full), '/'); i >= 0 {
		return full[:i]
	}
	return full
}
