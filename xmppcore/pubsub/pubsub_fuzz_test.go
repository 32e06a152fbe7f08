package pubsub

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/xmppgate/xmppgate/xmlel"
)

// formSeeds are data forms as clients send them for node configuration,
// publish-options and ad-hoc commands (the forms of pep_test.go and
// pubsubsvc_test.go), and broken ones.
var formSeeds = []string{
	`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#node_config</value></field><field var='pubsub#access_model'><value>whitelist</value></field><field var='pubsub#max_items'><value>max</value></field></x>`,
	`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>http://jabber.org/protocol/pubsub#publish-options</value></field><field var='pubsub#persist_items'><value>true</value></field><field var='pubsub#access_model'><value>open</value></field></x>`,
	`<x xmlns='jabber:x:data' type='submit'><field var='pubsub#title'><value>Title &amp; more</value></field><field var='pubsub#roster_groups_allowed'><value>Friends</value><value>Work</value></field><field var='pubsub#item_expire'><value>3600</value></field><field var='pubsub#notify_retract'><value>0</value></field><field var='pubsub#send_last_published_item'><value>never</value></field></x>`,
	`<x xmlns='jabber:x:data' type='submit'><field var='pubsub#deliver_notifications'><value>1</value></field><field var='pubsub#presence_based_delivery'><value>false</value></field><field var='pubsub#publish_model'><value>publishers</value></field><field var='pubsub#notification_type'><value>headline</value></field></x>`,
	`<x xmlns='jabber:x:data' type='submit'><field var='pubsub#max_items'><value>0</value></field></x>`,
	`<x xmlns='jabber:x:data' type='submit'><field var='pubsub#colour'><value>red</value></field></x>`,
	`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/admin</value></field><field var='subject'><value>Hi</value></field><field var='body'><value>line 1</value><value>line 2</value></field></x>`,
	`<x xmlns='jabber:x:data' type='form'/>`,
	`<x xmlns='jabber:x:data'><field var='FORM_TYPE'><value>a</value><value>b</value></field></x>`,
}

// formElement is fields as the submitted form a client would send.
func formElement(formType string, fields map[string][]string) *xmlel.Element {
	x := xmlel.New(NSData, "x", "type", "submit")
	x.Add(xmlel.New(NSData, "field", "var", "FORM_TYPE", "type", "hidden").Text(NSData, "value", formType))
	for _, name := range slices.Sorted(maps.Keys(fields)) {
		f := xmlel.New(NSData, "field", "var", name)
		for _, v := range fields[name] {
			f.Add(xmlel.New(NSData, "value").Add(v))
		}
		x.Add(f)
	}
	return x
}

func reparse(t *testing.T, el *xmlel.Element) *xmlel.Element {
	t.Helper()
	again, err := xmlel.Parse(el.Bytes(""))
	if err != nil {
		t.Fatalf("%q is not well-formed: %v", el.Bytes(""), err)
	}
	return again
}

// formTypes are the FORM_TYPEs the server reads forms of with Fields.
var formTypes = []string{FormNodeConfig, FormPublishOptions, "http://jabber.org/protocol/admin"}

