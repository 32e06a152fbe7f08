package main

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/store"
)

// startCluster starts n real xmppgate processes on one PostgreSQL store:
// the first on a fresh data directory, the others each on a copy of it
// (the lock file aside), as docs/scale-out.md says a node joins, with
// their own ports and node names, every worker ticking each second;
// extra overrides that environment.
func startCluster(t testing.TB, dsn string, n int, extra ...string) []*serverProc {
	t.Helper()
	env := func(i int) []string {
		base := []string{"XMPPGATE_STORE=" + dsn, fmt.Sprintf("XMPPGATE_NODE=n%d@cluster", i), "XMPPGATE_WORKER_SCHEDULE=@every 1s",
			"XMPPGATE_SYNCHRONOUS=NORMAL"}
		return append(base, extra...)
	}
	first := startBinary(t, env(0)...)
	nodes := []*serverProc{first}
	for i := 1; i < n; i++ {
		p := (&serverProc{bin: first.bin, data: copyDataDir(t, first.data), env: env(i)}).restart(t)
		p.boot = first.boot
		nodes = append(nodes, p)
	}
	return nodes
}

// addUser sends DreamHost jabber-add_user to p and returns the token.
func addUser(client *http.Client, p *serverProc, boot Bootstrap, user, password string) (string, error) {
	v := url.Values{"key": {boot.Key}, "cmd": {"jabber-add_user"}, "username": {user}, "domain": {boot.Domain}, "password": {password}}
	resp, err := client.PostForm("http://"+p.http+"/", v)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) != 3 || lines[0] != "success" {
		return "", fmt.Errorf("add_user %s: %q", user, lines)
	}
	return lines[2], nil
}

