package piefxis

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// The rooms of the real Prosody 0.12 fixture (testdata/migrate/prosody-0.12,
// made by its people.py): one persistent room; the temporary one is not
// stored by Prosody.
func TestReadProsodyRooms(t *testing.T) {
	t.Parallel()
	hosts, err := ReadProsodyDir("../../testdata/migrate/prosody-0.12/data")
	require.NoError(t, err)
	require.Len(t, hosts, 1, "the conference component's rooms go to pr.example, not to a host of their own")
	require.Equal(t, "pr.example", hosts[0].JID)
	require.Len(t, hosts[0].Users, 4)
	require.Equal(t, []Room{{
		JID: "lounge@conference.pr.example", Name: "The Lounge", Description: "Tea & talk",
		Subject: "Welcome to the lounge", SubjectBy: "Alice", Language: "en",
		Public: true, MembersOnly: true, Whois: "moderators", HistoryLength: -1,
		Affiliations: map[string]string{"alice@pr.example": "owner", "bob@pr.example": "member", "dave@pr.example": "outcast"},
		Nicks:        map[string]string{},
	}}, hosts[0].Rooms)
}

func TestProsodyRoomRefusals(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		src  string
		ok   bool
		fail string
	}{
		"temporary":        {src: `return { ["_data"] = { ["persistent"] = false; }; };`},
		"no data":          {src: `return { ["a@b"] = "owner"; };`, fail: "no _data"},
		"bad affiliation":  {src: `return { ["_data"] = { ["persistent"] = true; }; ["a@b"] = "king"; };`, fail: `affiliation "king"`},
		"nickname, whois":  {src: `return { ["_data"] = { ["persistent"] = true; ["whois"] = "anyone"; ["history_length"] = 5; }; ["_affiliation_data"] = { ["a@b"] = { ["reserved_nickname"] = "ay"; }; }; };`, ok: true},
		"hidden, password": {src: `return { ["_data"] = { ["persistent"] = true; ["hidden"] = true; ["password"] = "pw"; }; };`, ok: true},
	} {
		v, err := ParseReturn(tc.src)
		require.NoError(t, err, name)
		r, ok, err := prosodyRoom(v.(Table), "r@conference.x")
		if tc.fail != "" {
			require.ErrorContains(t, err, tc.fail, name)
			continue
		}
		require.NoError(t, err, name)
		require.Equal(t, tc.ok, ok, name)
		switch name {
		case "nickname, whois":
			require.Equal(t, "anyone", r.Whois)
			require.Equal(t, 5, r.HistoryLength)
			require.Equal(t, map[string]string{"a@b": "ay"}, r.Nicks)
		case "hidden, password":
			require.False(t, r.Public)
			require.Equal(t, "pw", r.Password)
		}
	}
}
