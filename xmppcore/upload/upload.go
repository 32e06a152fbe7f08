// Package upload is XEP-0363 HTTP File Upload's storage and HTTP side:
// slots handed out over XMPP (the glue is xmppcore/upload.go), the PUT that
// fills a slot, the GET that serves it, and the sweeper that expires files.
// Files live under one directory, named by slot id; the store holds who
// owns what, for quotas, expiry and the cascade when a user goes.
package upload

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/store"
)

// Limits are a domain's upload settings (moduleConfig.modHttpUpload).
type Limits struct {
	MaxFileSize int64         // bytes per file
	Quota       int64         // bytes per user, stored and reserved; 0: none
	Expiry      time.Duration // a file is deleted this long after its slot; 0: kept
}

// Request is a slot request (XEP-0363 section 4).
type Request struct {
	Filename    string
	Size        int64
	ContentType string
}

// Slot is what the client gets: where to PUT (with which header) and the
// URL to share.
type Slot struct {
	PutURL, GetURL string
	Header         string // value of the PUT's Authorization header
}

// Errors of a slot request; xmppcore maps them to stanza errors.
var (
	ErrBadRequest = errors.New("upload: bad request")
	ErrQuota      = errors.New("upload: quota reached")
)

// TooLarge is the file-too-large error; Max is the limit to report.
type TooLarge struct{ Max int64 }

func (e TooLarge) Error() string { return fmt.Sprintf("upload: file larger than %d bytes", e.Max) }

// slotLife is how long a slot waits for its PUT.
const slotLife = 5 * time.Minute

// maxName bounds the file name (bytes), as file systems and URLs must hold it.
const maxName = 255

// Service hands out slots and serves the HTTP side.
type Service struct {
	st   *store.Store
	dir  string
	base string // URL prefix the files are served under, no trailing slash
	log  *zap.Logger
}

// New returns the service keeping files under dir and announcing URLs
// under base (e.g. "https://chat.example.com/upload").
func New(st *store.Store, dir, base string, log *zap.Logger) (*Service, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if log == nil {
		log = zap.NewNop()
	}
	return &Service{st: st, dir: dir, base: strings.TrimRight(base, "/"), log: log}, nil
}

// cleanName keeps what a file name may hold in a URL path segment and on
// disk: no path separators, no control characters.
func cleanName(name string) (string, bool) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > maxName || !utf8.ValidString(name) || name == "." || name == ".." {
		return "", false
	}
	for _, r := range name {
		if r == '/' || r == '\\' || unicode.IsControl(r) {
			return "", false
		}
	}
	return name, true
}

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func tokenHash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

// Slot reserves a slot for userID under the domain's limits.
func (s *Service) Slot(ctx context.Context, userID int64, r Request, l Limits) (Slot, error) {
	name, ok := cleanName(r.Filename)
	if !ok || r.Size <= 0 {
		return Slot{}, ErrBadRequest
	}
	if r.Size > l.MaxFileSize {
		return Slot{}, TooLarge{Max: l.MaxFileSize}
	}
	ct := r.ContentType
	if ct == "" {
		ct = "application/octet-stream"
	}
	if _, _, err := mime.ParseMediaType(ct); err != nil {
		return Slot{}, ErrBadRequest
	}
	now := s.st.Now()
	u := store.Upload{ID: randomID(18), UserID: userID, Filename: name, Size: r.Size, ContentType: ct, PutBy: now.Add(slotLife)}
	token := randomID(32)
	u.TokenHash = tokenHash(token)
	if l.Expiry > 0 {
		u.Expires = now.Add(l.Expiry)
	}
	err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.ReserveUpload(ctx, u, l.Quota) })
	if errors.Is(err, store.ErrQuota) {
		return Slot{}, ErrQuota
	}
	if err != nil {
		return Slot{}, err
	}
	link := s.base + "/" + u.ID + "/" + url.PathEscape(name)
	return Slot{PutURL: link, GetURL: link, Header: "Bearer " + token}, nil
}

// file is where slot id's bytes are kept; ids are base64url, so safe as names.
func (s *Service) file(id string) string {
	return filepath.Join(s.dir, id[:2], id)
}

// ServeHTTP answers /upload/<id>/<name>: PUT fills a slot, GET and HEAD
// serve it, OPTIONS is the CORS preflight of web clients.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, HEAD, PUT, OPTIONS")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Max-Age", "7200")
	start := time.Now()
	code := s.serve(w, r)
	s.log.Info("upload", zap.String("method", r.Method), zap.String("path", r.URL.Path), zap.Int("status", code),
		zap.Duration("duration", time.Since(start)))
}

func (s *Service) serve(w http.ResponseWriter, r *http.Request) int {
	id, name, ok := s.parsePath(r.URL.EscapedPath())
	if !ok {
		return fail(w, http.StatusNotFound, "no such file")
	}
	switch r.Method {
	case http.MethodOptions:
		w.WriteHeader(http.StatusNoContent)
		return http.StatusNoContent
	case http.MethodPut:
		return s.put(w, r, id, name)
	case http.MethodGet, http.MethodHead:
		return s.get(w, r, id, name)
	}
	w.Header().Set("Allow", "GET, HEAD, PUT, OPTIONS")
	return fail(w, http.StatusMethodNotAllowed, "method not allowed")
}

// parsePath splits ".../<id>/<escaped name>" (the mount prefix is anything
// before the last two segments).
func (s *Service) parsePath(p string) (id, name string, ok bool) {
	i := strings.LastIndexByte(p, '/')
	if i <= 0 {
		return "", "", false
	}
	j := strings.LastIndexByte(p[:i], '/')
	id = p[j+1 : i]
	name, err := url.PathUnescape(p[i+1:])
	if err != nil || len(id) != 24 || strings.Trim(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") != "" {
		return "", "", false
	}
	return id, name, true
}