// TestCrashClusterWhileApplying: three nodes share one PostgreSQL store
// and queue many changes through their DreamHost APIs while their workers
// claim and apply batches; one node applying a batch is SIGKILLed. The
// survivors recover its batch once its lease has passed, and in the end
// every change is applied exactly once, every token reports success with
// the changes acknowledged under it, and a change sent to node C after
// the kill is applied once.
func TestCrashClusterWhileApplying(t *testing.T) {
	if testing.Short() {
		t.Skip("real-process crash test")
	}
	t.Parallel()
	dsn := postgres(t)
	nodes := startCluster(t, dsn, 3)
	boot := nodes[0].boot
	ctx := context.Background()
	st, err := store.Open(ctx, dsn, store.Options{})
	require.NoError(t, err)
	defer st.Close()

	// The victim: the first of nodes 0 and 1 seen applying a batch (node
	// 2 must survive to take the last change).
	var victim atomic.Pointer[serverProc]
	var victimBatch atomic.Int64
	var victimName atomic.Value
	stopWatch := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stopWatch:
				return
			case <-time.After(5 * time.Millisecond):
			}
			running, err := st.RunningBatches(ctx)
			if err != nil {
				continue
			}
			for _, b := range running {
				for i, p := range nodes[:2] {
					if b.ClaimedBy == fmt.Sprintf("n%d@cluster", i) {
						victim.Store(p)
						victimName.Store(b.ClaimedBy)
						victimBatch.Store(b.ID)
						p.kill()
						return
					}
				}
			}
		}
	}()

	const n = 3000
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	var mu sync.Mutex
	acked := map[string]int{} // token -> changes acknowledged under it
	work := make(chan int)
	inDoubt := map[int]bool{}
	var wg sync.WaitGroup
	for w := 0; w < 12; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				// Round robin over the nodes still up. A request the
				// victim was serving when it died is in doubt: its change
				// may or may not have been committed, and was acknowledged
				// to no one.
				p := nodes[i%len(nodes)]
				if p == victim.Load() {
					p = nodes[2]
				}
				tok, err := addUser(client, p, boot, fmt.Sprintf("u%05d", i), fmt.Sprintf("pw%d", i))
				mu.Lock()
				switch {
				case err == nil:
					acked[tok]++
				case p == victim.Load():
					inDoubt[i] = true
				default:
					t.Error(err)
				}
				mu.Unlock()
			}
		}()
	}
	for i := 0; i < n; i++ {
		work <- i
	}
	close(work)
	wg.Wait()
	require.False(t, t.Failed())

	// If no node 0 or 1 batch ran while queueing, queue until one does.
	extra, extraAcked := 0, 0
	for victim.Load() == nil {
		select {
		case <-watched:
		case <-time.After(200 * time.Millisecond):
		}
		if victim.Load() != nil {
			break
		}
		require.Less(t, extra, 2000, "nodes 0 and 1 never applied a batch")
		p := nodes[extra%2]
		tok, err := addUser(client, p, boot, fmt.Sprintf("x%05d", extra), "pw-extra")
		extra++
		if err != nil && p == victim.Load() {
			continue // in doubt, as above
		}
		require.NoError(t, err)
		acked[tok]++
		extraAcked++
	}
	close(stopWatch)
	<-watched
	t.Logf("killed %s (%s) while it applied batch %d; %d tokens for %d changes (%d in doubt)", victimName.Load(), victim.Load().data, victimBatch.Load(), len(acked), n+extra, len(inDoubt))

	// A change sent to node C after the kill.
	tokC, err := addUser(client, nodes[2], boot, "carol", "carolpw")
	require.NoError(t, err)
	mu.Lock()
	acked[tokC]++
	mu.Unlock()

	// The survivors finish everything, the victim's batch once its lease passed.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		d, err := st.Depth(ctx, nil)
		require.NoError(t, err)
		if d.Waiting == 0 && d.Running == 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "queue never drained: %+v", d)
		time.Sleep(100 * time.Millisecond)
	}

	vb, err := st.Batch(ctx, victimBatch.Load())
	require.NoError(t, err)
	require.Equal(t, store.BatchSuccess, vb.Status)
	require.NotEqual(t, victimName.Load(), vb.ClaimedBy, "a survivor recovered the victim's batch")

	total, unacked := 0, 0
	for tok, count := range acked {
		b, err := st.BatchByToken(ctx, tok)
		require.NoError(t, err)
		require.Equal(t, store.BatchSuccess, b.Status, tok)
		changes, err := st.Changes(ctx, b.ID)
		require.NoError(t, err)
		// The changes acknowledged under it, and perhaps one the victim
		// committed but died before acknowledging.
		require.GreaterOrEqual(t, len(changes), count, "token %s", tok)
		unacked += len(changes) - count
		for _, c := range changes {
			require.Equal(t, store.ChangeApplied, c.Status, "%s: %s", c.Command, c.Error)
		}
		total += count
		// Any survivor reports it as one node would.
		require.Equal(t, "success", progress(t, nodes[2], boot, tok))
	}
	require.Equal(t, n-len(inDoubt)+extraAcked+1, total)
	require.LessOrEqual(t, unacked, len(inDoubt))
	failedChanges, err := st.FailedChanges(ctx, nil, 10)
	require.NoError(t, err)
	require.Empty(t, failedChanges, "no change failed: none was applied twice")

	us, err := st.Users(ctx, nil)
	require.NoError(t, err)
	active := map[string]int{}
	for _, u := range us {
		require.Equal(t, store.StatusActive, u.Status, u.Username)
		active[u.Username]++
	}
	for i := 0; i < n; i++ {
		if inDoubt[i] {
			require.LessOrEqual(t, active[fmt.Sprintf("u%05d", i)], 1, "u%05d", i)
			continue
		}
		require.Equal(t, 1, active[fmt.Sprintf("u%05d", i)], "u%05d", i)
	}
	require.Equal(t, 1, active["carol"])
	u, err := st.UserByJID(ctx, boot.Domain, "u02345")
	require.NoError(t, err)
	require.True(t, u.Cred.Verify("pw2345"))
	carol, err := st.UserByJID(ctx, boot.Domain, "carol")
	require.NoError(t, err)
	require.True(t, carol.Cred.Verify("carolpw"))
}
