package openfirerest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/gorilla/mux"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/xmppgate/xmppgate/commands/commandstest"
	"github.com/xmppgate/xmppgate/commands/goldentest"
	"github.com/xmppgate/xmppgate/commands/openfire"
	"github.com/xmppgate/xmppgate/commands/openfire/openfiretest"
	"github.com/xmppgate/xmppgate/commands/openfirerest"
	"github.com/xmppgate/xmppgate/store"
)

const goldenDir = "../../testdata/openfirerest"

// setup builds openfiretest's fixture with both Openfire front ends
// mounted as serve.go mounts them, logging to log (nil: nowhere).
func setup(t *testing.T, log *zap.Logger) *openfiretest.Bundle {
	t.Helper()
	return openfiretest.New(t, log, openfire.New, func(r *mux.Router, f *commandstest.Fixture) {
		h := openfirerest.New(f.Reg, f.Env)
		for _, p := range openfirerest.Prefixes {
			r.PathPrefix(p).Handler(h)
		}
	})
}

// state dumps what the API can change: users (status, name, email,
// groups), roster items, and each domain's groups and chat rooms with
// their fields.
func state(b *openfiretest.Bundle) string {
	b.T.Helper()
	return b.State(func(d store.Domain) []string {
		gs, err := b.Store.OpenfireGroups(b.Ctx, d.ID)
		require.NoError(b.T, err)
		var out []string
		for _, g := range gs {
			out = append(out, fmt.Sprintf("group %s/%s show=%s description=%q admins=%q members=%q", d.FQDN, g.Name, g.Show, g.Description, g.Admins, g.Members))
		}
		rs, err := b.Store.Rooms(b.Ctx, d.ID)
		require.NoError(b.T, err)
		for _, r := range rs {
			affs, err := b.Store.RoomAffiliations(b.Ctx, r.ID)
			require.NoError(b.T, err)
			var as []string
			for _, a := range affs {
				as = append(as, a.Aff+":"+a.JID)
			}
			out = append(out, fmt.Sprintf("room %s/%s subject=%q affiliations=%q config=%s", d.FQDN, r.Name, r.Subject, as, r.Config))
		}
		return out
	})
}

// roomDates are a chat room's dates and an audit line's timestamp, which
// differ on every run (the sessions' dates are goldenLive's, fixed).
var roomDates = regexp.MustCompile(`(<(creationDate|modificationDate|timestamp)>)[^<]*(</(creationDate|modificationDate|timestamp)>)|("(creationDate|modificationDate|timestamp)":)[0-9]+`)

func maskDates(body string) string {
	return roomDates.ReplaceAllString(body, "${1}${5}DATE${3}")
}

// TestOpenfireRESTGolden walks testdata/openfirerest/*.txtar. Each case
// runs on a fresh server with setup's fixture, then the "setup" section's
// requests (one per line, header lines after a "|" each: "POST /x | H: v |
// body"; each must answer 2xx), then the "request" section, whose status,
// content type, body, queued changes and resulting store state must match
// byte for byte.
func TestOpenfireRESTGolden(t *testing.T) {
	t.Parallel()
	goldentest.Walk(t, filepath.Join(goldenDir, "*.txtar"), func(t *testing.T, c *goldentest.Case) {
		b := setup(t, nil)
		order := []string{"status", "headers", "body", "queued", "state"}
		var live *goldenLive
		name := filepath.Base(t.Name())
		if strings.HasPrefix(name, "sessions_") || strings.HasPrefix(name, "messages_") {
			live = newGoldenLive()
			b.Env.Live = live
			order = append(order, "live")
		}
		if strings.HasPrefix(name, "properties_") {
			order = append(order, "settings")
		}
		for _, line := range c.Lines("setup") {
			status, _, body := b.Send(setupRequest(line))
			require.True(t, status >= 200 && status < 300, "setup %q: %d %s", line, status, body)
		}
		status, header, body, queued := c.Send(b.Store, b.Send)
		headers := ""
		for _, name := range []string{"Content-Type", "Allow", "Access-Control-Allow-Origin"} {
			if v := header.Get(name); v != "" {
				headers += name + ": " + v + "\n"
			}
		}
		got := map[string]string{
			"status":  strconv.Itoa(status) + "\n",
			"headers": headers,
			"body":    body,
			"queued":  queued,
			"state":   state(b),
		}
		if live != nil {
			got["live"] = live.String()
		} else {
			got["body"] = maskDates(body) // goldenLive's dates are fixed
		}
		got["settings"] = mappedSettings(b)
		c.Check(got, order)
	})
}

var headerLine = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]*: `)

// setupRequest turns a one-line setup request "METHOD /path | Header: v |
// body" into the request text goldentest.Request reads.
func setupRequest(line string) string {
	parts := strings.Split(line, " | ")
	var head []string
	body := ""
	for i, p := range parts {
		switch {
		case i == 0:
			head = append(head, p)
		case i == len(parts)-1 && !headerLine.MatchString(p):
			body = p
		default:
			head = append(head, p)
		}
	}
	return strings.Join(head, "\n") + "\n\n" + body
}

// settingsPaths are the stored settings the system properties map onto
// (docs/openfire.md), read here from the stored JSON itself.
var settingsPaths = []string{"moduleConfig.enableAnonymousLogin", "moduleConfig.enableFederation",
	"moduleConfig.modMuc.enabled", "moduleConfig.modMuc.mucCreateAcl", "moduleConfig.modPubsub.enabled",
	"moduleConfig.modPep.enabled", "moduleConfig.modPrivate.enabled", "moduleConfig.modStreamManagement.enabled",
	"moduleConfig.modHttpUpload.maxFileSize"}

// mappedSettings shows a.example's stored settings at settingsPaths, one
// "path=value" a line ("none stored" before any write): the property
// goldens' proof of what a write stored, unmoved by other defaults.
func mappedSettings(b *openfiretest.Bundle) string {
	b.T.Helper()
	d, err := b.Store.DomainByFQDN(b.Ctx, "a.example")
	require.NoError(b.T, err)
	var stored map[string]any
	if len(d.Settings) > 0 {
		dec := json.NewDecoder(bytes.NewReader(d.Settings))
		dec.UseNumber()
		require.NoError(b.T, dec.Decode(&stored))
	}
	if len(stored) == 0 {
		return "none stored\n"
	}
	var out strings.Builder
	for _, path := range settingsPaths {
		var v any = stored
		for _, k := range strings.Split(path, ".") {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		fmt.Fprintf(&out, "%s=%v\n", path, v)
	}
	return out.String()
}
