package main

import (
	"bytes"
	"mime/multipart"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands/goldentest"
)

var timeRE = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d`)

// TestDreamHostGolden walks testdata/dreamhost/*.txtar. Each case runs on a
// fresh server with the fixture of addFixture: the "setup" section's lines
// (requests, or "worker" to apply the queue), then the "request" section,
// whose status, content type, body and newly queued changes must match
// byte for byte. Keys, tokens and times are shown as placeholders.
func TestDreamHostGolden(t *testing.T) {
	t.Parallel()
	goldentest.Walk(t, "testdata/dreamhost/*.txtar", func(t *testing.T, c *goldentest.Case) {
		s := startServer(t, nil)
		fx := s.addFixture()
		expand := func(v string) string {
			for name, key := range fx.keys {
				v = strings.ReplaceAll(v, "{{"+name+"}}", key)
			}
			for i, tok := range s.tokens() {
				v = strings.ReplaceAll(v, "{{token"+strconv.Itoa(i+1)+"}}", tok)
			}
			return v
		}
		for _, line := range c.Lines("setup") {
			if line == "worker" {
				s.runWorker()
				continue
			}
			status, body := s.send(expand(line))
			require.Equal(t, 200, status, "setup %q: %s", line, body)
		}
		before := s.pendingChanges()
		reqText, ok := c.Section("request")
		require.True(t, ok, "no request section")
		status, header, body := s.sendFull(expand(strings.TrimRight(reqText, "\n")))
		queued := newItems(before, s.pendingChanges())

		// Placeholders for what changes from run to run.
		for name, key := range fx.keys {
			body = strings.ReplaceAll(body, key, "{{"+name+"}}")
		}
		for i, tok := range s.tokens() {
			body = strings.ReplaceAll(body, tok, "{{token"+strconv.Itoa(i+1)+"}}")
		}
		body = timeRE.ReplaceAllString(body, "{{time}}")
		queuedText := "none\n"
		if len(queued) > 0 {
			queuedText = strings.Join(queued, "\n") + "\n"
		}
		c.Check(map[string]string{
			"status":       strconv.Itoa(status) + "\n",
			"content-type": header.Get("Content-Type") + "\n",
			"body":         body,
			"queued":       queuedText,
		}, []string{"status", "content-type", "body", "queued"})
	})
}

func newItems(before, after []string) []string {
	seen := map[string]int{}
	for _, b := range before {
		seen[b]++
	}
	var out []string
	for _, a := range after {
		if seen[a] > 0 {
			seen[a]--
			continue
		}
		out = append(out, a)
	}
	return out
}

// tokens lists the tokens of the batches made after the bootstrap, oldest first.
func (s *testServer) tokens() []string {
	var out []string
	for id := s.batch0 + 1; ; id++ {
		b, err := s.app.env.Store.Batch(t0(), id)
		if err != nil {
			return out
		}
		out = append(out, b.Token)
	}
}

func (s *testServer) send(req string) (int, string) {
	status, _, body := s.sendFull(req)
	return status, body
}

// sendFull sends a request written as "METHOD /path?query", optionally
// followed by header lines, a blank line and a body. "POST-MULTIPART /path"
// takes name=value lines and sends them as multipart/form-data.
func (s *testServer) sendFull(req string) (int, http.Header, string) {
	s.t.Helper()
	head, _, _ := strings.Cut(req, "\n")
	if target, ok := strings.CutPrefix(head, "POST-MULTIPART "); ok {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, l := range strings.Split(req, "\n")[1:] {
			k, v, _ := strings.Cut(l, "=")
			require.NoError(s.t, mw.WriteField(k, v))
		}
		require.NoError(s.t, mw.Close())
		r, err := http.NewRequest(http.MethodPost, strings.TrimSuffix(s.url, "/")+target, &buf)
		require.NoError(s.t, err)
		r.Header.Set("Content-Type", mw.FormDataContentType())
		return goldentest.Do(s.t, r)
	}
	return goldentest.Do(s.t, goldentest.Request(s.t, s.url, req, nil))
}
