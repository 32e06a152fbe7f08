package store

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store/credential"
)

func TestUserProfile(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, _, alice := b.alice(t)
	name := "Alice"
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.SetUserProfile(b.ctx, alice, &name, nil) }))
	email := "a@x"
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.SetUserProfile(b.ctx, alice, nil, &email) }))
	u, err := b.st.UserByID(b.ctx, alice)
	require.NoError(t, err)
	require.Equal(t, "Alice", u.Name)
	require.Equal(t, "a@x", u.Email)
	require.ErrorIs(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.SetUserProfile(b.ctx, 99, &name, nil) }), ErrNotFound)
}

func TestDomainUsersAfter(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, dom, _ := b.domainUsers(t, "acme", "a.example", "carol", "alice", "bob")
	n, err := b.st.CountDomainUsers(b.ctx, dom)
	require.NoError(t, err)
	require.Equal(t, 3, n)
	page, err := b.st.DomainUsersAfter(b.ctx, dom, "", 2)
	require.NoError(t, err)
	require.Len(t, page, 2)
	require.Equal(t, "alice", page[0].Username)
	require.Equal(t, "bob", page[1].Username)
	page, err = b.st.DomainUsersAfter(b.ctx, dom, "bob", 2)
	require.NoError(t, err)
	require.Len(t, page, 1)
	require.Equal(t, "carol", page[0].Username)
}

