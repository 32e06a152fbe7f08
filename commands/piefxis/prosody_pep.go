package piefxis

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"strings"

	"github.com/xmppgate/xmppgate/xmlel"
)

// Prosody 0.12 as Debian ships it (modules vcard4 and vcard_legacy) keeps
// no vcard-temp: a client's vCard set is turned into the PEP nodes
// urn:xmpp:vcard4 (plus the avatar nodes for a PHOTO), and an old vcard
// store is moved there at the user's next login. Those nodes live in the
// archive stores pep_<node>/<user>.list. vcardFromPEP builds the vcard-temp
// element mod_vcard_legacy answers for them, so what a client saw before
// the migration is what it gets after.

const (
	nsVCard4       = "urn:ietf:params:xml:ns:vcard-4.0"
	nsVCardTemp    = "vcard-temp"
	nodeVCard4     = "urn:xmpp:vcard4"
	nodeNick       = "http://jabber.org/protocol/nick"
	nodeAvatarMeta = "urn:xmpp:avatar:metadata"
	nodeAvatarData = "urn:xmpp:avatar:data"
)

// pepItems reads the user's items of a PEP node (oldest first) with their
// item ids; no store is none.
func pepItems(fsys fs.FS, dir, node, file string) (ids []string, items []*xmlel.Element, err error) {
	store := "pep_" + strings.ReplaceAll(url.PathEscape(node), ":", "%3a")
	b, err := fs.ReadFile(fsys, path.Join(dir, store, file+".list"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, prosodyErr(err)
	}
	list, err := ParseItems(string(b))
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", store, err)
	}
	for _, it := range list {
		t, ok := it.(Table)
		if !ok {
			return nil, nil, fmt.Errorf("%s: %w", store, errNotTable)
		}
		el, err := stanza(t, "")
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", store, err)
		}
		ids, items = append(ids, t.String("key")), append(items, el)
	}
	return ids, items, nil
}

// lastPEP is a node's latest item (nil if none).
func lastPEP(fsys fs.FS, dir, node, file string) (*xmlel.Element, error) {
	_, items, err := pepItems(fsys, dir, node, file)
	if err != nil || len(items) == 0 {
		return nil, err
	}
	return items[len(items)-1], nil
}

// vcard4Text maps the vCard 4 properties mod_vcard_legacy carries over as
// plain text to their vcard-temp name and the vCard 4 value element.
var vcard4Text = map[string]string{
	"nickname": "text", "title": "text", "role": "text", "categories": "text", "note": "text",
	"url": "uri", "bday": "date",
}

// vcardFromPEP is the user's vcard-temp made from the PEP nodes, or nil when
// there is nothing to make one of.
func vcardFromPEP(fsys fs.FS, dir, file string) (*xmlel.Element, error) {
	v4, err := lastPEP(fsys, dir, nodeVCard4, file)
	if err != nil {
		return nil, err
	}
	meta, err := lastPEP(fsys, dir, nodeAvatarMeta, file)
	if err != nil {
		return nil, err
	}
	var nick string
	if v4 == nil {
		n, err := lastPEP(fsys, dir, nodeNick, file)
		if err != nil {
			return nil, err
		}
		if n != nil {
			nick = n.InnerText()
		}
	}
	if v4 == nil && meta == nil && nick == "" {
		return nil, nil
	}
	out := xmlel.New(nsVCardTemp, "vCard")
	text := func(parent *xmlel.Element, name, value string) {
		if value != "" {
			parent.Text(nsVCardTemp, name, value)
		}
	}
	if nick != "" {
		text(out, "NICKNAME", nick)
	}
	if v4 != nil {
		for _, p := range v4.Elements() {
			value := func(name string) string { return p.ChildText("", name) }
			kind := func(parent *xmlel.Element) {
				if at := childAt(p, "parameters", "type", "text"); at != nil {
					switch at.InnerText() {
					case "home":
						parent.Add(xmlel.New(nsVCardTemp, "HOME"))
					case "work":
						parent.Add(xmlel.New(nsVCardTemp, "WORK"))
					}
				}
			}
			switch name := p.Name.Local; name {
			case "fn":
				text(out, "FN", value("text"))
			case "n":
				n := xmlel.New(nsVCardTemp, "N")
				for _, f := range [][2]string{{"FAMILY", "surname"}, {"GIVEN", "given"}, {"MIDDLE", "additional"}, {"PREFIX", "prefix"}, {"SUFFIX", "suffix"}} {
					text(n, f[0], value(f[1]))
				}
				out.Add(n)
			case "email":
				if v := value("text"); v != "" {
					e := xmlel.New(nsVCardTemp, "EMAIL").Text(nsVCardTemp, "USERID", v).Add(xmlel.New(nsVCardTemp, "INTERNET"))
					kind(e)
					out.Add(e)
				}
			case "tel":
				if v := strings.TrimPrefix(value("uri"), "tel:"); v != "" {
					e := xmlel.New(nsVCardTemp, "TEL").Text(nsVCardTemp, "NUMBER", v)
					kind(e)
					out.Add(e)
				}
			case "adr":
				a := xmlel.New(nsVCardTemp, "ADR")
				for _, f := range [][2]string{{"POBOX", "pobox"}, {"EXTADD", "ext"}, {"STREET", "street"}, {"LOCALITY", "locality"},
					{"REGION", "region"}, {"PCODE", "code"}, {"CTRY", "country"}} {
					text(a, f[0], value(f[1]))
				}
				kind(a)
				out.Add(a)
			case "impp":
				if v, ok := strings.CutPrefix(value("uri"), "xmpp:"); ok {
					text(out, "JABBERID", v)
				}
			case "org":
				out.Add(xmlel.New(nsVCardTemp, "ORG").Text(nsVCardTemp, "ORGNAME", value("text")))
			default:
				if child, ok := vcard4Text[name]; ok {
					text(out, strings.ToUpper(name), value(child))
				}
			}
		}
	}
	if info := childAt(meta, "info"); info != nil {
		photo := xmlel.New(nsVCardTemp, "PHOTO")
		text(photo, "TYPE", info.Get("type"))
		if u := info.Get("url"); u != "" {
			text(photo, "EXTVAL", u)
		} else if id := info.Get("id"); id != "" {
			ids, data, err := pepItems(fsys, dir, nodeAvatarData, file)
			if err != nil {
				return nil, err
			}
			for i := range ids {
				if ids[i] == id {
					text(photo, "BINVAL", data[i].InnerText())
				}
			}
		}
		out.Add(photo)
	}
	return out, nil
}

// childAt follows child names from e (nil-safe); nil if one is missing.
func childAt(e *xmlel.Element, path ...string) *xmlel.Element {
	for _, name := range path {
		if e == nil {
			return nil
		}
		e = e.Child("", name)
	}
	return e
}
