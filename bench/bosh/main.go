// Command bosh benchmarks XMPP over BOSH (XEP-0124/0206) on bin/xmppgate's
// HTTP listener: resident memory per idle authenticated BOSH session. An
// idle BOSH client keeps one request held by the server (hold=1), which
// is answered after the session's wait and at once sent again, so each
// session costs the server its BOSH state, its c2s session and one held
// HTTP request on a keep-alive connection. The server is the real binary
// in its own process (bench/benchproc), so its memory is measured alone;
// the clients are raw HTTP posts from this one.
//
//	go run ./bench/bosh -bin bin/xmppgate [-idle 10000] [-conc 50]
//
// 10,000 idle sessions need 20,000 file descriptors in this process and
// the server's: raise `ulimit -n` first (the program tries to).
package main

import (
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/xmppgate/xmppgate/bench/benchproc"
)

const ns = "http://jabber.org/protocol/httpbind"

func main() {
	bin := flag.String("bin", "bin/xmppgate", "the xmppgate binary")
	idle := flag.Int("idle", 10000, "idle sessions")
	conc := flag.Int("conc", 50, "concurrent logins")
	settle := flag.Duration("settle", 5*time.Second, "wait before measuring")
	pprof := flag.String("pprof", "", "the server's pprof_addr, to profile it while the sessions are held (with -keep)")
	keep := flag.Duration("keep", 0, "hold the sessions this long after measuring")
	flag.Parse()
	benchproc.RaiseNoFile()

	dir, domain, err := benchproc.DataDir(*bin, *idle)
	defer os.RemoveAll(dir)
	if err != nil {
		log.Fatal(err)
	}

	p, err := benchproc.Start(*bin, dir, nil, "XMPPGATE_LOG_LEVEL=error", "XMPPGATE_PPROF_ADDR="+*pprof)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Stop()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *idle + 100, DisableCompression: true,
		IdleConnTimeout: 10 * time.Minute}, Timeout: 5 * time.Minute}
	url := "http://" + p.Addr + "/http-bind"
	before, _ := benchproc.RSSKiB(p.PID())
	sessions := make([]*session, *idle)
	start := time.Now()
	benchproc.Each(*idle, *conc, func(i int) {
		s, err := login(hc, url, domain, i)
		if err != nil {
			log.Fatalf("login u%d: %v", i, err)
		}
		sessions[i] = s
	})
	log.Printf("%d BOSH sessions logged in in %s", *idle, time.Since(start).Round(time.Millisecond))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for _, s := range sessions {
		wg.Add(1)
		go func() { defer wg.Done(); s.hold(stop) }()
	}
	time.Sleep(*settle) // every session now has its request held; let the server settle
	after, _ := benchproc.RSSKiB(p.PID())
	fmt.Printf("memory: %.1f KiB RSS per idle authenticated BOSH session (%d sessions, one held request each, http:// on loopback)\n",
		(after-before)/float64(*idle), *idle)
	time.Sleep(*keep)
	close(stop)
	p.Stop()
	wg.Wait()
}

type session struct {
	hc       *http.Client
	url, sid string
	rid      int
}

var sidRE = regexp.MustCompile(`\ssid='([^']+)'`)

func (s *session) post(attrs, payload string) (string, error) {
	s.rid++
	body := fmt.Sprintf("<body xmlns='%s' sid='%s' rid='%d' %s>%s</body>", ns, s.sid, s.rid, attrs, payload)
	return s.do(body)
}

func (s *session) do(body string) (string, error) {
	resp, err := s.hc.Post(s.url, "text/xml; charset=utf-8", strings.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != 200 || strings.Contains(string(b), "type='terminate'") {
		return "", fmt.Errorf("%d %s", resp.StatusCode, b)
	}
	return string(b), nil
}

// until sends attrs/payload, then empty polls, until an answer holds want.
func (s *session) until(attrs, payload, want string) error {
	got, err := s.post(attrs, payload)
	for err == nil && !strings.Contains(got, want) {
		if strings.Contains(got, "<failure") {
			return fmt.Errorf("%s", got)
		}
		got, err = s.post("", "")
	}
	return err
}

// login opens a BOSH session as u<i> and binds resource "bench".
func login(hc *http.Client, url, domain string, i int) (*session, error) {
	s := &session{hc: hc, url: url, rid: 1000}
	got, err := s.do(fmt.Sprintf("<body xmlns='%s' rid='%d' to='%s' wait='60' hold='1' ver='1.11' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>",
		ns, s.rid, domain))
	if err != nil {
		return nil, err
	}
	m := sidRE.FindStringSubmatch(got)
	if m == nil {
		return nil, fmt.Errorf("no sid in %s", got)
	}
	s.sid = m[1]
	if !strings.Contains(got, "</stream:features>") {
		if err := s.until("", "", "</stream:features>"); err != nil {
			return nil, err
		}
	}
	auth := "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
		base64.StdEncoding.EncodeToString([]byte("\x00u"+strconv.Itoa(i)+"\x00pw")) + "</auth>"
	for _, step := range []struct{ attrs, payload, want string }{
		{"", auth, "<success"},
		{"xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh' to='" + domain + "'", "", "</stream:features>"},
		{"", "<iq xmlns='jabber:client' type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>bench</resource></bind></iq>", "</iq>"},
	} {
		if err := s.until(step.attrs, step.payload, step.want); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// hold keeps one empty request held by the server, as an idle client
// does, until stop.
func (s *session) hold(stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		default:
		}
		if _, err := s.post("", ""); err != nil {
			select {
			case <-stop:
			default:
				log.Printf("%s: %v", s.sid, err)
			}
			return
		}
	}
}
