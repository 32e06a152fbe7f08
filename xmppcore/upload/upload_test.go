package upload

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
)

type bundle struct {
	ctx   context.Context
	st    *store.Store
	svc   *Service
	srv   *httptest.Server
	dir   string
	mu    sync.Mutex
	clock time.Time
	users map[string]int64
}

func (b *bundle) now() time.Time {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.clock
}

func (b *bundle) advance(d time.Duration) {
	b.mu.Lock()
	b.clock = b.clock.Add(d)
	b.mu.Unlock()
}

// setup opens a real SQLite file with users alice and bob and serves the
// upload handler on a real loopback listener under /upload/.
func setup(t *testing.T) *bundle {
	t.Helper()
	b := &bundle{ctx: context.Background(), clock: time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC), users: map[string]int64{}}
	st, err := store.Open(b.ctx, filepath.Join(t.TempDir(), "x.db"), store.Options{Synchronous: "NORMAL", Now: b.now})
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	b.st = st
	require.NoError(t, st.Write(b.ctx, func(tx *store.Tx) error {
		a, err := tx.InsertAccount(b.ctx, "acme", 0)
		if err != nil {
			return err
		}
		d, err := tx.InsertDomain(b.ctx, a.ID, "a.example")
		if err != nil {
			return err
		}
		for _, n := range []string{"alice", "bob"} {
			u, err := tx.InsertUser(b.ctx, store.User{DomainID: d.ID, Username: n, Status: store.StatusActive})
			if err != nil {
				return err
			}
			b.users[n] = u.ID
		}
		return nil
	}))
	mux := http.NewServeMux()
	b.srv = httptest.NewServer(mux)
	t.Cleanup(b.srv.Close)
	b.dir = filepath.Join(t.TempDir(), "upload")
	b.svc, err = New(st, b.dir, b.srv.URL+"/upload/", nil)
	require.NoError(t, err)
	mux.Handle("/upload/", b.svc)
	return b
}

var limits = Limits{MaxFileSize: 1 << 20, Quota: 3 << 10, Expiry: 24 * time.Hour}

func (b *bundle) slot(t *testing.T, user string, r Request) Slot {
	t.Helper()
	s, err := b.svc.Slot(b.ctx, b.users[user], r, limits)
	require.NoError(t, err)
	return s
}

func do(t *testing.T, method, url, auth, ctype, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, resp.Header, string(out)
}

func TestSlotRequests(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for name, c := range map[string]struct {
		req  Request
		want error
	}{
		"empty name":     {Request{Filename: "", Size: 10}, ErrBadRequest},
		"slash":          {Request{Filename: "../etc/passwd", Size: 10}, ErrBadRequest},
		"dot dot":        {Request{Filename: "..", Size: 10}, ErrBadRequest},
		"control":        {Request{Filename: "a\x00b", Size: 10}, ErrBadRequest},
		"long name":      {Request{Filename: strings.Repeat("x", 256), Size: 10}, ErrBadRequest},
		"zero size":      {Request{Filename: "a.txt", Size: 0}, ErrBadRequest},
		"negative":       {Request{Filename: "a.txt", Size: -1}, ErrBadRequest},
		"bad type":       {Request{Filename: "a.txt", Size: 1, ContentType: "no type"}, ErrBadRequest},
		"too large":      {Request{Filename: "a.bin", Size: 1<<20 + 1}, TooLarge{Max: 1 << 20}},
		"over the quota": {Request{Filename: "a.bin", Size: 3<<10 + 1}, ErrQuota},
	} {
		_, err := b.svc.Slot(b.ctx, b.users["alice"], c.req, limits)
		require.Equal(t, c.want, err, name)
	}
	s := b.slot(t, "alice", Request{Filename: "ünïcode name.txt", Size: 5})
	require.True(t, strings.HasPrefix(s.PutURL, b.srv.URL+"/upload/"), "no double slash: %s", s.PutURL)
	require.True(t, strings.HasSuffix(s.PutURL, "/%C3%BCn%C3%AFcode%20name.txt"), s.PutURL)
	require.Equal(t, s.PutURL, s.GetURL)
	require.True(t, strings.HasPrefix(s.Header, "Bearer "))
}

