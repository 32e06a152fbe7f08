package xmppcore_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore"
	"github.com/xmppgate/xmppgate/xmppcore/extdisco"
	"github.com/xmppgate/xmppgate/xmppcore/upload"
)

// moduleSeeds are the stanzas of the modules issue #13 added, as their
// tests send them: stream management, carbons, CSI, MAM, PEP with
// publish-options, the pubsub service, push, multicast, external
// services, ad-hoc commands, upload slots, privacy lists, bookmarks.
var moduleSeeds = []string{
	"<enable xmlns='urn:xmpp:sm:3' resume='true' max='60'/><r xmlns='urn:xmpp:sm:3'/><message to='watch@" + domain + "/w'><body>x</body></message><a xmlns='urn:xmpp:sm:3' h='0'/>",
	"<enable xmlns='urn:xmpp:sm:3'/><a xmlns='urn:xmpp:sm:3' h='4294967295'/>",
	"<r xmlns='urn:xmpp:sm:3'/><resume xmlns='urn:xmpp:sm:3' previd='x' h='0'/>",
	"<iq type='set' id='c1'><enable xmlns='urn:xmpp:carbons:2'/></iq><iq type='set' id='c2'><disable xmlns='urn:xmpp:carbons:2'/></iq>",
	"<inactive xmlns='urn:xmpp:csi:0'/><message to='fuzz@" + domain + "'><body>held</body></message><active xmlns='urn:xmpp:csi:0'/>",
	"<iq type='get' id='m0'><query xmlns='urn:xmpp:mam:2'/></iq>",
	"<iq type='set' id='m1'><query xmlns='urn:xmpp:mam:2' queryid='q'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='with'><value>watch@" + domain + "</value></field><field var='start'><value>2010-06-07T00:00:00Z</value></field></x><set xmlns='http://jabber.org/protocol/rsm'><max>2</max><before/></set></query></iq>",
	"<iq type='set' id='m2'><query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='ids'><value>1</value></field><field var='after-id'><value>9223372036854775807</value></field></x><flip-page/></query></iq>",
	"<iq type='set' id='m3'><prefs xmlns='urn:xmpp:mam:2' default='roster'><always><jid>watch@" + domain + "</jid></always><never/></prefs></iq><iq type='get' id='m4'><prefs xmlns='urn:xmpp:mam:1'/></iq>",
	"<iq type='set' id='e1'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='urn:xmpp:omemo:2:devices'><item id='current'><devices xmlns='urn:xmpp:omemo:2'><device id='1'/></devices></item></publish><publish-options><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#access_model'><value>open</value></field></x></publish-options></pubsub></iq>",
	"<iq type='get' id='e2' to='fuzz@" + domain + "'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:omemo:2:devices' max_items='1'/></pubsub></iq>",
	"<iq type='set' id='e3'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><configure node='n'><x xmlns='jabber:x:data' type='submit'><field var='pubsub#max_items'><value>max</value></field></x></configure></pubsub></iq>",
	"<iq type='set' id='e4'><pubsub xmlns='http://jabber.org/protocol/pubsub'><retract node='n' notify='1'><item id='current'/></retract></pubsub></iq>",
	"<iq type='set' id='s1' to='pubsub." + domain + "'><pubsub xmlns='http://jabber.org/protocol/pubsub'><create node='news'/><configure><x xmlns='jabber:x:data' type='submit'><field var='pubsub#access_model'><value>whitelist</value></field></x></configure></pubsub></iq><iq type='set' id='s2' to='pubsub." + domain + "'><pubsub xmlns='http://jabber.org/protocol/pubsub'><publish node='news'><item><entry xmlns='http://www.w3.org/2005/Atom'/></item></publish></pubsub></iq>",
	"<iq type='set' id='s3' to='pubsub." + domain + "'><pubsub xmlns='http://jabber.org/protocol/pubsub'><subscribe node='news' jid='fuzz@" + domain + "'/></pubsub></iq><iq type='get' id='s4' to='pubsub." + domain + "'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='news'/></pubsub></iq>",
	"<iq type='set' id='s5' to='pubsub." + domain + "'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><affiliations node='news'><affiliation jid='watch@" + domain + "' affiliation='publisher'/></affiliations></pubsub></iq><iq type='set' id='s6' to='pubsub." + domain + "'><pubsub xmlns='http://jabber.org/protocol/pubsub#owner'><delete node='news'/></pubsub></iq>",
	"<iq type='get' id='s7' to='pubsub." + domain + "'><query xmlns='http://jabber.org/protocol/disco#items'/></iq><iq type='get' id='s8' to='pubsub." + domain + "'><query xmlns='http://jabber.org/protocol/disco#info' node='news'/></iq>",
	"<iq type='set' id='p1'><enable xmlns='urn:xmpp:push:0' jid='push." + domain + "' node='n1'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='secret'><value>s</value></field></x></enable></iq><iq type='set' id='p2'><disable xmlns='urn:xmpp:push:0' jid='push." + domain + "'/></iq>",
	"<message to='multicast." + domain + "'><addresses xmlns='http://jabber.org/protocol/address'><address type='to' jid='watch@" + domain + "/w'/><address type='cc' jid='alice@" + domain + "'/><address type='bcc' jid='nobody@elsewhere.test'/><address type='replyto' jid='fuzz@" + domain + "'/></addresses><body>all</body></message>",
	"<message to='multicast." + domain + "'><body>none</body></message>",
	"<iq type='get' id='x1' to='" + domain + "'><services xmlns='urn:xmpp:extdisco:2'/></iq><iq type='get' id='x2' to='" + domain + "'><services xmlns='urn:xmpp:extdisco:2' type='turn'/></iq>",
	"<iq type='get' id='x3' to='" + domain + "'><credentials xmlns='urn:xmpp:extdisco:2'><service type='turn' host='turn.example.test'/></credentials></iq>",
	"<iq type='get' id='a1' to='" + domain + "'><query xmlns='http://jabber.org/protocol/disco#items' node='http://jabber.org/protocol/commands'/></iq><iq type='set' id='a2' to='" + domain + "'><command xmlns='http://jabber.org/protocol/commands' node='ping' action='execute'/></iq>",
	"<iq type='set' id='a3' to='" + domain + "'><command xmlns='http://jabber.org/protocol/commands' node='http://jabber.org/protocol/admin#announce'/></iq>",
	"<iq type='set' id='a4' to='" + domain + "'><command xmlns='http://jabber.org/protocol/commands' node='http://jabber.org/protocol/admin#announce' sessionid='s' action='complete'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/admin</value></field><field var='subject'><value>s</value></field><field var='body'><value>b</value></field></x></command></iq>",
	"<iq type='get' id='u1' to='upload." + domain + "'><request xmlns='urn:xmpp:http:upload:0' filename='a b.jpg' size='23456' content-type='image/jpeg'/></iq>",
	"<iq type='get' id='u2' to='upload." + domain + "'><request xmlns='urn:xmpp:http:upload:0' filename='../x' size='-1'/></iq>",
	"<iq type='set' id='v1'><query xmlns='jabber:iq:privacy'><list name='l'><item type='jid' value='watch@" + domain + "' action='deny' order='1'><message/></item></list></query></iq><iq type='set' id='v2'><query xmlns='jabber:iq:privacy'><active name='l'/></query></iq><iq type='set' id='v3'><query xmlns='jabber:iq:privacy'><default/></query></iq>",
	"<iq type='set' id='b1'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'><conference jid='room@muc." + domain + "' autojoin='true'><nick>me</nick></conference></storage></query></iq><iq type='get' id='b2'><pubsub xmlns='http://jabber.org/protocol/pubsub'><items node='urn:xmpp:bookmarks:1'/></pubsub></iq>",
	"<presence><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='QgayPKawpkPSDYmwT/WM94uAlu0='/></presence>",
	"<iq type='set' id='i1' to='fuzz@" + domain + "/other'><ping xmlns='urn:xmpp:ping'/></iq><iq type='get' id='i2' to='nobody@" + domain + "'><vCard xmlns='vcard-temp'/></iq><iq type='get' id='i3' to='elsewhere.test'><ping xmlns='urn:xmpp:ping'/></iq>",
}

