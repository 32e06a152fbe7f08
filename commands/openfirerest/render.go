package openfirerest

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/xmppgate/xmppgate/commands"
)

// xmlDecl is JAXB's declaration, first in every XML body.
const xmlDecl = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>`

// entity says how a result table is written, found by its columns.
type entity struct {
	one  string // the element of one row (XML; JSON shows one row bare)
	many string // the list element (XML)
	key  string // the list's key (JSON)
	// scalar: each row is one value written as an <one> element directly
	// in the list (the user's groups).
	scalar bool
	// list: always written as a list, also on a route that ends in a
	// variable (a user's sessions).
	list bool
	// attrs: the fields are XML attributes of <one/> (a system property).
	attrs bool
}

var entities = map[string]entity{
	"username,name,email":                    {one: "user", many: "users", key: "users"},
	"jid,nickname,subscriptionType,groups":   {one: "rosterItem", many: "roster", key: "rosterItem"},
	"name,description,admins,members,shared": {one: "group", many: "groups", key: "groups"},
	"groupname":                              {one: "groupname", many: "groups", key: "groupnames", scalar: true},
	// The chat rooms' entities (MUCRoomEntity, ParticipantEntity,
	// OccupantEntity, MUCRoomMessageEntity).
	strings.Join(commands.OpenfireRoomGet.Result.Columns, ","): {one: "chatRoom", many: "chatRooms", key: "chatRooms"},
	"jid,role,affiliation":                     {one: "participant", many: "participants", key: "participants"},
	"jid,userAddress,role,affiliation":         {one: "occupant", many: "occupants", key: "occupants"},
	"to,from,type,body,delay_stamp,delay_from": {one: "message", many: "messages", key: "message"},
	// SessionEntity, SystemProperty and SecurityAuditLog.
	strings.Join(commands.OpenfireSessionList.Result.Columns, ","):  {one: "session", many: "sessions", key: "sessions", list: true},
	strings.Join(commands.OpenfirePropertyList.Result.Columns, ","): {one: "property", many: "properties", key: "property", attrs: true},
	strings.Join(commands.OpenfireSecurityLog.Result.Columns, ","):  {one: "log", many: "logs", key: "logs"},
}

// itemNames are the elements of a list-valued column's items (XML).
var itemNames = map[string]string{"groups": "group", "admins": "admin", "members": "member",
	"owners": "owner", "outcasts": "outcast", "ownerGroups": "ownerGroup", "adminGroups": "adminGroup",
	"memberGroups": "memberGroup", "outcastGroups": "outcastGroup", "broadcastPresenceRoles": "broadcastPresenceRole"}

func entityOf(t commands.Table) entity {
	return entities[strings.Join(t.Columns, ",")]
}

// keep says whether a cell is written: empty strings are Java nulls,
// omitted, except in the first column (the entity's name).
func keep(i int, cell any) bool {
	s, isString := cell.(string)
	return i == 0 || !isString || s != ""
}

// renderXML writes a table as JAXB does: a list element, or for an item
// route the single row's element.
func renderXML(t commands.Table, item bool) []byte {
	e := entityOf(t)
	var b bytes.Buffer
	b.WriteString(xmlDecl)
	row := func(r []any) {
		if e.scalar {
			writeText(&b, e.one, cellString(r[0]))
			return
		}
		if e.attrs {
			b.WriteString("<" + e.one)
			for i, cell := range r {
				if keep(i, cell) {
					b.WriteString(" " + t.Columns[i] + `="` + commands.EscapeXMLAttr(cellString(cell)) + `"`)
				}
			}
			b.WriteString("/>")
			return
		}
		b.WriteString("<" + e.one + ">")
		for i, cell := range r {
			if !keep(i, cell) {
				continue
			}
			col := t.Columns[i]
			if list, ok := cell.([]string); ok {
				if len(list) == 0 {
					b.WriteString("<" + col + "/>")
					continue
				}
				b.WriteString("<" + col + ">")
				for _, v := range list {
					writeText(&b, itemNames[col], v)
				}
				b.WriteString("</" + col + ">")
				continue
			}
			writeText(&b, col, cellString(cell))
		}
		b.WriteString("</" + e.one + ">")
	}
	if item && !e.list && len(t.Rows) == 1 {
		row(t.Rows[0])
		return b.Bytes()
	}
	if len(t.Rows) == 0 {
		b.WriteString("<" + e.many + "/>")
		return b.Bytes()
	}
	b.WriteString("<" + e.many + ">")
	for _, r := range t.Rows {
		row(r)
	}
	b.WriteString("</" + e.many + ">")
	return b.Bytes()
}

func writeText(b *bytes.Buffer, name, text string) {
	b.WriteString("<" + name + ">")
	b.WriteString(commands.EscapeXMLText(text))
	b.WriteString("</" + name + ">")
}

func cellString(cell any) string {
	switch v := cell.(type) {
	case string:
		return v
	case bool:
		return strconv.FormatBool(v)
	case int:
		return strconv.Itoa(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case time.Time:
		// JAXB's xsd:dateTime of a java.util.Date, in UTC.
		return v.UTC().Format("2006-01-02T15:04:05.000Z07:00")
	}
	return ""
}

// jsonCell is a cell as Jackson writes it: a date is its epoch milliseconds.
func jsonCell(cell any) any {
	if t, ok := cell.(time.Time); ok {
		return t.UnixMilli()
	}
	return cell
}

// orderedObject is a JSON object whose keys keep the columns' order.
type orderedObject struct {
	keys []string
	vals []any
}

// jacksonJSON encodes v as Jackson does: <, > and & stay as they are
// (json.Marshal would write \u003c and the like).
func jacksonJSON(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func (o orderedObject) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			b.WriteByte(',')
		}
		kb, _ := jacksonJSON(k)
		vb, err := jacksonJSON(o.vals[i])
		if err != nil {
			return nil, err
		}
		b.Write(kb)
		b.WriteByte(':')
		b.Write(vb)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// renderJSON writes a table as restAPI ≥ 1.7 (Jackson) does: {"users":
// [...]}, one row bare for an item route, nulls omitted.
func renderJSON(t commands.Table, item bool) []byte {
	e := entityOf(t)
	rows := make([]any, 0, len(t.Rows))
	for _, r := range t.Rows {
		if e.scalar {
			rows = append(rows, cellString(r[0]))
			continue
		}
		var o orderedObject
		for i, cell := range r {
			if keep(i, cell) {
				o.keys, o.vals = append(o.keys, t.Columns[i]), append(o.vals, jsonCell(cell))
			}
		}
		rows = append(rows, o)
	}
	var v any = orderedObject{keys: []string{e.key}, vals: []any{rows}}
	if item && !e.list && len(rows) == 1 {
		v = rows[0]
	}
	b, _ := jacksonJSON(v)
	return b
}

// mediaRange is one Accept entry.
type mediaRange struct {
	typ string
	q   float64
}

func accepts(r *http.Request) []mediaRange {
	var out []mediaRange
	for _, part := range strings.Split(strings.Join(r.Header.Values("Accept"), ","), ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		q := 1.0
		if s, ok := params["q"]; ok {
			if f, err := strconv.ParseFloat(s, 64); err == nil {
				q = f
			}
		}
		out = append(out, mediaRange{mt, q})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].q > out[j].q })
	return out
}

func isJSON(mt string) bool { return mt == "application/json" || strings.HasSuffix(mt, "+json") }

func isXML(mt string) bool {
	return mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml")
}

// wantJSON chooses the success body's format as Jersey does for resources
// that produce XML first, then JSON: the client's most preferred of the
// two; a wildcard or nothing gets XML.
func wantJSON(r *http.Request) bool {
	for _, m := range accepts(r) {
		switch {
		case m.q <= 0:
		case isJSON(m.typ):
			return true
		case isXML(m.typ), m.typ == "*/*", m.typ == "application/*", m.typ == "text/*":
			return false
		}
	}
	return false
}

// errorFormat chooses the error body's format as RESTExceptionMapper
// does: the one non-wildcard Accept type if exactly one is given, else the
// request's Content-Type, else XML. The User Service 2.x always wrote XML.
func errorFormat(r *http.Request, base string) string {
	if base == PrefixUserService {
		return "xml"
	}
	var concrete []string
	for _, m := range accepts(r) {
		if !strings.Contains(m.typ, "*") {
			concrete = append(concrete, m.typ)
		}
	}
	if len(concrete) == 1 {
		if isJSON(concrete[0]) {
			return "json"
		}
		return "xml"
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); isJSON(mt) {
		return "json"
	}
	return "xml"
}

// errorReply writes the error triplet; an empty resource is omitted (null).
func errorReply(format string, status int, exception, message, resource string) reply {
	if format == "json" {
		o := orderedObject{}
		if resource != "" {
			o.keys, o.vals = append(o.keys, "resource"), append(o.vals, resource)
		}
		o.keys = append(o.keys, "message", "exception")
		o.vals = append(o.vals, message, exception)
		b, _ := jacksonJSON(o)
		return reply{status: status, contentType: "application/json", body: b}
	}
	var b bytes.Buffer
	b.WriteString(xmlDecl + "<error>")
	if resource != "" {
		writeText(&b, "resource", resource)
	}
	writeText(&b, "message", message)
	writeText(&b, "exception", exception)
	b.WriteString("</error>")
	return reply{status: status, contentType: "application/xml", body: b.Bytes()}
}
