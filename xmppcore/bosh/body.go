// Package bosh implements the connection-manager side of XEP-0124:
// Bidirectional-streams Over Synchronous HTTP (BOSH), with the XMPP
// bindings of XEP-0206 (stream restart, stream features in the session's
// first response, stream errors as remote-stream-error).
//
// The package knows nothing of XMPP sessions: a Manager serves the HTTP
// side (ServeHTTP), and an Opener given to it starts the XMPP side of each
// new session as a Stream. The Stream receives the client's payloads in
// rid order and writes the server's with Session.Write.
//
// A session costs no goroutine of its own: on a listener made with
// Manager.Listen a held request's connection is taken from net/http for
// the wait (park.go), elsewhere net/http's goroutine holds it; the wait
// and the inactivity timeout are runtime timers (time.AfterFunc) that
// start no goroutine until they fire.
package bosh

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/xmppgate/xmppgate/xmlel"
)

// Namespaces of XEP-0124 and XEP-0206.
const (
	NS       = "http://jabber.org/protocol/httpbind"
	NSXBOSH  = "urn:xmpp:xbosh"
	nsStream = "http://etherx.jabber.org/streams"
	nsClient = "jabber:client"
	// Version is the version of XEP-0124 served; a session speaks the
	// lower of it and the client's ver.
	Version = "1.11"
)

// maxRID is the largest rid a client may use (XEP-0124 14.1: 2^53-1,
// so that clients keeping numbers as doubles count exactly).
const maxRID = 1<<53 - 1

// Condition is a terminal binding condition (XEP-0124 17.2).
type Condition string

// The terminal binding conditions of XEP-0124 17.2.
const (
	BadRequest             Condition = "bad-request"
	HostGone               Condition = "host-gone"
	HostUnknown            Condition = "host-unknown"
	ImproperAddressing     Condition = "improper-addressing"
	InternalServerError    Condition = "internal-server-error"
	ItemNotFound           Condition = "item-not-found"
	OtherRequest           Condition = "other-request"
	PolicyViolation        Condition = "policy-violation"
	RemoteConnectionFailed Condition = "remote-connection-failed"
	RemoteStreamError      Condition = "remote-stream-error"
	SeeOtherURI            Condition = "see-other-uri"
	SystemShutdown         Condition = "system-shutdown"
	UndefinedCondition     Condition = "undefined-condition"
)

// legacyStatus is the HTTP status a legacy client (one whose session
// creation request had no ver) gets instead of the condition
// (XEP-0124 17.1); 0 for the conditions that have none.
func (c Condition) legacyStatus() int {
	switch c {
	case BadRequest:
		return 400
	case PolicyViolation:
		return 403
	case ItemNotFound:
		return 404
	}
	return 0
}

// Error is a terminal binding error: the session (if any) ends, and the
// client is told the condition.
type Error struct {
	Cond Condition
	// Text says why, for logs; it is not sent.
	Text string
}

func (e *Error) Error() string {
	if e.Text == "" {
		return "bosh: " + string(e.Cond)
	}
	return "bosh: " + string(e.Cond) + ": " + e.Text
}

func errorf(c Condition, format string, args ...any) *Error {
	return &Error{Cond: c, Text: fmt.Sprintf(format, args...)}
}

// Body is a client's <body/> wrapper. Absent numeric attributes are -1
// (rid, ack: 0, which no client may send, XEP-0124 14.1).
type Body struct {
	SID, To, Route, Lang, Ver, Content, From string
	// XMPPVersion is XEP-0206's xmpp:version; Restart its xmpp:restart.
	XMPPVersion string
	Restart     bool
	RID         uint64
	Ack         uint64
	Wait, Hold  int
	Pause       int
	// Type is "terminate" for a termination request, else empty.
	Type string
	// Key and NewKey are the key sequence of XEP-0124 15.
	Key, NewKey string
	// Payload are the child elements. Children the client left in the
	// httpbind namespace (no xmlns of their own) are taken as
	// jabber:client, as XEP-0206 means them.
	Payload []*xmlel.Element
}

// empty reports whether the body carries no payload.
func (b *Body) empty() bool { return len(b.Payload) == 0 }

// Parse reads a <body/> wrapper of at most limit bytes from r. Errors are
// *Error: bad-request for anything that is not a well-formed wrapper,
// policy-violation for one larger than limit. A body whose start tag was
// read comes back with the error too (its sid names the session to end).
func Parse(r io.Reader, limit int) (*Body, error) {
	lr := &io.LimitedReader{R: r, N: int64(limit) + 1}
	d := xml.NewDecoder(lr)
	d.Strict = true
	tooLarge := func(err error) error {
		if lr.N <= 0 || errors.Is(err, xmlel.ErrTooLarge) {
			return errorf(PolicyViolation, "request larger than %d bytes", limit)
		}
		return errorf(BadRequest, "%v", err)
	}
	var start xml.StartElement
	for {
		tok, err := d.Token()
		if err != nil {
			if err == io.EOF {
				return nil, errorf(BadRequest, "no body element")
			}
			return nil, tooLarge(err)
		}
		switch t := tok.(type) {
		case xml.ProcInst:
			continue
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return nil, errorf(BadRequest, "text outside the body element")
			}
			continue
		case xml.StartElement:
			start = t
		default:
			return nil, errorf(BadRequest, "restricted XML before the body element")
		}
		break
	}
	if start.Name.Space != NS || start.Name.Local != "body" {
		return nil, errorf(BadRequest, "expected a body element in %s", NS)
	}
	b, err := attrs(start)
	if err != nil {
		return nil, err
	}
	for {
		off := d.InputOffset()
		tok, err := d.Token()
		if err != nil {
			return b, tooLarge(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			el, err := xmlel.Read(d, t, off, limit)
			if err != nil {
				return b, tooLarge(err)
			}
			clientNS(el)
			b.Payload = append(b.Payload, el)
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return b, errorf(BadRequest, "text in the body element")
			}
		case xml.EndElement:
			return b, trailer(d, lr, tooLarge)
		default:
			return b, errorf(BadRequest, "restricted XML in the body element")
		}
	}
}

