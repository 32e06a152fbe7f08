package xmppcore_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"

	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmppcore"
)

func TestLogin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "sécret pass", store.StatusActive)
	tests := []struct {
		name string
		opts loginOpts
		mech string // what the client reports for SCRAM
	}{
		0: {name: "scram-sha-1", opts: loginOpts{mech: "SCRAM-SHA-1", resource: "r1"}, mech: "SCRAM-SHA-1"},
		1: {name: "scram-sha-256", opts: loginOpts{mech: "SCRAM-SHA-256", resource: "r2"}, mech: "SCRAM-SHA-256"},
		2: {name: "plain", opts: loginOpts{mech: "PLAIN", resource: "r3"}},
		3: {name: "direct-tls", opts: loginOpts{mech: "SCRAM-SHA-256", resource: "r4", direct: true}, mech: "SCRAM-SHA-256"},
		4: {name: "server-resource", opts: loginOpts{mech: "SCRAM-SHA-1"}, mech: "SCRAM-SHA-1"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := b.mustLogin(t, "alice", "sécret pass", tt.opts)
			require.Equal(t, tt.mech, c.Mechanism, "row %d", i)
			require.True(t, strings.HasPrefix(c.JID(), "alice@"+domain+"/"), c.JID())
			if tt.opts.resource != "" {
				require.Equal(t, "alice@"+domain+"/"+tt.opts.resource, c.JID())
			}
			// the session answers a ping to the server
			_, err := c.RawInformation(c.JID(), domain, "p1", "get", "<ping xmlns='urn:xmpp:ping'/>")
			require.NoError(t, err)
			c.Expect(t, "pong", goxmpptest.IQ("p1", "result", ""))
		})
	}
}

func TestLoginRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "right", store.StatusActive)
	b.user(t, domain, "ina", "right", store.StatusInactive)
	b.user(t, domain, "pend", "right", store.StatusPendingActive)
	b.user(t, domain, "gone", "right", store.StatusPendingDelete)
	b.user(t, "disabled.test", "dave", "right", store.StatusActive)
	tests := []struct {
		name, user, pw, mech, fqdn, want string
	}{
		0: {name: "wrong password scram-sha-256", user: "alice", pw: "wrong", mech: "SCRAM-SHA-256"},
		1: {name: "wrong password scram-sha-1", user: "alice", pw: "wrong", mech: "SCRAM-SHA-1"},
		2: {name: "wrong password plain", user: "alice", pw: "wrong", mech: "PLAIN"},
		// Deactivated, right password: RFC 6120 6.5.1 (sasl_disabled_test.go).
		3: {name: "inactive", user: "ina", pw: "right", mech: "SCRAM-SHA-256", want: "account-disabled"},
		8: {name: "inactive wrong password", user: "ina", pw: "wrong", mech: "SCRAM-SHA-1"},
		4: {name: "pending", user: "pend", pw: "right", mech: "SCRAM-SHA-1"},
		5: {name: "pending-delete plain", user: "gone", pw: "right", mech: "PLAIN"},
		6: {name: "unknown user", user: "nobody", pw: "right", mech: "SCRAM-SHA-256"},
		7: {name: "disabled domain", user: "dave", pw: "right", mech: "PLAIN", fqdn: "disabled.test"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.login(t, tt.user, tt.pw, loginOpts{mech: tt.mech, fqdn: tt.fqdn})
			require.Error(t, err, "row %d", i)
			want := tt.want
			if want == "" {
				want = "not-authorized"
			}
			require.Contains(t, err.Error(), want, "row %d", i)
		})
	}
	require.Empty(t, b.srv.Sessions("", ""))
}

