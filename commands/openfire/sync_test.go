package openfire_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/openfire"
	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

const us = "GET " + openfire.PathUserService + "?"

// ok sends a request that must succeed.
func (b *testBundle) ok(query string) {
	b.T.Helper()
	status, _, body := b.Send(us + query)
	require.Equal(b.T, 200, status)
	require.Equal(b.T, "<result>ok</result>\n", body, query)
}

func (b *testBundle) user(name, fqdn string) store.User {
	b.T.Helper()
	u, err := b.Store.UserByJID(b.Ctx, fqdn, name)
	require.NoError(b.T, err)
	return u
}

// queueAsync queues a command as an asynchronous dialect does (no flush).
func (b *testBundle) queueAsync(dialect commands.Dialect, account, name string, raw commands.Raw) commands.Receipt {
	b.T.Helper()
	acc := b.Accs[account]
	caller := commands.Caller{Dialect: dialect, Account: acc, Accounts: []int64{acc}, Grants: commands.Grants{"*"}}
	var def *commands.Def
	for _, d := range b.Reg.Defs() {
		if d.Name == name {
			def = d
		}
	}
	require.NotNil(b.T, def, name)
	args, err := b.Reg.Bind(b.Ctx, b.Env, caller, def, commands.Input{Text: raw})
	require.NoError(b.T, err)
	res, err := (&commands.Call{Def: def, Caller: caller, Env: b.Env, Reg: b.Reg, Args: args}).Run(b.Ctx)
	require.NoError(b.T, err)
	return res.(commands.Receipt)
}

// A new password replaces the SCRAM keys and the sealed copy.
func TestUpdatePassword(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.ok("type=add&secret=acmesecret&username=alice&password=old")
	require.True(t, b.user("alice", "a.example").Cred.Verify("old"))
	b.ok("type=update&secret=acmesecret&username=alice&password=new")
	u := b.user("alice", "a.example")
	require.True(t, u.Cred.Verify("new"))
	require.False(t, u.Cred.Verify("old"))
	plain, err := b.Env.Box.Open(u.PasswordSealed, commands.PurposePassword)
	require.NoError(t, err)
	require.Equal(t, "new", string(plain))
}

// A change queued by DreamHost and not applied yet is applied before the
// Openfire call that would have been refused because of it.
func TestPendingAsyncChangeAppliedFirst(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.ok("type=add&secret=acmesecret&username=alice&password=pw")
	q := b.queueAsync(commands.DreamHost, "acme", "deactivate_user", commands.Raw{"username": {"alice"}, "domain": {"a.example"}})
	require.Equal(t, store.StatusPendingInactive, b.user("alice", "a.example").Status)
	b.ok("type=enable&secret=acmesecret&username=alice")
	require.Equal(t, store.StatusActive, b.user("alice", "a.example").Status)
	batch, err := b.Store.BatchByToken(b.Ctx, q.Token)
	require.NoError(t, err)
	require.Equal(t, store.BatchSuccess, batch.Status)
}

// Another change of the batch failing does not fail the call.
func TestOtherChangeFailureIgnored(t *testing.T) {
	t.Parallel()
	b := setup(t)
	require.NoError(t, b.Store.Write(b.Ctx, func(tx *store.Tx) error {
		_, err := queue.EnqueueTx(b.Ctx, tx, b.Accs["acme"], store.Change{Command: "no_such_command"})
		return err
	}))
	b.ok("type=add&secret=acmesecret&username=alice&password=pw")
	require.Equal(t, store.StatusActive, b.user("alice", "a.example").Status)
	ids, err := b.Store.OpenBatchIDs(b.Ctx, b.Accs["acme"])
	require.NoError(t, err)
	require.Empty(t, ids)
	batch, err := b.Store.Batch(b.Ctx, 2) // batch 1 is the fixture's
	require.NoError(t, err)
	require.Equal(t, store.BatchFailure, batch.Status)
}

