package store

import (
	"context"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"
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

// fillArchive bulk-loads n rows spread over users (row i to users[i %
// len(users)]) with one statement, indexes dropped and rebuilt around it:
// the fixture of the query benchmark, not a measure of anything.
func fillArchive(tb testing.TB, st *Store, users []int64, n int) {
	tb.Helper()
	ctx := context.Background()
	stmts := []string{
		`DROP INDEX archive_user`,
		`CREATE TEMP TABLE bench_users (n INTEGER PRIMARY KEY, id INTEGER NOT NULL)`,
	}
	for i, u := range users {
		stmts = append(stmts, `INSERT INTO bench_users VALUES (`+strconv.Itoa(i)+`, `+strconv.FormatInt(u, 10)+`)`)
	}
	stmts = append(stmts,
		`WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x < `+strconv.Itoa(n)+`)
		INSERT INTO archive (id, user_id, peer, resource, stanza)
		SELECT 1700000000000000 + x, (SELECT id FROM bench_users WHERE n = x % `+strconv.Itoa(len(users))+`),
			'peer' || (x % 7) || '@example.test', 'r', CAST(`+"'"+string(benchStanza)+"'"+` AS BLOB) FROM c`,
		`CREATE INDEX archive_user ON archive(user_id, id, peer)`,
		`DROP TABLE bench_users`)
	for _, q := range stmts {
		if _, err := st.w.ExecContext(ctx, q); err != nil {
			tb.Fatal(q, err)
		}
	}
}

// BenchmarkArchiveLastPage: the query a new device makes, the last 50
// messages of one user (RSM <before/>), with 1,000,000 rows in the
// archive: spread over 1,000 users, all of one user, and the same with a
// with filter. Reports p50 and p99 of the query alone.
func BenchmarkArchiveLastPage(b *testing.B) {
	for _, tc := range []struct {
		name  string
		users int
		peer  string
	}{{"spread", 1000, ""}, {"one-user", 1, ""}, {"one-user-with", 1, "peer3@example.test"}} {
		b.Run(tc.name, func(b *testing.B) {
			st, users := archiveFixture(b, tc.users)
			fillArchive(b, st, users, 1_000_000)
			ctx := context.Background()
			f := ArchiveFilter{UserID: users[0], MinID: 1, MaxID: 1<<63 - 1, Peer: tc.peer, Limit: 51, Last: true}
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				t0 := time.Now()
				rows, err := st.Archive(ctx, f)
				lat = append(lat, time.Since(t0))
				if err != nil || len(rows) != 51 {
					b.Fatal(len(rows), err)
				}
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
