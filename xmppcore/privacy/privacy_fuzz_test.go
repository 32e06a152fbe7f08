package privacy

import (
	"testing"

	"github.com/xmppgate/xmppgate/xmlel"
)

// FuzzParse: any <list/> a client sends parses into a list whose items
// are in order with unique orders, or is refused; a parsed list
// serialises into one that parses to the same items.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`<list xmlns="jabber:iq:privacy" name="l"><item type="jid" value="a@b/c" action="deny" order="1"><message/></item><item action="allow" order="2"/></list>`,
		`<list xmlns="jabber:iq:privacy" name="g"><item type="group" value="Friends" action="allow" order="0"/><item type="subscription" value="both" action="deny" order="9"><presence-out/></item></list>`,
		`<list xmlns="jabber:iq:privacy" name="x"><item action="deny" order="1"/><item action="deny" order="1"/></list>`,
		`<list xmlns="jabber:iq:privacy"/>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		el, err := xmlel.Parse(raw)
		if err != nil {
			return
		}
		l, err := Parse(el)
		if err != nil {
			return
		}
		for i := 1; i < len(l.Items); i++ {
			if l.Items[i-1].Order >= l.Items[i].Order {
				t.Fatalf("items out of order or repeated: %+v", l.Items)
			}
		}
		again, err := Parse(l.Element())
		if err != nil || len(again.Items) != len(l.Items) {
			t.Fatalf("%s does not parse back: %v", l.Element().Bytes(""), err)
		}
	})
}
