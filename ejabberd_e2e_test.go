package main

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestEjabberdUserOverXMPP: a user registered through POST /api/register
// logs in with an independent client; the roster the client sets is what
// get_roster answers; kick_user closes the live session.
func TestEjabberdUserOverXMPP(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	b := s.boot
	admin := tenantCreds{adminJID: b.AdminJID, adminPW: b.AdminPassword}
	api := func(cmd, body string) string {
		t.Helper()
		status, out := s.ejabberd(admin, cmd, body)
		require.Equal(t, http.StatusOK, status, out)
		return out
	}
	require.Equal(t, `"User zoe@localhost successfully registered"`, api("register", `{"user":"zoe","host":"localhost","password":"zoe-pw"}`))

	c, err := s.xmppLogin("zoe@localhost", "zoe-pw", "SCRAM-SHA-1")
	require.NoError(t, err)
	_, err = c.SendOrg(`<iq type='set' id='r1'><query xmlns='jabber:iq:roster'>` +
		`<item jid='yan@example.org' name='Yan'><group>Pals</group><group>Work</group></item></query></iq>`)
	require.NoError(t, err)
	// ejabberd 23.01's shape: one entry per group of each item.
	roster := func() []map[string]string {
		var r []map[string]string
		require.NoError(t, json.Unmarshal([]byte(api("get_roster", `{"user":"zoe","host":"localhost"}`)), &r))
		return r
	}
	want := []map[string]string{
		{"jid": "yan@example.org", "nick": "Yan", "subscription": "none", "ask": "undefined", "group": "Pals"},
		{"jid": "yan@example.org", "nick": "Yan", "subscription": "none", "ask": "undefined", "group": "Work"},
	}
	require.Eventually(t, func() bool { return len(roster()) == 2 }, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, want, roster())

	// The client asks yan for a subscription: the item shows it pending,
	// spelled as ejabberd 23.01 spells the client-facing item's ask.
	_, err = c.SendOrg(`<presence to='yan@example.org' type='subscribe'/>`)
	require.NoError(t, err)
	for i := range want {
		want[i]["ask"] = "subscribe"
	}
	require.Eventually(t, func() bool { return roster()[0]["ask"] == "subscribe" }, 5*time.Second, 20*time.Millisecond)
	require.Equal(t, want, roster())

	// A local contact that has not answered: 23.01 lists nothing on its side
	// (an inbound request alone is not a roster item for get_roster).
	require.Equal(t, `"User xena@localhost successfully registered"`, api("register", `{"user":"xena","host":"localhost","password":"xena-pw"}`))
	_, err = c.SendOrg(`<presence to='xena@localhost' type='subscribe'/>`)
	require.NoError(t, err)
	require.Eventually(t, func() bool { return len(roster()) == 3 }, 5*time.Second, 20*time.Millisecond)
	require.Contains(t, roster(), map[string]string{"jid": "xena@localhost", "nick": "", "subscription": "none", "ask": "subscribe", "group": ""})
	require.Equal(t, `[]`, api("get_roster", `{"user":"xena","host":"localhost"}`))

	require.Equal(t, `{"num_resources":1}`, api("kick_user", `{"user":"zoe","host":"localhost"}`))
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("kick_user did not close the session")
	}
	require.Equal(t, `{"resources":0}`, api("num_resources", `{"user":"zoe","host":"localhost"}`))
}
