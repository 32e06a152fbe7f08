package metrics

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/xmppcore"
)

// TestSessionSeriesBounded: sessions are counted per domain and
// transport, and domains past MaxDomainSeries fold into OtherDomain, the
// busiest kept.
func TestSessionSeriesBounded(t *testing.T) {
	t.Parallel()
	many := func(n int) []xmppcore.SessionInfo {
		var out []xmppcore.SessionInfo
		for i := range n {
			out = append(out, xmppcore.SessionInfo{Domain: fmt.Sprintf("d%04d.example", i), Transport: xmppcore.TransportTCP})
		}
		return out
	}
	busy := append(many(MaxDomainSeries+10), xmppcore.SessionInfo{Domain: "d9999.example"}, xmppcore.SessionInfo{Domain: "d9999.example", Transport: "websocket"})
	for i, c := range []struct {
		in      []xmppcore.SessionInfo
		series  int
		want    map[sessionKey]int
		missing []sessionKey
	}{
		0: {in: nil, series: 0},
		1: {in: []xmppcore.SessionInfo{{Domain: "a.example"}, {Domain: "a.example", Transport: "websocket"}, {Domain: "a.example", Transport: "c2s"}},
			series: 2, want: map[sessionKey]int{{"a.example", "c2s"}: 2, {"a.example", "websocket"}: 1}},
		2: {in: many(MaxDomainSeries), series: MaxDomainSeries, want: map[sessionKey]int{{"d0000.example", "c2s"}: 1}},
		3: {in: busy, series: MaxDomainSeries + 2,
			want:    map[sessionKey]int{{"d9999.example", "c2s"}: 1, {"d9999.example", "websocket"}: 1, {OtherDomain, "c2s"}: 11},
			missing: []sessionKey{{fmt.Sprintf("d%04d.example", MaxDomainSeries+9), "c2s"}}},
	} {
		got := sessionSeries(c.in)
		require.Len(t, got, c.series, "%d", i)
		total := 0
		for _, n := range got {
			total += n
		}
		require.Equal(t, len(c.in), total, "%d: no session lost", i)
		for k, n := range c.want {
			require.Equal(t, n, got[k], "%d: %v", i, k)
		}
		for _, k := range c.missing {
			require.NotContains(t, got, k, "%d", i)
		}
	}
}
