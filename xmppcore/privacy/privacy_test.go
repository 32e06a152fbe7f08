package privacy

import (
	"testing"

	"github.com/stretchr/testify/require"
	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/xmlel"
)

func parse(t *testing.T, s string) (List, error) {
	t.Helper()
	el, err := xmlel.Parse([]byte(s))
	require.NoError(t, err)
	return Parse(el)
}

func TestParseRejects(t *testing.T) {
	for name, s := range map[string]string{
		"no name":        `<list xmlns='jabber:iq:privacy'/>`,
		"no action":      `<list xmlns='jabber:iq:privacy' name='l'><item order='1'/></list>`,
		"bad action":     `<list xmlns='jabber:iq:privacy' name='l'><item action='maybe' order='1'/></list>`,
		"no order":       `<list xmlns='jabber:iq:privacy' name='l'><item action='deny'/></list>`,
		"negative order": `<list xmlns='jabber:iq:privacy' name='l'><item action='deny' order='-1'/></list>`,
		"huge order":     `<list xmlns='jabber:iq:privacy' name='l'><item action='deny' order='4294967296'/></list>`,
		"same order":     `<list xmlns='jabber:iq:privacy' name='l'><item action='deny' order='1'/><item action='allow' order='1'/></list>`,
		"bad type":       `<list xmlns='jabber:iq:privacy' name='l'><item type='colour' value='x' action='deny' order='1'/></list>`,
		"bad jid":        `<list xmlns='jabber:iq:privacy' name='l'><item type='jid' value='@x' action='deny' order='1'/></list>`,
		"bad sub":        `<list xmlns='jabber:iq:privacy' name='l'><item type='subscription' value='all' action='deny' order='1'/></list>`,
		"empty group":    `<list xmlns='jabber:iq:privacy' name='l'><item type='group' action='deny' order='1'/></list>`,
		"value no type":  `<list xmlns='jabber:iq:privacy' name='l'><item value='x' action='deny' order='1'/></list>`,
		"bad kind":       `<list xmlns='jabber:iq:privacy' name='l'><item action='deny' order='1'><pizza/></item></list>`,
		"foreign child":  `<list xmlns='jabber:iq:privacy' name='l'><x xmlns='y'/></list>`,
	} {
		_, err := parse(t, s)
		require.ErrorIs(t, err, ErrBadList, name)
	}
}

func TestRoundTrip(t *testing.T) {
	l, err := parse(t, `<list xmlns='jabber:iq:privacy' name='l'>`+
		`<item action='allow' order='10'/>`+
		`<item type='jid' value='Bob@Example.COM/r' action='deny' order='2'><presence-out/><message/></item>`+
		`<item type='group' value='Friends' action='allow' order='5'/></list>`)
	require.NoError(t, err)
	require.True(t, l.Roster)
	require.Equal(t, `<list xmlns="jabber:iq:privacy" name="l">`+
		`<item type="jid" value="bob@example.com/r" action="deny" order="2"><message/><presence-out/></item>`+
		`<item type="group" value="Friends" action="allow" order="5"/>`+
		`<item action="allow" order="10"/></list>`, l.Element().String())
	empty, err := parse(t, `<list xmlns='jabber:iq:privacy' name='gone'/>`)
	require.NoError(t, err)
	require.Empty(t, empty.Items)
}

