package commands_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/commandstest"
	"github.com/xmppgate/xmppgate/internal/goxmpptest"
	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/store/credential"
)

// deriveFixture queues commands as accounts of a fixture with a live XMPP
// server, whose worker applies them only when told.
type deriveFixture struct {
	*commandstest.Fixture
	t *testing.T
}

func (f deriveFixture) queue(acc int64, def *commands.Def, fqdn string, args commands.Values) {
	f.t.Helper()
	d, err := f.Store.DomainByFQDN(f.Ctx, fqdn)
	require.NoError(f.t, err)
	args["domain"] = d
	c := &commands.Call{Def: def, Caller: commands.Caller{Account: acc, Accounts: []int64{acc}, Actor: "test"}, Env: f.Env, Reg: f.Reg, Args: args}
	_, err = c.Run(f.Ctx)
	require.NoError(f.t, err, "%s %v", def.Name, args["username"])
}

// waiting returns the changes of waiting batches by username, last one
// queued for a user winning, with the keys stored for each.
func (f deriveFixture) waiting() (changes map[string][]store.Change, keys map[int64][]byte) {
	f.t.Helper()
	all, err := f.Store.WaitingChanges(f.Ctx)
	require.NoError(f.t, err)
	changes, keys = map[string][]store.Change{}, map[int64][]byte{}
	for _, c := range all {
		var a struct{ Username string }
		require.NoError(f.t, json.Unmarshal(c.Args, &a))
		changes[a.Username] = append(changes[a.Username], c)
		k, err := f.Store.DerivedKeys(f.Ctx, c.BatchID)
		require.NoError(f.t, err)
		keys[c.ID] = k[c.ID]
	}
	return changes, keys
}

// openAhead opens keys derived ahead as the stored format defines them:
// sealed for "scram-keys:" and the SHA-256 of the change's argument
// record (which holds its sealed password).
func (f deriveFixture) openAhead(c store.Change, blob []byte) credential.SCRAM {
	f.t.Helper()
	sum := sha256.Sum256(c.Args)
	plain, err := f.Env.Box.Open(blob, "scram-keys:"+base64.RawStdEncoding.EncodeToString(sum[:]))
	require.NoError(f.t, err)
	var cred credential.SCRAM
	require.NoError(f.t, cred.UnmarshalBinary(plain))
	return cred
}

// TestKeysDerivedAhead: the keys the deriver stores for queued password
// changes are the ones the apply uses, each bound to its own change's
// password (two change_password in one batch, the same password text
// queued by another account); keys missing or corrupt are derived at
// apply; none are left once the batch is final; and the users log in
// with an independent client (go-xmpp) with the right password only.
func TestKeysDerivedAhead(t *testing.T) {
	t.Parallel()
	f := deriveFixture{commandstest.New(t, commandstest.Options{XMPP: true}), t}
	accA := f.Account("acme", "", false, "a.example")
	accB := f.Account("other", "", false, "b.example")
	ctx := context.Background()

	f.queue(accA, commands.AddUser, "a.example", commands.Values{"username": "alice", "password": "first-pw"})
	_, err := f.Env.Worker.RunOnce(ctx)
	require.NoError(t, err)

	f.queue(accA, commands.ChangePassword, "a.example", commands.Values{"username": "alice", "password": "second-pw"})
	f.queue(accA, commands.ChangePassword, "a.example", commands.Values{"username": "alice", "password": "third-pw"})
	f.queue(accA, commands.AddUser, "a.example", commands.Values{"username": "bob", "password": "bob-pw"})
	f.queue(accA, commands.AddUser, "a.example", commands.Values{"username": "carol", "password": "carol-pw"})
	f.queue(accB, commands.AddUser, "b.example", commands.Values{"username": "eve", "password": "third-pw"})
	n, err := f.Env.Worker.DeriveQueued(ctx)
	require.NoError(t, err)
	require.Equal(t, 5, n)
	f.queue(accA, commands.AddUser, "a.example", commands.Values{"username": "dave", "password": "dave-pw"})
	n, err = f.Env.Worker.DeriveQueued(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, n, "a later round derives only what was queued since")

	changes, keys := f.waiting()
	require.Len(t, changes["alice"], 2)
	aliceLast := changes["alice"][1]
	ahead := map[string]credential.SCRAM{}
	for _, who := range []string{"bob", "carol", "dave", "eve"} {
		c := changes[who][0]
		require.NotNil(t, keys[c.ID], who)
		ahead[who] = f.openAhead(c, keys[c.ID])
		require.False(t, bytes.Contains(keys[c.ID], ahead[who].SHA256Stored), "%s's keys are stored sealed", who)
		require.False(t, bytes.Contains(keys[c.ID], ahead[who].Salt), "%s's salt is stored sealed", who)
	}
	ahead["alice"] = f.openAhead(aliceLast, keys[aliceLast.ID])
	require.NotEqual(t, ahead["alice"].Salt, f.openAhead(changes["alice"][0], keys[changes["alice"][0].ID]).Salt)

	// carol's keys are corrupt, dave's are gone, and eve's are alice's
	// last ones (the same password text, another account's change).
	corrupt := bytes.Clone(keys[changes["carol"][0].ID])
	corrupt[len(corrupt)/2] ^= 1
	require.NoError(t, f.Store.Write(ctx, func(tx *store.Tx) error {
		if err := tx.SetDerived(ctx, changes["carol"][0].ID, corrupt); err != nil {
			return err
		}
		if err := tx.SetDerived(ctx, changes["dave"][0].ID, nil); err != nil {
			return err
		}
		return tx.SetDerived(ctx, changes["eve"][0].ID, keys[aliceLast.ID])
	}))

	_, err = f.Env.Worker.RunOnce(ctx)
	require.NoError(t, err)

	for _, tc := range []struct {
		user, fqdn string
		usedAhead  bool
	}{
		{"alice", "a.example", true},
		{"bob", "a.example", true},
		{"carol", "a.example", false},
		{"dave", "a.example", false},
		{"eve", "b.example", false},
	} {
		u, err := f.Store.UserByJID(ctx, tc.fqdn, tc.user)
		require.NoError(t, err)
		require.Equal(t, store.StatusActive, u.Status, tc.user)
		require.Equal(t, tc.usedAhead, bytes.Equal(u.Cred.Salt, ahead[tc.user].Salt), "%s applied with the keys derived ahead", tc.user)
	}
	for _, bs := range changes {
		left, err := f.Store.DerivedKeys(ctx, bs[0].BatchID)
		require.NoError(t, err)
		require.Empty(t, left, "keys are cleared once the batch is final")
	}

	for i, tc := range []struct {
		jid, pw string
		ok      bool
	}{
		{"alice@a.example", "third-pw", true},
		{"alice@a.example", "second-pw", false},
		{"alice@a.example", "first-pw", false},
		{"bob@a.example", "bob-pw", true},
		{"bob@a.example", "carol-pw", false},
		{"carol@a.example", "carol-pw", true},
		{"dave@a.example", "dave-pw", true},
		{"eve@b.example", "third-pw", true},
		{"eve@b.example", "bob-pw", false},
	} {
		for _, mech := range []string{"SCRAM-SHA-1", "SCRAM-SHA-256"} {
			c, err := goxmpptest.TryLogin(t, f.XMPPAddr, tc.jid, tc.pw, goxmpptest.Resource("r"), goxmpptest.Mechanism(mech))
			if tc.ok {
				require.NoError(t, err, "row %d %s %s", i, tc.jid, mech)
				c.Logout(t)
			} else {
				require.Error(t, err, "row %d %s %s", i, tc.jid, mech)
			}
		}
	}
}
