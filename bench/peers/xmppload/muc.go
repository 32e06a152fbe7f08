package xmppload

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Group chat (XEP-0045) load: joining rooms and groupchat fan-out. The same
// wire for every server; no XML parser, as for the 1:1 load.

const (
	nsMUC      = "http://jabber.org/protocol/muc"
	nsMUCOwner = "http://jabber.org/protocol/muc#owner"
	nsDiscoInf = "http://jabber.org/protocol/disco#info"
)

// ErrNoMUC is returned by MUCService when the server has no group chat
// service at the address asked for.
var ErrNoMUC = errors.New("xmppload: no MUC service")

// MUCService asks service for its disco#info and succeeds if it announces
// the MUC protocol; otherwise the error wraps ErrNoMUC with the answer.
func (c *Conn) MUCService(service string, timeout time.Duration) error {
	c.w.setDeadline(time.Now().Add(timeout))
	defer c.w.setDeadline(time.Time{})
	if err := c.send("<iq type='get' id='disco1' to='" + service + "'><query xmlns='" + nsDiscoInf + "'/></iq>"); err != nil {
		return err
	}
	for {
		el, err := c.w.next()
		if err != nil {
			return fmt.Errorf("disco#info of %s: %w", service, err)
		}
		if name(el) != "iq" || attr(el, "id") != "disco1" {
			continue
		}
		if attr(el, "type") == "result" && (bytes.Contains(el, []byte("var='"+nsMUC+"'")) || bytes.Contains(el, []byte(`var="`+nsMUC+`"`))) {
			return nil
		}
		return fmt.Errorf("%w at %s: disco#info answered %.300s", ErrNoMUC, service, el)
	}
}

// hasStatus reports whether a MUC presence carries <status code='code'/>.
func hasStatus(el []byte, code string) bool {
	return bytes.Contains(el, []byte("code='"+code+"'")) || bytes.Contains(el, []byte(`code="`+code+`"`))
}

// JoinInfo is one join.
type JoinInfo struct {
	Joined  time.Duration // presence sent until the self-presence (status 110)
	Ready   time.Duration // until the room is usable: Joined, or the owner form's result for a new room
	Created bool          // the self-presence had status 201 (a new room)
}

// Join enters room (bare JID) as nick without history. If the server
// created the room (status 201), the room is configured as an instant room
// (an empty submitted owner form, XEP-0045 §10.1.2) before Join returns,
// for every server alike: a locked new room would refuse other occupants.
func (c *Conn) Join(room, nick string, timeout time.Duration) (JoinInfo, error) {
	c.w.setDeadline(time.Now().Add(timeout))
	defer c.w.setDeadline(time.Time{})
	full := room + "/" + nick
	t0 := time.Now()
	if err := c.send("<presence to='" + full + "'><x xmlns='" + nsMUC + "'><history maxstanzas='0'/></x></presence>"); err != nil {
		return JoinInfo{}, err
	}
	var ji JoinInfo
	for {
		el, err := c.w.next()
		if err != nil {
			return ji, fmt.Errorf("join %s: %w", full, err)
		}
		if name(el) != "presence" || attr(el, "from") != full {
			continue // other occupants, the subject
		}
		if attr(el, "type") == "error" {
			return ji, fmt.Errorf("join %s: %.300s", full, el)
		}
		if !hasStatus(el, "110") {
			continue
		}
		ji.Joined = time.Since(t0)
		ji.Created = hasStatus(el, "201")
		break
	}
	if ji.Created {
		if err := c.send("<iq type='set' id='inst1' to='" + room + "'><query xmlns='" + nsMUCOwner +
			"'><x xmlns='jabber:x:data' type='submit'/></query></iq>"); err != nil {
			return ji, err
		}
		for {
			el, err := c.w.next()
			if err != nil {
				return ji, fmt.Errorf("instant room %s: %w", room, err)
			}
			if name(el) != "iq" || attr(el, "id") != "inst1" {
				continue
			}
			if attr(el, "type") != "result" {
				return ji, fmt.Errorf("instant room %s: %.300s", room, el)
			}
			break
		}
	}
	ji.Ready = time.Since(t0)
	return ji, nil
}

