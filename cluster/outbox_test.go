package cluster

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The outbox keeps the last stanzas sent to each node within its bounds
// (count and bytes), finds one by the reply subject it gave, once, and
// tells a reply subject of its own that it no longer holds from a
// foreign one.
func TestOutbox(t *testing.T) {
	t.Parallel()
	const prefix = "xmppgate.miss.11."
	type put struct {
		node string
		size int // bytes of the stanza
	}
	tests := []struct {
		name        string
		size, bytes int
		puts        []put
		held        []int // indexes into puts still held
		gone        []int // evicted
	}{
		0: {"all held", 4, 1 << 10, []put{{"a", 10}, {"a", 10}, {"b", 10}}, []int{0, 1, 2}, nil},
		1: {"count bound, per node", 2, 1 << 10, []put{{"a", 1}, {"b", 1}, {"a", 1}, {"a", 1}, {"b", 1}}, []int{1, 2, 3, 4}, []int{0}},
		2: {"byte bound", 8, 100, []put{{"a", 40}, {"a", 40}, {"a", 40}}, []int{1, 2}, []int{0}},
		3: {"one stanza past the byte bound is held alone", 8, 100, []put{{"a", 40}, {"a", 200}}, []int{1}, []int{0}},
		4: {"wraps many times", 3, 1 << 10, func() []put {
			var ps []put
			for range 10 {
				ps = append(ps, put{"a", 5})
			}
			return ps
		}(), []int{7, 8, 9}, []int{0, 3, 6}},
	}
	for i, tt := range tests {
		t.Run(fmt.Sprintf("%d %s", i, tt.name), func(t *testing.T) {
			t.Parallel()
			o := newOutbox(prefix, tt.size, tt.bytes)
			subjects := make([]string, len(tt.puts))
			for j, p := range tt.puts {
				subjects[j] = o.put(p.node, fmt.Sprintf("to%d", j), []byte(strings.Repeat("x", p.size)))
				require.True(t, strings.HasPrefix(subjects[j], prefix), subjects[j])
			}
			for _, j := range tt.gone {
				node, _, ok := o.take(subjects[j])
				require.False(t, ok, "stanza %d should have been evicted", j)
				require.Equal(t, tt.puts[j].node, node, "an evicted stanza still names its node")
			}
			for _, j := range tt.held {
				node, s, ok := o.take(subjects[j])
				require.True(t, ok, "stanza %d should be held", j)
				require.Equal(t, tt.puts[j].node, node)
				require.Equal(t, fmt.Sprintf("to%d", j), s.to)
				require.Len(t, s.data, tt.puts[j].size)
				_, _, ok = o.take(subjects[j])
				require.False(t, ok, "stanza %d taken twice", j)
			}
			for _, r := range o.byID {
				require.Zero(t, r.bytes, "%s: every byte held is accounted for", r.node)
			}
		})
	}
}

func TestOutboxForeignSubjects(t *testing.T) {
	t.Parallel()
	o := newOutbox("xmppgate.miss.11.", 40, 1<<10)
	var ok string
	for range 36 {
		ok = o.put("a", "to", []byte("x"))
	}
	require.Equal(t, "xmppgate.miss.11.0.10", ok, "base 36")
	for i, subj := range []string{
		"xmppgate.miss.22.0.1",  // another incarnation's
		"xmppgate.miss.11.1.1",  // a node never sent to
		"xmppgate.miss.11.0.11", // not sent yet
		"xmppgate.miss.11.0.0",
		"xmppgate.miss.11.-1.1",
		"xmppgate.miss.11.0",
		"xmppgate.miss.11.0.-1",
		"xmppgate.miss.11.",
		"",
	} {
		node, _, held := o.take(subj)
		require.False(t, held, "case %d: %s", i, subj)
		if i != 2 && i != 3 {
			require.Empty(t, node, "case %d: %s", i, subj)
		}
	}
	_, _, held := o.take(ok)
	require.True(t, held)
}
