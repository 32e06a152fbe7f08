package goxmpptest

import (
	"strings"
	"sync"
	"testing"

	goxmpp "github.com/xmppo/go-xmpp"
)

// Befriend runs RFC 6121's mutual subscription between a (bare JID aj,
// logged in as resource ares) and b (bj, bres), each asking and the other
// approving, and waits for every presence the other side must see.
func Befriend(t testing.TB, a *Client, aj, ares string, b *Client, bj, bres string) {
	t.Helper()
	a.RequestSubscription(bj)
	b.Expect(t, "subscribe from "+aj, Presence(aj, "subscribe"))
	b.ApproveSubscription(aj)
	a.Expect(t, "subscribed from "+bj, Presence(bj, "subscribed"))
	a.Expect(t, bj+"'s presence", Presence(bj+"/"+bres, ""))

	b.RequestSubscription(aj)
	a.Expect(t, "subscribe from "+bj, Presence(bj, "subscribe"))
	a.ApproveSubscription(bj)
	b.Expect(t, "subscribed from "+aj, Presence(aj, "subscribed"))
	b.Expect(t, aj+"'s presence", Presence(aj+"/"+ares, ""))
}

// Flow is one sender and its receiver for Pump.
type Flow struct {
	From, To *Client
	ToJID    string
}

// Pump sends per chat messages on every flow at once and waits until each
// arrived, keeping at most window in flight per flow (a Client drops
// stanzas beyond its inbox). It returns how many were delivered.
func Pump(t testing.TB, flows []Flow, per, window int) int {
	var wg sync.WaitGroup
	for _, f := range flows {
		wg.Add(2)
		credit := make(chan struct{}, per+window)
		for k := 0; k < window; k++ {
			credit <- struct{}{}
		}
		go func() {
			defer wg.Done()
			for k := 0; k < per; k++ {
				<-credit
				if _, err := f.From.Send(goxmpp.Chat{Remote: f.ToJID, Type: "chat", Text: "m"}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for k := 0; k < per; k++ {
				f.To.Expect(t, "a message", func(st any) bool { m, ok := st.(goxmpp.Chat); return ok && m.Text == "m" })
				credit <- struct{}{}
			}
		}()
	}
	wg.Wait()
	return per * len(flows)
}

// Bounce matches a message error (a bounce) from a JID that starts with from.
func Bounce(from string) func(any) bool {
	return func(st any) bool {
		m, ok := st.(goxmpp.Chat)
		return ok && m.Type == "error" && strings.HasPrefix(m.Remote, from)
	}
}
