package store

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRooms(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, dom, _ := b.domainUsers(t, "acme", "a.example", "alice")
	_, other, _ := b.domainUsers(t, "beta", "b.example", "bob")
	var room Room
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		var err error
		room, err = tx.CreateRoom(b.ctx, Room{DomainID: dom, Name: "lobby", Config: []byte(`{"persistent":true}`), Subject: "hi", SubjectBy: "al"})
		return err
	}))
	err := b.st.Write(b.ctx, func(tx *Tx) error {
		_, err := tx.CreateRoom(b.ctx, Room{DomainID: dom, Name: "lobby"})
		return err
	})
	require.ErrorIs(t, err, ErrDuplicate)
	// The same name on another domain is another room.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		_, err := tx.CreateRoom(b.ctx, Room{DomainID: other, Name: "lobby"})
		return err
	}))

	got, err := b.st.Room(b.ctx, dom, "lobby")
	require.NoError(t, err)
	require.Equal(t, room.ID, got.ID)
	require.Equal(t, "a.example", got.Domain)
	require.JSONEq(t, `{"persistent":true}`, string(got.Config))
	require.Equal(t, "hi", got.Subject)
	require.False(t, got.Created.IsZero())
	_, err = b.st.Room(b.ctx, dom, "nope")
	require.ErrorIs(t, err, ErrNotFound)

	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		if err := tx.ConfigureRoom(b.ctx, room.ID, []byte(`{}`)); err != nil {
			return err
		}
		if err := tx.SetRoomSubject(b.ctx, room.ID, "new", "bo"); err != nil {
			return err
		}
		if err := tx.SetRoomAffiliation(b.ctx, room.ID, "alice@a.example", MUCAffOwner, ""); err != nil {
			return err
		}
		if err := tx.SetRoomAffiliation(b.ctx, room.ID, "eve@else.example", MUCAffOutcast, "spam"); err != nil {
			return err
		}
		return tx.SetRoomAffiliation(b.ctx, room.ID, "eve@else.example", MUCAffMember, "")
	}))
	affs, err := b.st.RoomAffiliations(b.ctx, room.ID)
	require.NoError(t, err)
	require.Equal(t, []RoomAffiliation{
		{RoomID: room.ID, Room: "lobby", JID: "alice@a.example", Aff: MUCAffOwner},
		{RoomID: room.ID, Room: "lobby", JID: "eve@else.example", Aff: MUCAffMember},
	}, affs)
	aff, err := b.st.RoomAffiliation(b.ctx, room.ID, "bob@b.example")
	require.NoError(t, err)
	require.Equal(t, MUCAffNone, aff)
	mine, err := b.st.AffiliatedRooms(b.ctx, dom, "alice@a.example")
	require.NoError(t, err)
	require.Len(t, mine, 1)
	mine, err = b.st.AffiliatedRooms(b.ctx, other, "alice@a.example")
	require.NoError(t, err)
	require.Empty(t, mine)

	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		return tx.SubscribeRoom(b.ctx, room.ID, "alice@a.example", "al", []string{"urn:xmpp:mucsub:nodes:messages"})
	}))
	subs, err := b.st.SubscribedRooms(b.ctx, "alice@a.example")
	require.NoError(t, err)
	require.Equal(t, []RoomSubscription{{RoomID: room.ID, Room: "lobby", Domain: "a.example", JID: "alice@a.example", Nick: "al",
		Nodes: []string{"urn:xmpp:mucsub:nodes:messages"}}}, subs)

	// A room goes with everything it has.
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.DeleteRoom(b.ctx, room.ID) }))
	affs, err = b.st.RoomAffiliations(b.ctx, room.ID)
	require.NoError(t, err)
	require.Empty(t, affs)
	subs, err = b.st.SubscribedRooms(b.ctx, "alice@a.example")
	require.NoError(t, err)
	require.Empty(t, subs)
	require.ErrorIs(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.DeleteRoom(b.ctx, room.ID) }), ErrNotFound)
	rooms, err := b.st.Rooms(b.ctx, other)
	require.NoError(t, err)
	require.Len(t, rooms, 1)
}

