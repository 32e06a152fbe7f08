package xmppcore

import (
	"hash/maphash"
	"sync/atomic"

	"mellium.im/xmpp/jid"
)

// A session mostly addresses the same few JIDs over and over, and
// jid.Parse (PRECIS profiles, IDNA for the domain) was a tenth of the
// server's CPU per 1:1 message. jidCache remembers recent parses: a fixed
// table of slots picked by hash, each the last JID parsed there, shared by
// every session and bounded in size whatever the traffic. A jid.JID is
// never changed once made, so one may be handed to any goroutine.
type jidEntry struct {
	raw string
	j   jid.JID
	s   string // j.String()
}

const jidSlots = 4096

var (
	jidCache [jidSlots]atomic.Pointer[jidEntry]
	jidSeed  = maphash.MakeSeed()
)

// parseJID is jid.Parse through jidCache; s is the JID's normal form.
func parseJID(raw string) (j jid.JID, s string, err error) {
	slot := &jidCache[maphash.String(jidSeed, raw)%jidSlots]
	if e := slot.Load(); e != nil && e.raw == raw {
		return e.j, e.s, nil
	}
	if j, err = jid.Parse(raw); err != nil {
		return j, "", err
	}
	e := &jidEntry{raw: raw, j: j, s: j.String()}
	slot.Store(e)
	return e.j, e.s, nil
}