// The call's own change failing at apply time answers with its error: here
// an identical add_roster queued earlier in the same batch wins.
func TestOwnChangeFailure(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.ok("type=add&secret=acmesecret&username=alice&password=pw")
	b.queueAsync(commands.Openfire, "acme", "add_roster_item", commands.Raw{"username": {"alice"}, "domain": {"a.example"}, "item_jid": {"carol@example.com"}})
	status, _, body := b.Send(us + "type=add_roster&secret=acmesecret&username=alice&item_jid=carol@example.com&name=Second")
	require.Equal(t, 200, status)
	require.Equal(t, "<error>UserAlreadyExistsException</error>\n", body)
	it, err := b.Store.RosterItem(b.Ctx, b.user("alice", "a.example").ID, "carol@example.com")
	require.NoError(t, err)
	require.Equal(t, "", it.Name)
}

// Concurrent calls share batches and group commits; each gets its answer.
func TestConcurrentCalls(t *testing.T) {
	t.Parallel()
	b := setup(t)
	var wg sync.WaitGroup
	bodies := make([]string, 16)
	for i := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			q := fmt.Sprintf("type=add&secret=acmesecret&username=u%d&password=pw&groups=g%d,all", i, i%3)
			if i%4 == 3 {
				q = "type=add&secret=acmesecret&username=same&password=pw"
			}
			_, _, bodies[i] = b.Send(us + q)
		}()
	}
	wg.Wait()
	oks, exists := 0, 0
	for _, body := range bodies {
		switch body {
		case "<result>ok</result>\n":
			oks++
		case "<error>UserAlreadyExistsException</error>\n":
			exists++
		default:
			t.Fatalf("unexpected body %q", body)
		}
	}
	require.Equal(t, 13, oks)
	require.Equal(t, 3, exists)
	users, err := b.Store.Users(b.Ctx, []int64{b.Accs["acme"]})
	require.NoError(t, err)
	require.Len(t, users, 13)
	for _, u := range users {
		require.Equal(t, store.StatusActive, u.Status, u.Username)
	}
}

// Neither the secret nor a password reaches the log.
func TestLogRedaction(t *testing.T) {
	t.Parallel()
	core, logs := observer.New(zapcore.DebugLevel)
	b := setupLog(t, zap.New(core))
	b.ok("type=add&secret=acmesecret&username=alice&password=hunter2pw")
	b.Send(us + "type=add&secret=wrongsecret&username=x&password=hunter3pw")
	require.NotZero(t, logs.Len())
	for _, e := range logs.All() {
		line := e.Message
		for k, v := range e.ContextMap() {
			line += fmt.Sprintf(" %s=%v", k, v)
		}
		for _, secret := range []string{"acmesecret", "wrongsecret", "hunter2pw", "hunter3pw"} {
			require.NotContains(t, line, secret)
		}
	}
}

// BootstrapSecret makes a working secret once and then returns it.
func TestBootstrapSecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acc, err := commands.CreateAccount(b.Ctx, b.Env, "boot", 0, false)
	require.NoError(t, err)
	_, err = commands.BootstrapOpenfireSecret(b.Ctx, b.Env, acc.ID)
	require.Error(t, err, "an account without a domain has nothing to bind")
	_, err = commands.CreateDomain(b.Ctx, b.Env, "boot.example", acc.ID)
	require.NoError(t, err)
	s1, err := commands.BootstrapOpenfireSecret(b.Ctx, b.Env, acc.ID)
	require.NoError(t, err)
	require.Len(t, s1, commands.OpenfireSecretLen)
	s2, err := commands.BootstrapOpenfireSecret(context.Background(), b.Env, acc.ID)
	require.NoError(t, err)
	require.Equal(t, s1, s2)
	b.ok("type=add&secret=" + s1 + "&username=root&password=pw")
	require.Equal(t, store.StatusActive, b.user("root", "boot.example").Status)
}

