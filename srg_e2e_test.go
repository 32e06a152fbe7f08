package main

import (
	"encoding/xml"
	"testing"

	"github.com/stretchr/testify/require"
	goxmpp "github.com/xmppo/go-xmpp"
)

// rosterQuery is the part of a roster result or push the tests read.
type rosterQuery struct {
	Items []struct {
		JID          string   `xml:"jid,attr"`
		Subscription string   `xml:"subscription,attr"`
		Groups       []string `xml:"group"`
	} `xml:"item"`
}

func (q rosterQuery) has(jid, sub, group string) bool {
	for _, it := range q.Items {
		if it.JID == jid && it.Subscription == sub && (group == "" || len(it.Groups) == 1 && it.Groups[0] == group) {
			return true
		}
	}
	return false
}

// TestXMPPSharedGroupThroughOpenfire: users created through the Openfire
// User Service with groups= (shared groups made on demand) see each other
// in their rosters with the group as roster group and subscription both,
// and a member added while one is online arrives as a roster push.
func TestXMPPSharedGroupThroughOpenfire(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=alice&password=pw1&groups=Staff"))
	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=bob&password=pw2&groups=Staff,Other"))

	c, err := s.xmppLogin("alice@localhost", "pw1", "SCRAM-SHA-256")
	require.NoError(t, err)
	var roster rosterQuery
	require.NoError(t, xml.Unmarshal(c.FetchRoster(t).Query, &roster))
	require.True(t, roster.has("bob@localhost", "both", "Staff"), "%+v", roster)

	require.Equal(t, "<result>ok</result>\n", s.userService("type=add&username=carol&password=pw3&groups=Staff"))
	c.Expect(t, "a roster push", func(st any) bool {
		iq, ok := st.(goxmpp.IQ)
		var q rosterQuery
		return ok && iq.Type == "set" && xml.Unmarshal(iq.Query, &q) == nil && q.has("carol@localhost", "both", "Staff")
	})
	// update with groups= (empty) takes carol out of every group.
	require.Equal(t, "<result>ok</result>\n", s.userService("type=update&username=carol&groups="))
	c.Expect(t, "a roster push", func(st any) bool {
		iq, ok := st.(goxmpp.IQ)
		var q rosterQuery
		return ok && iq.Type == "set" && xml.Unmarshal(iq.Query, &q) == nil && q.has("carol@localhost", "remove", "")
	})
}
