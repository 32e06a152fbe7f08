package extdisco

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestCredentials holds the TURN REST API convention to a vector computed
// independently (Python: base64(hmac.new(b"s3cret", b"1765022400:alice@a.example", sha1).digest())).
func TestCredentials(t *testing.T) {
	s := Service{Type: "turn", Host: "turn.example", Secret: "s3cret", TTL: time.Hour}
	c := s.CredentialsFor("alice@a.example", time.Unix(1765018800, 0))
	require.Equal(t, "1765022400:alice@a.example", c.Username)
	require.Equal(t, "scvP6sDq6xHotqeDTQ8fkzDgQKo=", c.Password)
	require.Equal(t, time.Unix(1765022400, 0), c.Expires)

	static := Service{Type: "turn", Host: "t", Username: "u", Password: "p"}
	require.Equal(t, Credentials{Username: "u", Password: "p"}, static.CredentialsFor("x", time.Now()))
	require.True(t, static.Restricted())
	require.False(t, Service{Type: "stun", Host: "s"}.Restricted())
}

func TestValidate(t *testing.T) {
	for i, c := range []struct {
		s   Service
		bad bool
	}{
		0: {Service{Type: "stun", Host: "s", Port: 3478, Transport: "udp"}, false},
		1: {Service{Host: "s"}, true},
		2: {Service{Type: "stun"}, true},
		3: {Service{Type: "stun", Host: "s", Port: 70000}, true},
		4: {Service{Type: "stun", Host: "s", Transport: "sctp"}, true},
		5: {Service{Type: "turn", Host: "s", Secret: "x", Username: "u"}, true},
	} {
		require.Equal(t, c.bad, c.s.Validate() != nil, "row %d", i)
	}
}
