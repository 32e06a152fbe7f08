package openfire_test

import (
	"fmt"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/commands/goldentest"
	"github.com/xmppgate/xmppgate/commands/openfire"
	"github.com/xmppgate/xmppgate/commands/openfire/openfiretest"
	"github.com/xmppgate/xmppgate/store"
)

const goldenDir = "../../testdata/openfire"

// testBundle is openfiretest's bundle with the legacy User Service
// mounted at both of its paths.
type testBundle struct{ *openfiretest.Bundle }

// setup builds the server and openfiretest's fixture.
func setup(t *testing.T) *testBundle { return setupLog(t, nil) }

// setupLog is setup with the handler logging to log.
func setupLog(t *testing.T, log *zap.Logger) *testBundle {
	t.Helper()
	return &testBundle{openfiretest.New(t, log, openfire.New)}
}

// state dumps what the API can change: users (status, name, email, groups),
// roster items and the groups of each domain.
func (b *testBundle) state() string {
	b.T.Helper()
	return b.State(func(d store.Domain) []string {
		names, err := b.Store.SharedGroupNames(b.Ctx, d.ID)
		require.NoError(b.T, err)
		if len(names) == 0 {
			return nil
		}
		return []string{fmt.Sprintf("groups %s %q", d.FQDN, names)}
	})
}

// TestOpenfireGolden walks testdata/openfire/*.txtar. Each case runs on a
// fresh server with setup's fixture, then the "setup" section's requests
// (each must answer 200), then the "request" section, whose status, content
// type, body, the changes it queued (and how they ended) and the resulting
// store state must match byte for byte.
func TestOpenfireGolden(t *testing.T) {
	t.Parallel()
	goldentest.Walk(t, filepath.Join(goldenDir, "*.txtar"), func(t *testing.T, c *goldentest.Case) {
		b := setup(t)
		for _, line := range c.Lines("setup") {
			status, _, body := b.Send(line)
			require.Equal(t, 200, status, "setup %q: %s", line, body)
		}
		status, header, body, queued := c.Send(b.Store, b.Send)
		c.Check(map[string]string{
			"status":       strconv.Itoa(status) + "\n",
			"content-type": header.Get("Content-Type") + "\n",
			"body":         body,
			"queued":       queued,
			"state":        b.state(),
		}, []string{"status", "content-type", "body", "queued", "state"})
	})
}
