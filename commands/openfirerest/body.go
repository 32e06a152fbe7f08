package openfirerest

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"
)

// fields is a request entity flattened: each top-level field's values
// (one for a scalar, the items for a list).
type fields map[string][]string

// aliases are other names clients use for a field: restAPI ≥ 1.7 writes
// the user's groups as "groupnames", older clients "groups"; gidkom sends
// a roster item's nickname as "name".
var aliases = map[string][]string{
	"groupname": {"groupnames", "groups"},
	"nickname":  {"name"},
}

// get returns a field's values by wire name or alias.
func (f fields) get(name string) ([]string, bool) {
	if vs, ok := f[name]; ok {
		return vs, true
	}
	for _, a := range aliases[name] {
		if vs, ok := f[a]; ok {
			return vs, true
		}
	}
	return nil, false
}

// boolFields are the fields whose JSON false is a value; elsewhere false
// means "not given" (gidkom sends false for omitted optional strings).
var boolFields = map[string]bool{"shared": true}

var errMediaType = errors.New("unsupported media type")

// parseBody reads an entity: JSON if the content type says so, XML if it
// says XML or nothing.
func parseBody(contentType string, b []byte) (fields, error) {
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		return parseJSON(b)
	case mt == "" || mt == "application/xml" || mt == "text/xml" || strings.HasSuffix(mt, "+xml"):
		return parseXML(b)
	}
	return nil, errMediaType
}

// parseJSON reads both JSON dialects of the plugin: the current one
// ("groups": ["a"]) and Jersey 1's mapped notation ({"groups": {"group":
// ["a"]}}, a scalar for a one-element list, "@key" attributes).
func parseJSON(b []byte) (fields, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, errors.New("not a JSON object")
	}
	out := fields{}
	for k, v := range obj {
		if vs, ok := jsonValues(k, v); ok {
			out[k] = vs
		}
	}
	return out, nil
}

func jsonValues(key string, v any) ([]string, bool) {
	switch x := v.(type) {
	case nil:
		return nil, false
	case bool:
		if !x && !boolFields[key] {
			return nil, false
		}
		return []string{fmt.Sprint(x)}, true
	case string:
		return []string{x}, true
	case json.Number:
		return []string{x.String()}, true
	case []any:
		out := []string{}
		for _, it := range x {
			switch y := it.(type) {
			case map[string]any: // a property {"key": k, "value": v}
				out = append(out, fmt.Sprint(y["key"], y["@key"]))
			default:
				if s, ok := jsonValues(key, y); ok {
					out = append(out, s...)
				}
			}
		}
		return out, true
	case map[string]any:
		// Mapped notation: one wrapper key around the list.
		out := []string{}
		for _, inner := range x {
			if s, ok := jsonValues(key, inner); ok {
				out = append(out, s...)
			}
		}
		return out, true
	}
	return nil, false
}

// parseXML reads an entity element: each child that has no child elements
// is a scalar field (repeated children accumulate: <groupname> items);
// a child with child elements is a list of their texts (<groups><group>),
// or of their key attributes (<properties><property key="k" .../>).
func parseXML(b []byte) (fields, error) {
	dec := xml.NewDecoder(bytes.NewReader(b))
	var root struct {
		XMLName  xml.Name
		Attrs    []xml.Attr `xml:",any,attr"`
		Children []node     `xml:",any"`
	}
	if err := dec.Decode(&root); err != nil {
		return nil, errors.New("not an XML entity")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("content after the entity")
	}
	out := fields{}
	// An entity of attributes (<property key="k" value="v"/>).
	for _, a := range root.Attrs {
		out[a.Name.Local] = []string{a.Value}
	}
	for _, c := range root.Children {
		name := c.XMLName.Local
		if len(c.Children) == 0 && c.Attrs == nil {
			if listElement[name] { // <groups/>: an empty list
				if out[name] == nil {
					out[name] = []string{}
				}
				continue
			}
			out[name] = append(out[name], c.Text)
			continue
		}
		vs := out[name]
		if vs == nil {
			vs = []string{}
		}
		for _, it := range c.Children {
			if it.Attrs != nil || len(it.Children) > 0 {
				vs = append(vs, it.attr("key"))
				continue
			}
			vs = append(vs, it.Text)
		}
		out[name] = vs
	}
	return out, nil
}

// listElement names the wrapper elements whose empty form (<groups/>) is
// an empty list.
var listElement = map[string]bool{"properties": true, "groups": true, "admins": true, "members": true,
	"owners": true, "outcasts": true, "ownerGroups": true, "adminGroups": true, "memberGroups": true,
	"outcastGroups": true, "broadcastPresenceRoles": true}

type node struct {
	XMLName  xml.Name
	Attrs    []xml.Attr `xml:",any,attr"`
	Text     string     `xml:",chardata"`
	Children []node     `xml:",any"`
}

func (n node) attr(name string) string {
	for _, a := range n.Attrs {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// jsonList encodes values as a JSON array (how List arguments travel).
func jsonList(vs []string) string {
	if vs == nil {
		vs = []string{}
	}
	b, _ := json.Marshal(vs)
	return string(b)
}
