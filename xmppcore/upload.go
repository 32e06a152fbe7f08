package xmppcore

import (
	"context"
	"errors"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/xmlel"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
	"github.com/xmppgate/xmppgate/xmppcore/upload"
)

// XEP-0363 HTTP File Upload: slots are handed out here, at upload.<domain>;
// the files go over the HTTP listener (xmppcore/upload).
const nsUpload = "urn:xmpp:http:upload:0"

func init() {
	services = append(services, &service{
		label:    "upload",
		module:   modcfg.Upload,
		identity: [3]string{"store", "file", "HTTP File Upload"},
		features: []string{nsUpload},
		form:     uploadForm,
		handlers: []handler{{nsUpload, "request", targetServer, getOnly(uploadSlot)}},
		on:       func(s *Server) bool { return s.cfg.Upload != nil },
	})
}

// uploadForm tells clients the size limit before they ask (XEP-0363 §3).
func uploadForm(s *Server, d modcfg.Domain) *xmlel.Element {
	return xmlel.New(nsData, "x", "type", "result").
		Add(formTypeField(nsUpload)).
		Add(formField("max-file-size", "", strconv.FormatInt(d.Upload.MaxFileSize, 10)))
}

func uploadSlot(s *Server, r *iqReq) (*xmlel.Element, *stanzaErr) {
	if r.c.anon {
		// Anonymous users have no row to own files or count a quota against.
		return nil, &errForbidden
	}
	size, err := strconv.ParseInt(r.q.Get("size"), 10, 64)
	if err != nil {
		return nil, &stanzaErr{typ: "modify", cond: "bad-request", text: "size must be a number of bytes"}
	}
	lim := upload.Limits{MaxFileSize: r.dom.Upload.MaxFileSize, Quota: r.dom.Upload.Quota,
		Expiry: time.Duration(r.dom.Upload.ExpiryDays) * 24 * time.Hour}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	slot, err := s.cfg.Upload.Slot(ctx, r.c.user.ID, upload.Request{Filename: r.q.Get("filename"), Size: size,
		ContentType: r.q.Get("content-type")}, lim)
	var tl upload.TooLarge
	switch {
	case errors.As(err, &tl):
		return nil, &stanzaErr{typ: "modify", cond: "not-acceptable", text: "File too large. The maximum file size is " + strconv.FormatInt(tl.Max, 10) + " bytes",
			app: xmlel.New(nsUpload, "file-too-large").Add(xmlel.New(nsUpload, "max-file-size").Add(strconv.FormatInt(tl.Max, 10)))}
	case errors.Is(err, upload.ErrQuota):
		return nil, &stanzaErr{typ: "wait", cond: "resource-constraint", text: "Quota reached: delete files or wait for them to expire"}
	case errors.Is(err, upload.ErrBadRequest):
		return nil, &stanzaErr{typ: "modify", cond: "bad-request", text: "a file name (no '/') and a positive size are required"}
	case err != nil:
		s.log.Error("upload slot", zap.Error(err))
		return nil, &errInternal
	}
	return xmlel.New(nsUpload, "slot").
		Add(xmlel.New(nsUpload, "put", "url", slot.PutURL).Add(xmlel.New(nsUpload, "header", "name", "Authorization").Add(slot.Header))).
		Add(xmlel.New(nsUpload, "get", "url", slot.GetURL)), nil
}
