package xmppcore

import (
	"strconv"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
)

// XEP-0033 Extended Stanza Addressing: one message to multicast.<domain>
// with an <addresses/> list is delivered to each to/cc/bcc JID, as
// ejabberd's mod_multicast does for local users. Presence is not
// multicast (clients send presence to their roster through the server
// anyway).
const nsAddress = "http://jabber.org/protocol/address"

// maxAddresses bounds the recipients of one message (ejabberd's local
// limit for messages).
const maxAddresses = 100

func init() {
	services = append(services, &service{
		label:    "multicast",
		module:   modcfg.Multicast,
		identity: [3]string{"service", "multicast", "Multicast"},
		features: []string{nsAddress},
		message:  multicast,
	})
}

// multicast delivers m to its to, cc and bcc addresses. Each copy keeps
// the <addresses/> list with every delivered address marked
// delivered='true' (so nothing on the way delivers it twice) and the bcc
// ones left out (XEP-0033 4.6.3).
func multicast(s *Server, m *xmlel.Element, from jid.JID, d modcfg.Domain) {
	addrs := m.Child(nsAddress, "addresses")
	if addrs == nil {
		s.bounce(m, stanzaErr{typ: "modify", cond: "bad-request", text: "a message to the multicast service needs <addresses/>"})
		return
	}
	var targets []jid.JID
	seen := map[string]bool{}
	for _, a := range addrs.Elements() {
		if a.Name.Local != "address" || a.Get("delivered") == "true" {
			continue
		}
		switch a.Get("type") {
		case "to", "cc", "bcc":
		default:
			continue // replyto, noreply, ...: for the recipients to read
		}
		raw := a.Get("jid")
		if raw == "" {
			continue // a uri-only address: nothing to deliver to over XMPP
		}
		j, err := jid.Parse(raw)
		if err != nil {
			s.bounce(m, stanzaErr{typ: "modify", cond: "jid-malformed", text: "address " + raw + " is not a JID"})
			return
		}
		if !seen[j.String()] {
			seen[j.String()] = true
			targets = append(targets, j)
		}
	}
	if len(targets) == 0 {
		s.bounce(m, stanzaErr{typ: "modify", cond: "bad-request", text: "no to, cc or bcc address with a JID"})
		return
	}
	if len(targets) > maxAddresses {
		s.bounce(m, stanzaErr{typ: "modify", cond: "not-acceptable", text: "at most " + strconv.Itoa(maxAddresses) + " addresses"})
		return
	}
	copyOf := m.Copy()
	list := copyOf.Child(nsAddress, "addresses")
	kept := list.Children[:0]
	for _, ch := range list.Children {
		if a, ok := ch.(*xmlel.Element); ok && a.Name.Local == "address" && a.Get("jid") != "" {
			switch a.Get("type") {
			case "bcc":
				continue
			case "to", "cc":
				a.Set("delivered", "true")
			}
		}
		kept = append(kept, ch)
	}
	list.Children = kept
	sender := from.Bare().String()
	sd, _ := s.hosted(from.Domainpart())
	blocking := sd.On(modcfg.Blocking)
	for _, t := range targets {
		if blocking && s.blockedBy(sender, 0, t) {
			continue // the sender's own block list: as fromClient does for one address
		}
		out := copyOf.Copy()
		out.Set("from", from.String()).Set("to", t.String())
		s.routeMessage(out, from, t)
	}
}
