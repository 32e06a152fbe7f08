package xmppcore

import (
	"bytes"

	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
)

// XEP-0352 Client State Indication: while the client says it is inactive
// (a phone in a pocket), presence updates and chat states wait, so the
// radio can sleep; anything else goes out at once, after what waited, so
// the order the client sees stays the order of sending.
const (
	nsCSI        = "urn:xmpp:csi:0"
	nsChatStates = "http://jabber.org/protocol/chatstates"
	nsSID        = "urn:xmpp:sid:0"
	// csiMaxHeld bounds what an inactive session holds back; past it
	// everything goes out (Prosody's mod_csi_simple flushes on a size too).
	csiMaxHeld = 256
)

// csiHold is what an inactive session holds back, in sending order.
type csiHold struct {
	held []heldStanza
}

type heldStanza struct {
	from string // the sender of a held presence; "" for a chat state
	b    []byte
}

// csiElement handles <active/> and <inactive/>. They are nonzas with no
// answer: a domain with the module off ignores them.
func (c *conn) csiElement(el *xmlel.Element) {
	switch el.Name.Local {
	case "inactive":
		if !c.srv.domainOf(c).On(modcfg.ClientState) {
			return
		}
		c.wmu.Lock()
		if c.csi == nil {
			c.csi = &csiHold{}
		}
		c.wmu.Unlock()
	case "active":
		c.wmu.Lock()
		h := c.csi
		c.csi = nil
		if h != nil {
			for _, b := range h.take() {
				c.smSendLocked(b)
			}
		}
		c.wmu.Unlock()
	}
}

// hold keeps b back if it can wait: an available or unavailable presence
// (only the latest per sender is kept) or a message carrying nothing but
// a chat state. It reports whether it kept it.
func (h *csiHold) hold(b []byte) bool {
	if len(h.held) >= csiMaxHeld {
		return false
	}
	switch {
	case bytes.HasPrefix(b, []byte("<presence")):
		p, err := parseClient(b)
		if err != nil || (p.Get("type") != "" && p.Get("type") != "unavailable") {
			return false // subscription requests and errors matter now
		}
		from := p.Get("from")
		for i, x := range h.held {
			if x.from == from {
				h.held = append(h.held[:i], h.held[i+1:]...)
				break
			}
		}
		h.held = append(h.held, heldStanza{from: from, b: b})
		return true
	case bytes.HasPrefix(b, []byte("<message")):
		m, err := parseClient(b)
		if err != nil || !chatStateOnly(m) {
			return false
		}
		h.held = append(h.held, heldStanza{b: b})
		return true
	}
	return false
}

// take returns what was held, oldest first, and forgets it.
func (h *csiHold) take() [][]byte {
	if len(h.held) == 0 {
		return nil
	}
	out := make([][]byte, len(h.held))
	for i, x := range h.held {
		out[i] = x.b
	}
	h.held = nil
	return out
}

// chatStateOnly: m (or the message a carbon of it forwards) has a chat
// state and nothing a user would read: no body, subject or other payload
// beyond hints and ids.
func chatStateOnly(m *xmlel.Element) bool {
	if msgType(m) == "error" {
		return false
	}
	state := false
	for _, ch := range m.Elements() {
		switch ch.Name.Space {
		case nsChatStates:
			state = true
		case nsHints, nsSID, nsDelay:
		case nsCarbons:
			fw := ch.Child(nsForward, "forwarded")
			if fw == nil {
				return false
			}
			inner := fw.Child(nsClient, "message")
			if inner == nil || !chatStateOnly(inner) {
				return false
			}
			state = true
		default:
			return false
		}
	}
	return state
}