func TestSubscribePresenceAndChat(t *testing.T) {
	t.Parallel()
	b := setup(t)
	au := b.user(t, domain, "alice", "pw-a", store.StatusActive)
	bu := b.user(t, domain, "bob", "pw-b", store.StatusActive)
	alice := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "home"})
	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "work"})
	aj, bj := "alice@"+domain, "bob@"+domain

	alice.RequestSubscription(bj)
	bob.Expect(t, "subscribe from alice", goxmpptest.Presence(aj, "subscribe"))
	bob.ApproveSubscription(aj)
	alice.Expect(t, "subscribed from bob", goxmpptest.Presence(bj, "subscribed"))
	alice.Expect(t, "bob's presence", goxmpptest.Presence(bj+"/work", ""))

	bob.RequestSubscription(aj)
	alice.Expect(t, "subscribe from bob", goxmpptest.Presence(bj, "subscribe"))
	alice.ApproveSubscription(bj)
	bob.Expect(t, "subscribed from alice", goxmpptest.Presence(aj, "subscribed"))
	bob.Expect(t, "alice's presence", goxmpptest.Presence(aj+"/home", ""))

	for _, c := range []struct {
		uid     int64
		contact string
	}{{au.ID, bj}, {bu.ID, aj}} {
		it, err := b.st.RosterItem(b.ctx, c.uid, c.contact)
		require.NoError(t, err)
		require.Equal(t, store.SubBoth, it.Subscription)
		require.False(t, it.Ask)
		require.False(t, it.PendingIn)
	}

	// a presence change reaches the subscribed contact
	_, err := alice.SendPresence(goxmpp.Presence{Show: "away", Status: "lunch"})
	require.NoError(t, err)
	p := bob.Expect(t, "alice away", goxmpptest.Presence(aj+"/home", "")).(goxmpp.Presence)
	for p.Show != "away" {
		p = bob.Expect(t, "alice away", goxmpptest.Presence(aj+"/home", "")).(goxmpp.Presence)
	}
	require.Equal(t, "lunch", p.Status)

	// messages both ways, to the bare and to the full JID
	_, err = alice.Send(goxmpp.Chat{Remote: bj, Type: "chat", Text: "hello bob"})
	require.NoError(t, err)
	bob.Expect(t, "message from alice", goxmpptest.Chat(aj+"/home", "hello bob"))
	_, err = bob.Send(goxmpp.Chat{Remote: aj + "/home", Type: "chat", Text: "hi alice"})
	require.NoError(t, err)
	alice.Expect(t, "message from bob", goxmpptest.Chat(bj+"/work", "hi alice"))

	// a message to an unknown user bounces with service-unavailable
	_, err = alice.Send(goxmpp.Chat{Remote: "nobody@" + domain, Type: "chat", Text: "anyone?"})
	require.NoError(t, err)
	alice.Expect(t, "bounce", func(st any) bool {
		m, ok := st.(goxmpp.Chat)
		return ok && m.Type == "error" && m.Remote == "nobody@"+domain
	})

	// bob disconnecting is broadcast as unavailable
	require.Equal(t, 1, b.srv.Kick(domain, "bob", "", "bye"))
	alice.Expect(t, "bob unavailable", goxmpptest.Presence(bj+"/work", "unavailable"))
	require.Error(t, bob.Ended(t))

	// removing bob from alice's roster cancels both subscriptions
	q := alice.Ask(t, "rm", "set", "", "<query xmlns='jabber:iq:roster'><item jid='"+bj+"' subscription='remove'/></query>")
	require.Equal(t, "result", q.Type)
	_, err = b.st.RosterItem(b.ctx, au.ID, bj)
	require.ErrorIs(t, err, store.ErrNotFound)
	it, err := b.st.RosterItem(b.ctx, bu.ID, aj)
	require.NoError(t, err)
	require.Equal(t, store.SubNone, it.Subscription)
	require.True(t, it.Visible, "bob keeps alice in his roster")
}

func TestOfflineMessageDeliveredOnLogin(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	bu := b.user(t, domain, "bob", "pw-b", store.StatusActive)
	alice := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "r"})
	_, err := alice.Send(goxmpp.Chat{Remote: "bob@" + domain, Type: "chat", Text: "while you were out"})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		n, err := b.st.OfflineCount(b.ctx, bu.ID)
		return err == nil && n == 1
	}, 5*time.Second, 10*time.Millisecond)

	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r"})
	m := bob.Expect(t, "offline message", goxmpptest.Chat("alice@"+domain+"/r", "while you were out")).(goxmpp.Chat)
	require.False(t, m.Stamp.IsZero(), "delay stamp")
	n, err := b.st.OfflineCount(b.ctx, bu.ID)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestOfflineDisabledBounces(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	bu := b.user(t, domain, "bob", "pw-b", store.StatusActive)
	b.setModules(t, map[string]bool{"modOffline": false})
	alice := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "r"})
	_, err := alice.Send(goxmpp.Chat{Remote: "bob@" + domain, Type: "chat", Text: "x"})
	require.NoError(t, err)
	alice.Expect(t, "service-unavailable", func(st any) bool {
		m, ok := st.(goxmpp.Chat)
		return ok && m.Type == "error" && m.Remote == "bob@"+domain
	})
	n, err := b.st.OfflineCount(b.ctx, bu.ID)
	require.NoError(t, err)
	require.Zero(t, n)
}

