package commands

import (
	"context"
	"errors"

	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/pubsub"
)

// The vcard family (mod_admin_extra over mod_vcard). vCards are
// the vcard-temp (XEP-0054) elements the XMPP server keeps in table vcards
// and serves to clients: they are read and written with the same element
// tree (xmlel) the server uses, so what a command sets is what a client's
// vCard get returns and the other way round. Writes go through the queue:
// the change carries the edit, not the result, and the worker applies it
// to the vCard as it is then, so concurrent edits of different fields do
// not undo each other.

// vcardDefs is the vcard family.
var vcardDefs = []*Def{GetVcard, GetVcard2, GetVcard2Multi, SetVcard, SetVcard2, SetVcard2Multi, SetNickname}

const nsVcardTemp = "vcard-temp"

// maxVcard bounds a stored vCard, as the XMPP server bounds a client's.
const maxVcard = 64 << 10

// Reasons of the vcard family; Msg is ejabberd's text.
const (
	ReasonNoVcard      Reason = "no_vcard"       // the user has no vCard
	ReasonNoVcardValue Reason = "no_vcard_value" // the vCard lacks the field
)

var (
	errNoVcard      = Errorf(Invalid, ReasonNoVcard, "", "error_no_vcard_found")
	errNoVcardValue = Errorf(Invalid, ReasonNoVcardValue, "", "error_no_value_found_in_vcard")
)

var (
	argVcardName = Arg{Name: "field", Type: String, Names: map[Dialect]string{Ejabberd: "name"},
		Doc: "The vCard field (element) name, e.g. FN, NICKNAME, N, TEL."}
	argVcardSub = Arg{Name: "subfield", Type: String, Names: map[Dialect]string{Ejabberd: "subname"},
		Doc: "The subfield name, e.g. FAMILY in N; for TEL the type (HOME, WORK, CELL...) whose NUMBER is meant."}
	argVcardContent = Arg{Name: "content", Type: String, Optional: true,
		Doc: "The value; absent or empty: an empty field."}
	argVcardContents = Arg{Name: "contents", Type: List,
		Doc: "The values, one subfield each (a JSON array of strings)."}
)

// vcardEdit is the change record of the vcard writes: either one field
// path set to contents, or (Replace) the whole vCard replaced by one with
// only a NICKNAME.
type vcardEdit struct {
	userRef
	Path     []string `json:"path,omitempty"`
	Contents []string `json:"contents,omitempty"`
	Nickname *string  `json:"nickname,omitempty"`
}

// validName reports whether s can be an element name of ours: vCard
// fields are ASCII names, and anything else would make the stored XML
// unreadable.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '_' || i > 0 && (c >= '0' && c <= '9' || c == '-' || c == '.')) {
			return false
		}
	}
	return true
}

