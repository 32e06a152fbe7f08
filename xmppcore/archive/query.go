// Package archive implements the protocol side of XEP-0313 Message Archive
// Management: the query form and its XEP-0059 paging, preferences, the
// result and fin shapes, archive IDs, and the batching writer that keeps
// archive writes off the delivery path. xmppcore glues it to sessions.
package archive

import (
	"errors"
	"math"
	"strconv"
	"strings"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/xmlel"
)

// Namespaces.
const (
	NS1      = "urn:xmpp:mam:1"
	NS2      = "urn:xmpp:mam:2"
	Extended = "urn:xmpp:mam:2#extended"
	NSSID    = "urn:xmpp:sid:0"
	NSRSM    = "http://jabber.org/protocol/rsm"
	NSData   = "jabber:x:data"
	NSDelay  = "urn:xmpp:delay"
	NSFwd    = "urn:xmpp:forward:0"
)

// Page sizes: a query without <max/> gets DefaultMax results, and a larger
// max is lowered to MaxMax (as ejabberd and Prosody clamp, not refuse).
const (
	DefaultMax = 50
	MaxMax     = 250
	// MaxIDs bounds the extended ids field.
	MaxIDs = 250
)

// ErrBadRequest: the query is malformed (unknown field, bad value, bad RSM).
var ErrBadRequest = errors.New("archive: bad request")

// Query is a parsed <query/>: the filters of its form and its RSM set.
type Query struct {
	NS      string
	QueryID string
	// With filters by correspondent: its bare JID, and its resource when
	// the form gave a full JID.
	With, WithResource string
	// Start and End bound the archiving time, inclusive (zero: open).
	Start, End time.Time
	// AfterID and BeforeID are the extended form's exclusive ID bounds.
	AfterID, BeforeID string
	// IDs is the extended form's ids field (nil: not given).
	IDs []string
	// Max is the page size; After and Before the RSM bounds. LastPage is
	// an empty <before/>: the last page of the result set.
	Max           int
	After, Before string
	LastPage      bool
	// FlipPage reverses the order of the page (extended).
	FlipPage bool
}

// ParseQuery reads a <query/> of namespace NS1 or NS2.
func ParseQuery(q *xmlel.Element) (Query, error) {
	out := Query{NS: q.Name.Space, QueryID: q.Get("queryid"), Max: DefaultMax}
	if q.Get("node") != "" {
		return out, ErrBadRequest
	}
	if x := q.Child(NSData, "x"); x != nil {
		if err := out.parseForm(x); err != nil {
			return out, err
		}
	}
	if set := q.Child(NSRSM, "set"); set != nil {
		if err := out.parseRSM(set); err != nil {
			return out, err
		}
	}
	if q.Child(out.NS, "flip-page") != nil {
		out.FlipPage = true
	}
	return out, nil
}

func (out *Query) parseForm(x *xmlel.Element) error {
	if t := x.Get("type"); t != "submit" && t != "" {
		return ErrBadRequest
	}
	for _, f := range x.Elements() {
		if f.Name.Local != "field" {
			continue
		}
		var vals []string
		for _, v := range f.Elements() {
			if v.Name.Local == "value" {
				vals = append(vals, strings.TrimSpace(v.InnerText()))
			}
		}
		name := f.Get("var")
		one := func() (string, error) {
			if len(vals) > 1 {
				return "", ErrBadRequest
			}
			if len(vals) == 0 {
				return "", nil
			}
			return vals[0], nil
		}
		v, err := one()
		if name == "ids" {
			err = nil
		}
		if err != nil {
			return err
		}
		switch name {
		case "FORM_TYPE":
			if v != out.NS {
				return ErrBadRequest
			}
		case "with":
			if v == "" {
				continue
			}
			j, err := jid.Parse(v)
			if err != nil {
				return ErrBadRequest
			}
			out.With, out.WithResource = j.Bare().String(), j.Resourcepart()
		case "start", "end":
			if v == "" {
				continue
			}
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return ErrBadRequest
			}
			if name == "start" {
				out.Start = t
			} else {
				out.End = t
			}
		case "after-id", "before-id":
			if v == "" {
				continue
			}
			if _, ok := ParseID(v); !ok {
				return ErrBadRequest
			}
			if name == "after-id" {
				out.AfterID = v
			} else {
				out.BeforeID = v
			}
		case "ids":
			if len(vals) > MaxIDs {
				return ErrBadRequest
			}
			out.IDs = append([]string{}, vals...)
		default:
			return ErrBadRequest
		}
	}
	return nil
}

