package store

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSharedContacts runs the one visibility model over groups made both
// ways: ejabberd's displayed groups (symmetric and one-way) and @all@,
// Openfire's onlyGroup with a group list and everybody; a user being
// deleted is nobody's contact.
func TestSharedContacts(t *testing.T) {
	t.Parallel()
	b := setup(t)
	users := map[string]User{}
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		a, err := tx.InsertAccount(b.ctx, "acme", 0)
		if err != nil {
			return err
		}
		doms := map[string]int64{}
		for _, fqdn := range []string{"a.example", "b.example", "c.example"} {
			d, err := tx.InsertDomain(b.ctx, a.ID, fqdn)
			if err != nil {
				return err
			}
			doms[fqdn] = d.ID
		}
		for _, jid := range []string{"alice@a.example", "bob@a.example", "carol@a.example", "dave@a.example",
			"erin@a.example", "gone@a.example", "frank@b.example", "gina@c.example", "hal@c.example"} {
			name, fqdn, _ := strings.Cut(jid, "@")
			st := StatusActive
			if name == "gone" {
				st = StatusPendingDelete
			}
			u, err := tx.InsertUser(b.ctx, User{DomainID: doms[fqdn], Username: name, Status: st, Name: strings.ToUpper(name)})
			if err != nil {
				return err
			}
			u.Domain, u.Status = fqdn, st
			users[jid] = u
		}
		join := func(group, fqdn string, members ...string) error {
			g, err := tx.SharedGroup(b.ctx, doms[fqdn], group)
			if err != nil {
				return err
			}
			for _, m := range members {
				if err := tx.AddSharedGroupMember(b.ctx, g.ID, users[m].ID); err != nil {
					return err
				}
			}
			return nil
		}
		// ejabberd: team sees itself; lead sees team one way.
		if err := tx.PutSrg(b.ctx, doms["a.example"], "team", "Team", "", []string{"team"}); err != nil {
			return err
		}
		if err := tx.PutSrg(b.ctx, doms["a.example"], "lead", "", "", []string{"team", "later"}); err != nil {
			return err
		}
		if err := join("team", "a.example", "alice@a.example", "bob@a.example", "frank@b.example", "gone@a.example"); err != nil {
			return err
		}
		if err := join("lead", "a.example", "carol@a.example"); err != nil {
			return err
		}
		// Openfire on b.example: ops (onlyGroup, group list "audit"),
		// audit (nobody), news (everybody).
		for name, show := range map[string]string{"ops": ShowOnlyGroup, "audit": ShowNobody, "news": ShowEverybody} {
			if _, err := tx.EnsureSharedGroup(b.ctx, doms["b.example"], name, show); err != nil {
				return err
			}
		}
		if _, err := tx.q.ExecContext(b.ctx, `UPDATE shared_groups SET group_list = 'audit' WHERE name = 'ops'`); err != nil {
			return err
		}
		if err := join("ops", "b.example", "frank@b.example", "dave@a.example"); err != nil {
			return err
		}
		if err := join("audit", "b.example", "erin@a.example"); err != nil {
			return err
		}
		if err := join("news", "b.example", "alice@a.example"); err != nil {
			return err
		}
		// @all@ on c.example.
		if err := tx.PutSrg(b.ctx, doms["c.example"], "all", "Everyone", "", []string{"all"}); err != nil {
			return err
		}
		g, err := tx.SharedGroup(b.ctx, doms["c.example"], "all")
		if err != nil {
			return err
		}
		return tx.SetSharedGroupAllUsers(b.ctx, g.ID, true)
	}))

	for _, tc := range []struct {
		user string
		want []string // "jid Name group,group"
	}{
		{"alice@a.example", []string{"bob@a.example BOB Team", "frank@b.example FRANK Team"}},
		{"bob@a.example", []string{"alice@a.example ALICE Team", "frank@b.example FRANK Team"}},
		// one way: lead sees team ("later" does not exist); nobody sees lead
		{"carol@a.example", []string{"alice@a.example ALICE Team", "bob@a.example BOB Team", "frank@b.example FRANK Team"}},
		// onlyGroup: ops sees ops
		{"dave@a.example", []string{"frank@b.example FRANK ops"}},
		// group list: audit's members see ops, not the other way
		{"erin@a.example", []string{"dave@a.example DAVE ops", "frank@b.example FRANK ops"}},
		// frank: team member, ops member, and a b.example user sees news (everybody)
		{"frank@b.example", []string{"alice@a.example ALICE Team,news", "bob@a.example BOB Team", "dave@a.example DAVE ops"}},
		{"gina@c.example", []string{"hal@c.example HAL Everyone"}},
		{"gone@a.example", nil},
	} {
		t.Run(tc.user, func(t *testing.T) {
			cs, err := b.st.SharedContacts(b.ctx, users[tc.user])
			require.NoError(t, err)
			var got []string
			for _, c := range cs {
				got = append(got, c.JID+" "+c.Name+" "+strings.Join(c.Groups, ","))
			}
			require.Equal(t, tc.want, got)
		})
	}

	// The roster clients see: a stored row keeps its name and groups and
	// becomes both; shared-only contacts are added.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		_, err := tx.PutRosterItem(b.ctx, users["alice@a.example"].ID, RosterItem{Contact: "bob@a.example", Name: "Bobby",
			Subscription: SubNone, Ask: true, Visible: true, Groups: []string{"Friends"}})
		return err
	}))
	items, _, err := b.st.RosterWithShared(b.ctx, users["alice@a.example"])
	require.NoError(t, err)
	require.Len(t, items, 2)
	require.Equal(t, RosterItem{Contact: "bob@a.example", Name: "Bobby", Subscription: SubBoth, Visible: true,
		Groups: []string{"Friends", "Team"}, Ver: items[0].Ver}, items[0])
	require.Equal(t, RosterItem{Contact: "frank@b.example", Name: "FRANK", Subscription: SubBoth, Visible: true,
		Groups: []string{"Team"}}, items[1])
	_, err = b.st.RosterItemWithShared(b.ctx, users["alice@a.example"], "erin@a.example")
	require.ErrorIs(t, err, ErrNotFound)

	// An anonymous session (no user row, ID 0) on the @all@ domain sees
	// nobody and is seen by nobody.
	anon := User{DomainID: users["gina@c.example"].DomainID, Domain: "c.example", Username: "anon-x", Status: StatusActive}
	shared, err := b.st.SharedContacts(b.ctx, anon)
	require.NoError(t, err)
	require.Empty(t, shared)
	items, _, err = b.st.RosterWithShared(b.ctx, anon)
	require.NoError(t, err)
	require.Empty(t, items)
}

