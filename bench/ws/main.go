// Command ws benchmarks XMPP over WebSocket (RFC 7395) on bin/xmppgate's
// HTTP listener: resident memory per idle authenticated WebSocket session,
// and 1:1 chat messages per second across connected pairs. The server is
// the real binary in its own process (bench/benchproc), so its memory is
// measured alone; the load comes from gorilla/websocket clients in this
// one, speaking the framing directly (open, PLAIN, open, bind).
//
//	go run ./bench/ws -bin bin/xmppgate [-idle 10000] [-pairs 100] [-dur 10s] [-phases memory,messages]
//
// 10,000 idle sessions need 20,000 file descriptors in this process and
// the server's: raise `ulimit -n` first (the program tries to).
package main

import (
	"encoding/base64"
	"flag"
	"fmt"
	"log"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	gws "github.com/gorilla/websocket"

	"github.com/xmppgate/xmppgate/bench/benchproc"
)

func main() {
	bin := flag.String("bin", "bin/xmppgate", "the xmppgate binary")
	idle := flag.Int("idle", 10000, "idle sessions in the memory phase")
	pairs := flag.Int("pairs", 100, "connected pairs in the message phase")
	dur := flag.Duration("dur", 10*time.Second, "length of the message phase")
	conc := flag.Int("conc", 50, "concurrent logins")
	phases := flag.String("phases", "memory,messages", "which phases to run")
	flag.Parse()
	benchproc.RaiseNoFile()

	dir, domain, err := benchproc.DataDir(*bin, max(*idle, 2**pairs))
	defer os.RemoveAll(dir)
	if err != nil {
		log.Fatal(err)
	}

	if strings.Contains(*phases, "memory") {
		p, err := benchproc.Start(*bin, dir, nil, "XMPPGATE_LOG_LEVEL=error")
		if err != nil {
			log.Fatal(err)
		}
		before, _ := benchproc.RSSKiB(p.PID())
		conns := connect(p.Addr, domain, *idle, *conc)
		time.Sleep(5 * time.Second) // let the server settle (goroutine hand-offs, scavenger)
		after, _ := benchproc.RSSKiB(p.PID())
		fmt.Printf("memory: %.1f KiB RSS per idle authenticated WebSocket session (%d sessions, ws:// on loopback)\n",
			(after-before)/float64(*idle), *idle)
		for _, c := range conns {
			c.Close()
		}
		p.Stop()
	}
	if strings.Contains(*phases, "messages") {
		p, err := benchproc.Start(*bin, dir, nil, "XMPPGATE_LOG_LEVEL=error")
		if err != nil {
			log.Fatal(err)
		}
		rate, cpu := messages(p, domain, *pairs, *dur)
		fmt.Printf("messages: %.0f delivered/s across %d WebSocket pairs for %s, server CPU %.1f µs per message\n",
			rate, *pairs, *dur, cpu)
		p.Stop()
	}
}

// login opens a WebSocket session as u<i> and binds resource "bench".
func login(addr, domain string, i int) (*gws.Conn, error) {
	d := gws.Dialer{Subprotocols: []string{"xmpp"}, HandshakeTimeout: 30 * time.Second, ReadBufferSize: 1024, WriteBufferSize: 1024}
	ws, _, err := d.Dial("ws://"+addr+"/ws", nil)
	if err != nil {
		return nil, err
	}
	open := "<open xmlns='urn:ietf:params:xml:ns:xmpp-framing' to='" + domain + "' version='1.0'/>"
	steps := []struct{ send, until string }{
		{open, "</stream:features>"},
		{"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
			base64.StdEncoding.EncodeToString([]byte("\x00u"+strconv.Itoa(i)+"\x00pw")) + "</auth>", "<success"},
		{open, "</stream:features>"},
		{"<iq xmlns='jabber:client' type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bench</resource></bind></iq>", "</iq>"},
	}
	ws.SetReadDeadline(time.Now().Add(60 * time.Second))
	for _, s := range steps {
		if err := ws.WriteMessage(gws.TextMessage, []byte(s.send)); err != nil {
			ws.Close()
			return nil, err
		}
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				ws.Close()
				return nil, err
			}
			if strings.Contains(string(b), "<failure") || strings.Contains(string(b), "<stream:error") {
				ws.Close()
				return nil, fmt.Errorf("u%d: %s", i, b)
			}
			if strings.Contains(string(b), s.until) {
				break
			}
		}
	}
	ws.SetReadDeadline(time.Time{})
	return ws, nil
}

// connect logs u0..u(n-1) in with conc workers.
func connect(addr, domain string, n, conc int) []*gws.Conn {
	conns := make([]*gws.Conn, n)
	benchproc.Each(n, conc, func(i int) {
		c, err := login(addr, domain, i)
		if err != nil {
			log.Fatalf("login u%d: %v", i, err)
		}
		conns[i] = c
	})
	return conns
}

// messages runs pairs of sessions that send each other chat messages as
// fast as they can for dur; it returns messages delivered per second and
// the server's CPU time per delivered message in µs.
func messages(p *benchproc.Proc, domain string, pairs int, dur time.Duration) (float64, float64) {
	conns := connect(p.Addr, domain, 2*pairs, 50)
	var delivered atomic.Int64
	var counting atomic.Bool
	stop := make(chan struct{})
	var wg sync.WaitGroup
	body := strings.Repeat("hello, world ", 8)
	for i, c := range conns {
		msg := []byte("<message xmlns='jabber:client' type='chat' to='u" + strconv.Itoa(i^1) + "@" + domain + "/bench'><body>" + body + "</body></message>")
		go func() { // receiver; ends when the connection closes
			for {
				_, b, err := c.ReadMessage()
				if err != nil {
					return
				}
				if counting.Load() && strings.HasPrefix(string(b), "<message") {
					delivered.Add(1)
				}
			}
		}()
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := c.WriteMessage(gws.TextMessage, msg); err != nil {
					return
				}
			}
		}()
	}
	time.Sleep(time.Second) // warm up
	cpu0 := p.CPU()
	counting.Store(true)
	time.Sleep(dur)
	counting.Store(false)
	n := delivered.Load()
	cpu := p.CPU() - cpu0
	close(stop)
	wg.Wait()
	for _, c := range conns {
		c.Close()
	}
	return float64(n) / dur.Seconds(), float64(cpu.Microseconds()) / float64(max(n, 1))
}
