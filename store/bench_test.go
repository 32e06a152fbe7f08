package store

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/xmppgate/xmppgate/store/credential"
)

// BenchmarkWriteParallel: concurrent small write functions through the
// group-committing writer (FULL: fsync before each answer).
func BenchmarkWriteParallel(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run(sync, func(b *testing.B) {
			ctx := context.Background()
			st, err := Open(ctx, filepath.Join(b.TempDir(), "b.db"), Options{Synchronous: sync})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			var n atomic.Int64
			b.SetParallelism(8)
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					i := n.Add(1)
					if err := st.Write(ctx, func(tx *Tx) error {
						_, err := tx.InsertAccount(ctx, fmt.Sprint("a", i), 0)
						return err
					}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkDomainHasSHA1Only: the question every stream's SASL offer asks
// (docs/xmpp.md), on a domain of 10,000 users of whom one has SCRAM-SHA-1
// keys alone, and on one where none has.
func BenchmarkDomainHasSHA1Only(b *testing.B) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(b.TempDir(), "b.db"), Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	full := credential.SCRAM{Salt: make([]byte, 16), Iterations: 4096, SHA1Stored: make([]byte, 20), SHA1Server: make([]byte, 20),
		SHA256Stored: make([]byte, 32), SHA256Server: make([]byte, 32)}
	sha1Only := full
	sha1Only.SHA256Stored, sha1Only.SHA256Server = nil, nil
	doms := map[string]int64{}
	for _, name := range []string{"one", "none"} {
		if err := st.Write(ctx, func(tx *Tx) error {
			a, err := tx.InsertAccount(ctx, name, 0)
			if err != nil {
				return err
			}
			d, err := tx.InsertDomain(ctx, a.ID, name+".example")
			if err != nil {
				return err
			}
			doms[name] = d.ID
			for i := range 10000 {
				u, err := tx.InsertUser(ctx, User{DomainID: d.ID, Username: fmt.Sprint("u", i), Status: StatusActive})
				if err != nil {
					return err
				}
				c := full
				if name == "one" && i == 5000 {
					c = sha1Only
				}
				if err := tx.SetUserCredentials(ctx, u.ID, c, nil); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
	for _, name := range []string{"one", "none"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				yes, err := st.DomainHasSHA1Only(ctx, doms[name])
				if err != nil || yes != (name == "one") {
					b.Fatal(yes, err)
				}
			}
		})
	}
}

// BenchmarkTransitionUsers: a panel's bulk deactivation of 10,000 users in
// one transaction, as TransitionUsers does it (one statement over an array
// on PostgreSQL) and as a statement per user. Run on both engines (TestMain).
func BenchmarkTransitionUsers(b *testing.B) {
	const n = 10000
	for _, how := range []string{"at-once", "per-user"} {
		b.Run(how, func(b *testing.B) {
			ctx := context.Background()
			st, err := Open(ctx, location(b), Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			_, dom, _ := (&testBundle{st: st, ctx: ctx}).domainUsers(b, "acme", "acme.example")
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				ids := make([]int64, n)
				if err := st.Write(ctx, func(tx *Tx) error {
					for k := range ids {
						u, err := tx.InsertUser(ctx, User{DomainID: dom, Username: fmt.Sprint("u", i, "-", k), Status: StatusPendingInactive})
						if err != nil {
							return err
						}
						ids[k] = u.ID
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if err := st.Write(ctx, func(tx *Tx) error {
					if how == "at-once" {
						_, err := tx.TransitionUsers(ctx, ids, StatusPendingInactive, StatusInactive)
						return err
					}
					for _, id := range ids {
						if err := tx.TransitionUser(ctx, id, StatusPendingInactive, StatusInactive); err != nil {
							return err
						}
					}
					return nil
				}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*n), "µs/user")
		})
	}
}
