package main

import (
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/xmppgate/xmppgate/commands/goldentest"
)

// TestWebChatGolden walks testdata/webchat: XEP-0156 host-meta and the CORS
// answers of the web chat routes, byte for byte. A case's cors_origins
// section runs it on a server with that setting (one origin a line).
func TestWebChatGolden(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	servers := map[string]*testServer{}
	server := func(origins string) *testServer {
		mu.Lock()
		defer mu.Unlock()
		if s := servers[origins]; s != nil {
			return s
		}
		s := startServer(t, func(c *Config) {
			if origins != "" {
				c.CORSOrigins = strings.Fields(origins)
			}
		})
		servers[origins] = s
		return s
	}
	goldentest.Walk(t, filepath.Join("testdata", "webchat", "*.txtar"), func(t *testing.T, c *goldentest.Case) {
		origins, _ := c.Section("cors_origins")
		s := server(strings.TrimSpace(origins))
		req, _ := c.Section("request")
		r := goldentest.Request(t, s.url, strings.TrimRight(req, "\n"), func(r *http.Request, name, value string) bool {
			if name == "Host" {
				r.Host = value
				return true
			}
			return false
		})
		status, header, body := goldentest.Do(t, r)
		c.Check(map[string]string{
			"status": strconv.Itoa(status) + "\n",
			"headers": goldentest.Headers(header, "Content-Type", "Access-Control-Allow-Origin", "Access-Control-Allow-Methods",
				"Access-Control-Allow-Headers", "Access-Control-Max-Age", "Vary"),
			"body": body,
		}, []string{"status", "headers", "body"})
	})
}