func TestUserACL(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, _, users := b.domainUsers(t, "acme", "a.example", "carol", "alice", "bob")
	acl, err := b.st.UserACL(b.ctx, users[0].ID)
	require.NoError(t, err)
	require.Nil(t, acl)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		return tx.PutUserACL(b.ctx, users[0].ID, json.RawMessage(`{"muc":true}`))
	}))
	acl, err = b.st.UserACL(b.ctx, users[0].ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"muc":true}`, string(acl))
	err = b.st.Write(b.ctx, func(tx *Tx) error { return tx.PutUserACL(b.ctx, 999, json.RawMessage(`{}`)) })
	require.ErrorIs(t, err, ErrNotFound)
	err = b.st.Write(b.ctx, func(tx *Tx) error { return tx.PutUserACL(b.ctx, users[1].ID, json.RawMessage(`[1]`)) })
	require.Error(t, err, "CHECK keeps non-objects out")
}

// A domain has SHA-1-only users until their keys are completed; the
// question is answered from the users_sha1_only index.
func TestSHA1OnlyUsers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, dom, us := b.domainUsers(t, "acme", "a.example", "alice", "bob")
	full, err := credential.Derive("pencil", []byte("saltsaltsaltsalt"), 4096)
	require.NoError(t, err)
	sha1Only := full
	sha1Only.SHA256Stored, sha1Only.SHA256Server = nil, nil
	has := func() bool {
		yes, err := b.st.DomainHasSHA1Only(b.ctx, dom)
		require.NoError(t, err)
		return yes
	}
	require.False(t, has(), "users without keys yet")
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		if err := tx.SetUserCredentials(b.ctx, us[0].ID, full, nil); err != nil {
			return err
		}
		return tx.SetUserCredentials(b.ctx, us[1].ID, sha1Only, nil)
	}))
	require.True(t, has())

	if onPG {
		return // the plan below is SQLite's; PostgreSQL's planner picks by table statistics
	}
	rows, err := b.st.r.QueryContext(b.ctx, `EXPLAIN QUERY PLAN `+qDomainHasSHA1Only, dom)
	require.NoError(t, err)
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	require.NoError(t, rows.Close())
	require.Contains(t, strings.Join(plan, "; "), "USING INDEX users_sha1_only")

	stale := sha1Only
	stale.Salt = []byte("another salt")
	require.ErrorIs(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.CompleteUserKeys(b.ctx, us[1].ID, stale) }), ErrNotFound,
		"keys derived with a salt the user no longer has are not stored")
	require.True(t, has())
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.CompleteUserKeys(b.ctx, us[1].ID, full) }))
	require.False(t, has())
	u, err := b.st.UserByID(b.ctx, us[1].ID)
	require.NoError(t, err)
	require.Equal(t, full, u.Cred)
}

// ActivateUsers activates the pending-active users it is given, with their
// keys, and says which: not a user gone or in another state; a user named
// twice is activated once, the second time not.
func TestActivateUsers(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, dom, _ := b.domainUsers(t, "acme", "a.example")
	pending := b.usersIn(t, dom, map[string]Status{"p1": StatusPendingActive, "p2": StatusPendingActive,
		"p3": StatusPendingActive, "active": StatusActive, "inactive": StatusInactive})
	cred := func(pw string) credential.SCRAM {
		c, err := credential.New(pw)
		require.NoError(t, err)
		return c
	}
	sha1Only := cred("p3pw")
	sha1Only.SHA256Stored, sha1Only.SHA256Server = nil, nil
	tests := []struct {
		name  string
		users []Activation
		want  []bool
	}{
		{"pending, other states, gone", []Activation{
			{pending["p1"], cred("p1pw")}, {pending["active"], cred("x")}, {pending["inactive"], cred("x")},
			{999999, cred("x")}, {pending["p3"], sha1Only}}, []bool{true, false, false, false, true}},
		{"named twice", []Activation{{pending["p2"], cred("p2pw")}, {pending["p2"], cred("other")}}, []bool{true, false}},
		{"none", nil, []bool{}},
	}
	for _, tt := range tests {
		var done []bool
		require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) (err error) {
			done, err = tx.ActivateUsers(b.ctx, tt.users)
			return err
		}), tt.name)
		require.Equal(t, tt.want, done, tt.name)
	}
	for n, pw := range map[string]string{"p1": "p1pw", "p2": "p2pw", "p3": "p3pw"} {
		u, err := b.st.UserByID(b.ctx, pending[n])
		require.NoError(t, err)
		require.Equal(t, StatusActive, u.Status, n)
		require.True(t, u.Cred.Verify(pw), n)
	}
	u, err := b.st.UserByID(b.ctx, pending["p3"])
	require.NoError(t, err)
	require.True(t, u.Cred.OnlySHA1(), "a missing family stays missing (NULL)")
	u, err = b.st.UserByID(b.ctx, pending["inactive"])
	require.NoError(t, err)
	require.Equal(t, StatusInactive, u.Status)
}

// TransitionUsers and DeleteUsersIn change the users in the status asked
// for and report the others, a user named twice failing the second time
// as it would alone; on both engines.
func TestUsersAtOnce(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, dom, _ := b.domainUsers(t, "acme", "a.example")
	id := b.usersIn(t, dom, map[string]Status{"pi1": StatusPendingInactive, "pi2": StatusPendingInactive,
		"pi3": StatusPendingInactive, "act": StatusActive, "pd1": StatusPendingDelete, "pd2": StatusPendingDelete})
	status := func(n string) Status {
		u, err := b.st.UserByID(b.ctx, id[n])
		if errors.Is(err, ErrNotFound) {
			return "gone"
		}
		require.NoError(t, err)
		return u.Status
	}
	tests := []struct {
		name  string
		apply func(tx *Tx) ([]bool, error)
		want  []bool
	}{
		{"deactivate: pending, other state, gone", func(tx *Tx) ([]bool, error) {
			return tx.TransitionUsers(b.ctx, []int64{id["pi1"], id["act"], 999999, id["pi2"]}, StatusPendingInactive, StatusInactive)
		}, []bool{true, false, false, true}},
		{"deactivate: named twice", func(tx *Tx) ([]bool, error) {
			return tx.TransitionUsers(b.ctx, []int64{id["pi3"], id["pi3"]}, StatusPendingInactive, StatusInactive)
		}, []bool{true, false}},
		{"remove: pending-delete only", func(tx *Tx) ([]bool, error) {
			return tx.DeleteUsersIn(b.ctx, []int64{id["pd1"], id["act"], id["pd2"]}, StatusPendingDelete)
		}, []bool{true, false, true}},
		{"none", func(tx *Tx) ([]bool, error) { return tx.DeleteUsersIn(b.ctx, nil, StatusPendingDelete) }, []bool{}},
	}
	for _, tt := range tests {
		var done []bool
		require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) (err error) {
			done, err = tt.apply(tx)
			return err
		}), tt.name)
		require.Equal(t, tt.want, done, tt.name)
	}
	for n, want := range map[string]Status{"pi1": StatusInactive, "pi2": StatusInactive, "pi3": StatusInactive,
		"act": StatusActive, "pd1": "gone", "pd2": "gone"} {
		require.Equal(t, want, status(n), n)
	}
}
