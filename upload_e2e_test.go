package main

import (
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/internal/slixmpptest"
	"github.com/xmppgate/xmppgate/xmppcore/modcfg"
)

// TestUploadWithSlixmpp has an independent client (slixmpp's XEP-0363
// plugin) find the upload service, take a slot and PUT a file over the
// real HTTP listener; the file then downloads byte-identical. The
// domain's modHttpUpload settings apply live: a lowered limit is what the
// service announces, and switched off the service is gone.
func TestUploadWithSlixmpp(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	s.dh(s.boot.Key, "jabber-add_user", "username", "alice", "domain", "localhost", "password", "wonder land").token(t)
	s.runWorker()
	file := filepath.Join(t.TempDir(), "photo.jpg")
	want := make([]byte, 300<<10)
	rand.Read(want)
	require.NoError(t, os.WriteFile(file, want, 0o600))

	r := slixmpptest.Upload(t, s.c2s, "alice@localhost", "wonder land", file)
	require.True(t, r.OK, r.Error)
	require.Equal(t, modcfg.DefaultUpload.MaxFileSize, r.Max, "the disco form announces the limit")
	resp, err := http.Get(r.URL)
	require.NoError(t, err)
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Equal(t, want, got, "downloaded byte-identical")
	require.Equal(t, "image/jpeg", resp.Header.Get("Content-Type"))
	require.Equal(t, "*", resp.Header.Get("Access-Control-Allow-Origin"), "web clients read it cross-origin")

	put := func(body string) {
		t.Helper()
		status, out := s.do(http.MethodPut, "/api/1.0/xmppdomains/"+s.boot.Domain, body, func(r *http.Request) {
			r.SetBasicAuth(s.boot.RESTUser, s.boot.RESTPassword)
			r.Header.Set("Content-Type", "application/json")
		})
		require.Equal(t, 200, status, out)
	}
	put(`{"moduleConfig": {"modHttpUpload": {"maxFileSize": 1000}}}`)
	r = slixmpptest.Upload(t, s.c2s, "alice@localhost", "wonder land", file)
	require.Equal(t, slixmpptest.UploadResult{Error: "FileTooBig", Max: 1000}, r)

	put(`{"moduleConfig": {"modHttpUpload": {"enabled": false}}}`)
	r = slixmpptest.Upload(t, s.c2s, "alice@localhost", "wonder land", file)
	require.False(t, r.OK)
	require.Equal(t, "UploadServiceNotFound: ", r.Error, "switched off, the service is not in disco#items")
}

// TestUploadDefaultsAgree holds the REST API's modHttpUpload defaults to
// the ones xmppcore applies when a domain never set them.
func TestUploadDefaultsAgree(t *testing.T) {
	m := commands.DefaultDomainSettings("x.example").ModuleConfig.ModHttpUpload
	d := modcfg.DefaultUpload
	require.True(t, m.Enabled)
	require.Equal(t, modcfg.UploadSettings{MaxFileSize: m.MaxFileSize, Quota: m.Quota, ExpiryDays: m.ExpiryDays}, d)
}
