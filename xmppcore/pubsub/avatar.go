package pubsub

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
)

// XEP-0398: the avatar of XEP-0084 (PEP) and the PHOTO of XEP-0054
// (vcard-temp) are kept in step. XEP-0084 names an image by the hex SHA-1
// of its bytes, which is the id of both its items.
const (
	NSAvatarData     = "urn:xmpp:avatar:data"
	NSAvatarMetadata = "urn:xmpp:avatar:metadata"
	NSVCard          = "vcard-temp"
	FeatureVCardConv = "urn:xmpp:pep-vcard-conversion:0"
)

// Avatar is one image as both protocols carry it.
type Avatar struct {
	ID    string // hex SHA-1 of the bytes
	Type  string // MIME type
	Bytes []byte
}

// AvatarOfPhoto reads a vCard's PHOTO; ok is false for none (no PHOTO, or
// one without image data, which clears the avatar).
func AvatarOfPhoto(vcard *xmlel.Element) (Avatar, bool) {
	photo := vcard.Child(NSVCard, "PHOTO")
	if photo == nil {
		return Avatar{}, false
	}
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(photo.ChildText(NSVCard, "BINVAL")), ""))
	if err != nil || len(b) == 0 {
		return Avatar{}, false
	}
	typ := strings.TrimSpace(photo.ChildText(NSVCard, "TYPE"))
	if typ == "" {
		typ = "image/png"
	}
	sum := sha1.Sum(b)
	return Avatar{ID: hex.EncodeToString(sum[:]), Type: typ, Bytes: b}, true
}

// DataItem is the payload of the avatar's data item.
func (a Avatar) DataItem() *xmlel.Element {
	return xmlel.New(NSAvatarData, "data").Add(base64.StdEncoding.EncodeToString(a.Bytes))
}

// MetadataItem is the payload of the avatar's metadata item; the zero
// Avatar gives the empty metadata that says there is none (XEP-0084 4.5).
func (a Avatar) MetadataItem() *xmlel.Element {
	m := xmlel.New(NSAvatarMetadata, "metadata")
	if a.ID == "" {
		return m
	}
	return m.Add(xmlel.New(NSAvatarMetadata, "info", "bytes", strconv.Itoa(len(a.Bytes)), "id", a.ID, "type", a.Type))
}

// MetadataInfo reads the first <info/> of a metadata payload that names an
// image stored in the data node (no url); ok is false when it names none.
func MetadataInfo(meta *xmlel.Element) (id, typ string, ok bool) {
	for _, in := range meta.Elements() {
		if in.Name.Local == "info" && in.Get("id") != "" && in.Get("url") == "" {
			return in.Get("id"), in.Get("type"), true
		}
	}
	return "", "", false
}

// AvatarOfData reads a data payload published under id.
func AvatarOfData(id, typ string, data *xmlel.Element) (Avatar, bool) {
	b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(data.InnerText()), ""))
	if err != nil || len(b) == 0 {
		return Avatar{}, false
	}
	if typ == "" {
		typ = "image/png"
	}
	return Avatar{ID: id, Type: typ, Bytes: b}, true
}

// WithPhoto returns a copy of vcard whose PHOTO is a (none: removed).
func WithPhoto(vcard *xmlel.Element, a Avatar, ok bool) *xmlel.Element {
	out := xmlel.New(NSVCard, "vCard")
	if vcard != nil {
		out.Attr = vcard.Attr
		for _, c := range vcard.Children {
			if el, isEl := c.(*xmlel.Element); isEl && el.Name.Local == "PHOTO" {
				continue
			}
			out.Children = append(out.Children, c)
		}
	}
	if ok {
		out.Add(xmlel.New(NSVCard, "PHOTO").Text(NSVCard, "TYPE", a.Type).
			Text(NSVCard, "BINVAL", base64.StdEncoding.EncodeToString(a.Bytes)))
	}
	return out
}

// AvatarFromVCard publishes the PHOTO of the vCard v, just stored for
// userID in tx, as the PEP avatar (XEP-0398 4): the data and metadata
// items, or empty metadata for a vCard without a PHOTO. The avatar already
// published is left alone. It returns the items it published.
func AvatarFromVCard(ctx context.Context, tx *store.Tx, userID int64, publisher string, v *xmlel.Element) ([]Change, error) {
	a, ok := AvatarOfPhoto(v)
	meta, err := tx.PubsubNode(ctx, userID, NSAvatarMetadata)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	if err == nil {
		last, err := tx.PubsubItems(ctx, meta.ID, 1, nil)
		if err != nil {
			return nil, err
		}
		var curID string
		if len(last) == 1 {
			if el, err := xmlel.Parse(last[0].Payload); err == nil {
				curID, _, _ = MetadataInfo(el)
			}
		}
		if curID == a.ID {
			return nil, nil // the same image, or none either way
		}
	} else if !ok {
		return nil, nil
	}
	publish := func(name, id string, payload *xmlel.Element) (Change, error) {
		n, err := tx.PubsubNode(ctx, userID, name)
		if errors.Is(err, store.ErrNotFound) {
			n, err = createNode(ctx, tx, userID, name, Default())
		}
		if err != nil {
			return Change{}, err
		}
		err = tx.PublishPubsubItem(ctx, n.ID, store.PubsubItem{ID: id, Payload: payload.Bytes(""), Publisher: publisher})
		return Change{Node: name, ID: id, Payload: payload}, err
	}
	var changes []Change
	metaID := a.ID
	if ok {
		ch, err := publish(NSAvatarData, a.ID, a.DataItem())
		if err != nil {
			return nil, err
		}
		changes = append(changes, ch)
	} else {
		b := make([]byte, 9)
		rand.Read(b)
		metaID = base64.RawURLEncoding.EncodeToString(b)
	}
	ch, err := publish(NSAvatarMetadata, metaID, a.MetadataItem())
	if err != nil {
		return nil, err
	}
	return append(changes, ch), nil
}