func TestSharedGroups(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, dom, alice := b.alice(t)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		if err := tx.JoinSharedGroups(b.ctx, dom, alice, []string{"b", "a"}, ShowOnlyGroup, false); err != nil {
			return err
		}
		// An existing group keeps its visibility.
		_, err := tx.EnsureSharedGroup(b.ctx, dom, "a", ShowNobody)
		if err != nil {
			return err
		}
		_, err = tx.EnsureSharedGroup(b.ctx, dom, "hidden", ShowNobody)
		return err
	}))
	names, err := b.st.UserSharedGroupNames(b.ctx, alice)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b"}, names)
	shown, err := b.st.ShownSharedGroups(b.ctx, dom, []string{"a", "hidden", "none"})
	require.NoError(t, err)
	require.Equal(t, []string{"a"}, shown)

	// Exclusive: alice leaves b, joins c; b stays as a group.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		return tx.JoinSharedGroups(b.ctx, dom, alice, []string{"a", "c"}, ShowOnlyGroup, true)
	}))
	names, err = b.st.UserSharedGroupNames(b.ctx, alice)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "c"}, names)
	all, err := b.st.SharedGroupNames(b.ctx, dom)
	require.NoError(t, err)
	require.Equal(t, []string{"a", "b", "c", "hidden"}, all)

	// Memberships go with the user.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.DeleteUser(b.ctx, alice) }))
	names, err = b.st.UserSharedGroupNames(b.ctx, alice)
	require.NoError(t, err)
	require.Empty(t, names)
}
