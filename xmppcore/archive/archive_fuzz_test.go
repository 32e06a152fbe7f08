package archive

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/xmlel"
)

// querySeeds are the MAM queries of the archive tests (xmppcore's
// archive_test.go) and the RSM and form corners around them.
var querySeeds = []string{
	`<query xmlns='urn:xmpp:mam:2' queryid='all'/>`,
	`<query xmlns='urn:xmpp:mam:1'><set xmlns='http://jabber.org/protocol/rsm'><max>2</max><after>17</after></set></query>`,
	`<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><max>2</max><before/></set><flip-page/></query>`,
	`<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><max>999</max><before>5</before></set></query>`,
	`<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><max>-1</max></set></query>`,
	`<query xmlns='urn:xmpp:mam:2'><set xmlns='http://jabber.org/protocol/rsm'><index>3</index></set></query>`,
	`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='with'><value>bob@example.test</value></field></x></query>`,
	`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='with'><value> Carol@Example.test/r </value></field><field var='start'><value>2010-06-07T00:00:00Z</value></field><field var='end'><value>2010-07-07T13:23:54.5+02:00</value></field></x></query>`,
	`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='after-id'><value>1</value></field><field var='before-id'><value>9223372036854775807</value></field><field var='ids'><value>3</value><value>x</value><value/></field></x></query>`,
	`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='colour'><value>red</value></field></x></query>`,
	`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x></query>`,
	`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='submit'><field var='with'><value>@@</value></field></x></query>`,
	`<query xmlns='urn:xmpp:mam:2' node='n'/>`,
	`<query xmlns='urn:xmpp:mam:2'><x xmlns='jabber:x:data' type='form'/></query>`,
}

// queryElement is q as a client would send it: a form with every filter
// set and the RSM set.
func queryElement(q Query) *xmlel.Element {
	el := xmlel.New(q.NS, "query", "queryid", q.QueryID)
	x := xmlel.New(NSData, "x", "type", "submit")
	field := func(name string, vals ...string) {
		f := xmlel.New(NSData, "field", "var", name)
		for _, v := range vals {
			f.Text(NSData, "value", v)
		}
		x.Add(f)
	}
	field("FORM_TYPE", q.NS)
	if q.With != "" {
		w := q.With
		if q.WithResource != "" {
			w += "/" + q.WithResource
		}
		field("with", w)
	}
	if !q.Start.IsZero() {
		field("start", q.Start.Format(time.RFC3339Nano))
	}
	if !q.End.IsZero() {
		field("end", q.End.Format(time.RFC3339Nano))
	}
	if q.AfterID != "" {
		field("after-id", q.AfterID)
	}
	if q.BeforeID != "" {
		field("before-id", q.BeforeID)
	}
	if q.IDs != nil {
		field("ids", q.IDs...)
	}
	set := xmlel.New(NSRSM, "set").Text(NSRSM, "max", strconv.Itoa(q.Max))
	if q.After != "" {
		set.Text(NSRSM, "after", q.After)
	}
	if q.Before != "" || q.LastPage {
		set.Add(xmlel.New(NSRSM, "before").Add(q.Before))
	}
	el.Add(x, set)
	if q.FlipPage {
		el.Add(xmlel.New(q.NS, "flip-page"))
	}
	return el
}

// FuzzParseQuery: any <query/> is refused with ErrBadRequest or read into
// a query within the limits (max at most MaxMax, at most MaxIDs ids, a
// bare with that is a fixed point of JID parsing, ID bounds that parse);
// the query written back as a client would send it reads the same, and
// its Bounds hold exactly the IDs its filters allow.
func FuzzParseQuery(f *testing.F) {
	for _, s := range querySeeds {
		f.Add([]byte(s), int64(1276300800000000))
	}
	f.Fuzz(func(t *testing.T, raw []byte, probe int64) {
		el, err := xmlel.Parse(raw)
		if err != nil || (el.Name.Space != NS1 && el.Name.Space != NS2) {
			return // the server hands ParseQuery these namespaces alone
		}
		q, err := ParseQuery(el)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if q.NS != el.Name.Space || q.Max < 0 || q.Max > MaxMax || len(q.IDs) > MaxIDs {
			t.Fatalf("out of limits: %+v", q)
		}
		if q.With != "" {
			j, err := jid.Parse(q.With)
			if err != nil || j.Resourcepart() != "" || j.String() != q.With {
				t.Fatalf("with %q is not a bare JID fixed point: %v", q.With, err)
			}
		} else if q.WithResource != "" {
			t.Fatalf("a resource without a JID: %+v", q)
		}
		for _, v := range []string{q.AfterID, q.BeforeID} {
			if _, ok := ParseID(v); v != "" && !ok {
				t.Fatalf("ID bound %q kept though it does not parse", v)
			}
		}
		if q.LastPage && q.Before != "" {
			t.Fatalf("last page with a before: %+v", q)
		}

		again, err := ParseQuery(roundTrip(t, queryElement(q)))
		if err != nil {
			t.Fatalf("%s: %v", queryElement(q), err)
		}
		if !sameQuery(q, again) {
			t.Fatalf("written back as %s, read as %+v, was %+v", queryElement(q), again, q)
		}

		lo, hi := q.Bounds()
		if lo < 1 {
			t.Fatalf("lower bound %d", lo)
		}
		for _, id := range []int64{probe, lo, hi, lo - 1, hi + 1, 1, math.MaxInt64} {
			if id < 1 {
				continue
			}
			want := allows(q, id)
			if got := lo <= id && id <= hi; got != want {
				t.Fatalf("id %d: in [%d, %d] is %v, the filters say %v (%+v)", id, lo, hi, got, want, q)
			}
		}
	})
}

