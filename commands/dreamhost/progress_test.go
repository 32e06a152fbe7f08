package dreamhost_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/xmppgate/xmppgate/commands"
	"github.com/xmppgate/xmppgate/commands/commandstest"
	"github.com/xmppgate/xmppgate/commands/dreamhost"
	"github.com/xmppgate/xmppgate/queue"
	"github.com/xmppgate/xmppgate/store"
)

// services-progress answers a batch the worker is applying from the
// worker's memory (queue.Worker.BatchByToken), byte for byte what the
// store's row gives in every format: a handler whose Env has the worker
// and one without it (reading the store) answer alike while the batch's
// transaction is open and after it committed.
func TestProgressFromWorkerMatchesStore(t *testing.T) {
	t.Parallel()
	f := commandstest.New(t, commandstest.Options{NoWorker: true})
	acc := f.Account("acme", "", false, "a.example")
	key, _, err := commands.CreateKey(f.Ctx, f.Env, commands.KeySpec{Account: acc, Cmds: []string{"*"}})
	require.NoError(t, err)

	// add_user's apply waits, inside the batch's transaction, until released.
	inApply, release := make(chan struct{}), make(chan struct{})
	apps := f.Reg.Appliers(f.Env)
	add := apps["add_user"]
	apply := add.Apply
	add.Apply = func(ctx context.Context, tx *store.Tx, w *queue.Work) error {
		close(inApply)
		<-release
		return apply(ctx, tx, w)
	}
	apps["add_user"] = add
	w := queue.NewWorker(f.Store, apps, nil, queue.Options{})
	withWorker, fromStore := *f.Env, *f.Env
	withWorker.Worker = w
	viaWorker := f.Serve(dreamhost.New(f.Reg, &withWorker, dreamhost.Config{}))
	viaStore := f.Serve(dreamhost.New(f.Reg, &fromStore, dreamhost.Config{}))

	get := func(base string, q url.Values) string {
		t.Helper()
		q.Set("key", key)
		resp, err := http.Get(base + "/?" + q.Encode())
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.Status + "\n" + resp.Header.Get("Content-Type") + "\n" + string(body)
	}
	added := get(viaStore, url.Values{"cmd": {"jabber-add_user"}, "domain": {"a.example"}, "username": {"ann"}, "password": {"pw-ann-1"}})
	lines := strings.Split(strings.TrimSpace(added), "\n")
	token := lines[len(lines)-1]
	require.Len(t, token, queue.TokenLen, added)
	b, err := f.Store.BatchByToken(f.Ctx, token)
	require.NoError(t, err)

	same := func(status store.BatchStatus) {
		t.Helper()
		for _, format := range []dreamhost.Format{dreamhost.Tab, dreamhost.JSON, dreamhost.XML, dreamhost.Perl, dreamhost.PHP, dreamhost.YAML, dreamhost.HTML} {
			q := url.Values{"cmd": {"services-progress"}, "token": {token}, "format": {string(format)}}
			got := get(viaWorker, q)
			require.Equal(t, get(viaStore, q), got, "format %s", format)
			require.Contains(t, got, string(status), "format %s", format)
		}
		// Unknown tokens alike too.
		q := url.Values{"cmd": {"services-progress"}, "token": {"NoSuchToken"}}
		require.Equal(t, get(viaStore, q), get(viaWorker, q))
	}
	same(store.BatchWaiting)

	done := make(chan error, 1)
	go func() { _, err := w.Flush(f.Ctx, b.ID); done <- err }()
	select {
	case <-inApply:
	case err := <-done:
		t.Fatalf("the batch finished without its apply: %v", err)
	}
	same(store.BatchRunning)
	close(release)
	require.NoError(t, <-done)
	same(store.BatchSuccess)
}