// trailer allows only whitespace after </body>.
func trailer(d *xml.Decoder, lr *io.LimitedReader, tooLarge func(error) error) error {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if lr.N <= 0 {
				return tooLarge(err)
			}
			return nil
		}
		if err != nil {
			return tooLarge(err)
		}
		if t, ok := tok.(xml.CharData); !ok || len(bytes.TrimSpace(t)) != 0 {
			return errorf(BadRequest, "data after the body element")
		}
	}
}

// clientNS moves elements the client left in the wrapper's namespace to
// jabber:client; httpbind elements are never payloads.
func clientNS(el *xmlel.Element) {
	if el.Name.Space == NS {
		el.Name.Space = nsClient
	}
	for _, c := range el.Children {
		if c, ok := c.(*xmlel.Element); ok {
			clientNS(c)
		}
	}
}

func attrs(start xml.StartElement) (*Body, error) {
	b := &Body{Wait: -1, Hold: -1, Pause: -1}
	num := func(name, v string, max uint64) (uint64, error) {
		n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
		if err != nil || n > max {
			return 0, errorf(BadRequest, "bad %s %q", name, v)
		}
		return n, nil
	}
	small := func(name, v string) (int, error) {
		n, err := num(name, v, 1<<31-1)
		return int(n), err
	}
	var err error
	for _, a := range start.Attr {
		switch a.Name.Space {
		case "":
		case NSXBOSH:
			switch a.Name.Local {
			case "version":
				b.XMPPVersion = a.Value
			case "restart":
				b.Restart = a.Value == "true" || a.Value == "1"
			}
			continue
		case xmlel.XMLNS:
			if a.Name.Local == "lang" {
				b.Lang = a.Value
			}
			continue
		default:
			continue
		}
		switch a.Name.Local {
		case "sid":
			b.SID = a.Value
		case "rid":
			b.RID, err = num("rid", a.Value, maxRID)
			if err == nil && b.RID == 0 {
				err = errorf(BadRequest, "rid 0")
			}
		case "ack":
			b.Ack, err = num("ack", a.Value, maxRID)
		case "to":
			b.To = a.Value
		case "from":
			b.From = a.Value
		case "route":
			b.Route = a.Value
		case "ver":
			b.Ver = a.Value
		case "content":
			b.Content = a.Value
		case "wait":
			b.Wait, err = small("wait", a.Value)
		case "hold":
			b.Hold, err = small("hold", a.Value)
		case "pause":
			b.Pause, err = small("pause", a.Value)
		case "type":
			b.Type = a.Value
		case "key":
			b.Key = a.Value
		case "newkey":
			b.NewKey = a.Value
		}
		if err != nil {
			return nil, err
		}
	}
	if b.RID == 0 {
		return b, errorf(BadRequest, "no rid")
	}
	return b, nil
}

// attr is one attribute of a response <body/>.
type attr struct{ name, value string }

// writeBody appends a response <body/> with attrs and payload (complete
// elements, each naming its namespace). xmlns:stream is always declared:
// a payload may be <stream:features/> or <stream:error/> (XEP-0206).
func writeBody(w *bytes.Buffer, attrs []attr, payload []byte) {
	w.WriteString("<body xmlns='" + NS + "' xmlns:xmpp='" + NSXBOSH + "' xmlns:stream='" + nsStream + "'")
	for _, a := range attrs {
		if a.value == "" {
			continue
		}
		w.WriteString(" " + a.name + "='")
		xml.EscapeText(w, []byte(a.value))
		w.WriteByte('\'')
	}
	if len(payload) == 0 {
		w.WriteString("/>")
		return
	}
	w.WriteByte('>')
	w.Write(payload)
	w.WriteString("</body>")
}

// terminateBody is the response that ends a session with cond ("" for a
// plain end).
func terminateBody(cond Condition, payload []byte) []byte {
	var b bytes.Buffer
	writeBody(&b, []attr{{"type", "terminate"}, {"condition", string(cond)}}, payload)
	return b.Bytes()
}

// lowerVersion returns the lower of two "major.minor" versions (an
// unreadable one counts as ours).
func lowerVersion(a, b string) string {
	pa, oka := parseVer(a)
	pb, okb := parseVer(b)
	switch {
	case !oka:
		return b
	case !okb:
		return a
	case pa[0] < pb[0] || pa[0] == pb[0] && pa[1] < pb[1]:
		return a
	}
	return b
}

func parseVer(v string) ([2]int, bool) {
	maj, min, ok := strings.Cut(v, ".")
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	return [2]int{a, b}, ok && err1 == nil && err2 == nil && a >= 0 && b >= 0
}