func TestRosterChangedPush(t *testing.T) {
	t.Parallel()
	b := setup(t)
	au := b.user(t, domain, "alice", "pw-a", store.StatusActive)
	alice := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "r"})
	require.NoError(t, alice.Roster())
	alice.Expect(t, "roster result", goxmpptest.IQ("roster1", "result", ""))

	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		_, err := tx.PutRosterItem(b.ctx, au.ID, store.RosterItem{
			Contact: "carol@" + domain, Name: "Carol", Subscription: store.SubBoth, Visible: true, Groups: []string{"Friends"}})
		return err
	}))
	b.srv.RosterChanged(domain, "alice", "carol@"+domain)
	alice.Expect(t, "roster push", goxmpptest.IQ("", "set", `jid="carol@`+domain+`"`))

	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		_, err := tx.DeleteRosterItem(b.ctx, au.ID, "carol@"+domain)
		return err
	}))
	b.srv.RosterChanged(domain, "alice", "carol@"+domain)
	alice.Expect(t, "remove push", goxmpptest.IQ("", "set", `subscription="remove"`))

	// roster set through the client is pushed back and stored
	_, err := alice.RawInformation(alice.JID(), "", "set1", "set",
		"<query xmlns='jabber:iq:roster'><item jid='dan@"+domain+"' name='Dan'><group>Work</group></item></query>")
	require.NoError(t, err)
	alice.Expect(t, "push of own set", goxmpptest.IQ("", "set", `jid="dan@`+domain+`"`))
	alice.Expect(t, "set result", goxmpptest.IQ("set1", "result", ""))
	it, err := b.st.RosterItem(b.ctx, au.ID, "dan@"+domain)
	require.NoError(t, err)
	require.Equal(t, []string{"Work"}, it.Groups)
	require.Equal(t, store.SubNone, it.Subscription)

	// roster versioning (RFC 6121 2.6): an up-to-date version gets an empty
	// result, an old one the whole roster with the current version
	ver, err := b.st.RosterVersion(b.ctx, au.ID)
	require.NoError(t, err)
	q := alice.Ask(t, "v-cur", "get", "", fmt.Sprintf("<query xmlns='jabber:iq:roster' ver='%d'/>", ver))
	require.Equal(t, "result", q.Type)
	require.NotContains(t, string(q.Query), "dan@")
	q = alice.Ask(t, "v-old", "get", "", "<query xmlns='jabber:iq:roster' ver='1'/>")
	require.Contains(t, string(q.Query), `jid="dan@`+domain+`"`)
	require.Contains(t, string(q.Query), fmt.Sprintf(`ver="%d"`, ver))
}

func TestUserGoneAndPasswordChanged(t *testing.T) {
	t.Parallel()
	b := setup(t)
	au := b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	a1 := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "one"})
	a2 := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "two"})
	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "x"})
	require.Len(t, b.srv.Sessions(domain, "alice"), 2)
	require.Equal(t, 3, b.srv.OnlineCount(domain))

	require.NoError(t, b.st.Write(b.ctx, func(tx *store.Tx) error {
		return tx.SetUserStatus(b.ctx, au.ID, store.StatusInactive)
	}))
	b.srv.UserGone(domain, "alice")
	for _, c := range []*goxmpptest.Client{a1, a2} {
		require.ErrorContains(t, c.Ended(t), "account disabled or removed")
	}
	require.Eventually(t, func() bool { return len(b.srv.Sessions(domain, "alice")) == 0 }, 5*time.Second, 10*time.Millisecond)
	_, err := b.login(t, "alice", "pw-a", loginOpts{})
	require.ErrorContains(t, err, "account-disabled")

	b.srv.PasswordChanged(domain, "bob")
	require.ErrorContains(t, bob.Ended(t), "password changed")
}