// vcardOf parses the user's stored vCard; ok is false if it has none.
func vcardOf(ctx context.Context, r store.Reader, userID int64) (v *xmlel.Element, ok bool, err error) {
	b, err := r.VCard(ctx, userID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	v, err = xmlel.Parse(b)
	if err != nil {
		return nil, false, err
	}
	return v, true, nil
}

// named returns the child elements of e called local, in any namespace
// (as fxml's get_subtag matches).
func named(e *xmlel.Element, local string) []*xmlel.Element {
	var out []*xmlel.Element
	for _, c := range e.Elements() {
		if c.Name.Local == local {
			out = append(out, c)
		}
	}
	return out
}

// vcardValues returns the texts at path in v: [name] the first such
// field; [TEL, type] the NUMBER of each TEL marked type; [name, sub] the
// first sub of the first name, or, with all, every sub of every name.
func vcardValues(v *xmlel.Element, path []string, all bool) []string {
	var out []string
	switch {
	case len(path) == 1:
		if f := named(v, path[0]); len(f) > 0 {
			out = append(out, f[0].InnerText())
		}
	case path[0] == "TEL":
		for _, tel := range named(v, "TEL") {
			if len(named(tel, path[1])) > 0 {
				if n := named(tel, "NUMBER"); len(n) > 0 {
					out = append(out, n[0].InnerText())
				}
			}
		}
		if !all && len(out) > 1 {
			out = out[len(out)-1:] // ejabberd keeps the last TEL of the type
		}
	default:
		for _, f := range named(v, path[0]) {
			for _, s := range named(f, path[1]) {
				out = append(out, s.InnerText())
				if !all {
					return out
				}
			}
			if !all {
				return out
			}
		}
	}
	return out
}

// replaceNamed replaces the children of parent picked by drop with add,
// at the place of the first one dropped (at the end if none was).
func replaceNamed(parent *xmlel.Element, drop func(*xmlel.Element) bool, add []*xmlel.Element) {
	var kids []any
	placed := false
	for _, c := range parent.Children {
		if el, ok := c.(*xmlel.Element); ok && drop(el) {
			if !placed {
				for _, a := range add {
					kids = append(kids, a)
				}
				placed = true
			}
			continue
		}
		kids = append(kids, c)
	}
	if !placed {
		for _, a := range add {
			kids = append(kids, a)
		}
	}
	parent.Children = kids
}

// editVcard applies a field edit as ejabberd's set_vcard does: [name]
// replaces the first such field with one field per content; [TEL, type]
// replaces the TELs of that type with one holding the NUMBER; [name, sub]
// replaces the subfields sub of the first field name (created if absent).
func editVcard(v *xmlel.Element, path, contents []string) {
	ns := v.Name.Space
	text := func(local, s string) *xmlel.Element { return xmlel.New(ns, local).Add(s) }
	first := func(local string) func(*xmlel.Element) bool {
		done := false
		return func(e *xmlel.Element) bool {
			if done || e.Name.Local != local {
				return false
			}
			done = true
			return true
		}
	}
	switch {
	case len(path) == 1:
		var add []*xmlel.Element
		for _, s := range contents {
			add = append(add, text(path[0], s))
		}
		replaceNamed(v, first(path[0]), add)
	case path[0] == "TEL" && len(contents) == 1:
		tel := xmlel.New(ns, "TEL").Add(xmlel.New(ns, path[1]), text("NUMBER", contents[0]))
		replaceNamed(v, func(e *xmlel.Element) bool { return e.Name.Local == "TEL" && len(named(e, path[1])) > 0 },
			[]*xmlel.Element{tel})
	default:
		field := xmlel.New(ns, path[0])
		if old := named(v, path[0]); len(old) > 0 {
			field = old[0].Copy()
		}
		var add []*xmlel.Element
		for _, s := range contents {
			add = append(add, text(path[1], s))
		}
		replaceNamed(field, func(e *xmlel.Element) bool { return e.Name.Local == path[1] }, add)
		replaceNamed(v, first(path[0]), []*xmlel.Element{field})
	}
}

// vcardGet answers get_vcard, get_vcard2 and get_vcard2_multi.
func vcardGet(ctx context.Context, c *Call, path []string, all bool) ([]string, error) {
	for _, p := range path {
		if p == "" {
			return nil, errNoVcardValue
		}
	}
	u, found, err := existing(ctx, c)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errNoVcard
	}
	v, ok, err := vcardOf(ctx, c.Env.Store.Reader, u.ID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, errNoVcard
	}
	vals := vcardValues(v, path, all)
	if len(vals) == 0 {
		return nil, errNoVcardValue
	}
	return vals, nil
}

