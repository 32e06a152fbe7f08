package conformance

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A command's cases come back from their golden file as they were
// written: setup, version, body, both answers and the reason.
func TestGoldenRoundTrip(t *testing.T) {
	recs := []Recorded{
		{Case: Case{Name: "ok", Call: Call{Cmd: "register", Body: `{"user":"a b","host":"h"}`},
			Setup: []Call{{Cmd: "unregister", Body: `{"user":"a b","host":"h"}`}}},
			Ejabberd: Answer{Status: 200, Body: `"User a b@h successfully registered"`}},
		{Case: Case{Name: "no body", Call: Call{Cmd: "status", Version: 1}, Why: "a reason", Auth: AuthNone},
			Ejabberd: Answer{Status: 400, Body: "<html>\n</html>"}, Xmppgate: Answer{Status: 200, Body: `"x"`}},
		{Case: Case{Name: "get", Call: Call{Cmd: "check_account", Body: "user=a%20b&host=h", GET: true}},
			Ejabberd: Answer{Status: 200, Body: "1"}},
	}
	got, err := Decode(Encode("register", recs))
	require.NoError(t, err)
	require.Len(t, got, 3)
	for i := range recs {
		require.Equal(t, recs[i].Setup, got[i].Setup)
		require.Equal(t, recs[i].Call, got[i].Call)
		require.Equal(t, recs[i].Name, got[i].Name)
		require.Equal(t, recs[i].Why, got[i].Why)
		require.Equal(t, recs[i].Auth, got[i].Auth)
		require.Equal(t, recs[i].Ejabberd, got[i].Ejabberd)
	}
	require.Equal(t, recs[1].Xmppgate, got[1].Want())
	require.Equal(t, recs[0].Ejabberd, got[0].Want())
}

// Only what must differ is replaced.
func TestNormalise(t *testing.T) {
	for in, want := range map[string]string{
		`"The node conformance@localhost is started. Status: startedejabberd 23.01-1 is running in that node"`:           `"The node NODE is started. Status: startedSERVER is running in that node"`,
		`"The node xmppgate@localhost is started. Status: startedxmppgate (ejabberd 23.01 API) is running in that node"`: `"The node NODE is started. Status: startedSERVER is running in that node"`,
		`{"timestamp":"2026-12-06T18:53:00Z","status":"away"}`:                                                           `{"timestamp":"TIME","status":"away"}`,
		`{"token":"abcdefghijklmnopqrstuvwxyz012345","expires_in":"3599 seconds"}`:                                       `{"token":"TOKEN","expires_in":"N seconds"}`,
		`["admin","bob"]`: `["admin","bob"]`,
		`{"stat":3}`:      `{"stat":3}`,
	} {
		require.Equal(t, want, Normalise(Answer{Status: 200, Body: in}).Body)
	}
	require.Equal(t, `[{"a":1},{"a":2}]`, sortArray(`[{"a":2}, {"a":1}]`))
}
