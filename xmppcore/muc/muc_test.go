package muc

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/xmlel"
)

func parse(t testing.TB, s string) *xmlel.Element {
	t.Helper()
	el, err := xmlel.Parse([]byte(s))
	require.NoError(t, err)
	return el
}

const configSeed = `<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>` +
	`<field var='muc#roomconfig_roomname'><value>Team</value></field><field var='muc#roomconfig_membersonly'><value>1</value></field>` +
	`<field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field><field var='muc#roomconfig_roomsecret'><value>pw</value></field>` +
	`<field var='muc#roomconfig_maxusers'><value>30</value></field><field var='muc#roomconfig_whois'><value>anyone</value></field>` +
	`<field var='muc#roomconfig_allowpm'><value>moderators</value></field><field var='muc#maxhistoryfetch'><value>5</value></field></x>`

func TestConfigApplyAndStore(t *testing.T) {
	c, err := Default(true).Apply(parse(t, configSeed))
	require.NoError(t, err)
	require.Equal(t, Config{Name: "Team", Public: true, MembersOnly: true, Password: "pw", MaxUsers: 30, Whois: WhoisAnyone,
		HistoryLength: 5, AllowPM: PMModerators, Archive: true}, c)
	require.Equal(t, c, Decode(c.Encode(), false))
	require.Contains(t, c.Features(true), "muc_passwordprotected")
	require.Contains(t, c.Features(true), "muc_nonanonymous")

	for _, bad := range []string{
		`<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:other</value></field></x>`,
		`<x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_maxusers'><value>0</value></field></x>`,
		`<x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_whois'><value>everyone</value></field></x>`,
		`<x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field></x>`,
		`<x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_membersonly'><value>maybe</value></field></x>`,
	} {
		_, err := Default(false).Apply(parse(t, bad))
		require.ErrorIs(t, err, ErrBadForm, bad)
	}
}

func TestEnterRules(t *testing.T) {
	c := Default(false)
	c.MembersOnly, c.Password, c.MaxUsers = true, "pw", 2
	require.ErrorIs(t, MayEnter(c, Outcast, "pw", 0), ErrBanned)
	require.ErrorIs(t, MayEnter(c, None, "pw", 0), ErrMembersOnly)
	require.ErrorIs(t, MayEnter(c, Member, "", 0), ErrPassword)
	require.ErrorIs(t, MayEnter(c, Member, "pw", 2), ErrFull)
	require.NoError(t, MayEnter(c, Owner, "", 5), "owners pass password and limit")
	require.False(t, MayChangeRole(Participant, Member, None, Participant, NoRole))
	require.False(t, MayChangeRole(Moderator, None, Admin, Moderator, NoRole), "no one kicks an admin")
	require.True(t, MayChangeRole(Moderator, Admin, None, Participant, NoRole))
	require.False(t, MayChangeAffiliation(Admin, Owner, None))
	require.True(t, MayChangeAffiliation(Admin, None, Outcast))
}

func TestNicks(t *testing.T) {
	n, err := PrepareNick("Alice")
	require.NoError(t, err)
	require.Equal(t, "Alice", n)
	require.Equal(t, NickKey("ALICE"), NickKey("alice"))
	_, err = PrepareNick("  ")
	require.ErrorIs(t, err, ErrBadNick)
}

func TestHistorySelect(t *testing.T) {
	var h History
	now := time.Now()
	for i := 0; i < 30; i++ {
		h.Add(Entry{Time: now.Add(time.Duration(i-30) * time.Minute), Nick: "n", Stanza: []byte{byte('a' + i%26)}, Chars: 10}, 20)
	}
	require.Equal(t, 20, h.Len())
	require.Len(t, h.Select(NoLimit, now), 20)
	require.Len(t, h.Select(Request{MaxStanzas: 3, MaxChars: -1, Seconds: -1}, now), 3)
	require.Len(t, h.Select(Request{MaxStanzas: -1, MaxChars: 25, Seconds: -1}, now), 2)
	require.Len(t, h.Select(Request{MaxStanzas: -1, MaxChars: -1, Seconds: 5 * 60}, now), 5)
	r, err := ParseHistory(parse(t, `<history xmlns='http://jabber.org/protocol/muc' since='1970-01-01T00:00:00Z' maxstanzas='2'/>`))
	require.NoError(t, err)
	require.Len(t, h.Select(r, now), 2)
	_, err = ParseHistory(parse(t, `<history xmlns='http://jabber.org/protocol/muc' maxstanzas='-1'/>`))
	require.ErrorIs(t, err, ErrBadHistory)
}

func TestParseAdmin(t *testing.T) {
	q, err := ParseAdmin(parse(t, `<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='x' role='none'><reason>r</reason></item>`+
		`<item jid='a@b' affiliation='outcast'/></query>`), true)
	require.NoError(t, err)
	require.Len(t, q.Items, 2)
	require.True(t, q.Items[0].IsRoleChange())
	require.Equal(t, "r", q.Items[0].Reason)
	require.True(t, q.Items[1].IsAffChange())
	for _, bad := range []string{
		`<query xmlns='http://jabber.org/protocol/muc#admin'/>`,
		`<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='x' role='king'/></query>`,
		`<query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='member'/></query>`,
	} {
		_, err := ParseAdmin(parse(t, bad), true)
		require.ErrorIs(t, err, ErrBadItem, bad)
	}
}