// queueVcard checks an edit and queues it for an existing user; a user
// that does not exist answers 1 with nothing queued.
func queueVcard(ctx context.Context, c *Call, e vcardEdit) (any, error) {
	for i, p := range e.Path {
		if !validName(p) {
			arg := argVcardName.Name
			if i == 1 {
				arg = argVcardSub.Name
			}
			return nil, Errorf(Invalid, ReasonMalformed, arg, "not an XML element name")
		}
	}
	size := 0
	for _, s := range e.Contents {
		size += len(s)
	}
	if e.Nickname != nil {
		size += len(*e.Nickname)
	}
	if size > maxVcard {
		return nil, Errorf(Invalid, ReasonMalformed, "content", "longer than %d bytes", maxVcard)
	}
	return queueUserChange(ctx, c, &e)
}

// applyVcard is the worker's side of every vcard write.
func applyVcard(ctx context.Context, _ *Env, tx *store.Tx, w *queue.Work) error {
	var e vcardEdit
	if err := readUserChange(ctx, tx, w, &e); err != nil {
		return err
	}
	v := xmlel.New(nsVcardTemp, "vCard")
	if e.Nickname != nil {
		v.Add(xmlel.New(nsVcardTemp, "NICKNAME").Add(*e.Nickname))
	} else {
		old, ok, err := vcardOf(ctx, tx.Reader, w.UserID)
		if err != nil {
			return err
		}
		if ok {
			v = old
		}
		editVcard(v, e.Path, e.Contents)
	}
	b := v.Bytes("")
	if len(b) > maxVcard {
		return Errorf(Invalid, ReasonMalformed, "content", "the vCard would be longer than %d bytes", maxVcard)
	}
	if err := tx.SetVCard(ctx, w.UserID, b); err != nil {
		return err
	}
	// The PHOTO is the PEP avatar too, as the XMPP server keeps it (XEP-0398).
	_, err := pubsub.AvatarFromVCard(ctx, tx, w.UserID, e.Username+"@"+e.Domain, v)
	return err
}

const vcardGetErrors = " No vCard (or no such user): 400 \"error_no_vcard_found\"; no such field: 400 " +
	"\"error_no_value_found_in_vcard\"; a host not served here (or another account's): 400 \"error_wrong_hostname\"."

const vcardSetErrors = " Fields are read and written in the vCard the XMPP server serves (vcard-temp), applied through " +
	"the queue before the answer. A user that does not exist answers 1 (nothing is stored); a name that is not an " +
	"element name: 400 \"Invalid 'name'\"."

// GetVcard is ejabberd's get_vcard.
var GetVcard = &Def{
	Name:   "get_vcard",
	Doc:    "Answers the text of the first field name (FN, NICKNAME, BDAY, ...) of the user's vCard." + vcardGetErrors,
	Args:   []Arg{argUsername, argDomain, argVcardName},
	Result: Result{Kind: ResultString, Name: "content"},
	Names:  map[Dialect]string{Ejabberd: "get_vcard"},
	Handle: getVcard,
}

func getVcard(ctx context.Context, c *Call) (any, error) {
	v, err := vcardGet(ctx, c, []string{c.Args.String("field")}, false)
	if err != nil {
		return nil, err
	}
	return v[0], nil
}

// GetVcard2 is ejabberd's get_vcard2.
var GetVcard2 = &Def{
	Name: "get_vcard2",
	Doc: "Answers the text of subfield subname of the first field name (N FAMILY, ORG ORGUNIT, ...); for TEL, subname is " +
		"the type and the answer that TEL's NUMBER." + vcardGetErrors,
	Args:   []Arg{argUsername, argDomain, argVcardName, argVcardSub},
	Result: Result{Kind: ResultString, Name: "content"},
	Names:  map[Dialect]string{Ejabberd: "get_vcard2"},
	Handle: getVcard2,
}

func getVcard2(ctx context.Context, c *Call) (any, error) {
	v, err := vcardGet(ctx, c, []string{c.Args.String("field"), c.Args.String("subfield")}, false)
	if err != nil {
		return nil, err
	}
	return v[0], nil
}

