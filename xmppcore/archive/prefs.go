package archive

import (
	"slices"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/xmlel"
)

// Prefs are a user's archiving preferences (XEP-0313 7).
type Prefs struct {
	Default       string // "always", "never" or "roster"
	Always, Never []string
}

// DefaultPrefs archive everything: the server's policy for users who never
// set theirs (Prosody's default_archive_policy = true, ejabberd's
// default: always as the peers run).
var DefaultPrefs = Prefs{Default: "always"}

// ParsePrefs reads a <prefs/> set by a client.
func ParsePrefs(p *xmlel.Element) (Prefs, error) {
	out := Prefs{Default: p.Get("default")}
	switch out.Default {
	case "always", "never", "roster":
	default:
		return out, ErrBadRequest
	}
	list := func(name string) ([]string, error) {
		el := p.Child(p.Name.Space, name)
		if el == nil {
			return nil, nil
		}
		var js []string
		for _, j := range el.Elements() {
			if j.Name.Local != "jid" {
				continue
			}
			parsed, err := jid.Parse(j.InnerText())
			if err != nil || j.InnerText() == "" {
				return nil, ErrBadRequest
			}
			if s := parsed.String(); !slices.Contains(js, s) {
				js = append(js, s)
			}
		}
		return js, nil
	}
	var err error
	if out.Always, err = list("always"); err != nil {
		return out, err
	}
	if out.Never, err = list("never"); err != nil {
		return out, err
	}
	if len(out.Always)+len(out.Never) > 1000 {
		return out, ErrBadRequest
	}
	return out, nil
}

// Element is the <prefs/> answering a get or a set.
func (p Prefs) Element(ns string) *xmlel.Element {
	el := xmlel.New(ns, "prefs", "default", p.Default)
	always, never := xmlel.New(ns, "always"), xmlel.New(ns, "never")
	for _, j := range p.Always {
		always.Text(ns, "jid", j)
	}
	for _, j := range p.Never {
		never.Text(ns, "jid", j)
	}
	return el.Add(always, never)
}

// Decision is what preferences say about one correspondent.
type Decision uint8

const (
	Archive Decision = iota
	Skip
	// AskRoster: archive only if the correspondent is in the roster.
	AskRoster
)

// Decide applies p to a message exchanged with peer: a JID listed in never
// wins over always, a listed bare JID covers its resources (XEP-0313 7).
func (p Prefs) Decide(peerBare, peerFull string) Decision {
	in := func(list []string) bool {
		for _, j := range list {
			if j == peerBare || j == peerFull {
				return true
			}
		}
		return false
	}
	switch {
	case len(p.Never) > 0 && in(p.Never):
		return Skip
	case len(p.Always) > 0 && in(p.Always):
		return Archive
	}
	switch p.Default {
	case "never":
		return Skip
	case "roster":
		return AskRoster
	}
	return Archive
}