// allows is the filters' meaning for one ID, written independently of
// Bounds: archived at or after start, at or before end, after after-id,
// before before-id.
func allows(q Query, id int64) bool {
	at := TimeOf(id) // IDs count microseconds: a bound inside one counts from its start
	if !q.Start.IsZero() && at.Before(q.Start.Truncate(time.Microsecond)) {
		return false
	}
	if !q.End.IsZero() && at.After(q.End) {
		return false
	}
	if a, ok := ParseID(q.AfterID); ok && id <= a {
		return false
	}
	if b, ok := ParseID(q.BeforeID); ok && id >= b {
		return false
	}
	return true
}

func sameQuery(a, b Query) bool {
	return a.NS == b.NS && a.QueryID == b.QueryID && a.With == b.With && a.WithResource == b.WithResource &&
		a.Start.Equal(b.Start) && a.End.Equal(b.End) && a.AfterID == b.AfterID && a.BeforeID == b.BeforeID &&
		slices.Equal(a.IDs, b.IDs) && (a.IDs == nil) == (b.IDs == nil) && a.Max == b.Max &&
		a.After == b.After && a.Before == b.Before && a.LastPage == b.LastPage && a.FlipPage == b.FlipPage
}

// roundTrip serialises el and parses it again, as the element would travel.
func roundTrip(t *testing.T, el *xmlel.Element) *xmlel.Element {
	t.Helper()
	again, err := xmlel.Parse(el.Bytes(""))
	if err != nil {
		t.Fatalf("%q is not well-formed: %v", el.Bytes(""), err)
	}
	return again
}

// FuzzParsePrefs: any <prefs/> is refused with ErrBadRequest or read into
// preferences with a known default, listed JIDs that are fixed points of
// JID parsing and not repeated, at most 1000; the answer element reads
// back the same, and Decide gives never precedence over always.
func FuzzParsePrefs(f *testing.F) {
	for _, s := range []string{
		`<prefs xmlns='urn:xmpp:mam:2' default='roster'><always><jid>bob@example.test</jid></always><never/></prefs>`,
		`<prefs xmlns='urn:xmpp:mam:2' default='always'><always><jid>a@b</jid><jid>A@B</jid></always><never><jid>a@b</jid><jid>c@d/r</jid></never></prefs>`,
		`<prefs xmlns='urn:xmpp:mam:1' default='never'><never><jid>example.test</jid></never></prefs>`,
		`<prefs xmlns='urn:xmpp:mam:2' default='sometimes'/>`,
		`<prefs xmlns='urn:xmpp:mam:2' default='always'><always><jid/></always></prefs>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		el, err := xmlel.Parse(raw)
		if err != nil {
			return
		}
		p, err := ParsePrefs(el)
		if err != nil {
			if !errors.Is(err, ErrBadRequest) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(p.Always)+len(p.Never) > 1000 {
			t.Fatalf("%d JIDs kept", len(p.Always)+len(p.Never))
		}
		for _, list := range [][]string{p.Always, p.Never} {
			for i, s := range list {
				j, err := jid.Parse(s)
				if err != nil || j.String() != s || slices.Index(list, s) != i {
					t.Fatalf("%q: not a JID fixed point or repeated (%v)", s, err)
				}
			}
		}
		again, err := ParsePrefs(roundTrip(t, p.Element(el.Name.Space)))
		if err != nil || again.Default != p.Default || !slices.Equal(again.Always, p.Always) || !slices.Equal(again.Never, p.Never) {
			t.Fatalf("answer %s reads back as %+v (%v), was %+v", p.Element(el.Name.Space), again, err, p)
		}
		for _, s := range p.Never {
			if p.Decide(s, s) != Skip {
				t.Fatalf("%q is in never but Decide archives", s)
			}
		}
		for _, s := range p.Always {
			if !slices.Contains(p.Never, s) && p.Decide(s, s) != Archive {
				t.Fatalf("%q is in always but Decide does not archive", s)
			}
		}
	})
}