// GetVcard2Multi is ejabberd's get_vcard2_multi.
var GetVcard2Multi = &Def{
	Name: "get_vcard2_multi",
	Doc: "Lists the texts of every subfield subname of every field name, in vCard order (ejabberd 23.01 answers only the " +
		"first; this is what its documentation promises and what set_vcard2_multi writes)." + vcardGetErrors,
	Args:   []Arg{argUsername, argDomain, argVcardName, argVcardSub},
	Result: Result{Kind: ResultList, Name: "contents"},
	Names:  map[Dialect]string{Ejabberd: "get_vcard2_multi"},
	Handle: getVcard2Multi,
}

func getVcard2Multi(ctx context.Context, c *Call) (any, error) {
	return vcardGet(ctx, c, []string{c.Args.String("field"), c.Args.String("subfield")}, true)
}

// SetVcard is ejabberd's set_vcard.
var SetVcard = &Def{
	Name: "set_vcard",
	Doc: "Sets field name of the user's vCard to content, replacing the first such field (or adding it; the vCard is " +
		"created if absent)." + vcardSetErrors,
	Args:    []Arg{argUsername, argDomain, argVcardName, argVcardContent},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "set_vcard"},
	Handle:  setVcard,
	Apply:   applyVcard,
}

func setVcard(ctx context.Context, c *Call) (any, error) {
	return queueVcard(ctx, c, vcardEdit{Path: []string{c.Args.String("field")}, Contents: []string{c.Args.String("content")}})
}

// SetVcard2 is ejabberd's set_vcard2.
var SetVcard2 = &Def{
	Name: "set_vcard2",
	Doc: "Sets subfield subname of the first field name to content, replacing the subfields of that name; for TEL, " +
		"subname is the type: every TEL of that type is replaced by one with that NUMBER." + vcardSetErrors,
	Args:    []Arg{argUsername, argDomain, argVcardName, argVcardSub, argVcardContent},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "set_vcard2"},
	Handle:  setVcard2,
	Apply:   applyVcard,
}

func setVcard2(ctx context.Context, c *Call) (any, error) {
	return queueVcard(ctx, c, vcardEdit{Path: []string{c.Args.String("field"), c.Args.String("subfield")}, Contents: []string{c.Args.String("content")}})
}

// SetVcard2Multi is ejabberd's set_vcard2_multi.
var SetVcard2Multi = &Def{
	Name: "set_vcard2_multi",
	Doc: "Sets the subfields subname of the first field name to contents, one subfield per value (an empty list: " +
		"400 \"Invalid 'contents'\", where ejabberd crashes)." + vcardSetErrors,
	Args:    []Arg{argUsername, argDomain, argVcardName, argVcardSub, argVcardContents},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "set_vcard2_multi"},
	Handle:  setVcard2Multi,
	Apply:   applyVcard,
}

func setVcard2Multi(ctx context.Context, c *Call) (any, error) {
	contents := c.Args.List("contents")
	if len(contents) == 0 {
		return nil, Errorf(Invalid, ReasonMalformed, "contents", "no values")
	}
	return queueVcard(ctx, c, vcardEdit{Path: []string{c.Args.String("field"), c.Args.String("subfield")}, Contents: contents})
}

// SetNickname is ejabberd's set_nickname.
var SetNickname = &Def{
	Name: "set_nickname",
	Doc: "Replaces the user's whole vCard with one holding only NICKNAME (as ejabberd does: the other fields are lost)." +
		" A user that does not exist answers 1 (nothing is stored).",
	Args:    []Arg{argUsername, argDomain, {Name: "nickname", Type: String, Optional: true, Doc: "The nickname; absent or empty: empty."}},
	Result:  Result{Kind: ResultToken},
	Mutates: true,
	Names:   map[Dialect]string{Ejabberd: "set_nickname"},
	Handle:  setNickname,
	Apply:   applyVcard,
}

func setNickname(ctx context.Context, c *Call) (any, error) {
	n := c.Args.String("nickname")
	return queueVcard(ctx, c, vcardEdit{Nickname: &n})
}