func fail(w http.ResponseWriter, code int, text string) int {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(code)
	fmt.Fprintln(w, text)
	return code
}

func (s *Service) put(w http.ResponseWriter, r *http.Request, id, name string) int {
	ctx := r.Context()
	u, err := s.st.Upload(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Filename != name) {
		return fail(w, http.StatusNotFound, "no such slot")
	}
	if err != nil {
		return fail(w, http.StatusInternalServerError, "internal error")
	}
	auth, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if subtle.ConstantTimeCompare(tokenHash(auth), u.TokenHash) != 1 {
		return fail(w, http.StatusForbidden, "this slot's token is required")
	}
	if !u.Uploaded.IsZero() {
		return fail(w, http.StatusConflict, "the slot was used already")
	}
	if s.st.Now().After(u.PutBy) {
		return fail(w, http.StatusGone, "the slot lapsed; request a new one")
	}
	if r.ContentLength != u.Size {
		return fail(w, http.StatusBadRequest, fmt.Sprintf("Content-Length must be the slot's size, %d", u.Size))
	}
	if ct := r.Header.Get("Content-Type"); ct != "" && !sameType(ct, u.ContentType) {
		return fail(w, http.StatusBadRequest, "Content-Type must be the slot's, "+u.ContentType)
	}
	// The listener's read timeout is for API calls; a file gets a minute
	// plus a second per 64 KiB (a 100 MiB file: ~27 minutes at worst).
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Minute + time.Duration(u.Size>>16)*time.Second))
	dst := s.file(id)
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return fail(w, http.StatusInternalServerError, "internal error")
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".put-*")
	if err != nil {
		return fail(w, http.StatusInternalServerError, "internal error")
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	n, err := tmp.ReadFrom(http.MaxBytesReader(w, r.Body, u.Size))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil || n != u.Size {
		return fail(w, http.StatusBadRequest, "the body did not match the slot's size")
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return fail(w, http.StatusInternalServerError, "internal error")
	}
	err = s.st.Write(ctx, func(tx *store.Tx) error { return tx.MarkUploaded(ctx, id) })
	if errors.Is(err, store.ErrNotFound) {
		// Raced with a second PUT or the sweeper; the row decides.
		return fail(w, http.StatusConflict, "the slot was used already")
	}
	if err != nil {
		os.Remove(dst)
		return fail(w, http.StatusInternalServerError, "internal error")
	}
	w.WriteHeader(http.StatusCreated)
	return http.StatusCreated
}

func sameType(a, b string) bool {
	ma, _, errA := mime.ParseMediaType(a)
	mb, _, errB := mime.ParseMediaType(b)
	return errA == nil && errB == nil && ma == mb
}

// inline are the types a browser may show in place; anything else is sent
// as an attachment, so an uploaded HTML page cannot run as our origin.
func inline(ct string) bool {
	mt, _, _ := mime.ParseMediaType(ct)
	switch {
	case strings.HasPrefix(mt, "image/") && mt != "image/svg+xml":
		return true
	case strings.HasPrefix(mt, "audio/"), strings.HasPrefix(mt, "video/"), mt == "text/plain":
		return true
	}
	return false
}

func (s *Service) get(w http.ResponseWriter, r *http.Request, id, name string) int {
	u, err := s.st.Upload(r.Context(), id)
	if err != nil || u.Filename != name || u.Uploaded.IsZero() || (!u.Expires.IsZero() && s.st.Now().After(u.Expires)) {
		return fail(w, http.StatusNotFound, "no such file")
	}
	f, err := os.Open(s.file(id))
	if err != nil {
		return fail(w, http.StatusNotFound, "no such file")
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", u.ContentType)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", "default-src 'none'; media-src 'self'; img-src 'self'; style-src 'unsafe-inline'")
	disp := "attachment"
	if inline(u.ContentType) {
		disp = "inline"
	}
	h.Set("Content-Disposition", mime.FormatMediaType(disp, map[string]string{"filename": u.Filename}))
	h.Set("Cache-Control", "public, max-age=31536000, immutable")
	rec := &status{ResponseWriter: w, code: http.StatusOK}
	http.ServeContent(rec, r, "", u.Uploaded, f)
	return rec.code
}

type status struct {
	http.ResponseWriter
	code int
}

func (s *status) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

// Sweep deletes expired files and lapsed slots, then the files of every
// slot that went (also by cascade, when a user was deleted).
func (s *Service) Sweep(ctx context.Context) (int, error) {
	if err := s.st.Write(ctx, func(tx *store.Tx) error { _, err := tx.ExpireUploads(ctx); return err }); err != nil {
		return 0, err
	}
	removed := 0
	for {
		ids, err := s.st.UploadTrash(ctx, 500)
		if err != nil || len(ids) == 0 {
			return removed, err
		}
		for _, id := range ids {
			if len(id) < 2 {
				continue
			}
			if err := os.Remove(s.file(id)); err == nil {
				removed++
			} else if !errors.Is(err, os.ErrNotExist) {
				return removed, err
			}
		}
		if err := s.st.Write(ctx, func(tx *store.Tx) error { return tx.ForgetUploadTrash(ctx, ids) }); err != nil {
			return removed, err
		}
	}
}

// Run sweeps every interval until ctx ends.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.Sweep(ctx); err != nil {
				s.log.Error("upload sweep", zap.Error(err))
			} else if n > 0 {
				s.log.Info("upload sweep", zap.Int("files_removed", n))
			}
		}
	}
}