// FuzzC2SModules feeds those stanzas, mutated, to a bound session of a
// server with every module on (upload and external services wired, the
// fuzz user an admin of its domain), with FuzzC2SSession's checks, and
// one more: when no stream error came, every complete <iq/> get or set
// the client sent to the server or a bare JID got exactly one answer of
// type result or error with its id (RFC 6120 8.2.3), whatever the module
// made of its payload.
func FuzzC2SModules(f *testing.F) {
	s := newFuzzC2S(f, func(b *testBundle, cfg *xmppcore.Config) {
		mux := http.NewServeMux()
		hs := httptest.NewServer(mux)
		f.Cleanup(hs.Close)
		files, err := upload.New(b.st, filepath.Join(b.dataDir, "upload"), hs.URL+"/upload", nil)
		require.NoError(f, err)
		mux.Handle("/upload/", files)
		cfg.Upload = files
		cfg.ExternalServices = []extdisco.Service{{Type: "stun", Host: "stun.example.test", Port: 3478, Transport: "udp"},
			{Type: "turn", Host: "turn.example.test", Port: 3478, Transport: "udp", Secret: "s3cret", TTL: time.Hour}}
		require.NoError(f, b.st.Write(b.ctx, func(tx *store.Tx) error {
			u, err := tx.UserByJID(b.ctx, domain, fuzzUser)
			if err != nil {
				return err
			}
			return tx.PutEjabberdPermission(b.ctx, store.EjabberdPermission{UserID: u.ID, AccountID: b.account, What: []string{"*"}})
		}))
	})
	for _, in := range moduleSeeds {
		f.Add([]byte(in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		c, start := rawLogin(t, s.b.c2stls, fuzzUser, fuzzPass)
		defer c.Close()
		// The client closes its stream, so that a stream error means the
		// server refused something (FuzzC2SSession covers the truncations).
		in = append(in[:len(in):len(in)], "</stream:stream>"...)
		got := exchange(t, c, in)
		out := append(start, got...)
		s.noInternalErrors(t, out)
		sentError, _ := checkOutput(t, out)
		if !closesCleanly(in, true) {
			require.True(t, sentError, "no stream error: %q -> %q", in, out)
		}
		if asked, complete := requests(in); complete && !sentError {
			answers := answered(got)
			for id, n := range asked {
				if n > 0 && answers[id] != n {
					require.Failf(t, "unanswered or twice answered IQ", "id %q: %d requests, %d answers: %q -> %q", id, n, answers[id], in, got)
				}
			}
		}
		s.serving(t)
	})
}

// clientStream wraps what a bound client sends, as the server reads it.
const clientStream = "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>"

// requests counts the <iq type='get|set'/> of in by id, for those the
// server must answer itself: no to, or a bare or domain JID. An id also
// used by an IQ outside that set counts -1 (left out). complete reports
// whether in is nothing but whole top-level elements.
func requests(in []byte) (asked map[string]int, complete bool) {
	asked = map[string]int{}
	excluded := map[string]bool{}
	dec := xml.NewDecoder(io.MultiReader(strings.NewReader(clientStream), bytes.NewReader(in)))
	dec.Strict = true
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			var syn *xml.SyntaxError
			complete = errors.As(err, &syn) && syn.Msg == "unexpected EOF" && depth == 1
			break
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			if depth != 2 || el.Name.Local != "iq" || el.Name.Space != "jabber:client" {
				continue
			}
			var id, typ, to string
			hasTo := false
			for _, a := range el.Attr {
				switch {
				case a.Name.Space != "":
				case a.Name.Local == "id":
					id = a.Value
				case a.Name.Local == "type":
					typ = a.Value
				case a.Name.Local == "to":
					to, hasTo = a.Value, true
				}
			}
			ours := typ == "get" || typ == "set"
			if hasTo {
				j, err := jid.Parse(to)
				ours = ours && err == nil && j.Resourcepart() == ""
			}
			if ours {
				asked[id]++
			} else {
				excluded[id] = true
			}
		case xml.EndElement:
			if depth--; depth == 0 {
				complete = true // the stream's end: what follows is not read
				return finish(asked, excluded), complete
			}
		}
	}
	return finish(asked, excluded), complete
}

func finish(asked map[string]int, excluded map[string]bool) map[string]int {
	for id := range excluded {
		asked[id] = -1
	}
	return asked
}

// answered counts the server's <iq type='result|error'/> by id in out, the
// stream the server sent after binding.
func answered(out []byte) map[string]int {
	n := map[string]int{}
	dec := xml.NewDecoder(io.MultiReader(strings.NewReader(clientStream), bytes.NewReader(out)))
	depth := 0
	for {
		tok, err := dec.Token()
		if err != nil {
			return n
		}
		switch el := tok.(type) {
		case xml.StartElement:
			depth++
			if depth != 2 || el.Name.Local != "iq" {
				continue
			}
			var id, typ string
			for _, a := range el.Attr {
				switch a.Name.Local {
				case "id":
					id = a.Value
				case "type":
					typ = a.Value
				}
			}
			if typ == "result" || typ == "error" {
				n[id]++
			}
		case xml.EndElement:
			depth--
		}
	}
}
