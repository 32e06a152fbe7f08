package s2s

import (
	"encoding/xml"
	"errors"
	"strings"

	"mellium.im/xmpp/jid"
)

// Header is a server stream's opening tag.
type Header struct {
	To, From, ID, Version string
	// NS is the default namespace (jabber:server for a server stream).
	NS string
	// Dialback: the header declares the jabber:server:dialback prefix.
	Dialback bool
}

// Header errors, mapped to stream errors by the caller.
var (
	ErrNotStream    = errors.New("s2s: not a stream header")
	ErrNamespace    = errors.New("s2s: not a jabber:server stream")
	ErrVersion      = errors.New("s2s: version 1.0 required")
	ErrBadAddressTo = errors.New("s2s: to is not a domain")
	ErrBadAddressFr = errors.New("s2s: from is not a domain")
)

// ParseHeader checks a stream header of a server stream; to and from, when
// present, must be bare domains.
func ParseHeader(start xml.StartElement) (Header, error) {
	var h Header
	if start.Name.Space != NSStream || start.Name.Local != "stream" {
		return h, ErrNotStream
	}
	for _, a := range start.Attr {
		switch {
		case a.Name.Space == "" && a.Name.Local == "to":
			h.To = a.Value
		case a.Name.Space == "" && a.Name.Local == "from":
			h.From = a.Value
		case a.Name.Space == "" && a.Name.Local == "id":
			h.ID = a.Value
		case a.Name.Space == "" && a.Name.Local == "version":
			h.Version = a.Value
		case a.Name.Space == "" && a.Name.Local == "xmlns":
			h.NS = a.Value
		case a.Name.Space == "xmlns" && a.Value == NSDialback:
			h.Dialback = true
		}
	}
	if h.NS != NSServer {
		return h, ErrNamespace
	}
	if major, _, _ := strings.Cut(h.Version, "."); major != "1" {
		return h, ErrVersion
	}
	if h.To != "" && !validDomain(h.To) {
		return h, ErrBadAddressTo
	}
	if h.From != "" && !validDomain(h.From) {
		return h, ErrBadAddressFr
	}
	return h, nil
}

// validDomain: a JID that is a domain only, already in its canonical form.
func validDomain(s string) bool {
	if s == "" || len(s) > 1023 {
		return false
	}
	j, err := jid.Parse(s)
	return err == nil && j.Localpart() == "" && j.Resourcepart() == "" && j.Domainpart() == s
}