func TestRoomNicks(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, dom, _ := b.domainUsers(t, "acme", "a.example")
	_, other, _ := b.domainUsers(t, "beta", "b.example")
	reg := func(dom int64, jid, nick string) error {
		return b.st.Write(b.ctx, func(tx *Tx) error { return tx.RegisterRoomNick(b.ctx, dom, jid, nick) })
	}
	require.NoError(t, reg(dom, "alice@a.example", "al"))
	require.ErrorIs(t, reg(dom, "bob@a.example", "al"), ErrNickTaken)
	require.NoError(t, reg(other, "bob@a.example", "al"), "each service has its own nicknames")
	require.NoError(t, reg(dom, "alice@a.example", "alice"), "a new nickname replaces the old")
	require.NoError(t, reg(dom, "bob@a.example", "al"))
	nick, err := b.st.RoomNick(b.ctx, dom, "alice@a.example")
	require.NoError(t, err)
	require.Equal(t, "alice", nick)
	owner, err := b.st.RoomNickOwner(b.ctx, dom, "al")
	require.NoError(t, err)
	require.Equal(t, "bob@a.example", owner)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.UnregisterRoomNick(b.ctx, dom, "bob@a.example") }))
	require.ErrorIs(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.UnregisterRoomNick(b.ctx, dom, "bob@a.example") }), ErrNotFound)
	owner, err = b.st.RoomNickOwner(b.ctx, dom, "al")
	require.NoError(t, err)
	require.Equal(t, "", owner)
}

// TestCreateRooms: rooms stored together get their rows, owners and IDs in
// order; a name the domain has already leaves that room without a row and
// stores the others; DeleteRooms takes rooms with their affiliations and
// skips IDs already gone.
func TestCreateRooms(t *testing.T) {
	t.Parallel()
	b := setup(t)
	_, dom, _ := b.domainUsers(t, "acme", "a.example", "alice")
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error {
		_, err := tx.CreateRoom(b.ctx, Room{DomainID: dom, Name: "taken"})
		return err
	}))
	tests := []struct {
		name   string
		rooms  []string
		owners []string
		stored []bool
	}{
		{"none", nil, nil, nil},
		{"several", []string{"r1", "r2", "r3"}, []string{"alice@a.example", "", "bob@b.example"}, []bool{true, true, true}},
		{"one name taken", []string{"r4", "taken", "r5"}, []string{"alice@a.example", "alice@a.example", "alice@a.example"},
			[]bool{true, false, true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rooms := make([]Room, len(tc.rooms))
			for i, n := range tc.rooms {
				rooms[i] = Room{DomainID: dom, Name: n, Config: []byte(`{"n":"` + n + `"}`), Subject: "s " + n}
			}
			var ids []int64
			require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) (err error) {
				ids, err = tx.CreateRooms(b.ctx, rooms, tc.owners)
				return err
			}))
			require.Len(t, ids, len(tc.rooms))
			for i, n := range tc.rooms {
				got, err := b.st.Room(b.ctx, dom, n)
				require.NoError(t, err)
				if !tc.stored[i] {
					require.Zero(t, ids[i], n)
					require.JSONEq(t, `{}`, string(got.Config), "the earlier room stays as it was")
					continue
				}
				require.Equal(t, ids[i], got.ID, n)
				require.JSONEq(t, `{"n":"`+n+`"}`, string(got.Config))
				require.Equal(t, "s "+n, got.Subject)
				require.False(t, got.Created.IsZero())
				affs, err := b.st.RoomAffiliations(b.ctx, ids[i])
				require.NoError(t, err)
				if tc.owners[i] == "" {
					require.Empty(t, affs)
				} else {
					require.Equal(t, []RoomAffiliation{{RoomID: ids[i], Room: n, JID: tc.owners[i], Aff: MUCAffOwner}}, affs)
				}
			}
		})
	}
	r1, err := b.st.Room(b.ctx, dom, "r1")
	require.NoError(t, err)
	r2, err := b.st.Room(b.ctx, dom, "r2")
	require.NoError(t, err)
	require.NoError(t, b.st.Write(b.ctx, func(tx *Tx) error { return tx.DeleteRooms(b.ctx, []int64{r1.ID, r2.ID, 1 << 40}) }))
	for _, n := range []string{"r1", "r2"} {
		_, err := b.st.Room(b.ctx, dom, n)
		require.ErrorIs(t, err, ErrNotFound, n)
	}
	affs, err := b.st.RoomAffiliations(b.ctx, r1.ID)
	require.NoError(t, err)
	require.Empty(t, affs, "the affiliations go with the room")
	_, err = b.st.Room(b.ctx, dom, "r3")
	require.NoError(t, err, "a room not named stays")
}
