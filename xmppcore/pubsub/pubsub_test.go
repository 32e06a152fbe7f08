package pubsub

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/xmlel"
)

func parse(t *testing.T, s string) *xmlel.Element {
	t.Helper()
	e, err := xmlel.Parse([]byte(s))
	require.NoError(t, err)
	return e
}

// The two examples of XEP-0115 5.2 and 5.3.
func TestCapsVerify(t *testing.T) {
	t.Parallel()
	simple := parse(t, `<query xmlns='http://jabber.org/protocol/disco#info'>
		<identity category='client' name='Exodus 0.9.1' type='pc'/>
		<feature var='http://jabber.org/protocol/caps'/>
		<feature var='http://jabber.org/protocol/disco#items'/>
		<feature var='http://jabber.org/protocol/disco#info'/>
		<feature var='http://jabber.org/protocol/muc'/></query>`)
	require.True(t, Caps{Hash: "sha-1", Ver: "QgayPKawpkPSDYmwT/WM94uAlu0="}.Verify(simple))
	require.False(t, Caps{Hash: "sha-1", Ver: "QgayPKawpkPSDYmwT/WM94uAlu1="}.Verify(simple))
	require.False(t, Caps{Hash: "md5", Ver: "QgayPKawpkPSDYmwT/WM94uAlu0="}.Verify(simple))

	complexInfo := parse(t, `<query xmlns='http://jabber.org/protocol/disco#info'>
		<identity xml:lang='en' category='client' name='Psi 0.11' type='pc'/>
		<identity xml:lang='el' category='client' name='Ψ 0.11' type='pc'/>
		<feature var='http://jabber.org/protocol/caps'/>
		<feature var='http://jabber.org/protocol/disco#info'/>
		<feature var='http://jabber.org/protocol/disco#items'/>
		<feature var='http://jabber.org/protocol/muc'/>
		<x xmlns='jabber:x:data' type='result'>
		<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:dataforms:softwareinfo</value></field>
		<field var='ip_version'><value>ipv4</value><value>ipv6</value></field>
		<field var='os'><value>Mac</value></field>
		<field var='os_version'><value>10.5.1</value></field>
		<field var='software'><value>Psi</value></field>
		<field var='software_version'><value>0.11</value></field></x></query>`)
	require.True(t, Caps{Hash: "sha-1", Ver: "q07IKJEyjvHSyhy//CH0CxmKi8w="}.Verify(complexInfo))

	dup := parse(t, `<query xmlns='http://jabber.org/protocol/disco#info'><feature var='a'/><feature var='a'/></query>`)
	require.False(t, Caps{Hash: "sha-1", Ver: "x"}.Verify(dup))
}

func TestNotifyAndParseCaps(t *testing.T) {
	t.Parallel()
	p := parse(t, `<presence xmlns='jabber:client'><c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='n' ver='v'/></presence>`)
	c, ok := ParseCaps(p)
	require.True(t, ok)
	require.Equal(t, "sha-1 v", c.Key())
	require.True(t, c.Hashed())
	_, ok = ParseCaps(parse(t, `<presence xmlns='jabber:client'/>`))
	require.False(t, ok)
	legacy := Caps{Node: "n", Ver: "1.0"}
	require.Equal(t, "n#1.0", legacy.Key())
	require.False(t, legacy.Hashed())

	n := NotifyOf(parse(t, `<query xmlns='http://jabber.org/protocol/disco#info'>
		<feature var='urn:xmpp:avatar:metadata+notify'/><feature var='+notify'/><feature var='urn:xmpp:avatar:metadata'/></query>`))
	require.Equal(t, []string{"urn:xmpp:avatar:metadata"}, n.Nodes())
	require.True(t, n.Has("urn:xmpp:avatar:metadata"))
}

func form(typ string, kv ...string) *xmlel.Element {
	x := xmlel.New(NSData, "x", "type", "submit")
	x.Add(xmlel.New(NSData, "field", "var", "FORM_TYPE").Text(NSData, "value", typ))
	for i := 0; i+1 < len(kv); i += 2 {
		x.Add(xmlel.New(NSData, "field", "var", kv[i]).Text(NSData, "value", kv[i+1]))
	}
	return x
}