func TestPutThenGet(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.slot(t, "alice", Request{Filename: "hello.txt", Size: 5, ContentType: "text/plain"})

	code, _, _ := do(t, "GET", s.GetURL, "", "", "")
	require.Equal(t, http.StatusNotFound, code, "nothing to get before the PUT")
	for name, c := range map[string]struct {
		auth, ctype, body string
		want              int
	}{
		"no token":      {"", "", "hello", http.StatusForbidden},
		"wrong token":   {"Bearer nope", "", "hello", http.StatusForbidden},
		"short body":    {s.Header, "", "hell", http.StatusBadRequest},
		"long body":     {s.Header, "", "hello!", http.StatusBadRequest},
		"other type":    {s.Header, "image/png", "hello", http.StatusBadRequest},
		"altered token": {strings.Replace(s.Header, "a", "b", 1), "", "hello", http.StatusForbidden},
	} {
		code, _, _ := do(t, "PUT", s.PutURL, c.auth, c.ctype, c.body)
		require.Equal(t, c.want, code, name)
	}
	code, h, _ := do(t, "PUT", s.PutURL, s.Header, "text/plain; charset=utf-8", "hello")
	require.Equal(t, http.StatusCreated, code)
	require.Equal(t, "*", h.Get("Access-Control-Allow-Origin"))
	code, _, _ = do(t, "PUT", s.PutURL, s.Header, "", "world")
	require.Equal(t, http.StatusConflict, code, "a slot takes one PUT")

	code, h, body := do(t, "GET", s.GetURL, "", "", "")
	require.Equal(t, http.StatusOK, code)
	require.Equal(t, "hello", body)
	require.Equal(t, "text/plain", h.Get("Content-Type"))
	require.Equal(t, "nosniff", h.Get("X-Content-Type-Options"))
	require.Equal(t, `inline; filename=hello.txt`, h.Get("Content-Disposition"))
	code, _, _ = do(t, "GET", strings.TrimSuffix(s.GetURL, "hello.txt")+"other.txt", "", "", "")
	require.Equal(t, http.StatusNotFound, code, "the name is part of the URL")
	code, h, _ = do(t, "OPTIONS", s.GetURL, "", "", "")
	require.Equal(t, http.StatusNoContent, code)
	require.Equal(t, "Authorization, Content-Type", h.Get("Access-Control-Allow-Headers"))
	code, _, _ = do(t, "DELETE", s.GetURL, s.Header, "", "")
	require.Equal(t, http.StatusMethodNotAllowed, code)
	code, _, _ = do(t, "GET", b.srv.URL+"/upload/../../x.db", "", "", "")
	require.Equal(t, http.StatusNotFound, code)
}

func TestHTMLIsAnAttachment(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.slot(t, "alice", Request{Filename: "x.html", Size: 8, ContentType: "text/html"})
	code, _, _ := do(t, "PUT", s.PutURL, s.Header, "text/html", "<script>")
	require.Equal(t, http.StatusCreated, code)
	_, h, _ := do(t, "GET", s.GetURL, "", "", "")
	require.Equal(t, "attachment; filename=x.html", h.Get("Content-Disposition"), "an uploaded page must not run as our origin")
	require.Contains(t, h.Get("Content-Security-Policy"), "default-src 'none'")
}

func TestQuotaCountsReservedSlots(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.slot(t, "alice", Request{Filename: "a", Size: 2 << 10})
	_, err := b.svc.Slot(b.ctx, b.users["alice"], Request{Filename: "b", Size: 2 << 10}, limits)
	require.ErrorIs(t, err, ErrQuota, "an unused slot still holds its bytes")
	b.slot(t, "bob", Request{Filename: "b", Size: 2 << 10}) // quotas are per user
	b.advance(slotLife + time.Second)
	b.slot(t, "alice", Request{Filename: "b", Size: 2 << 10}) // the first slot lapsed
}

func TestSlotLapses(t *testing.T) {
	t.Parallel()
	b := setup(t)
	s := b.slot(t, "alice", Request{Filename: "a.txt", Size: 1})
	b.advance(slotLife + time.Second)
	code, _, _ := do(t, "PUT", s.PutURL, s.Header, "", "x")
	require.Equal(t, http.StatusGone, code)
}

func files(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			out = append(out, filepath.Base(p))
		}
		return err
	}))
	return out
}

// TestSweep: expired files go, and so do the files of a deleted user (the
// store's cascade leaves their ids in the trash).
func TestSweep(t *testing.T) {
	t.Parallel()
	b := setup(t)
	put := func(user, name string) Slot {
		s := b.slot(t, user, Request{Filename: name, Size: 1})
		code, _, _ := do(t, "PUT", s.PutURL, s.Header, "", "x")
		require.Equal(t, http.StatusCreated, code)
		return s
	}
	a := put("alice", "a")
	put("bob", "b")
	unused := b.slot(t, "bob", Request{Filename: "c", Size: 1})
	require.Len(t, files(t, b.dir), 2)

	n, err := b.svc.Sweep(b.ctx)
	require.NoError(t, err)
	require.Zero(t, n, "nothing expired yet")

	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error { return tx.DeleteUser(b.ctx, b.users["bob"]) }))
	n, err = b.svc.Sweep(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "bob's file went with bob")
	require.Len(t, files(t, b.dir), 1)
	code, _, _ := do(t, "GET", unused.GetURL, "", "", "")
	require.Equal(t, http.StatusNotFound, code)

	b.advance(limits.Expiry + time.Second)
	code, _, _ = do(t, "GET", a.GetURL, "", "", "")
	require.Equal(t, http.StatusNotFound, code, "expired, even before the sweep")
	n, err = b.svc.Sweep(b.ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Empty(t, files(t, b.dir))
	trash, err := b.st.UploadTrash(b.ctx, 10)
	require.NoError(t, err)
	require.Empty(t, trash)
}