func TestSetOpenfire(t *testing.T) {
	t.Parallel()
	b := setup(t)
	acme := b.Accs["acme"]
	for i, tc := range []struct {
		spec commands.OpenfireSpec
		want string // error text part; "" = success
	}{
		0: {commands.OpenfireSpec{Account: acme, Domain: "b.example"}, "not a domain of account"},
		1: {commands.OpenfireSpec{Account: acme, Domain: "nope.example"}, "not a domain of account"},
		2: {commands.OpenfireSpec{Account: acme, Secret: "othersecret"}, "another account uses this secret"},
		3: {commands.OpenfireSpec{Account: acme, Secret: " padded"}, "without surrounding spaces"},
		4: {commands.OpenfireSpec{Account: 999}, "has no domain"},
		5: {commands.OpenfireSpec{Account: acme, Domain: "A2.example."}, ""},
	} {
		_, _, err := commands.SetOpenfire(b.Ctx, b.Env, tc.spec)
		if tc.want == "" {
			require.NoError(t, err, "row %d", i)
			continue
		}
		require.ErrorContains(t, err, tc.want, "row %d", i)
	}
	// Row 5 moved acme to a2.example and kept its secret.
	b.ok("type=add&secret=acmesecret&username=alice&password=pw")
	require.Equal(t, store.StatusActive, b.user("alice", "a2.example").Status)

	ip, off := " 10.0.0.1 ,, ::1 ", false
	secret, c, err := commands.SetOpenfire(b.Ctx, b.Env, commands.OpenfireSpec{Account: acme, Random: true, IPAllow: &ip, Enabled: &off})
	require.NoError(t, err)
	require.NotEqual(t, "acmesecret", secret)
	require.Equal(t, "10.0.0.1,::1", c.IPAllow)
	require.False(t, c.Enabled)
	require.Equal(t, "a2.example", c.Domain)
	_, _, body := b.Send(us + "type=grouplist&secret=acmesecret")
	require.Equal(t, "<error>RequestNotAuthorised</error>\n", body)
	_, _, body = b.Send(us + "type=grouplist&secret=" + secret + "\nX-Forwarded-For: ::1")
	require.Equal(t, "<error>UserServiceDisabled</error>\n", body)
	again, _, err := commands.SetOpenfire(b.Ctx, b.Env, commands.OpenfireSpec{Account: acme})
	require.NoError(t, err)
	require.Equal(t, secret, again, "no --secret/--random keeps the secret")
	require.False(t, strings.Contains(fmt.Sprint(c), secret), "the credential holds the secret only sealed")
}

func TestEscapeNode(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct{ in, want string }{
		0: {"john smith", `john\20smith`},
		1: {`a"&'/:<>@b`, `a\22\26\27\2f\3a\3c\3e\40b`},
		2: {`a\20b`, `a\5c20b`},
		3: {`a\b`, `a\b`},
		4: {`a\2`, `a\2`},
		5: {"a\tb\u2003c\u00a0d", "a\\20b\\20c\u00a0d"},
		6: {"ärger", "ärger"},
	} {
		require.Equal(t, tc.want, commands.EscapeNode(tc.in), "row %d", i)
	}
}

// Oversized bodies and values that are not UTF-8 are bad parameters.
func TestBadInput(t *testing.T) {
	t.Parallel()
	b := setup(t)
	big := "POST " + openfire.PathUserService + "?type=grouplist&secret=acmesecret\nContent-Type: application/x-www-form-urlencoded\n\nx=" +
		strings.Repeat("a", openfire.MaxBody)
	status, _, body := b.Send(big)
	require.Equal(t, 413, status)
	require.Equal(t, "<error>IllegalArgumentException</error>\n", body)
	status, _, body = b.Send(us + "type=add&secret=acmesecret&username=alice&password=pw&name=%FF")
	require.Equal(t, 200, status)
	require.Equal(t, "<error>IllegalArgumentException</error>\n", body)
	status, _, body = b.Send(us + "type=add&secret=acmesecret&username=%FF&password=pw")
	require.Equal(t, 200, status)
	require.Equal(t, "<error>IllegalArgumentException</error>\n", body)
	status, _, _ = b.Send("HEAD " + openfire.PathUserService + "?type=grouplist&secret=acmesecret")
	require.Equal(t, 405, status)
}
