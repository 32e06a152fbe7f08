package xmppcore_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
)

// A deactivated account (DreamHost deactivate, Openfire disable or
// lockout: status inactive, or pending-inactive while queued) that logs in
// with the right password gets RFC 6120 6.5.1's <account-disabled/>; with
// a wrong password, or as a user that does not exist, <not-authorized/>,
// so the account's state does not leak. The client is raw TLS + XML.
func TestSASLAccountDisabled(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.user(t, domain, "active", "pw", store.StatusActive)
	b.user(t, domain, "off", "pw", store.StatusInactive)
	b.user(t, domain, "going", "pw", store.StatusPendingInactive)
	b.user(t, domain, "coming", "pw", store.StatusPendingActive)
	const sasl = "urn:ietf:params:xml:ns:xmpp-sasl"
	plain := func(user, pw string) string {
		return "<auth xmlns='" + sasl + "' mechanism='PLAIN'>" + b64("\x00"+user+"\x00"+pw) + "</auth>"
	}
	for _, tc := range []struct {
		name, user, pw, want string
	}{
		{"active, right password", "active", "pw", "<success"},
		{"inactive, right password", "off", "pw", "<account-disabled/></failure>"},
		{"inactive, wrong password", "off", "nope", "<not-authorized/></failure>"},
		{"pending-inactive, right password", "going", "pw", "<account-disabled/></failure>"},
		{"pending-inactive, wrong password", "going", "nope", "<not-authorized/></failure>"},
		{"pending-active, right password", "coming", "pw", "<not-authorized/></failure>"},
		{"no such user", "ghost", "pw", "<not-authorized/></failure>"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out := tlsScript(t, b.c2stls, []step{{header, "</stream:features>"}, {plain(tc.user, tc.pw), tc.want}})
			if tc.want != "<success" {
				require.NotContains(t, out, "<success")
			}
		})
	}
}