func TestResourceConflictReplacesOldSession(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw", store.StatusActive)
	old := b.mustLogin(t, "alice", "pw", loginOpts{resource: "same"})
	neu := b.mustLogin(t, "alice", "pw", loginOpts{resource: "same"})
	require.ErrorContains(t, old.Ended(t), "replaced")
	sess := b.srv.Sessions(domain, "alice")
	require.Len(t, sess, 1)
	require.Equal(t, "alice@"+domain+"/same", sess[0].JID)
	require.Equal(t, "127.0.0.1", sess[0].IP)
	require.True(t, sess[0].TLS)

	// the admin interface sends as the server
	require.NoError(t, b.srv.SendMessage(b.ctx, domain, "alice@"+domain+"/same", "headline", "", "maintenance"))
	neu.Expect(t, "admin message", goxmpptest.Chat(domain, "maintenance"))
	require.NoError(t, b.srv.SendStanza(b.ctx, []byte(`<message from="admin@`+domain+`" to="alice@`+domain+`" type="chat"><body>raw</body></message>`)))
	neu.Expect(t, "raw stanza", goxmpptest.Chat("admin@"+domain, "raw"))
	require.Error(t, b.srv.SendStanza(b.ctx, []byte(`<message to="alice@`+domain+`"/>`)), "from is required")
}

func TestStreamErrors(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *xmppcore.Config) { c.MaxStanza = 4096 })
	tests := []struct {
		name string
		in   []string
		want string
	}{
		0: {name: "unknown host", in: []string{strings.Replace(header, domain, "nowhere.test", 1)}, want: "<host-unknown"},
		1: {name: "bad stream namespace", in: []string{"<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong' to='" + domain + "' version='1.0'>"}, want: "<invalid-namespace"},
		2: {name: "server namespace", in: []string{strings.Replace(header, "jabber:client", "jabber:server", 1)}, want: "<invalid-namespace"},
		3: {name: "malformed xml", in: []string{header, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><a></b>"}, want: "<not-well-formed"},
		4: {name: "oversized stanza", in: []string{header, "<x>" + strings.Repeat("a", 10000) + "</x>"}, want: "<policy-violation"},
		5: {name: "auth before starttls", in: []string{header, "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGEAYg==</auth>"}, want: "<policy-violation"},
		6: {name: "old version", in: []string{strings.Replace(header, " version='1.0'>", ">", 1)}, want: "<unsupported-version"},
		7: {name: "whitespace is fine", in: []string{header, "\n \n\t", "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"}, want: "<proceed"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			out := raw(t, b.c2s, tt.in...)
			require.Contains(t, out, tt.want, "row %d: %s", i, out)
			require.Contains(t, out, "<stream:stream", "row %d: a header precedes the error", i)
		})
	}
}

func TestIdleTimeoutAndKeepalive(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *xmppcore.Config) { c.IdleTimeout = 1500 * time.Millisecond })
	b.user(t, domain, "alice", "pw", store.StatusActive)
	c := b.mustLogin(t, "alice", "pw", loginOpts{resource: "r"})
	for range 6 { // 2.4s of whitespace keepalives outlive the 1.5s idle limit
		time.Sleep(400 * time.Millisecond)
		_, err := c.SendKeepAlive()
		require.NoError(t, err)
	}
	require.Len(t, b.srv.Sessions(domain, "alice"), 1)
	require.ErrorContains(t, c.Ended(t), "idle")
}

