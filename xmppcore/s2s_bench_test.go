package xmppcore_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
)

// BenchmarkS2SMessages sends chat messages from 100 users of one server
// to 100 users of another over federation (one bidirectional stream,
// XEP-0288), all pairs sending at once; ns/op is per delivered message,
// msgs/s the throughput.
func BenchmarkS2SMessages(b *testing.B) {
	const pairs = 100
	one, two := federated(b)
	var senders, receivers []*goxmpptest.Client
	for i := 0; i < pairs; i++ {
		n := strconv.Itoa(i)
		one.user(b, "one.test", "a"+n, "pw", store.StatusActive)
		two.user(b, "two.test", "b"+n, "pw", store.StatusActive)
		senders = append(senders, one.mustLogin(b, "a"+n, "pw", loginOpts{resource: "r", fqdn: "one.test"}))
		receivers = append(receivers, two.mustLogin(b, "b"+n, "pw", loginOpts{resource: "r", fqdn: "two.test"}))
	}
	// Warm up: the streams both ways exist before the clock runs.
	for i := range senders {
		_, err := senders[i].Send(goxmpp.Chat{Remote: "b" + strconv.Itoa(i) + "@two.test", Type: "chat", Text: "warm"})
		require.NoError(b, err)
		receivers[i].Expect(b, "warm-up", goxmpptest.Chat("a"+strconv.Itoa(i)+"@one.test", "warm"))
	}
	var flows []goxmpptest.Flow
	for i := range senders {
		flows = append(flows, goxmpptest.Flow{From: senders[i], To: receivers[i], ToJID: "b" + strconv.Itoa(i) + "@two.test"})
	}
	b.ResetTimer()
	start := time.Now()
	n := goxmpptest.Pump(b, flows, max(1, b.N/pairs), 200)
	b.StopTimer()
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkS2SSetup measures setting up a federated stream pair: each op
// stops every stream, then a message has to open (and dialback-verify) a
// new one before it arrives. setups/s counts only the time from the send
// to the delivery; closing the old streams is reported apart (close-ms),
// as it includes waiting for both servers to see the streams gone.
func BenchmarkS2SSetup(b *testing.B) {
	one, two := federated(b)
	one.user(b, "one.test", "alice", "pw", store.StatusActive)
	two.user(b, "two.test", "bob", "pw", store.StatusActive)
	alice := one.mustLogin(b, "alice", "pw", loginOpts{resource: "r", fqdn: "one.test"})
	bob := two.mustLogin(b, "bob", "pw", loginOpts{resource: "r", fqdn: "two.test"})
	var closing, opening time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		one.srv.StopS2SFor(nil)
		two.srv.StopS2SFor(nil)
		require.Eventually(b, func() bool {
			i1, o1 := one.srv.S2SCounts()
			i2, o2 := two.srv.S2SCounts()
			return i1+o1+i2+o2 == 0
		}, 10*time.Second, time.Millisecond)
		t1 := time.Now()
		_, err := alice.Send(goxmpp.Chat{Remote: "bob@two.test", Type: "chat", Text: "s" + strconv.Itoa(i)})
		require.NoError(b, err)
		bob.Expect(b, "the message", goxmpptest.Chat("alice@one.test", "s"+strconv.Itoa(i)))
		closing += t1.Sub(t0)
		opening += time.Since(t1)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/opening.Seconds(), "setups/s")
	b.ReportMetric(closing.Seconds()*1000/float64(b.N), "close-ms")
}
