package xmppcore

import (
	"context"
	"encoding/json"
	"net"
	"path/filepath"
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
				c := &conn{srv: s, log: zap.NewNop(), nc: discard{}, domain: dom, user: u, full: full, bare: full.Bare().String(), res: "r", available: true}
				s.register(c)
				cs[i] = c
			}
			if bc.list == "jid" {
				require.Equal(b, int64(1), s.privacy.Load())
			}
			m, err := xmlel.Parse([]byte(`<message xmlns="jabber:client" to="bob@example.test" type="chat" id="m"><body>hello</body></message>`))
			require.NoError(b, err)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				s.fromClient(cs[0], m.Copy())
			}
		})
	}
}