// FuzzFields: any element read as a submitted form of each FORM_TYPE is
// refused with ErrBadForm or gives named fields without FORM_TYPE; those
// fields written back as a form read the same, values in order.
func FuzzFields(f *testing.F) {
	for i, s := range formSeeds {
		f.Add([]byte(s), uint8(i))
	}
	f.Fuzz(func(t *testing.T, raw []byte, which uint8) {
		formType := formTypes[int(which)%len(formTypes)]
		el, err := xmlel.Parse(raw)
		if err != nil {
			return
		}
		fields, err := Fields(el, formType)
		if err != nil {
			if !errors.Is(err, ErrBadForm) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if _, ok := fields["FORM_TYPE"]; ok {
			t.Fatalf("FORM_TYPE among the fields: %v", fields)
		}
		if _, ok := fields[""]; ok {
			t.Fatalf("a field without a name: %v", fields)
		}
		again, err := Fields(reparse(t, formElement(formType, fields)), formType)
		if err != nil {
			t.Fatalf("%s: %v", formElement(formType, fields), err)
		}
		if len(again) != len(fields) {
			t.Fatalf("fields %v read back as %v", fields, again)
		}
		for k, v := range fields {
			if !slices.Equal(v, again[k]) {
				t.Fatalf("field %q: %q read back as %q", k, v, again[k])
			}
		}
	})
}

// FuzzConfig: any node_config or publish-options form applied to the PEP
// and the service defaults is refused with ErrBadValue or ErrUnknownField,
// or gives a configuration within the limits; that configuration matches
// the fields that made it, survives its stored form, and its configure
// form (as a client sends it back) and meta-data are well-formed and
// rebuild it from any default.
func FuzzConfig(f *testing.F) {
	for _, s := range formSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		el, err := xmlel.Parse(raw)
		if err != nil {
			return
		}
		fields, err := Fields(el, FormNodeConfig)
		if err != nil {
			return
		}
		for _, base := range []Config{Default(), ServiceDefault(), BookmarksConfig()} {
			c, err := base.Apply(fields)
			if err != nil {
				if !errors.Is(err, ErrBadValue) && !errors.Is(err, ErrUnknownField) {
					t.Fatalf("unexpected error %v", err)
				}
				if base.Matches(fields) {
					t.Fatalf("refused fields %v match", fields)
				}
				continue
			}
			if !slices.Contains([]string{Open, Presence, Roster, Whitelist}, c.Access) ||
				c.MaxItems < 1 || c.MaxItems > MaxItems || c.ItemExpire < 0 ||
				!slices.Contains([]string{SendNever, SendOnSub, SendOnSubAndPresence}, c.SendLast) {
				t.Fatalf("out of range: %+v", c)
			}
			if !c.Matches(fields) {
				t.Fatalf("%+v does not match the fields %v it came from", c, fields)
			}
			if string(Decode(c.Encode()).Encode()) != string(c.Encode()) {
				t.Fatalf("stored form %s does not read back", c.Encode())
			}
			form := reparse(t, c.Form())
			form.Set("type", "submit")
			back, err := Fields(form, FormNodeConfig)
			if err != nil {
				t.Fatalf("configure form %s: %v", c.Form(), err)
			}
			for _, other := range []Config{Default(), ServiceDefault()} {
				d, err := other.Apply(back)
				if err != nil || string(d.Encode()) != string(c.Encode()) {
					t.Fatalf("configure form of %s rebuilds %s (%v)", c.Encode(), d.Encode(), err)
				}
			}
			reparse(t, c.MetaData([]string{"owner@example.test"}, time.Unix(0, 0)))
		}
	})
}

