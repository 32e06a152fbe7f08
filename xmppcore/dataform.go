package xmppcore

import "github.com/xmppgate/xmppgate/xmlel"

// XEP-0004 data forms, as the modules' answers carry them (disco
// extensions, ad-hoc command results, push summaries).
const nsData = "jabber:x:data"

// formField is a field with one value; label may be "".
func formField(v, label, val string) *xmlel.Element {
	f := xmlel.New(nsData, "field", "var", v)
	if label != "" {
		f.Set("label", label)
	}
	return f.Add(xmlel.New(nsData, "value").Add(val))
}

// formTypeField is the hidden FORM_TYPE field naming the form's namespace.
func formTypeField(ns string) *xmlel.Element {
	return formField("FORM_TYPE", "", ns).Set("type", "hidden")
}
