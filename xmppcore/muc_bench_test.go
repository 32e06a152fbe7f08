package xmppcore_test

import (
	"bytes"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
)

// counter drains a raw stream in a goroutine and counts the occurrences
// of a marker in it.
type counter struct {
	n    atomic.Int64
	mark []byte
}

func (c *counter) drain(r *rawStream) {
	// buf holds the tail of the previous read (a marker cut in two)
	// followed by the new one; nothing is allocated per read.
	buf := make([]byte, 0, 64<<10+64)
	keep := 0
	r.nc.SetReadDeadline(time.Time{})
	for {
		n, err := r.nc.Read(buf[keep : keep+64<<10])
		buf = buf[:keep+n]
		c.n.Add(int64(bytes.Count(buf, c.mark)))
		keep = min(len(buf), len(c.mark)-1)
		if i := bytes.LastIndex(buf, c.mark); i >= 0 && len(buf)-i-len(c.mark) < keep {
			keep = len(buf) - i - len(c.mark)
		}
		copy(buf, buf[len(buf)-keep:])
		buf = buf[:cap(buf)]
		if err != nil {
			return
		}
	}
}

func (c *counter) wait(tb testing.TB, n int64) {
	deadline := time.Now().Add(30 * time.Second)
	for c.n.Load() < n {
		if time.Now().After(deadline) {
			require.FailNowf(tb, "deliveries missing", "%d of %d", c.n.Load(), n)
		}
		time.Sleep(50 * time.Microsecond)
	}
}

// BenchmarkMUCFanout is one groupchat message in a room of 100
// occupants (real TLS sessions) delivered to all of them, the sender's
// echo included: ns/op is per message, deliveries/s counts each copy.
// The sender keeps up to 32 messages in flight.
func BenchmarkMUCFanout(b *testing.B) {
	const occupants, window = 100, 32
	bb := setup(b)
	streams := make([]*rawStream, occupants)
	var wg sync.WaitGroup
	for i := range streams {
		name := "u" + strconv.Itoa(i)
		bb.user(b, domain, name, "pw", store.StatusActive)
	}
	sem := make(chan struct{}, 8)
	for i := range streams {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			r, _ := smLogin(b, bb, "u"+strconv.Itoa(i), "pw")
			r.bind("r")
			streams[i] = r
		}(i)
	}
	wg.Wait()
	streams[0].instant(mucRoom, "n0")
	for i := 1; i < occupants; i++ {
		streams[i].join(mucRoom, "n"+strconv.Itoa(i), "<history maxstanzas='0'/>")
	}
	counters := make([]*counter, occupants)
	for i, r := range streams {
		counters[i] = &counter{mark: []byte("</body>")}
		go counters[i].drain(r)
	}
	time.Sleep(100 * time.Millisecond) // presences of the later joins drained
	for _, c := range counters {
		c.n.Store(0)
	}
	msg := []byte("<message to='" + mucRoom + "' type='groupchat'><body>fan-out benchmark message</body></message>")
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := 0; i < b.N; i++ {
		if i >= window {
			counters[0].wait(b, int64(i-window))
		}
		streams[0].nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		_, err := streams[0].nc.Write(msg)
		require.NoError(b, err)
	}
	for _, c := range counters {
		c.wait(b, int64(b.N))
	}
	el, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N*occupants)/el.Seconds(), "deliveries/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N*occupants), "cpu-µs/delivery")
}

// BenchmarkMUCJoinNew is one join into a new room (created, 201), 50
// clients joining at once, each into a room of its own per join.
func BenchmarkMUCJoinNew(b *testing.B) { benchJoinNew(b, false) }

// BenchmarkMUCJoinNewInstant is BenchmarkMUCJoinNew with the owner's
// empty form that makes the new room an instant one (XEP-0045 10.1.2),
// as bench-peers' joins do: sent with the join, the answer awaited.
func BenchmarkMUCJoinNewInstant(b *testing.B) { benchJoinNew(b, true) }

func benchJoinNew(b *testing.B, instant bool) {
	const clients = 50
	bb := setup(b)
	streams := make([]*rawStream, clients)
	for i := range streams {
		bb.user(b, domain, "j"+strconv.Itoa(i), "pw", store.StatusActive)
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range streams {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			r, _ := smLogin(b, bb, "j"+strconv.Itoa(i), "pw")
			r.bind("r")
			streams[i] = r
		}(i)
	}
	wg.Wait()
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	defer func() { b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/join") }()
	for i := range streams {
		wg.Add(1)
		go func(r *rawStream) {
			defer wg.Done()
			mark := `code="201"`
			if instant {
				mark = `type="result"`
			}
			c := &counter{mark: []byte(mark)}
			go c.drain(r)
			var mine int64
			for {
				k := next.Add(1)
				if k > int64(b.N) {
					return
				}
				form := ""
				if instant {
					form = fmt.Sprintf("<iq type='set' id='f%d' to='r%d@%s'><query xmlns='http://jabber.org/protocol/muc#owner'>"+
						"<x xmlns='jabber:x:data' type='submit'/></query></iq>", k, k, mucSvc)
				}
				_, err := fmt.Fprintf(r.nc, "<presence to='r%d@%s/n'><x xmlns='http://jabber.org/protocol/muc'/></presence>%s", k, mucSvc, form)
				if err != nil {
					return
				}
				mine++
				c.wait(b, mine)
			}
		}(streams[i])
	}
	wg.Wait()
}

// BenchmarkMUCOccupantMemory reports the heap an idle occupancy costs: 20
// sessions each in the same 100 rooms (2,000 occupancies, the rooms'
// own cost spread over 20 occupants each), measured after a GC. The
// loop only repeats the measurement.
func BenchmarkMUCOccupantMemory(b *testing.B) {
	const sessions, rooms = 20, 100
	bb := setup(b)
	streams := make([]*rawStream, sessions)
	for i := range streams {
		bb.user(b, domain, "m"+strconv.Itoa(i), "pw", store.StatusActive)
		r, _ := smLogin(b, bb, "m"+strconv.Itoa(i), "pw")
		r.bind("r")
		streams[i] = r
	}
	counters := make([]*counter, sessions)
	for i := range streams {
		counters[i] = &counter{mark: []byte(`code="110"`)}
		go counters[i].drain(streams[i])
	}
	heap := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	for k := 0; k < rooms; k++ {
		for i, r := range streams {
			fmt.Fprintf(r.nc, "<presence to='mem%d@%s/n%d'/>", k, mucSvc, i)
		}
	}
	for _, c := range counters {
		c.wait(b, rooms)
	}
	b.ResetTimer()
	var after uint64
	for i := 0; i < b.N; i++ {
		after = heap()
	}
	b.ReportMetric(float64(after-before)/float64(sessions*rooms), "B/occupant")
}
