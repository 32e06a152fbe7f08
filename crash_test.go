package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
)

func readBootstrap(t *testing.T, data string) Bootstrap { return readBootstrapTB(t, data) }

func readBootstrapTB(t testing.TB, data string) Bootstrap {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(data, bootstrapFile))
	require.NoError(t, err)
	var b Bootstrap
	require.NoError(t, json.Unmarshal(raw, &b))
	return b
}

// TestCrashWhileApplying queues 5,000 acknowledged changes, then SIGKILLs the
// server at random moments while its worker applies them, restarting it on
// the same data directory each time. After every kill the batch is either
// untouched or fully applied, and in the end every change is applied
// exactly once and the token reports success.
// progress is the status of the batch of token, as services-progress says.
func progress(t *testing.T, p *serverProc, boot Bootstrap, token string) string {
	t.Helper()
	resp, err := http.Get("http://" + p.http + "/?format=json&cmd=services-progress&key=" + boot.Key + "&token=" + token)
	require.NoError(t, err)
	defer resp.Body.Close()
	var r struct {
		Data []map[string]string `json:"data"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
	require.Len(t, r.Data, 1)
	return r.Data[0]["status"]
}

func TestCrashWhileApplying(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process crash test")
	}
	t.Parallel()
	const n = 5000

	// Phase 1: queue n add_user changes; the worker never runs.
	p := startBinary(t)
	boot, data := p.boot, p.data
	base := "http://" + p.http + "/"
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var mu sync.Mutex
	tokens := map[string]int{}
	var wg sync.WaitGroup
	work := make(chan int)
	for w := 0; w < 16; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				v := url.Values{"key": {boot.Key}, "cmd": {"jabber-add_user"}, "username": {fmt.Sprintf("u%05d", i)},
					"domain": {boot.Domain}, "password": {fmt.Sprintf("pw%d", i)}}
				resp, err := client.PostForm(base, v)
				if err != nil {
					t.Error(err)
					return
				}
				sc := bufio.NewScanner(resp.Body)
				var lines []string
				for sc.Scan() {
					lines = append(lines, sc.Text())
				}
				resp.Body.Close()
				if len(lines) != 3 || lines[0] != "success" {
					t.Errorf("add_user %d: %q", i, lines)
					return
				}
				mu.Lock()
				tokens[lines[2]]++
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	require.Len(t, tokens, 1, "all changes share the waiting batch's token")
	var token string
	for tok, count := range tokens {
		token = tok
		require.Equal(t, n, count)
	}
	p.kill() // acknowledged means committed: even SIGKILL keeps them

	// Phase 2: every start applies the batch; kill it at random moments
	// while it runs. The server listens at once and applies the batch in
	// the background (key derivation, then one transaction): wait until
	// the batch is claimed, then a random moment of the derivation.
	for round := 0; round < 5; round++ {
		p := p.restart(t)
		deadline := time.Now().Add(30 * time.Second)
		for progress(t, p, boot, token) == "waiting" && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		// A window growing by round, so later rounds also meet the commit.
		time.Sleep(time.Duration(rand.IntN(1200*(round+1))) * time.Millisecond)
		p.kill()
		active, pending := countUsers(t, data)
		require.True(t, (active == 0 && pending == n) || (active == n && pending == 0),
			"round %d: half-applied batch: %d active, %d pending", round, active, pending)
		t.Logf("round %d: killed with %d of %d applied", round, active, n)
	}

	// Phase 3: a last start finishes whatever is left.
	p = p.restart(t)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		status := progress(t, p, boot, token)
		if status == "success" {
			break
		}
		require.NotEqual(t, "failure", status)
		require.True(t, time.Now().Before(deadline), "batch never finished: %s", status)
		time.Sleep(100 * time.Millisecond)
	}
	p.kill()
	active, pending := countUsers(t, data)
	require.Equal(t, n, active)
	require.Zero(t, pending)

	st, err := store.Open(context.Background(), filepath.Join(data, dbFile), store.Options{})
	require.NoError(t, err)
	defer st.Close()
	b, err := st.BatchByToken(context.Background(), token)
	require.NoError(t, err)
	changes, err := st.Changes(context.Background(), b.ID)
	require.NoError(t, err)
	require.Len(t, changes, n)
	for _, c := range changes {
		require.Equal(t, store.ChangeApplied, c.Status, c.Error)
	}
	u, err := st.UserByJID(context.Background(), boot.Domain, "u04321")
	require.NoError(t, err)
	require.True(t, u.Cred.Verify("pw4321"))
}

func countUsers(t *testing.T, data string) (active, pending int) {
	t.Helper()
	st, err := store.Open(context.Background(), filepath.Join(data, dbFile), store.Options{})
	require.NoError(t, err)
	defer st.Close()
	us, err := st.Users(context.Background(), nil)
	require.NoError(t, err)
	for _, u := range us {
		switch {
		case u.Status == store.StatusActive && strings.HasPrefix(u.Username, "u"):
			active++
		case u.Status == store.StatusPendingActive:
			pending++
		}
	}
	return active, pending
}