func TestConfigForms(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		kv      []string
		want    func(*Config)
		wantErr error
	}{
		0: {kv: []string{"pubsub#access_model", "open"}, want: func(c *Config) { c.Access = Open }},
		1: {kv: []string{"pubsub#max_items", "max", "pubsub#persist_items", "true"}, want: func(c *Config) { c.MaxItems = MaxItems }},
		2: {kv: []string{"pubsub#max_items", "0"}, wantErr: ErrBadValue},
		3: {kv: []string{"pubsub#access_model", "authorize"}, wantErr: ErrBadValue},
		4: {kv: []string{"pubsub#deliver_payloads", "0"}, wantErr: ErrBadValue},
		5: {kv: []string{"pubsub#deliver_payloads", "1", "pubsub#send_last_published_item", "never"}, want: func(c *Config) { c.SendLast = SendNever }},
		6: {kv: []string{"pubsub#whatever", "1"}, wantErr: ErrUnknownField},
		7: {kv: []string{"pubsub#persist_items", "0"}, want: func(c *Config) { c.Persist = false }},
	} {
		fields, err := Fields(form(FormPublishOptions, tc.kv...), FormPublishOptions)
		require.NoError(t, err, "row %d", i)
		got, err := Default().Apply(fields)
		if tc.wantErr != nil {
			require.ErrorIs(t, err, tc.wantErr, "row %d", i)
			require.False(t, Default().Matches(fields), "row %d", i)
			continue
		}
		require.NoError(t, err, "row %d", i)
		want := Default()
		tc.want(&want)
		require.Equal(t, want, got, "row %d", i)
		require.True(t, got.Matches(fields), "row %d", i)
		require.Equal(t, want, Decode(got.Encode()), "row %d", i)
	}
	_, err := Fields(form(FormNodeConfig), FormPublishOptions)
	require.ErrorIs(t, err, ErrBadForm)
	require.Equal(t, 0, Config{Persist: false, MaxItems: 5}.Kept())

	// The configure form read back as a submission changes nothing.
	c := Default()
	c.Access, c.RosterGroups = Roster, []string{"friends"}
	sub := c.Form()
	sub.Set("type", "submit")
	fields, err := Fields(sub, FormNodeConfig)
	require.NoError(t, err)
	require.True(t, c.Matches(fields))
}

func TestAccess(t *testing.T) {
	t.Parallel()
	for i, tc := range []struct {
		access string
		rel    Relation
		want   bool
	}{
		{Open, Relation{}, true},
		{Presence, Relation{}, false},
		{Presence, Relation{Subscribed: true}, true},
		{Whitelist, Relation{Subscribed: true}, false},
		{Whitelist, Relation{Owner: true}, true},
		{Roster, Relation{Subscribed: true, Groups: []string{"work"}}, false},
		{Roster, Relation{Groups: []string{"friends"}}, true},
	} {
		c := Default()
		c.Access, c.RosterGroups = tc.access, []string{"friends"}
		require.Equal(t, tc.want, c.Allows(tc.rel), "row %d", i)
	}
	cond, app := Config{Access: Whitelist}.Denial()
	require.Equal(t, "not-allowed closed-node", cond+" "+app)
}

func TestBookmarksConversion(t *testing.T) {
	t.Parallel()
	storage := parse(t, `<storage xmlns='storage:bookmarks'>
		<conference jid='a@muc' name='A' autojoin='1'><nick>n</nick><password>p</password></conference>
		<conference name='no jid'/>
		<url name='u' url='https://x'/>
		<conference jid='b@muc' autojoin='false'/>
		<conference jid='a@muc' name='A2'/></storage>`)
	items := FromStorage(storage)
	require.Len(t, items, 2)
	require.Equal(t, "a@muc", items[0].JID)
	require.Equal(t, `<conference xmlns="urn:xmpp:bookmarks:1" name="A2"/>`, items[0].Conference.String(), "the later duplicate wins")
	require.Equal(t, `<conference xmlns="urn:xmpp:bookmarks:1"/>`, items[1].Conference.String())

	items[0].Conference = parse(t, `<conference xmlns='urn:xmpp:bookmarks:1' name='A' autojoin='true'><nick>n</nick><password>p</password><extensions/></conference>`)
	require.Equal(t, `<storage xmlns="storage:bookmarks"><conference jid="a@muc" name="A" autojoin="true"><nick>n</nick><password>p</password></conference>`+
		`<conference jid="b@muc"/><url name="u" url="https://x"/></storage>`, ToStorage(items, storage).String())
	back := FromStorage(ToStorage(items, nil))
	require.Equal(t, `<conference xmlns="urn:xmpp:bookmarks:1" name="A" autojoin="true"><nick>n</nick><password>p</password></conference>`, back[0].Conference.String())
}
