package s2s

import (
	"bytes"
	"encoding/xml"
	"testing"

	"github.com/xmppgate/xmppgate/xmlel"
)

func FuzzParseHeader(f *testing.F) {
	for _, s := range []string{
		"<?xml version='1.0'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server' xmlns:db='jabber:server:dialback' to='a.example' from='b.example' version='1.0'>",
		"<stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:server' to='a@b' version='2.0'>",
		"<stream xmlns='jabber:server'>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d := xml.NewDecoder(bytes.NewReader(b))
		for i := 0; i < 8; i++ {
			tok, err := d.Token()
			if err != nil {
				return
			}
			if st, ok := tok.(xml.StartElement); ok {
				h, err := ParseHeader(st)
				if err == nil {
					if h.NS != NSServer || (h.To != "" && !validDomain(h.To)) || (h.From != "" && !validDomain(h.From)) {
						t.Fatalf("accepted a bad header %+v", h)
					}
				}
				return
			}
		}
	})
}

func FuzzParseDialback(f *testing.F) {
	for _, s := range []string{
		"<db:result xmlns:db='jabber:server:dialback' from='b.example' to='a.example'>abc</db:result>",
		"<verify xmlns='jabber:server:dialback' from='b.example' to='a.example' id='x' type='valid'/>",
		"<verify xmlns='jabber:server:dialback' from='b.example' to='a.example'>k</verify>",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		el, err := xmlel.Parse(b)
		if err != nil {
			return
		}
		d, err := ParseDialback(el)
		if err != nil {
			return
		}
		back, err := ParseDialback(d.Element())
		if err != nil || back != d {
			t.Fatalf("round trip of %+v: %+v, %v", d, back, err)
		}
	})
}
