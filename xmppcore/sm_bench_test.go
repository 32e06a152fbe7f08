package xmppcore_test

import (
	"bytes"
	"io"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
	"github.com/xmppgate/xmppgate/xmppcore"
)

// benchBundle serves example.test with users (password "pw") for a benchmark.
func benchBundle(b *testing.B, users ...string) *testBundle {
	bundle := openBundle(b, "NORMAL")
	ctx := bundle.ctx
	cred, err := credential.New("pw")
	require.NoError(b, err)
	require.NoError(b, bundle.st.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.InsertAccount(ctx, "acme", 0)
		if err != nil {
			return err
		}
		d, err := tx.InsertDomain(ctx, a.ID, domain)
		if err != nil {
			return err
		}
		for _, name := range users {
			u, err := tx.InsertUser(ctx, store.User{DomainID: d.ID, Username: name, Status: store.StatusActive})
			if err != nil {
				return err
			}
			if err := tx.SetUserCredentials(ctx, u.ID, cred, nil); err != nil {
				return err
			}
		}
		return nil
	}))
	bundle.serve(b, xmppcore.Config{C2SAddr: "127.0.0.1:0", C2STLSAddr: "127.0.0.1:0", DataDir: b.TempDir()})
	return bundle
}

// BenchmarkMessageSM routes messages between two raw TLS sessions with
// stream management off and on (the receiver answering each <r/>), to
// price the unacked queue, the counters and the ack round trips on the
// message path. ns/op is per delivered message.
func BenchmarkMessageSM(b *testing.B) {
	for _, sm := range []bool{false, true} {
		name := "off"
		if sm {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			bundle := benchBundle(b, "alice", "bob")
			snd, _ := smLogin(b, bundle, "alice", "pw")
			snd.bind("s")
			rcv, _ := smLogin(b, bundle, "bob", "pw")
			rcv.bind("r")
			if sm {
				rcv.send(enableSM)
				rcv.expect("/>")
			}
			msg := []byte("<message to='bob@" + domain + "/r' type='chat'><body>" + string(bytes.Repeat([]byte("hello, world "), 8)) + "</body></message>")
			done := make(chan error, 1)
			snd.nc.SetDeadline(time.Now().Add(time.Minute))
			var acks int
			go func() { done <- receive(rcv, b.N, sm, &acks) }()
			b.ResetTimer()
			cpu0 := cpuTime()
			for i := 0; i < b.N; i++ {
				if _, err := snd.nc.Write(msg); err != nil {
					b.Fatal(err)
				}
			}
			require.NoError(b, <-done)
			// CPU time is what a loaded machine disturbs least (both
			// clients run in this process too: the same for off and on).
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op")
			b.ReportMetric(float64(acks)/float64(b.N), "acks/op")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// receive reads n messages, answering <r/> with the count so far.
func receive(r *rawStream, n int, sm bool, acks *int) error {
	var (
		endMsg = []byte("</message>")
		req    = []byte("<r xmlns='urn:xmpp:sm:3'/>")
		buf    = []byte(r.buf)
		p      = make([]byte, 64<<10)
		got    int
	)
	r.nc.SetDeadline(time.Now().Add(time.Minute))
	for got < n {
		for {
			i, j := bytes.Index(buf, endMsg), -1
			if sm {
				j = bytes.Index(buf, req)
			}
			switch {
			case i >= 0 && (j < 0 || i < j):
				got++
				buf = buf[i+len(endMsg):]
				continue
			case j >= 0:
				if _, err := io.WriteString(r.nc, "<a xmlns='urn:xmpp:sm:3' h='"+strconv.Itoa(got)+"'/>"); err != nil {
					return err
				}
				*acks++
				buf = buf[j+len(req):]
				continue
			}
			break
		}
		if got >= n {
			break
		}
		k, err := r.nc.Read(p)
		if err != nil {
			return err
		}
		buf = append(buf, p[:k]...)
	}
	return nil
}
