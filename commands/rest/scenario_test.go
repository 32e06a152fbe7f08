package rest_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/rest"
	"github.com/xmppgate/xmppgate/store"
)

// TestRESTIsolation sends every endpoint, as acme, at another account's
// domain (b.example, with user bob) and at a domain nobody hosts: the two
// answers must be identical, and nothing may be queued or changed. The
// same holds for other against acme's domain.
func TestRESTIsolation(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	requests := []string{
		"GET /api/1.0/xmppdomains/%s",
		"PUT /api/1.0/xmppdomains/%s\n\n{\"displayName\": \"mine\", \"moduleConfig\": {\"modPing\": false}}",
		"DELETE /api/1.0/xmppdomains/%s",
		"GET /api/1.0/xmppdomains/%s/status",
		"GET /api/1.0/xmppdomains/%s/users",
		"POST /api/1.0/xmppdomains/%s/users/mallory?password=x",
		"POST /api/1.0/xmppdomains/%s/users",
		"GET /api/1.0/xmppdomains/%s/users/bob",
		"PUT /api/1.0/xmppdomains/%s/users/bob\n\n{\"enabled\": false, \"password\": \"stolen\"}",
		"DELETE /api/1.0/xmppdomains/%s/users/bob",
		"GET /api/1.0/xmppdomains/%s/users/bob/acl",
		"POST /api/1.0/xmppdomains/%s/users/bob/acl\n\n{\"acl\": {\"xmppgateway\": true}}",
	}
	for i, as := range []struct{ auth, foreign string }{
		0: {"acme acmepass", "b.example"},
		1: {"other otherpass", "a.example"},
	} {
		for j, req := range requests {
			stateBefore, changesBefore := b.state(), len(b.changes())
			withAuth := func(fqdn string) string {
				head, body, hasBody := strings.Cut(fmt.Sprintf(req, fqdn), "\n\n")
				out := head + "\nAuth: " + as.auth
				if hasBody {
					out += "\n\n" + body
				}
				return out
			}
			fs, _, fb := b.send(withAuth(as.foreign))
			ms, _, mb := b.send(withAuth("nowhere.example"))
			require.Equal(t, http.StatusNotFound, fs, "row %d/%d: %s", i, j, fb)
			require.Equal(t, ms, fs, "row %d/%d", i, j)
			require.Equal(t, mb, fb, "row %d/%d", i, j)
			require.Equal(t, stateBefore, b.state(), "row %d/%d changed the store", i, j)
			require.Len(t, b.changes(), changesBefore, "row %d/%d queued a change", i, j)
		}
	}
	// The foreign domain's settings are untouched.
	d, err := b.Store.DomainByFQDN(b.Ctx, "b.example")
	require.NoError(t, err)
	require.JSONEq(t, "{}", string(d.Settings))
}

// TestRESTPaging walks a domain's users two at a time by following next.
func TestRESTPaging(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	want := []string{"alice"}
	for i := 1; i <= 4; i++ {
		name := fmt.Sprintf("u%d", i)
		status, _, body := b.send("POST /api/1.0/xmppdomains/a.example/users/" + name + "?password=p")
		require.Equal(t, 200, status, body)
		want = append(want, name)
	}
	var got []string
	next := "/api/1.0/xmppdomains/a.example/users?limit=2"
	for pages := 0; next != ""; pages++ {
		require.Less(t, pages, 5)
		status, _, body := b.send("GET " + next)
		require.Equal(t, 200, status, body)
		require.Contains(t, body, `"totalCount": 5`)
		for _, part := range strings.Split(body, `"username": "`)[1:] {
			got = append(got, part[:strings.IndexByte(part, '"')])
		}
		next = ""
		if _, rest, ok := strings.Cut(body, `"next": "`); ok {
			next = rest[:strings.IndexByte(rest, '"')]
		}
	}
	require.Equal(t, want, got)
}

// TestRESTBootstrap: BootstrapREST creates a password once and returns the
// same one afterwards; it authenticates, and changing it locks the old out.
func TestRESTBootstrap(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	user, pw, err := commands.BootstrapREST(ctx, b.Env, b.Accs["nopw"])
	require.NoError(t, err)
	require.Equal(t, "nopw", user)
	require.Len(t, pw, 32)
	_, pw2, err := commands.BootstrapREST(ctx, b.Env, b.Accs["nopw"])
	require.NoError(t, err)
	require.Equal(t, pw, pw2)
	status, _, body := b.send("GET /api/1.0/xmppdomains\nAuth: nopw " + pw)
	require.Equal(t, 200, status, body)
	require.Contains(t, body, "n.example")

	_, err = commands.SetRESTPassword(ctx, b.Env, b.Accs["nopw"], "changed")
	require.NoError(t, err)
	status, _, _ = b.send("GET /api/1.0/xmppdomains\nAuth: nopw " + pw)
	require.Equal(t, 401, status)
	status, _, _ = b.send("GET /api/1.0/xmppdomains\nAuth: nopw changed")
	require.Equal(t, 200, status)

	_, _, err = commands.BootstrapREST(ctx, b.Env, 9999)
	require.ErrorIs(t, err, store.ErrNotFound)
}

// TestRESTPasswordChange: PUT password derives new SCRAM keys and the
// user object shows the new password.
func TestRESTPasswordChange(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	status, _, body := b.send("PUT /api/1.0/xmppdomains/a.example/users/alice\n\n{\"password\": \"n3w\"}")
	require.Equal(t, 200, status, body)
	require.Contains(t, body, `"password": "n3w"`)
	u, err := b.Store.UserByJID(b.Ctx, "a.example", "alice")
	require.NoError(t, err)
	require.True(t, u.Cred.Verify("n3w"))
	require.False(t, u.Cred.Verify("alicepw"))
}

// TestRESTPendingUser: a user left pending by the asynchronous DreamHost
// path is applied first, so the synchronous REST answer never shows it.
func TestRESTPendingUser(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	reg := b.Reg
	d, err := b.Store.DomainByFQDN(b.Ctx, "a.example")
	require.NoError(t, err)
	call := &commands.Call{Def: commands.DeactivateUser, Env: b.Env, Reg: reg,
		Caller: commands.Caller{Dialect: commands.DreamHost, Account: b.Accs["acme"], Accounts: []int64{b.Accs["acme"]}},
		Args:   commands.Values{"username": "alice", "domain": d}}
	_, err = call.Run(b.Ctx) // queued, not applied
	require.NoError(t, err)
	status, _, body := b.send("PUT /api/1.0/xmppdomains/a.example/users/alice\n\n{\"enabled\": true}")
	require.Equal(t, 200, status, body)
	require.Contains(t, body, `"enabled": true`)
	u, err := b.Store.UserByJID(b.Ctx, "a.example", "alice")
	require.NoError(t, err)
	require.Equal(t, store.StatusActive, u.Status)
}

// TestRESTConfigParent: random names go under the configured parent, and
// the REST family joins the real table with its docs.
func TestRESTConfigParent(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	mux := http.NewServeMux()
	mux.Handle(rest.Prefix, rest.New(b.Reg, b.Env, rest.Config{ParentDomain: "Pool.Example."}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	b.url = srv.URL
	status, _, body := b.send("POST /api/1.0/xmppdomains")
	require.Equal(t, 200, status, body)
	require.Regexp(t, `"fqdn": "[a-z]{4}\.pool\.example"`, body)

	md := string(commands.Markdown(b.Reg))
	rests := 0
	for _, d := range b.Reg.Dialect(commands.REST) {
		require.Contains(t, md, "## "+d.Name+"\n")
		rests++
	}
	require.NotZero(t, rests)
}