func TestAllowed(t *testing.T) {
	friend := func() Contact { return Contact{Subscription: "both", Groups: []string{"Friends"}} }
	stranger := func() Contact { return Contact{} }
	cases := []struct {
		name   string
		list   string
		kind   Kind
		other  string
		roster func() Contact
		want   bool
	}{
		{"no items", ``, Message, "a@x/r", stranger, true},
		{"full jid", `<item type='jid' value='a@x/r' action='deny' order='1'/>`, Message, "a@x/r", stranger, false},
		{"full jid other resource", `<item type='jid' value='a@x/r' action='deny' order='1'/>`, Message, "a@x/s", stranger, true},
		{"bare jid", `<item type='jid' value='a@x' action='deny' order='1'/>`, Message, "a@x/s", stranger, false},
		{"domain/resource", `<item type='jid' value='x/r' action='deny' order='1'/>`, Message, "b@x/r", stranger, false},
		{"domain", `<item type='jid' value='x' action='deny' order='1'/>`, IQ, "b@x/q", stranger, false},
		{"other domain", `<item type='jid' value='y' action='deny' order='1'/>`, IQ, "b@x/q", stranger, true},
		{"order decides", `<item type='jid' value='x' action='deny' order='2'/><item type='jid' value='a@x' action='allow' order='1'/>`, Message, "a@x/r", stranger, true},
		{"kind not covered", `<item type='jid' value='a@x' action='deny' order='1'><presence-in/></item>`, Message, "a@x/r", stranger, true},
		{"kind covered", `<item type='jid' value='a@x' action='deny' order='1'><presence-in/><message/></item>`, Message, "a@x/r", stranger, false},
		{"presence-out", `<item type='jid' value='a@x' action='deny' order='1'><presence-out/></item>`, PresenceOut, "a@x", stranger, false},
		{"outbound message, all kinds", `<item type='jid' value='a@x' action='deny' order='1'/>`, Other, "a@x", stranger, false},
		{"outbound message, message kind", `<item type='jid' value='a@x' action='deny' order='1'><message/></item>`, Other, "a@x", stranger, true},
		{"group", `<item type='group' value='Friends' action='deny' order='1'/>`, Message, "f@x/r", friend, false},
		{"group miss", `<item type='group' value='Friends' action='deny' order='1'/>`, Message, "f@x/r", stranger, true},
		{"subscription both", `<item type='subscription' value='both' action='deny' order='1'/>`, Message, "f@x", friend, false},
		{"subscription none for strangers", `<item type='subscription' value='none' action='deny' order='1'/>`, Message, "s@x", stranger, false},
		{"fall-through deny", `<item type='group' value='Friends' action='allow' order='1'/><item action='deny' order='2'/>`, Message, "s@x", stranger, false},
		{"fall-through allows friends", `<item type='group' value='Friends' action='allow' order='1'/><item action='deny' order='2'/>`, Message, "f@x", friend, true},
	}
	for _, c := range cases {
		l, err := parse(t, `<list xmlns='jabber:iq:privacy' name='l'>`+c.list+`</list>`)
		require.NoError(t, err, c.name)
		calls := 0
		got := l.Allowed(c.kind, jid.MustParse(c.other), func() Contact { calls++; return c.roster() })
		require.Equal(t, c.want, got, c.name)
		require.LessOrEqual(t, calls, 1, c.name)
		if !l.Roster {
			require.Zero(t, calls, c.name)
		}
	}
	var none *List
	require.True(t, none.Allowed(Message, jid.MustParse("a@x"), stranger))
}

// BenchmarkAllowed is the decision alone for a list of three JID items
// that do not match (the usual blocklist-like case) and for one group item
// with the roster answer at hand.
func BenchmarkAllowed(b *testing.B) {
	for _, bc := range []struct{ name, items string }{
		{"jid-items", `<item type='jid' value='x@example.test' action='deny' order='1'/>` +
			`<item type='jid' value='other.test' action='deny' order='2'><message/></item>` +
			`<item type='jid' value='example.test/spam' action='deny' order='3'/>`},
		{"group-item", `<item type='group' value='Blocked' action='deny' order='1'><message/></item>`},
	} {
		el, err := xmlel.Parse([]byte(`<list xmlns='jabber:iq:privacy' name='l'>` + bc.items + `</list>`))
		require.NoError(b, err)
		l, err := Parse(el)
		require.NoError(b, err)
		from := jid.MustParse("alice@example.test/r")
		roster := func() Contact { return Contact{Subscription: "both", Groups: []string{"Friends"}} }
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if !l.Allowed(Message, from, roster) {
					b.Fatal("denied")
				}
			}
		})
	}
}
