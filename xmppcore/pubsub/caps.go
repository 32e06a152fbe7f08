package pubsub

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"hash"
	"slices"
	"strings"

	"github.com/xmppgate/xmppgate/xmlel"
)

// XEP-0115 Entity Capabilities: a client's presence names its disco#info by
// a hash; the +notify features in it say which PEP nodes it wants
// notifications of (XEP-0163 4.3).
const (
	NSCaps      = "http://jabber.org/protocol/caps"
	nsDiscoInfo = "http://jabber.org/protocol/disco#info"
)

// Caps is the <c/> element of a presence.
type Caps struct {
	Hash, Node, Ver string
}

// ParseCaps reads the <c/> element of presence p.
func ParseCaps(p *xmlel.Element) (Caps, bool) {
	c := p.Child(NSCaps, "c")
	if c == nil || c.Get("ver") == "" || c.Get("node") == "" {
		return Caps{}, false
	}
	return Caps{Hash: c.Get("hash"), Node: c.Get("node"), Ver: c.Get("ver")}, true
}

// Key names the feature set the caps describe. A hashed ver names it
// wherever it is seen, once verified; a legacy ver (no hash attribute,
// XEP-0115 1.3) only with the client's node.
func (c Caps) Key() string {
	if c.Hash != "" {
		return c.Hash + " " + c.Ver
	}
	return c.Node + "#" + c.Ver
}

// Hashed reports whether the ver is a hash this package can verify.
func (c Caps) Hashed() bool { return newHash(c.Hash) != nil }

func newHash(name string) hash.Hash {
	switch name {
	case "sha-1":
		return sha1.New()
	case "sha-256":
		return sha256.New()
	case "sha-512":
		return sha512.New()
	}
	return nil
}

// Verify reports whether info (a disco#info <query/>) hashes to the ver
// (XEP-0115 5.1, with the 5.4 checks that make a result unusable: duplicate
// identities or features, and malformed extended forms).
func (c Caps) Verify(info *xmlel.Element) bool {
	h := newHash(c.Hash)
	if h == nil || info == nil {
		return false
	}
	var ids, feats []string
	type form struct {
		typ    string
		fields []string
	}
	var forms []form
	for _, e := range info.Elements() {
		switch {
		case e.Name.Space == nsDiscoInfo && e.Name.Local == "identity":
			ids = append(ids, e.Get("category")+"/"+e.Get("type")+"/"+e.Lang()+"/"+e.Get("name"))
		case e.Name.Space == nsDiscoInfo && e.Name.Local == "feature":
			feats = append(feats, e.Get("var"))
		case e.Name.Space == NSData && e.Name.Local == "x":
			var f form
			typed := false
			for _, fl := range e.Elements() {
				if fl.Name.Local != "field" {
					continue
				}
				var vals []string
				for _, v := range fl.Elements() {
					if v.Name.Local == "value" {
						vals = append(vals, v.InnerText())
					}
				}
				if fl.Get("var") == "FORM_TYPE" {
					if typed || len(vals) != 1 || fl.Get("type") != "hidden" && fl.Get("type") != "" {
						return false
					}
					f.typ, typed = vals[0], true
					continue
				}
				slices.Sort(vals)
				f.fields = append(f.fields, fl.Get("var")+"<"+strings.Join(vals, "<"))
			}
			if !typed {
				continue // a form without FORM_TYPE is left out of the hash
			}
			slices.Sort(f.fields)
			forms = append(forms, f)
		}
	}
	slices.Sort(ids)
	slices.Sort(feats)
	slices.SortFunc(forms, func(a, b form) int { return strings.Compare(a.typ, b.typ) })
	if len(slices.Compact(slices.Clone(ids))) != len(ids) || len(slices.Compact(slices.Clone(feats))) != len(feats) {
		return false
	}
	for i := 1; i < len(forms); i++ {
		if forms[i].typ == forms[i-1].typ {
			return false
		}
	}
	var s strings.Builder
	for _, id := range ids {
		s.WriteString(id + "<")
	}
	for _, f := range feats {
		s.WriteString(f + "<")
	}
	for _, f := range forms {
		s.WriteString(f.typ + "<")
		for _, fl := range f.fields {
			s.WriteString(fl + "<")
		}
	}
	h.Write([]byte(s.String()))
	return base64.StdEncoding.EncodeToString(h.Sum(nil)) == c.Ver
}

// Notify is the set of nodes a client wants notifications of.
type Notify map[string]struct{}

// NotifyOf reads the +notify features of a disco#info <query/>.
func NotifyOf(info *xmlel.Element) Notify {
	n := Notify{}
	for _, e := range info.Elements() {
		if e.Name.Local == "feature" {
			if node, ok := strings.CutSuffix(e.Get("var"), "+notify"); ok && node != "" {
				n[node] = struct{}{}
			}
		}
	}
	return n
}

// Has reports whether the client wants notifications of node.
func (n Notify) Has(node string) bool {
	_, ok := n[node]
	return ok
}

// Nodes lists the nodes, sorted.
func (n Notify) Nodes() []string {
	out := make([]string, 0, len(n))
	for k := range n {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