// FuzzBookmarks: any XEP-0048 <storage/> converts into XEP-0402 items with
// one item per room JID; converting those back and again gives the same
// items (what the three copies of the bookmarks keep in step).
func FuzzBookmarks(f *testing.F) {
	for _, s := range []string{
		`<storage xmlns='storage:bookmarks'><conference jid='room@muc.example.test' name='Room' autojoin='true'><nick>me</nick><password>pw</password></conference><url url='https://example.test' name='web'/></storage>`,
		`<storage xmlns='storage:bookmarks'><conference jid='a@b' autojoin='1'/><conference jid='a@b' name='later'/><conference name='no jid'/></storage>`,
		`<storage xmlns='storage:bookmarks'/>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		el, err := xmlel.Parse(raw)
		if err != nil {
			return
		}
		items := FromStorage(el)
		seen := map[string]bool{}
		for _, b := range items {
			if b.JID == "" || seen[b.JID] {
				t.Fatalf("empty or repeated room %q", b.JID)
			}
			seen[b.JID] = true
		}
		storage := reparse(t, ToStorage(items, el))
		again := FromStorage(storage)
		if len(again) != len(items) {
			t.Fatalf("%d items read back as %d from %s", len(items), len(again), storage)
		}
		for i := range items {
			a, b := items[i], again[i]
			if a.JID != b.JID || a.Conference.String() != b.Conference.String() {
				t.Fatalf("item %s %s read back as %s %s", a.JID, a.Conference, b.JID, b.Conference)
			}
		}
	})
}

// FuzzCapsVerify: whether a disco#info result verifies against a ver does
// not depend on the order of its identities, features and forms (XEP-0115
// 5.1 sorts them), and NotifyOf never names an empty node.
func FuzzCapsVerify(f *testing.F) {
	f.Add([]byte(`<query xmlns='http://jabber.org/protocol/disco#info'><identity category='client' name='Exodus 0.9.1' type='pc'/><feature var='http://jabber.org/protocol/caps'/><feature var='http://jabber.org/protocol/disco#items'/><feature var='http://jabber.org/protocol/disco#info'/><feature var='http://jabber.org/protocol/muc'/></query>`),
		"sha-1", "QgayPKawpkPSDYmwT/WM94uAlu0=")
	f.Add([]byte(`<query xmlns='http://jabber.org/protocol/disco#info'><feature var='urn:xmpp:avatar:metadata+notify'/><feature var='+notify'/><x xmlns='jabber:x:data' type='result'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field><field var='os'><value>Mac</value></field></x></query>`),
		"sha-256", "x")
	f.Fuzz(func(t *testing.T, raw []byte, hash, ver string) {
		el, err := xmlel.Parse(raw)
		if err != nil {
			return
		}
		c := Caps{Hash: hash, Node: "n", Ver: ver}
		got := c.Verify(el)
		rev := el.Copy()
		slices.Reverse(rev.Children)
		if c.Verify(rev) != got {
			t.Fatalf("Verify is %v, reversed %v", got, !got)
		}
		if got && !c.Hashed() {
			t.Fatalf("verified with hash %q that is not known", hash)
		}
		for _, n := range NotifyOf(el).Nodes() {
			if n == "" {
				t.Fatal("an empty node wants notifications")
			}
		}
	})
}

// FuzzAvatar: any vCard a client stores converts to a XEP-0084 avatar
// named by the SHA-1 of its bytes or to none; its metadata and data items,
// read back as XEP-0398 reads a published avatar, give the same avatar,
// and so does the vCard with that avatar as its PHOTO (XEP-0398 both
// ways); a vCard with the PHOTO removed has none.
func FuzzAvatar(f *testing.F) {
	for _, s := range []string{
		`<vCard xmlns='vcard-temp'><FN>Fuzz</FN><PHOTO><TYPE>image/jpeg</TYPE><BINVAL>/9j/4AAQ
SkZJRg==</BINVAL></PHOTO></vCard>`,
		`<vCard xmlns='vcard-temp'><PHOTO><BINVAL>AAAA</BINVAL></PHOTO><PHOTO><TYPE> image/gif </TYPE><BINVAL>R0lG</BINVAL></PHOTO></vCard>`,
		`<vCard xmlns='vcard-temp'><PHOTO><EXTVAL>https://example.test/a.png</EXTVAL></PHOTO></vCard>`,
		`<vCard xmlns='vcard-temp'><PHOTO><BINVAL>!!</BINVAL></PHOTO></vCard>`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		vcard, err := xmlel.Parse(raw)
		if err != nil {
			return
		}
		a, ok := AvatarOfPhoto(vcard)
		if !ok {
			if _, again := AvatarOfPhoto(reparse(t, WithPhoto(vcard, a, false))); again {
				t.Fatal("a vCard without an avatar gained one")
			}
			return
		}
		sum := sha1.Sum(a.Bytes)
		if a.ID != hex.EncodeToString(sum[:]) || a.Type == "" || len(a.Bytes) == 0 {
			t.Fatalf("avatar %+v", a)
		}
		id, typ, ok := MetadataInfo(reparse(t, a.MetadataItem()))
		if !ok || id != a.ID || typ != a.Type {
			t.Fatalf("metadata %s reads as %q %q %v", a.MetadataItem(), id, typ, ok)
		}
		b, ok := AvatarOfData(id, typ, reparse(t, a.DataItem()))
		if !ok || b.ID != a.ID || b.Type != a.Type || !bytes.Equal(b.Bytes, a.Bytes) {
			t.Fatalf("data item reads back as %+v, was %+v", b, a)
		}
		c, ok := AvatarOfPhoto(reparse(t, WithPhoto(vcard, a, true)))
		if !ok || c.ID != a.ID || c.Type != a.Type || !bytes.Equal(c.Bytes, a.Bytes) {
			t.Fatalf("vCard with the avatar reads back as %+v, was %+v", c, a)
		}
		if _, ok := AvatarOfPhoto(reparse(t, WithPhoto(vcard, a, false))); ok {
			t.Fatal("the PHOTO removed, an avatar is still read")
		}
	})
}