// JoinResult is one JoinAll.
type JoinResult struct {
	Infos   []JoinInfo // per session, in order
	Elapsed time.Duration
	Errors  int
	First   error
}

// JoinAll joins conns[i] to rooms[i] (nick "o<i>") with conc workers. The
// first session of each room joins first (and creates it), the others
// after all rooms exist, so nobody knocks at a room still locked.
func JoinAll(ctx context.Context, conns []*Conn, rooms []string, conc int, timeout time.Duration) JoinResult {
	res := JoinResult{Infos: make([]JoinInfo, len(conns))}
	var first, rest []int
	seen := map[string]bool{}
	for i, r := range rooms {
		if seen[r] {
			rest = append(rest, i)
		} else {
			seen[r] = true
			first = append(first, i)
		}
	}
	var (
		mu   sync.Mutex
		errs int
	)
	t0 := time.Now()
	for _, batch := range [][]int{first, rest} {
		var next atomic.Int64
		var wg sync.WaitGroup
		for range min(conc, len(batch)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					k := int(next.Add(1) - 1)
					if k >= len(batch) {
						return
					}
					i := batch[k]
					err := ctx.Err()
					if err == nil {
						res.Infos[i], err = conns[i].Join(rooms[i], "o"+strconv.Itoa(i), timeout)
					}
					if err != nil {
						mu.Lock()
						errs++
						if res.First == nil {
							res.First = err
						}
						mu.Unlock()
					}
				}
			}()
		}
		wg.Wait()
	}
	res.Elapsed = time.Since(t0)
	res.Errors = errs
	return res
}

// FanoutResult is one groupchat run.
type FanoutResult struct {
	Received    int             // deliveries inside the window (each message at each occupant, the sender's own copy included)
	Sent        int             // messages sent inside the window
	Window      time.Duration   // the measured window
	Lat         []time.Duration // send-to-receive latency of the deliveries inside the window
	Errors      int             // error stanzas received
	Undelivered int             // after the senders stopped and a drain: messages sent × occupants − deliveries
}

// FanoutSpec is the groupchat workload.
type FanoutSpec struct {
	Window int           // messages in flight per sender
	Warmup time.Duration // sending before the window opens
	Dur    time.Duration // the measured window
	// OwnCopy counts the copy the room reflects to the sender as a
	// delivery (it frees the slot either way).
	OwnCopy bool
	// Drain bounds the wait, after the senders stop, for what is still in
	// flight before the rest counts as undelivered (0: 10 s).
	Drain time.Duration
}

