package ejabberd_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// Concurrent registers share batches and group commits; each gets its own
// answer, and of several registers of one name exactly one wins.
func TestEjabberdConcurrentRegister(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	const n = 16
	type answer struct {
		status int
		body   string
	}
	answers := make([]answer, 2*n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			s, _, body := b.send("POST /api/register\nAs: acme\n\n" + fmt.Sprintf(`{"user":"u%d","host":"a.example","password":"pw%d"}`, i, i))
			answers[i] = answer{s, body}
		}(i)
		go func(i int) {
			defer wg.Done()
			s, _, body := b.send("POST /api/register\nAs: acme\n\n" + `{"user":"same","host":"a.example","password":"pw"}`)
			answers[n+i] = answer{s, body}
		}(i)
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		require.Equal(t, answer{200, fmt.Sprintf(`"User u%d@a.example successfully registered"`, i)}, answers[i], "row %d", i)
		require.Equal(t, "0", b.ok("POST /api/check_password\nAs: acme\n\n"+fmt.Sprintf(`{"user":"u%d","host":"a.example","password":"pw%d"}`, i, i)))
	}
	won := 0
	for _, a := range answers[n:] {
		switch a.status {
		case 200:
			won++
		case 409:
			require.Equal(t, `{"status":"error","code":10090,"message":"User same@a.example already registered"}`, a.body)
		default:
			require.Failf(t, "unexpected answer", "%d %s", a.status, a.body)
		}
	}
	require.Equal(t, 1, won)
}