func (out *Query) parseRSM(set *xmlel.Element) error {
	for _, e := range set.Elements() {
		v := strings.TrimSpace(e.InnerText())
		switch e.Name.Local {
		case "max":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return ErrBadRequest
			}
			out.Max = min(n, MaxMax)
		case "after":
			if v == "" {
				return ErrBadRequest
			}
			out.After = v
		case "before":
			if v == "" {
				out.LastPage = true
			}
			out.Before = v
		case "index":
			return ErrBadRequest // XEP-0313 does not require it, nor do we take it
		}
	}
	return nil
}

// Bounds is the range of archive IDs the query's start, end, after-id and
// before-id allow, inclusive: lo is at least 1, and lo > hi when none is.
// The exclusive ID bounds saturate, so after-id 9223372036854775807 leaves
// nothing rather than wrapping to everything.
func (q Query) Bounds() (lo, hi int64) {
	lo, hi = 1, math.MaxInt64
	if !q.Start.IsZero() {
		lo = max(lo, q.Start.UnixMicro())
	}
	if !q.End.IsZero() {
		hi = min(hi, q.End.UnixMicro())
	}
	if id, ok := ParseID(q.AfterID); ok {
		if id == math.MaxInt64 {
			return math.MaxInt64, 0
		}
		lo = max(lo, id+1)
	}
	if id, ok := ParseID(q.BeforeID); ok {
		hi = min(hi, id-1)
	}
	return lo, hi
}

// ArchiveIDs are the query's XEP-0313 <ids/> as archive IDs, nil when it
// names none (an ID that cannot be one is left out: it matches nothing).
func (q Query) ArchiveIDs() []int64 {
	if q.IDs == nil {
		return nil
	}
	out := []int64{}
	for _, v := range q.IDs {
		if id, ok := ParseID(v); ok {
			out = append(out, id)
		}
	}
	return out
}

// FormatID is how an archive ID is shown to clients.
func FormatID(id int64) string { return strconv.FormatInt(id, 10) }

// ParseID reads an archive ID a client sent back.
func ParseID(s string) (int64, bool) {
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil && id > 0
}

// TimeOf is when the row of an ID was archived.
func TimeOf(id int64) time.Time { return time.UnixMicro(id).UTC() }

// Stamp is the XEP-0082 form of an ID's time, for <delay stamp/>.
func Stamp(id int64) string { return TimeOf(id).Format("2006-01-02T15:04:05.000000Z") }

// Form is the query form a client discovers with an IQ get (XEP-0313 6).
func Form(ns string) *xmlel.Element {
	x := xmlel.New(NSData, "x", "type", "form")
	x.Add(xmlel.New(NSData, "field", "var", "FORM_TYPE", "type", "hidden").Text(NSData, "value", ns))
	x.Add(xmlel.New(NSData, "field", "var", "with", "type", "jid-single"))
	x.Add(xmlel.New(NSData, "field", "var", "start", "type", "text-single"))
	x.Add(xmlel.New(NSData, "field", "var", "end", "type", "text-single"))
	if ns == NS2 {
		x.Add(xmlel.New(NSData, "field", "var", "before-id", "type", "text-single"))
		x.Add(xmlel.New(NSData, "field", "var", "after-id", "type", "text-single"))
		x.Add(xmlel.New(NSData, "field", "var", "ids", "type", "text-multi"))
	}
	return xmlel.New(ns, "query").Add(x)
}

// Fin is the <fin/> of a finished query.
func Fin(ns string, complete bool, first, last int64) *xmlel.Element {
	fin := xmlel.New(ns, "fin")
	if complete {
		fin.Set("complete", "true")
	}
	set := xmlel.New(NSRSM, "set")
	if first != 0 {
		set.Text(NSRSM, "first", FormatID(first)).Text(NSRSM, "last", FormatID(last))
	}
	return fin.Add(set)
}
