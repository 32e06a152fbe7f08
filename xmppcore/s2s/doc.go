// Package s2s implements RFC 6120 server-to-server streams with XEP-0220
// Server Dialback (keys per XEP-0185), STARTTLS required on every stream.
//
// It holds the protocol pieces only: the stream header and dialback element
// parsers, the dialback key, the resolution of a remote domain to connection
// targets (static routes, DNS SRV, A/AAAA fallback), and the negotiation of
// incoming and outgoing streams. Routing stanzas, pooling connections and the
// per-domain policy are the embedding server's (xmppcore/s2s*.go), reached
// through the Host interface.
//
// Written by hand: mellium.im/xmpp offers dialing and SRV lookup for s2s but
// no dialback and no server side of a server stream.
package s2s

// Namespaces of server streams.
const (
	NSServer          = "jabber:server"
	NSDialback        = "jabber:server:dialback"
	NSDialbackFeature = "urn:xmpp:features:dialback"
	NSStream          = "http://etherx.jabber.org/streams"
	NSTLS             = "urn:ietf:params:xml:ns:xmpp-tls"
	NSSASL            = "urn:ietf:params:xml:ns:xmpp-sasl"
	NSStreams         = "urn:ietf:params:xml:ns:xmpp-streams"
	NSStanzas         = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSBidiFeature     = "urn:xmpp:features:bidi"
	NSBidi            = "urn:xmpp:bidi"
)
