package xmppcore

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"mellium.im/xmpp/jid"

	"github.com/xmppgate/xmppgate/store"
	"github.com/xmppgate/xmppgate/xmlel"
)

// discard is a transport that takes every write.
type discard struct{ net.Conn }

func (discard) Write(b []byte) (int, error)      { return len(b), nil }
func (discard) SetWriteDeadline(time.Time) error { return nil }
func (discard) Close() error                     { return nil }

// threadCPU is the CPU time of the calling thread in nanoseconds.
func threadCPU() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkRouteMessage is the server's side of one chat message from
// alice to bob's bare JID, both available (fromClient to the write on
// bob's transport, no network), the archive off: XEP-0016 switched off,
// on with no list in use (must cost nothing), and bob's default list of
// three JID items that do not match.
func BenchmarkRouteMessage(b *testing.B) {
	for _, bc := range []struct{ name, list string }{{"privacy-off", "off"}, {"privacy-on-no-list", ""}, {"jid-list", "jid"}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			st, err := store.Open(ctx, filepath.Join(b.TempDir(), "x.db"), store.Options{})
			require.NoError(b, err)
			defer st.Close()
			mods := map[string]any{"modMam": map[string]bool{"enabled": false}}
			if bc.list == "off" {
				mods["modPrivacy"] = map[string]bool{"enabled": false}
			}
			raw, _ := json.Marshal(map[string]any{"moduleConfig": mods})
			var users [2]store.User
			require.NoError(b, st.Write(ctx, func(tx *store.Tx) error {
				a, err := tx.InsertAccount(ctx, "acme", 0)
				if err != nil {
					return err
				}
				d, err := tx.InsertDomain(ctx, a.ID, "example.test")
				if err != nil {
					return err
				}
				if err := tx.SetDomainSettings(ctx, d.ID, raw); err != nil {
					return err
				}
				for i, name := range []string{"alice", "bob"} {
					if users[i], err = tx.InsertUser(ctx, store.User{DomainID: d.ID, Username: name, Status: store.StatusActive}); err != nil {
						return err
					}
				}
				if bc.list == "jid" {
					l := `<list xmlns="jabber:iq:privacy" name="l"><item type="jid" value="x@example.test" action="deny" order="1"/>` +
						`<item type="jid" value="other.test" action="deny" order="2"><message/></item>` +
						`<item type="jid" value="example.test/spam" action="deny" order="3"/></list>`
					if err := tx.PutPrivacyList(ctx, users[1].ID, "l", []byte(l)); err != nil {
						return err
					}
					return tx.SetDefaultPrivacyList(ctx, users[1].ID, "l")
				}
				return nil
			}))
			s, err := New(Config{Logger: zap.NewNop()}, st)
			require.NoError(b, err)
			dom, ok := s.hosted("example.test")
			require.True(b, ok)
			var cs [2]*conn
			for i, u := range users {
				full := jid.MustParse(u.Username + "@example.test/r")
				c := &conn{srv: s, log: zap.NewNop(), nc: discard{}, dom: &dom, user: u, full: full, bare: full.Bare().String(), res: "r", available: true}
				s.register(c)
				cs[i] = c
			}
			if bc.list == "jid" {
				require.Equal(b, int64(1), s.privacy.Load())
			}
			m, err := xmlel.Parse([]byte(`<message xmlns="jabber:client" to="bob@example.test" type="chat" id="m"><body>hello</body></message>`))
			require.NoError(b, err)
			b.ReportAllocs()
			// The loop runs on one locked thread, whose CPU time is
			// reported too: wall time is noisy on a shared machine.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			before := threadCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.fromClient(cs[0], m.Copy())
			}
			b.StopTimer()
			b.ReportMetric(float64(threadCPU()-before)/float64(b.N), "cpu-ns/op")
		})
	}
}

// TestPrivacyCounter: the count of lists in use goes back to zero when the
// sessions that used them end, a session replaced by one with the same
// resource included, so routing pays one atomic load again.
func TestPrivacyCounter(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "x.db"), store.Options{})
	require.NoError(t, err)
	defer st.Close()
	var u store.User
	require.NoError(t, st.Write(ctx, func(tx *store.Tx) error {
		a, err := tx.InsertAccount(ctx, "acme", 0)
		if err != nil {
			return err
		}
		d, err := tx.InsertDomain(ctx, a.ID, "example.test")
		if err != nil {
			return err
		}
		if u, err = tx.InsertUser(ctx, store.User{DomainID: d.ID, Username: "alice", Status: store.StatusActive}); err != nil {
			return err
		}
		if err := tx.PutPrivacyList(ctx, u.ID, "l", []byte(`<list xmlns="jabber:iq:privacy" name="l"><item action="deny" order="1"/></list>`)); err != nil {
			return err
		}
		return tx.SetDefaultPrivacyList(ctx, u.ID, "l")
	}))
	s, err := New(Config{Logger: zap.NewNop()}, st)
	require.NoError(t, err)
	dom, _ := s.hosted("example.test")
	session := func() *conn {
		full := jid.MustParse("alice@example.test/r")
		c := &conn{srv: s, log: zap.NewNop(), nc: discard{}, dom: &dom, user: u, full: full, bare: full.Bare().String(), res: "r"}
		s.register(c)
		return c
	}
	first := session()
	require.Equal(t, int64(1), s.privacy.Load(), "the default list, loaded at the first bind")
	l, err := s.storedList(ctx, u.ID, "l")
	require.NoError(t, err)
	s.mu.Lock()
	s.swapList(&first.privActive, l)
	s.mu.Unlock()
	require.Equal(t, int64(2), s.privacy.Load())
	second := session() // same resource: replaces first
	s.sessionEnded(first)
	require.Equal(t, int64(1), s.privacy.Load(), "the replaced session's active list is gone, the default stays")
	s.sessionEnded(second)
	require.Zero(t, s.privacy.Load())
}
