package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
)

// BenchmarkCreateRooms: the rows of 50 new rooms (one join batch of
// bench/peers' MUC phase) stored in one transaction, with their owners,
// then deleted, as CreateRooms and DeleteRooms do it and as one statement
// per row does it. ns/op is per room.
func BenchmarkCreateRooms(b *testing.B) {
	const batch = 50
	for _, mode := range []string{"bulk", "per-row"} {
		b.Run(mode, func(b *testing.B) {
			ctx := context.Background()
			st, err := Open(ctx, filepath.Join(b.TempDir(), "b.db"), Options{Synchronous: "NORMAL"})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			var dom int64
			if err := st.Write(ctx, func(tx *Tx) error {
				a, err := tx.InsertAccount(ctx, "acme", 0)
				if err != nil {
					return err
				}
				d, err := tx.InsertDomain(ctx, a.ID, "a.example")
				dom = d.ID
				return err
			}); err != nil {
				b.Fatal(err)
			}
			cfg := []byte(`{"public":true,"max_users":200,"whois":"moderators","history_length":20,"allow_pm":"anyone"}`)
			rooms, owners := make([]Room, batch), make([]string, batch)
			b.ResetTimer()
			for n := 0; n < b.N; n += batch {
				for i := range rooms {
					rooms[i] = Room{DomainID: dom, Name: fmt.Sprintf("join-%d-%d", n, i), Config: cfg}
					owners[i] = fmt.Sprintf("u%d@a.example", i)
				}
				var ids []int64
				err := st.Write(ctx, func(tx *Tx) (err error) {
					if mode == "bulk" {
						ids, err = tx.CreateRooms(ctx, rooms, owners)
						return err
					}
					ids = ids[:0]
					for i, r := range rooms {
						created, err := tx.CreateRoom(ctx, r)
						if err != nil {
							return err
						}
						if err := tx.SetRoomAffiliation(ctx, created.ID, owners[i], MUCAffOwner, ""); err != nil {
							return err
						}
						ids = append(ids, created.ID)
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
				err = st.Write(ctx, func(tx *Tx) error {
					if mode == "bulk" {
						return tx.DeleteRooms(ctx, ids)
					}
					for _, id := range ids {
						if err := tx.DeleteRoom(ctx, id); err != nil {
							return err
						}
					}
					return nil
				})
				if err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
