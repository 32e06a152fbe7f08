package store

import (
	"context"
	"path/filepath"
	"strconv"
	"testing"
)

// archiveFixture opens a store with nUsers users in one domain.
func archiveFixture(tb testing.TB, nUsers int) (*Store, []int64) {
	tb.Helper()
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(tb.TempDir(), "b.db"), Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	var ids []int64
	err = st.Write(ctx, func(tx *Tx) error {
		a, err := tx.InsertAccount(ctx, "acme", 0)
		if err != nil {
			return err
		}
		d, err := tx.InsertDomain(ctx, a.ID, "example.test")
		if err != nil {
			return err
		}
		for i := range nUsers {
			u, err := tx.InsertUser(ctx, User{DomainID: d.ID, Username: "u" + strconv.Itoa(i), Status: StatusActive})
			if err != nil {
				return err
			}
			ids = append(ids, u.ID)
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return st, ids
}

var benchStanza = []byte(`<message xmlns="jabber:client" to="u1@example.test/bench" type="chat" from="u0@example.test/bench"><body>hello, world hello, world hello, world hello, world hello, world hello, world hello, world hello, world </body></message>`)

// BenchmarkArchiveInsert: rows per second through InsertArchive in
// batches of 2048, one transaction each, 200 users (the bench's pairs).
func BenchmarkArchiveInsert(b *testing.B) {
	ctx := context.Background()
	st, users := archiveFixture(b, 200)
	rows := make([]ArchiveRow, 2048)
	id := int64(1)
	b.ResetTimer()
	for i := 0; i < b.N; i += len(rows) {
		for j := range rows {
			u := (i + j) % len(users)
			rows[j] = ArchiveRow{ID: id, UserID: users[u], Peer: "u" + strconv.Itoa(u^1) + "@example.test", Resource: "bench", Stanza: benchStanza}
			id++
		}
		if err := st.Write(ctx, func(tx *Tx) error { return tx.InsertArchive(ctx, rows) }); err != nil {
			b.Fatal(err)
		}
	}
}