// Fanout has every session (all occupants of room) send groupchat messages
// to room with at most sp.Window in flight per sender, for sp.Warmup and
// then sp.Dur counted; a slot frees when every occupant, the sender
// included (the room reflects its own message), has received the message.
// Each delivery counts once. The body carries the send time, the sender
// and the slot. mark, if not nil, is called as the window opens (false) and
// closes (true).
func Fanout(conns []*Conn, room string, sp FanoutSpec, mark func(end bool)) (FanoutResult, error) {
	n, window := len(conns), sp.Window
	if n == 0 || window < 1 {
		return FanoutResult{}, errors.New("xmppload: fan-out needs occupants and a window ≥ 1")
	}
	var (
		start     = time.Now()
		counting  atomic.Bool
		stop      atomic.Bool
		sent      atomic.Int64
		sentAll   atomic.Int64
		received  atomic.Int64
		recvAll   atomic.Int64
		errStanza atomic.Int64
		wg        sync.WaitGroup
		mu        sync.Mutex
		lat       []time.Duration
		firstErr  error
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	// counts[s][slot]: occupants that have sender s's message in slot;
	// at n the slot returns to free[s].
	counts := make([][]atomic.Int32, n)
	free := make([]chan int, n)
	for s := range n {
		counts[s] = make([]atomic.Int32, window)
		free[s] = make(chan int, window)
		for k := range window {
			free[s] <- k
		}
	}
	pad := string(bytes.Repeat([]byte("x"), 40))
	done := make(chan struct{})
	for r, rc := range conns {
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
				el, err := rc.w.next()
				if err != nil {
					select {
					case <-done:
					default:
						fail(fmt.Errorf("occupant %d: %w", r, err))
					}
					return
				}
				if len(el) < 8 || string(el[:8]) != "<message" {
					continue
				}
				now := time.Now()
				if attr(el, "type") == "error" {
					errStanza.Add(1)
					continue
				}
				ns, s, slot, ok := parseFanoutBody(text(el, "body"))
				if !ok || s >= n || slot >= window {
					continue // the subject, anything not ours
				}
				recvAll.Add(1)
				if counting.Load() && (sp.OwnCopy || s != r) {
					received.Add(1)
					mine = append(mine, now.Sub(start)-time.Duration(ns))
				}
				if counts[s][slot].Add(1) == int32(n) {
					counts[s][slot].Store(0)
					free[s] <- slot
				}
			}
		}()
	}
	stopSend := make(chan struct{})
	var senders sync.WaitGroup
	for s, sc := range conns {
		senders.Add(1)
		go func() {
			defer senders.Done()
			prefix := "<message type='groupchat' to='" + room + "'><body>t="
			who := ";" + strconv.Itoa(s) + "."
			var el []byte
			for !stop.Load() {
				var slot int
				select {
				case slot = <-free[s]:
				case <-stopSend:
					return
				}
				if stop.Load() {
					return
				}
				ns := strconv.FormatInt(int64(time.Since(start)), 10)
				el = append(el[:0], prefix...)
				el = append(el, ns...)
				el = append(el, who...)
				el = strconv.AppendInt(el, int64(slot), 10)
				el = append(el, ';')
				el = append(el, pad...)
				el = append(el, "</body></message>"...)
				err := sc.w.add(el)
				if err == nil {
					err = sc.w.flush()
				}
				if err != nil {
					if !stop.Load() {
						fail(fmt.Errorf("sender %d: %w", s, err))
					}
					return
				}
				sentAll.Add(1)
				if counting.Load() {
					sent.Add(1)
				}
			}
		}()
	}
	time.Sleep(sp.Warmup)
	if mark != nil {
		mark(false)
	}
	counting.Store(true)
	t0 := time.Now()
	time.Sleep(sp.Dur)
	counting.Store(false)
	win := time.Since(t0)
	if mark != nil {
		mark(true)
	}
	res := FanoutResult{Received: int(received.Load()), Sent: int(sent.Load()), Window: win}
	// Stop sending, then let what is in flight arrive (or not) before
	// counting what never did.
	stop.Store(true)
	close(stopSend)
	senders.Wait()
	want := sentAll.Load() * int64(n)
	drainFor := sp.Drain
	if drainFor == 0 {
		drainFor = 10 * time.Second
	}
	for end := time.Now().Add(drainFor); recvAll.Load() < want && time.Now().Before(end); {
		time.Sleep(50 * time.Millisecond)
	}
	res.Undelivered = int(want - recvAll.Load())
	res.Errors = int(errStanza.Load())
	close(done)
	for _, c := range conns {
		c.w.abort()
	}
	drain := make(chan struct{})
	go func() { wg.Wait(); close(drain) }()
	select {
	case <-drain:
	case <-time.After(5 * time.Second):
		return res, errors.New("xmppload: occupant goroutines did not stop")
	}
	mu.Lock()
	res.Lat = lat
	mu.Unlock()
	return res, firstErr
}

// parseFanoutBody reads "t=<ns>;<sender>.<slot>;…".
func parseFanoutBody(b string) (ns int64, sender, slot int, ok bool) {
	if len(b) < 2 || b[:2] != "t=" {
		return 0, 0, 0, false
	}
	b = b[2:]
	i := strings.IndexByte(b, ';')
	if i < 0 {
		return 0, 0, 0, false
	}
	ns, err := strconv.ParseInt(b[:i], 10, 64)
	if err != nil {
		return 0, 0, 0, false
	}
	b = b[i+1:]
	j := strings.IndexByte(b, '.')
	k := strings.IndexByte(b, ';')
	if j < 0 || k < j {
		return 0, 0, 0, false
	}
	if sender, err = strconv.Atoi(b[:j]); err != nil {
		return 0, 0, 0, false
	}
	if slot, err = strconv.Atoi(b[j+1 : k]); err != nil {
		return 0, 0, 0, false
	}
	return ns, sender, slot, sender >= 0 && slot >= 0
}
