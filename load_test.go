package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
)

// TestLoadWhileFailing: 200 HTTP clients keep calling the DreamHost and
// ejabberd dialects — good requests mixed with failing ones (wrong keys,
// unknown commands, missing arguments, duplicates, bad JSON) — while the
// worker runs on its schedule and 500 XMPP sessions (an independent client)
// chat in pairs. No request may get a 5xx, every message sent is delivered,
// and once the load stops the server's goroutines and heap return to their
// baseline.
func TestLoadWhileFailing(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const (
		httpClients = 200
		sessions    = 500
		loadFor     = 3 * time.Second
	)
	s := startServer(t, func(c *Config) { c.WorkerSchedule = "@every 1s" })
	boot := s.boot
	dom := boot.Domain

	// Provision the chatting users in one batch.
	pw := "load-pass"
	for i := 0; i < sessions; i++ {
		s.dh(boot.Key, "jabber-add_user", "username", fmt.Sprintf("chat%03d", i), "domain", dom, "password", pw).token(t)
	}
	s.runWorker()

	tr := &http.Transport{MaxIdleConnsPerHost: httpClients}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	http.DefaultTransport.(*http.Transport).CloseIdleConnections()
	baseG, baseHeap := settle()
	t.Logf("baseline: %d goroutines, heap %d KiB", baseG, baseHeap>>10)

	// XMPP: 250 pairs; each sender sends to its peer until stopped.
	type session struct {
		c        *goxmpp.Client
		received atomic.Int64
		done     chan struct{}
	}
	login := func(i int) *session {
		jid := fmt.Sprintf("chat%03d@%s", i, dom)
		// Dial, not Login: only a counter of chats is kept per session, so
		// 500 of them do not weigh on the heap baseline checked below.
		c, err := goxmpptest.Dial(s.c2s, jid, pw, goxmpptest.Resource("load"), goxmpptest.Mechanism("SCRAM-SHA-1"),
			goxmpptest.DialTimeout(10*time.Second))
		require.NoError(t, err, jid)
		ss := &session{c: c, done: make(chan struct{})}
		go func() {
			defer close(ss.done)
			for {
				st, err := c.Recv()
				if err != nil {
					return
				}
				if m, ok := st.(goxmpp.Chat); ok && m.Type == "chat" && strings.HasPrefix(m.Text, "load ") {
					ss.received.Add(1)
				}
			}
		}()
		return ss
	}
	all := make([]*session, sessions)
	var lwg sync.WaitGroup
	sem := make(chan struct{}, 25)
	for i := range all {
		lwg.Add(1)
		sem <- struct{}{}
		go func() {
			defer lwg.Done()
			defer func() { <-sem }()
			all[i] = login(i)
		}()
	}
	lwg.Wait()

	stop := make(chan struct{})
	var sent atomic.Int64
	var wg sync.WaitGroup
	for i := 0; i < sessions; i += 2 {
		wg.Add(1)
		go func(from *session, to string) {
			defer wg.Done()
			tick := time.NewTicker(50 * time.Millisecond)
			defer tick.Stop()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if _, err := from.c.Send(goxmpp.Chat{Remote: to, Type: "chat", Text: fmt.Sprintf("load %d", n)}); err != nil {
					t.Errorf("send: %v", err)
					return
				}
				sent.Add(1)
			}
		}(all[i], fmt.Sprintf("chat%03d@%s", i+1, dom))
	}

	// HTTP: good and failing requests in turn.
	type req struct {
		method, path, body string
		basic              bool
	}
	ej := func(cmd, body string) req { return req{http.MethodPost, "/api/" + cmd, body, true} }
	dh := func(kv ...string) req {
		v := url.Values{"format": {"json"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return req{http.MethodGet, "/?" + v.Encode(), "", false}
	}
	mix := func(worker, n int) req {
		name := fmt.Sprintf("w%03dn%05d", worker, n)
		switch (worker + n) % 12 { // every kind from the first round on
		case 0:
			return dh("key", boot.Key, "cmd", "jabber-add_user", "username", name, "domain", dom, "password", "pw-"+name, "unique_id", name)
		case 1:
			return dh("key", boot.Key, "cmd", "jabber-add_user", "username", name, "domain", dom, "password", "pw", "unique_id", fmt.Sprintf("w%03dn%05d", worker, n-1))
		case 2:
			return dh("key", boot.Key, "cmd", "jabber-list_users_no_pw")
		case 3:
			return dh("key", "wrong-key", "cmd", "jabber-list_users")
		case 4:
			return dh("key", boot.Key, "cmd", "jabber-no_such_command")
		case 5:
			return dh("key", boot.Key, "cmd", "jabber-remove_user", "domain", dom)
		case 6:
			return ej("register", fmt.Sprintf(`{"user":"e%s","host":%q,"password":"pw"}`, name, dom))
		case 7:
			return ej("register", fmt.Sprintf(`{"user":"chat000","host":%q,"password":"pw"}`, dom))
		case 8:
			return ej("check_account", fmt.Sprintf(`{"user":"chat001","host":%q}`, dom))
		case 9:
			return ej("registered_users", `{"host":"unknown.example"}`)
		case 10:
			return ej("no_such_command", `{}`)
		}
		return ej("check_password", `{"user":`)
	}
	var requests, failures atomic.Int64
	for w := 0; w < httpClients; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				// Every client makes at least one request, however loaded
				// the machine is when the load stops.
				select {
				case <-stop:
					if n > 0 {
						return
					}
				default:
				}
				r := mix(w, n)
				hr, err := http.NewRequest(r.method, strings.TrimSuffix(s.url, "/")+r.path, strings.NewReader(r.body))
				require.NoError(t, err)
				if r.basic {
					hr.SetBasicAuth(boot.AdminJID, boot.AdminPassword)
				}
				resp, err := client.Do(hr)
				if err != nil {
					t.Errorf("%s %s: %v", r.method, r.path, err)
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				requests.Add(1)
				if resp.StatusCode >= 400 || bytes.Contains(body, []byte(`"result":"error"`)) {
					failures.Add(1)
				}
				if resp.StatusCode >= 500 {
					t.Errorf("%s %s %s: %d %s", r.method, r.path, r.body, resp.StatusCode, body)
					return
				}
			}
		}()
	}
	time.Sleep(loadFor)
	close(stop)
	wg.Wait()
	t.Logf("%d requests (%d refused as expected), %d messages sent", requests.Load(), failures.Load(), sent.Load())
	require.GreaterOrEqual(t, requests.Load(), int64(httpClients))
	require.Greater(t, failures.Load(), int64(0))

	// Every message arrives.
	deadline := time.Now().Add(30 * time.Second)
	for {
		var got int64
		for _, ss := range all {
			got += ss.received.Load()
		}
		if got == sent.Load() {
			break
		}
		require.True(t, time.Now().Before(deadline), "delivered %d of %d messages", got, sent.Load())
		time.Sleep(50 * time.Millisecond)
	}

	// Load over: sessions end, connections close; the server returns to
	// its baseline.
	for _, ss := range all {
		_, _ = ss.c.SendOrg("</stream:stream>")
	}
	for _, ss := range all {
		select {
		case <-ss.done:
		case <-time.After(10 * time.Second):
			t.Fatal("a session did not end")
		}
	}
	tr.CloseIdleConnections()
	deadline = time.Now().Add(20 * time.Second)
	for {
		g, heap := settle()
		if g <= baseG+5 && heap <= baseHeap+baseHeap/2+16<<20 {
			t.Logf("after: %d goroutines, heap %d KiB", g, heap>>10)
			break
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			n := runtime.Stack(buf, true)
			t.Fatalf("no return to baseline: %d goroutines (baseline %d), heap %d KiB (baseline %d KiB)\n%s", g, baseG, heap>>10, baseHeap>>10, buf[:n])
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// settle collects garbage and reports the goroutine count and live heap.
func settle() (int, uint64) {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return runtime.NumGoroutine(), m.HeapAlloc
}