// TestAbuseKeepsServingWithoutLeaks is not parallel: it counts goroutines.
func TestAbuseKeepsServingWithoutLeaks(t *testing.T) {
	b := setup(t, func(c *xmppcore.Config) {
		c.MaxStanza = 8192
		c.AuthFailures = 4
		c.NegotiationTimeout = 2 * time.Second
	})
	b.user(t, domain, "good", "pw", store.StatusActive)
	b.user(t, domain, "evil", "pw", store.StatusActive)
	good := b.mustLogin(t, "good", "pw", loginOpts{resource: "r"})
	settle := func() int {
		var n int
		for range 50 {
			runtime.GC()
			n = runtime.NumGoroutine()
			time.Sleep(20 * time.Millisecond)
			if runtime.NumGoroutine() == n {
				break
			}
		}
		return n
	}
	base := settle()

	// malformed XML from an authenticated session
	evil := b.mustLogin(t, "evil", "pw", loginOpts{resource: "a"})
	_, err := evil.SendOrg("<message><body>unclosed</message>")
	require.NoError(t, err)
	require.Error(t, evil.Ended(t))
	// a stanza over the limit
	evil = b.mustLogin(t, "evil", "pw", loginOpts{resource: "b"})
	_, err = evil.SendOrg("<message to='good@" + domain + "'><body>" + strings.Repeat("x", 20000) + "</body></message>")
	require.NoError(t, err)
	require.ErrorContains(t, evil.Ended(t), "stanza larger than 8192 bytes")
	// a child whose name is no name once its prefix is gone: routed on,
	// it would have broken good's stream (found by FuzzBookmarks)
	evil = b.mustLogin(t, "evil", "pw", loginOpts{resource: "c"})
	_, err = evil.SendOrg("<message to='good@" + domain + "'><body>b</body><p:0 xmlns:p='urn:p'/></message>")
	require.NoError(t, err)
	require.ErrorContains(t, evil.Ended(t), "stream error") // not-well-formed
	// unknown host
	require.Contains(t, raw(t, b.c2s, strings.Replace(header, domain, "nowhere.test", 1)), "<host-unknown")
	// a flood of failed logins: refused, then rate limited
	for i := range 6 {
		_, err := b.login(t, "evil", "wrong", loginOpts{mech: "SCRAM-SHA-256"})
		require.Error(t, err, "attempt %d", i)
		if i >= 4 {
			require.ErrorContains(t, err, "too many failed authentications", "attempt %d", i)
		}
	}
	_, err = b.login(t, "evil", "pw", loginOpts{})
	require.ErrorContains(t, err, "too many failed authentications", "the address stays limited")

	// the established session is still served
	_, err = good.RawInformation(good.JID(), domain, "still", "get", "<ping xmlns='urn:xmpp:ping'/>")
	require.NoError(t, err)
	good.Expect(t, "pong", goxmpptest.IQ("still", "result", ""))

	// no goroutine outlives its connection (the leaked go-xmpp sockets are
	// closed by the server's negotiation timeout)
	deadline := time.Now().Add(15 * time.Second)
	n := settle()
	for n > base && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
		n = settle()
	}
	require.LessOrEqual(t, n, base, "goroutines before %d, after %d", base, n)
}

func TestShutdownClosesStreams(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw", store.StatusActive)
	c := b.mustLogin(t, "alice", "pw", loginOpts{resource: "r"})
	// a connection still negotiating is closed too
	pending := make(chan string)
	go func() { pending <- raw(t, b.c2s, header) }()
	time.Sleep(100 * time.Millisecond)
	require.NoError(t, b.srv.Shutdown(b.ctx))
	require.ErrorContains(t, c.Ended(t), "server shutting down")
	require.Contains(t, <-pending, "<system-shutdown")
	require.Zero(t, b.srv.OnlineCount(""))
}

func TestSelfSignedCertificate(t *testing.T) {
	t.Parallel()
	b := setup(t)
	pemBytes, err := os.ReadFile(filepath.Join(b.dataDir, "tls", "cert.pem"))
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pemBytes))
	for _, name := range []string{domain, "disabled.test", "localhost"} {
		conn, err := tls.Dial("tcp", b.c2stls, &tls.Config{RootCAs: pool, ServerName: name})
		require.NoError(t, err, name)
		st := conn.ConnectionState()
		require.Equal(t, x509.ECDSA, st.PeerCertificates[0].PublicKeyAlgorithm)
		conn.Close()
	}
}

func TestDirectedPresence(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "alice", "pw-a", store.StatusActive)
	b.user(t, domain, "bob", "pw-b", store.StatusActive)
	alice := b.mustLogin(t, "alice", "pw-a", loginOpts{resource: "r"})
	bob := b.mustLogin(t, "bob", "pw-b", loginOpts{resource: "r"})
	bob.Expect(t, "own presence: bob is available", goxmpptest.Presence("bob@"+domain+"/r", ""))
	_, err := alice.SendPresence(goxmpp.Presence{To: "bob@" + domain, Status: "just for you"})
	require.NoError(t, err)
	bob.Expect(t, "directed presence", goxmpptest.Presence("alice@"+domain+"/r", ""))
	b.srv.Kick(domain, "alice", "r", "")
	bob.Expect(t, "unavailable after disconnect", goxmpptest.Presence("alice@"+domain+"/r", "unavailable"))
}
