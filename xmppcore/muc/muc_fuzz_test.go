package muc

import (
	"testing"
	"time"

	"github.com/xmppgate/xmppgate/xmlel"
)

// Fuzz targets for what the MUC service parses from clients: whatever
// arrives, the parsers answer with a value or their error, never panic,
// and what they accept stays within the service's limits.

func FuzzConfigForm(f *testing.F) {
	f.Add([]byte(configSeed))
	f.Add([]byte(`<x xmlns='jabber:x:data' type='submit'/>`))
	f.Add([]byte(`<x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_maxusers'><value>none</value></field></x>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := xmlel.Parse(b)
		if err != nil {
			return
		}
		c, err := Default(true).Apply(x)
		if err != nil {
			return
		}
		if c.MaxUsers < 1 || c.MaxUsers > MaxMaxUsers || c.HistoryLength < 0 || c.HistoryLength > MaxHistory {
			t.Fatalf("out of limits: %+v", c)
		}
		if !Decode(c.Encode(), false).Equal(c) {
			t.Fatalf("stored form differs: %+v", c)
		}
		_ = c.Form().Bytes("")
	})
}

func FuzzAdminItems(f *testing.F) {
	f.Add([]byte(`<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='x' role='none'><reason>r</reason></item></query>`), true)
	f.Add([]byte(`<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='member'/></query>`), false)
	f.Fuzz(func(t *testing.T, b []byte, set bool) {
		q, err := xmlel.Parse(b)
		if err != nil {
			return
		}
		out, err := ParseAdmin(q, set)
		if err != nil {
			return
		}
		for _, it := range out.Items {
			if (it.IsRoleChange() && !ValidRole(it.Role)) || (it.IsAffChange() && !ValidAffiliation(it.Aff)) {
				t.Fatalf("accepted %+v", it)
			}
			if set && it.IsAffChange() && it.JID == "" {
				t.Fatalf("affiliation change without a JID: %+v", it)
			}
		}
	})
}

func FuzzHistoryRequest(f *testing.F) {
	f.Add([]byte(`<history xmlns='http://jabber.org/protocol/muc' maxstanzas='2' maxchars='100' seconds='60' since='2020-01-01T00:00:00Z'/>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, err := xmlel.Parse(b)
		if err != nil {
			return
		}
		r, err := ParseHistory(h)
		if err != nil {
			return
		}
		var hist History
		now := time.Now()
		for i := 0; i < 5; i++ {
			hist.Add(Entry{Time: now.Add(-time.Duration(i) * time.Second), Chars: 10}, 3)
		}
		if got := hist.Select(r, now); r.MaxStanzas >= 0 && len(got) > r.MaxStanzas {
			t.Fatalf("%d entries for maxstanzas %d", len(got), r.MaxStanzas)
		}
	})
}

func FuzzJoinPresence(f *testing.F) {
	f.Add([]byte(`<presence xmlns='jabber:client' to='room@conference.example.test/nick'><x xmlns='http://jabber.org/protocol/muc'><password>pw</password><history maxstanzas='5'/></x></presence>`))
	f.Add([]byte(`<presence xmlns='jabber:client'/>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := xmlel.Parse(b)
		if err != nil {
			return
		}
		j, err := ParseJoin(p)
		if err == nil && !j.MUC && j.Password != "" {
			t.Fatalf("a password without a MUC join: %+v", j)
		}
		if nick := p.Get("to"); nick != "" {
			if n, err := PrepareNick(nick); err == nil && n == "" {
				t.Fatal("empty nickname accepted")
			}
		}
	})
}
